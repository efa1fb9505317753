"""One adapter per evaluated system, each rendering through its real path, plus the two
HRTF-interpolation baselines that are scored on magnitudes and ITDs only.

Renderers (``render(x, idx)``: a static source at measured direction ``idx``;
``render_path(x, pos)``: ``pos`` (n, 3) head-relative native positions per sample; both
return (len(x), 2) float64 aligned by the system's one global latency):

``liteinn``       :class:`spatialmw.engine.Engine` with the Lite-INN model (TDW + IBC)
                  (with another ``hop``: the low-latency rows, :mod:`.low_latency`),
``tdw``           the same engine with ``ibc=False`` (the DSP baseline),
``lod_bed``       the same engine as ``liteinn``, the source rendered in the level of detail's
                  3rd-order ambisonic bed (:mod:`spatialmw.kernels.lod`; a silent second source
                  holds the one full-path place), so its rows against ``liteinn``'s are the
                  fidelity the low-cost tier gives up,
``nearest_hrir``  convolution with the nearest measured HRIR among the *fitted* directions
                  (static only),
``openal_soft``   OpenAL Soft's own HRTF mixer (:class:`spatialmw.peers.openal.OpenALLoopback`),
                  aligned by one lag measured once at the front,
``reference``     the ground truth: convolution with the measured HRIR (static), the
                  HRIR-interpolating :class:`spatialmw.hrtf.reference.ReferenceRenderer`
                  (paths).

Baselines (:func:`three_nearest`, :func:`spherical_harmonics`): magnitude responses and
ITDs at the held-out directions predicted from the fitted directions only.
"""
from __future__ import annotations

import math

import numpy as np

from ..defaults import HOP_FRAMES
from ..hrtf.reference import ReferenceRenderer, fractional_delay_fft, render_static
from ..kernels.motion import block_pose
from .protocol import BLOCK, N_FFT, SR, itd_of_irs, lag_samples

SH_ORDER = 10


class Reference:
    name = "reference"
    latency = 0.0
    has_bypass = False

    def __init__(self, hset, T):
        self.hset, self.T = hset, T
        self._moving = None

    def render(self, x, idx):
        return render_static(x, self.hset, int(idx), time_offset=self.T)

    def render_path(self, x, pos):
        if self._moving is None:
            self._moving = ReferenceRenderer(self.hset, SR)
        return self._moving.render(np.asarray(x, dtype=np.float64), pos)


class Nearest(Reference):
    """Convolution with the nearest measured direction among the fitted (training) ones."""
    name = "nearest_hrir"

    def __init__(self, hset, T, train_idx):
        super().__init__(hset, T)
        u = hset.unit_vectors()
        self.train_idx = np.asarray(train_idx)
        self._u, self._ut = u, u[self.train_idx]

    def nearest(self, idx):
        return int(self.train_idx[int(np.argmax(self._ut @ self._u[int(idx)]))])

    def render(self, x, idx):
        return super().render(x, self.nearest(idx))

    def render_path(self, x, pos):
        raise NotImplementedError("nearest_hrir renders static sources only")


def block_poses(pos, n_total):
    """(ceil(n_total / BLOCK), 3): the per-sample positions ``pos`` (n, 3) at the last
    sample of each BLOCK-frame block (where a renderer that ramps to the pose set before
    a block reaches it), the last position held past the end of ``pos``."""
    n_blocks = -(-int(n_total) // BLOCK)
    ends = np.minimum((np.arange(n_blocks) + 1) * BLOCK - 1, pos.shape[0] - 1)
    return np.asarray(pos)[ends]


def block_motion(pos, n_total):
    """(poses, velocities), each (ceil(n_total / BLOCK), 3), for the Engine
    (:func:`spatialmw.kernels.motion.block_pose`): each block runs from ``pos`` one block
    before :func:`block_poses`' sample to that sample, along the chord."""
    ends = block_poses(pos, n_total)
    return block_pose(np.concatenate([np.asarray(pos)[:1], ends[:-1]]), ends, BLOCK / SR)


class EngineSystem:
    """The real renderer, one fresh Engine per rendering (no state carried over), driven
    through its public API only; the latency is the engine's own ``latency_frames``."""
    has_bypass = True

    def __init__(self, name, hset, model_path, ibc, hop=HOP_FRAMES, bed=False):
        from ..engine import Engine
        self.name = name
        self.hset = hset
        self.bed = bed
        self._make = lambda: Engine(SR, 2 if bed else 1, BLOCK, model=model_path, ibc=ibc, hop=hop,
                                    full_sources=1)
        eng = self._make()
        self.latency = float(eng.latency_frames)
        self.model = eng.model

    def render(self, x, idx):
        pos = self.hset.positions()[int(idx)]
        return self.render_path(x, np.broadcast_to(pos, (len(x), 3)))

    def render_path(self, x, pos, spatialize=True):
        eng = self._make()
        src = eng.add_source(distance_model="none", spatialize=spatialize)
        if self.bed:  # a silent source of higher priority holds the full path's one place
            holder = eng.add_source(distance_model="none")
            eng.set_source_pose(holder, (1.0, 0.0, 0.0))
            eng.set_source_priority(src, 0.0)
        lat = int(eng.latency_frames)
        n = len(x)
        nb = -(-(n + lat) // BLOCK)
        xp = np.zeros(nb * BLOCK, dtype=np.float32)
        xp[:n] = x
        poses, velocities = block_motion(pos, nb * BLOCK)
        out = np.empty((nb * BLOCK, 2), dtype=np.float64)
        for b in range(nb):
            eng.set_source_pose(src, poses[b])
            eng.set_source_velocity(src, velocities[b])
            eng.write(src, xp[b * BLOCK:(b + 1) * BLOCK])
            out[b * BLOCK:(b + 1) * BLOCK] = eng.render(BLOCK)
        return out[lat:lat + n]


class OpenALSystem:
    name = "openal_soft"
    has_bypass = False

    def __init__(self, hset):
        from ..peers.openal import OpenALLoopback
        self.hset = hset
        self.al = OpenALLoopback(SR, hrtf=True, max_sources=4)
        self.latency = 0.0
        self.hrtf_name = self.al.hrtf_name

    def _raw(self, x, pos, tail):
        return np.asarray(self.al.render([np.asarray(x, dtype=np.float32)], [pos],
                                         block=BLOCK, tail=int(tail)), dtype=np.float64)

    def calibrate(self, x, ref_out, idx):
        """One global lag from the frontal source: OpenAL's output vs the reference's."""
        y = self._raw(x, self.hset.positions()[int(idx)], 0)
        self.latency = lag_samples(y, ref_out)
        return self.latency

    def render(self, x, idx):
        return self.render_path(x, np.broadcast_to(self.hset.positions()[int(idx)], (len(x), 3)))

    def render_path(self, x, pos):
        tail = int(math.ceil(max(self.latency, 0.0))) + 64
        y = self._raw(x, block_poses(pos, len(x) + tail), tail)
        return fractional_delay_fft(y.T, -self.latency, len(x)).T

    def close(self):
        self.al.close()


# --------------------------------------------------------------------------- baselines

def real_sh_basis(order: int, unit_vectors) -> np.ndarray:
    """(D, (order + 1)^2) real orthonormal spherical harmonics up to ``order`` at the unit
    vectors (D, 3) (native frame; polar angle from +z, azimuth from +x towards +y)."""
    from scipy.special import sph_harm_y

    u = np.asarray(unit_vectors, dtype=np.float64)
    polar = np.arccos(np.clip(u[:, 2], -1.0, 1.0))
    az = np.arctan2(u[:, 1], u[:, 0])
    cols = []
    for n in range(order + 1):
        for m in range(-n, n + 1):
            y = sph_harm_y(n, abs(m), polar, az)
            if m == 0:
                cols.append(y.real)
            else:
                cols.append(math.sqrt(2.0) * (y.real if m > 0 else y.imag))
    return np.stack(cols, axis=1)


def sh_interpolate(values, u_fit, u_eval, order: int = SH_ORDER) -> np.ndarray:
    """Least-squares spherical-harmonic fit (order ``order``) of ``values`` (D_fit, ...)
    given at unit vectors ``u_fit``, evaluated at ``u_eval``: (D_eval, ...)."""
    v = np.asarray(values, dtype=np.float64)
    coef, *_ = np.linalg.lstsq(real_sh_basis(order, u_fit), v.reshape(v.shape[0], -1), rcond=None)
    return (real_sh_basis(order, u_eval) @ coef).reshape((len(u_eval),) + v.shape[1:])


def three_nearest(hset, train_idx, eval_idx):
    """Magnitudes (D, 2, N_FFT//2+1) and ITDs (D,) us at ``eval_idx``: the mean of the dB
    magnitudes of the 3 nearest fitted directions (great circle), with the nearest one's ITD."""
    u = hset.unit_vectors()
    train_idx = np.asarray(train_idx)
    near = np.argsort(-(u[eval_idx] @ u[train_idx].T), axis=1)[:, :3]
    db = 20 * np.log10(np.maximum(np.abs(np.fft.rfft(hset.hrirs[train_idx], N_FFT, axis=-1)), 1e-12))
    mag = 10 ** (np.mean(db[near], axis=1) / 20)
    itd = itd_of_irs(hset.hrirs[train_idx[near[:, 0]]])
    return mag, itd


def spherical_harmonics(hset, train_idx, eval_idx, order: int = SH_ORDER):
    """Magnitudes and ITDs at ``eval_idx`` from order-``order`` least-squares SH fits over
    the fitted directions: of the dB magnitudes per ear and bin, and of the per-direction
    ITD (:func:`metrics.itd_us` of the measured HRIRs)."""
    u = hset.unit_vectors()
    db = 20 * np.log10(np.maximum(np.abs(np.fft.rfft(hset.hrirs[train_idx], N_FFT, axis=-1)), 1e-12))
    mag = 10 ** (sh_interpolate(db, u[train_idx], u[eval_idx], order) / 20)
    itd = sh_interpolate(itd_of_irs(hset.hrirs[train_idx]), u[train_idx], u[eval_idx], order)
    return mag, itd

