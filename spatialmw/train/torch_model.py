"""PyTorch mirror of the numba IBC forward pass (:mod:`spatialmw.kernels.ibc`).

Same encodings, same layout of the flat parameter vector; :meth:`TorchIBC.to_theta` and
:meth:`TorchIBC.from_theta` convert exactly, and ``tests/test_ibc.py`` checks parity.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..kernels.ibc import (ACT_RELU, ACT_SIN, ACT_TANH, D_ACT, D_H, D_L, D_NDIR, D_NFREQ,
                           D_NOUT, HEADER_LEN, N_OUT, SYMMETRY_DEG, ibc_layout)


def make_dims(n_dir=128, n_freq=32, hidden=48, layers=1, act=ACT_SIN) -> np.ndarray:
    return np.array([n_dir, n_freq, hidden, layers, act, N_OUT], dtype=np.int64)


class TorchIBC(nn.Module):
    def __init__(self, dims, *, r_ref=1.0, rho_min=0.0, rho_max=0.0, f_scale=24000.0,
                 dir_scale=4.0, freq_scale=24.0, seed=0, dtype=torch.float32):
        super().__init__()
        d = np.asarray(dims, dtype=np.int64)
        self.dims = d.copy()
        nd, nf, h, nl, act, no = (int(d[i]) for i in (D_NDIR, D_NFREQ, D_H, D_L, D_ACT, D_NOUT))
        self.nd, self.nf, self.h, self.nl, self.act, self.no = nd, nf, h, nl, act, no
        p, f = 4 + 2 * nd, 1 + 2 * nf
        self.p, self.f = p, f
        g = torch.Generator().manual_seed(int(seed))

        def rnd(*shape, scale=1.0):
            return nn.Parameter((torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype))

        self.register_buffer("header", torch.tensor([r_ref, rho_min, rho_max, f_scale], dtype=torch.float64))
        self.B_d = rnd(nd, 3, scale=dir_scale)
        # frequency feature frequencies spread over [0.5, freq_scale] cycles per f_scale
        bf = torch.linspace(0.5, float(freq_scale), nf, dtype=torch.float64)
        self.b_f = nn.Parameter(bf.to(dtype))
        self.W_p = rnd(h, p, scale=1.0 / math.sqrt(p))
        if rho_max <= rho_min:  # single training distance: the rho column stays 0 so that a
            with torch.no_grad():  # later fit over a distance range starts neutral
                self.W_p[:, -1] = 0.0
        self.W_f = rnd(h, f, scale=1.0 / math.sqrt(f))
        self.b1 = nn.Parameter(torch.zeros(h, dtype=dtype))
        self.W_h = nn.ParameterList([rnd(h, h, scale=math.sqrt(2.0 / h) if act != ACT_TANH else 1.0 / math.sqrt(h))
                                     for _ in range(nl)])
        self.b_h = nn.ParameterList([nn.Parameter(torch.zeros(h, dtype=dtype)) for _ in range(nl)])
        self.W_o = rnd(no, h, scale=0.1 / math.sqrt(h))
        self.b_o = nn.Parameter(torch.zeros(no, dtype=dtype))

    # ----------------------------------------------------------------- conversion
    def to_theta(self) -> np.ndarray:
        parts = [self.header, self.B_d.reshape(-1), self.b_f, self.W_p.reshape(-1),
                 self.W_f.reshape(-1), self.b1]
        for w, b in zip(self.W_h, self.b_h):
            parts += [w.reshape(-1), b]
        parts += [self.W_o.reshape(-1), self.b_o]
        theta = torch.cat([x.detach().cpu().to(torch.float64).reshape(-1) for x in parts]).numpy().copy()
        assert theta.shape[0] == ibc_layout(self.dims)[8]
        return theta

    @classmethod
    def from_theta(cls, theta, dims, dtype=torch.float64) -> "TorchIBC":
        d = np.asarray(dims, dtype=np.int64)
        m = cls(d, dtype=dtype)
        o_bd, o_bf, o_wp, o_wf, o_b1, o_hid, o_wo, o_bo, total, p, f = ibc_layout(d)
        t = np.asarray(theta, dtype=np.float64)
        if t.shape != (total,):
            raise ValueError(f"theta has {t.shape} elements, dims need {total}")

        def put(param, a, b, shape):
            param.data = torch.from_numpy(t[a:b].reshape(shape).copy()).to(dtype)

        m.header = torch.from_numpy(t[:HEADER_LEN].copy())
        put(m.B_d, o_bd, o_bf, (m.nd, 3))
        put(m.b_f, o_bf, o_wp, (m.nf,))
        put(m.W_p, o_wp, o_wf, (m.h, p))
        put(m.W_f, o_wf, o_b1, (m.h, f))
        put(m.b1, o_b1, o_hid, (m.h,))
        for l in range(m.nl):
            wo = o_hid + l * (m.h * m.h + m.h)
            put(m.W_h[l], wo, wo + m.h * m.h, (m.h, m.h))
            put(m.b_h[l], wo + m.h * m.h, wo + m.h * m.h + m.h, (m.h,))
        put(m.W_o, o_wo, o_bo, (m.no, m.h))
        put(m.b_o, o_bo, total, (m.no,))
        return m

    # ----------------------------------------------------------------- forward
    def _act(self, x):
        if self.act == ACT_RELU:
            return torch.relu(x)
        if self.act == ACT_TANH:
            return torch.tanh(x)
        return torch.sin(x)

    def freq_part(self, f_hz):
        """(K, H) = W_f enc_f(f) + b1."""
        dt = self.W_f.dtype
        x = (torch.as_tensor(f_hz, dtype=torch.float64) / self.header[3]).to(dt)[:, None]
        arg = math.pi * self.b_f[None, :] * x
        enc = torch.cat([x, torch.sin(arg), torch.cos(arg)], dim=1)
        return enc @ self.W_f.T + self.b1

    def pose_part(self, u, distance):
        """(N, H) = W_p enc_p(u, rho)."""
        dt = self.W_p.dtype
        u = torch.as_tensor(u).to(dt)
        r = torch.clamp(torch.as_tensor(distance, dtype=torch.float64), min=1e-9)
        rho = torch.log(r / self.header[0])
        rho = torch.minimum(torch.maximum(rho, self.header[1]), self.header[2]).to(dt)
        arg = u @ self.B_d.T
        enc = torch.cat([u, torch.sin(arg), torch.cos(arg), rho[:, None]], dim=1)
        return enc @ self.W_p.T

    def forward(self, u, distance, f_hz):
        """u (N, 3) unit vectors, distance (N,) metres, f_hz (K,) -> (N, K, 4); within
        SYMMETRY_DEG of the median plane blended with the mirrored direction's output, ears
        swapped, as :func:`~spatialmw.kernels.ibc.ibc_evaluate` does."""
        y = self.network(u, distance, f_hz)
        u = torch.as_tensor(u)
        lat = torch.rad2deg(torch.asin(torch.clamp(torch.abs(u[:, 1].double()), max=1.0)))
        wm = torch.where(lat < SYMMETRY_DEG, 0.25 + 0.25 * torch.cos(math.pi * lat / SYMMETRY_DEG),
                         torch.zeros_like(lat))
        sel = wm > 0.0
        if self.no != N_OUT or not bool(torch.any(sel)):
            return y
        um = u[sel] * torch.tensor([1.0, -1.0, 1.0], dtype=u.dtype, device=u.device)
        dist = torch.as_tensor(distance, device=u.device).reshape(-1)
        ym = self.network(um, dist[sel] if dist.numel() > 1 else dist, f_hz)[..., [2, 3, 0, 1]]
        w = wm[sel].to(y.dtype)[:, None, None]
        return y.index_put((sel,), y[sel] + w * (ym - y[sel]))

    def network(self, u, distance, f_hz):
        """The network alone (no symmetry blend): (N, K, 4)."""
        pose = self.pose_part(u, distance)
        fp = self.freq_part(f_hz)
        hcur = self._act(pose[:, None, :] + fp[None, :, :])
        for w, b in zip(self.W_h, self.b_h):
            hcur = self._act(hcur @ w.T + b)
        return hcur @ self.W_o.T + self.b_o


def training_step(loss, opt, sched, bar=None) -> None:
    """One optimiser step on ``loss``, then the LR schedule and the progress bar."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()
    if bar is not None:
        bar.update(1)
