"""IBC numba kernel: parity with the torch mirror, allocation-free hot path, budget."""
import os
from pathlib import Path

import numpy as np
import pytest

from spatialmw.kernels.ibc import (ibc_evaluate, ibc_layout, ibc_macs_per_evaluation,
                                   ibc_param_count, ibc_prepare, ibc_prepared_size,
                                   ibc_scratch_size)

import torch
from spatialmw.train.torch_model import TorchIBC, make_dims  # noqa: E402
from spatialmw.train.fit_hrtf import default_grid  # noqa: E402


@pytest.mark.parametrize("act", [0, 1, 2])
def test_numba_matches_torch(act):
    dims = make_dims(n_dir=8, n_freq=6, hidden=16, layers=2, act=act)
    net = TorchIBC(dims, r_ref=1.4, rho_min=-0.5, rho_max=0.3, seed=3, dtype=torch.float64)
    theta = net.to_theta()
    assert theta.shape[0] == ibc_param_count(dims)
    grid = default_grid(24)
    fp = np.zeros(ibc_prepared_size(dims, grid.size), np.float32)
    ibc_prepare(theta, dims, grid, fp)
    rng = np.random.default_rng(0)
    for dist in (0.3, 1.4, 5.0):
        u = rng.normal(size=3)
        u /= np.linalg.norm(u)
        scratch = np.full(ibc_scratch_size(dims), np.nan)
        out = np.zeros(grid.size * 4)
        ibc_evaluate(theta, dims, fp, u[0], u[1], u[2], dist, scratch, out)
        ref = net(torch.tensor(u[None]), torch.tensor([dist]), torch.tensor(grid))[0].detach().numpy()
        np.testing.assert_allclose(out.reshape(-1, 4), ref, atol=1e-5, rtol=0)
    # theta round trip
    net2 = TorchIBC.from_theta(theta, dims)
    np.testing.assert_array_equal(net2.to_theta(), theta)


def test_output_is_left_right_symmetric_near_the_median_plane():
    """Within SYMMETRY_DEG of the median plane the output is blended with the mirrored
    direction's, ears swapped: both ears are equal on the plane, the left/right asymmetry
    of the bare network shrinks by 1 - w (w: 1 on the plane, 0 at SYMMETRY_DEG), the output
    is continuous in the lateral angle and is the bare network's beyond; the torch mirror
    computes the same blend."""
    from spatialmw.kernels.ibc import SYMMETRY_DEG
    dims = make_dims(n_dir=8, n_freq=6, hidden=16, layers=1, act=2)
    net = TorchIBC(dims, r_ref=1.4, seed=4, dtype=torch.float64)
    theta = net.to_theta()
    grid = default_grid(20)
    fp = np.zeros(ibc_prepared_size(dims, grid.size), np.float32)
    ibc_prepare(theta, dims, grid, fp)
    scratch = np.zeros(ibc_scratch_size(dims))

    def ev(lat_deg, polar_deg=50.0):
        """(u, (K, 4) output) at lateral angle ``lat_deg`` and angle ``polar_deg`` around
        the interaural axis (0 = front, 90 = up)."""
        lat, pol = np.radians([lat_deg, polar_deg])
        u = np.array([np.cos(lat) * np.cos(pol), np.sin(lat), np.cos(lat) * np.sin(pol)])
        out = np.zeros(grid.size * 4)
        ibc_evaluate(theta, dims, fp, u[0], u[1], u[2], 1.4, scratch, out)
        return u, out.reshape(-1, 4)

    swap = [2, 3, 0, 1]
    _, on_plane = ev(0.0)
    np.testing.assert_allclose(on_plane[:, :2], on_plane[:, 2:], atol=1e-12)
    def bare(u):
        return net.network(torch.tensor(u[None]), torch.tensor([1.4]), torch.tensor(grid))[0].detach().numpy()

    for lat in (3.0, 10.0, 14.9):
        u, a = ev(lat)
        um, b = ev(-lat)
        w = 0.5 + 0.5 * np.cos(np.pi * lat / SYMMETRY_DEG)
        np.testing.assert_allclose(a - b[:, swap], (1 - w) * (bare(u) - bare(um)[:, swap]), atol=1e-5)
        ref = net(torch.tensor(u[None]), torch.tensor([1.4]), torch.tensor(grid))[0].detach().numpy()
        np.testing.assert_allclose(a, ref, atol=1e-5)
    # continuous at the edge, and the bare network beyond it
    _, inside = ev(SYMMETRY_DEG - 1e-6)
    u, outside = ev(SYMMETRY_DEG + 1e-6)
    np.testing.assert_allclose(inside, outside, atol=1e-5)
    np.testing.assert_allclose(outside, bare(u), atol=1e-5)


def test_distance_is_clamped_to_training_range():
    dims = make_dims(n_dir=4, n_freq=4, hidden=8, layers=1)
    net = TorchIBC(dims, r_ref=1.4, rho_min=0.0, rho_max=0.0, seed=1, dtype=torch.float64)
    theta = net.to_theta()
    theta[ibc_layout(dims)[2]:ibc_layout(dims)[3]] += 0.1  # make rho column non-zero
    grid = default_grid(8)
    fp = np.zeros(ibc_prepared_size(dims, grid.size), np.float32)
    ibc_prepare(theta, dims, grid, fp)
    outs = []
    for d in (0.2, 1.4, 50.0):
        out = np.zeros(grid.size * 4)
        ibc_evaluate(theta, dims, fp, 1.0, 0.0, 0.0, d, np.zeros(ibc_scratch_size(dims)), out)
        outs.append(out)
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[2], outs[1])


def test_default_architecture_within_budget():
    dims = make_dims()
    k = default_grid().size
    macs = ibc_macs_per_evaluation(dims, k)
    assert macs * 48000 / 512 <= 25e6
    assert ibc_param_count(dims) - 4 <= 50_000


def test_hot_path_allocates_nothing():
    # numba's NRT counts allocations; the evaluate kernel must not allocate.
    from numba.core.runtime import rtsys
    dims = make_dims(n_dir=4, n_freq=4, hidden=8, layers=2)
    theta = TorchIBC(dims, seed=0, dtype=torch.float64).to_theta()
    grid = default_grid(16)
    fp = np.zeros(ibc_prepared_size(dims, grid.size), np.float32)
    ibc_prepare(theta, dims, grid, fp)
    out = np.zeros(grid.size * 4)
    scratch = np.zeros(ibc_scratch_size(dims))
    ibc_evaluate(theta, dims, fp, 0.0, 1.0, 0.0, 1.0, scratch, out)  # compile
    from numba import njit
    from numba.core.runtime import _nrt_python

    @njit
    def loop(n, theta, dims, fp, scratch, out):
        for i in range(n):
            ibc_evaluate(theta, dims, fp, 0.0, 1.0, 0.0, 1.0 + i, scratch, out)

    loop(1, theta, dims, fp, scratch, out)
    _nrt_python.memsys_enable_stats()
    s0 = rtsys.get_allocation_stats()
    loop(1, theta, dims, fp, scratch, out)
    s1 = rtsys.get_allocation_stats()
    loop(50, theta, dims, fp, scratch, out)
    s2 = rtsys.get_allocation_stats()
    # argument unboxing costs the same per call; 50 evaluations allocate nothing more
    assert s2.alloc - s1.alloc == s1.alloc - s0.alloc
    assert np.all(np.isfinite(out))


@pytest.mark.slow
def test_evaluate_kernel_has_no_allocation_call(tmp_path):
    """Statically: no NRT allocation in the compiled IR of the evaluation kernel and its
    callees. Compiled in a fresh process with an empty cache, because numba cannot show
    the IR of code loaded from its cache; the same probe must find the allocation in a
    function that does allocate."""
    import subprocess
    import sys
    probe = (
        "import numpy as np\n"
        "from numba import njit\n"
        "from spatialmw.kernels.ibc import ibc_evaluate\n"
        "from spatialmw.engine import Engine\n"
        "from spatialmw.kernels import layout as L\n"
        "e = Engine(max_sources=1); f, i = e.f64, e.i64\n"
        "a = lambda h, n, p: p[i[h]:i[h] + i[n]]\n"
        "ibc_evaluate(a(L.H_THETA, L.H_THETA_LEN, f), a(L.H_DIMS, L.H_DIMS_LEN, i), "
        "a(L.H_IBC_PREP, L.H_IBC_PREP_LEN, e.f32), 0., 1., 0., 1., np.zeros(i[L.H_SCRATCH_LEN]), np.zeros(400))\n"
        "ir = ibc_evaluate.inspect_llvm(ibc_evaluate.signatures[0])\n"
        "g = njit(lambda n: np.zeros(n).sum()); g(3)\n"
        "ir_alloc = g.inspect_llvm(g.signatures[0])\n"
        "print(len(ir) > 10000, 'NRT_MemInfo_alloc' in ir or 'NRT_Allocate' in ir, "
        "'NRT_MemInfo_alloc' in ir_alloc)\n")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                       cwd=str(Path(__file__).resolve().parent.parent), timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "False", "True"]


def test_fast_sin_and_exp_accuracy():
    from numba import njit
    from spatialmw.kernels.ibc import fast_exp, fast_sin

    @njit
    def apply(x, s, e):
        for i in range(x.shape[0]):
            s[i] = fast_sin(x[i])
            e[i] = fast_exp(x[i])

    x = np.concatenate([np.linspace(-300.0, 300.0, 600_001), np.linspace(-87.0, 20.0, 100_001),
                        [0.0, np.pi, -np.pi, np.pi / 2, -np.pi / 2, 1e-300]])
    s = np.empty_like(x)
    e = np.empty_like(x)
    apply(x, s, e)
    assert np.abs(s - np.sin(x)).max() < 1e-10
    m = (x >= -87.0) & (x <= 20.0)
    assert np.abs(e[m] / np.exp(x[m]) - 1.0).max() < 1e-10
    assert np.all(e[x > 20.0] == e[np.argmin(np.abs(x - 20.0))])  # the caller's gain ceiling


def test_float32_polar_to_complex_accuracy():
    """The expansion's float32 exp (exponent from bits) and sin over the log-amplitude range
    [-87, 20] and phases to +-1000 rad, against float64 numpy on the same float32 inputs."""
    from spatialmw.kernels.ibc import polar_to_complex32
    rng = np.random.default_rng(4)
    a = np.concatenate([np.linspace(-87.0, 20.0, 200_001), rng.uniform(-10, 3, 50_000)]).astype(np.float32)
    phi = np.concatenate([np.linspace(-1000.0, 1000.0, 200_001), rng.uniform(-6, 6, 50_000)]).astype(np.float32)
    re, im = a.copy(), phi.copy()
    polar_to_complex32(re, im)
    ref = np.exp(a.astype(np.float64) + 1j * phi.astype(np.float64))
    err = np.abs((re.astype(np.float64) + 1j * im) - ref) / np.abs(ref)
    assert err.max() < 1e-6, err.max()
    big = np.array([25.0, 1e4], np.float32)  # above the ceiling: clamped to exp(20)
    polar_to_complex32(big, np.zeros(2, np.float32))
    np.testing.assert_allclose(big, np.exp(20.0), rtol=1e-6)


@pytest.mark.parametrize("hidden,layers,k", [(13, 0, 70), (13, 3, 33), (7, 1, 64), (16, 2, 97)])
def test_tiling_remainders_match_torch(hidden, layers, k):
    # K not a multiple of the tile (and several tiles), H not a multiple of the 2x8 block
    dims = make_dims(n_dir=5, n_freq=3, hidden=hidden, layers=layers, act=2)
    net = TorchIBC(dims, r_ref=1.4, rho_min=-0.5, rho_max=0.3, seed=7, dtype=torch.float64)
    theta = net.to_theta()
    grid = default_grid(k)
    fp = np.zeros(ibc_prepared_size(dims, grid.size), np.float32)
    ibc_prepare(theta, dims, grid, fp)
    scratch = np.full(ibc_scratch_size(dims), np.nan)  # sized without K: tiles of KT points
    out = np.full(grid.size * 4 + 8, np.nan)
    u = np.array([0.3, -0.5, 0.81])
    u /= np.linalg.norm(u)
    ibc_evaluate(theta, dims, fp, u[0], u[1], u[2], 0.9, scratch, out)
    ref = net(torch.tensor(u[None]), torch.tensor([0.9]), torch.tensor(grid))[0].detach().numpy()
    np.testing.assert_allclose(out[:grid.size * 4].reshape(-1, 4), ref, atol=1e-5, rtol=0)
    assert np.all(np.isnan(out[grid.size * 4:]))  # nothing written past K*4


def test_engine_targets_are_the_shaped_network_output(engine):
    """_ibc_targets stores, in the source's lane, the network's output shaped by the engine's
    kernel; those gains' impulse response fits N - H + 1 taps (so the overlap-save
    convolution is exact)."""
    from spatialmw.engine import N_FFT
    from spatialmw.kernels import layout as L
    from spatialmw.kernels.lanes import LANES
    from spatialmw.kernels.render import _gain_base, _ibc_targets, _take_lane, _update_tone, shape_gains
    eng = engine
    nb = N_FFT // 2 + 1
    rng = np.random.default_rng(5)
    for s in range(2):
        u = rng.normal(size=3)
        u /= np.linalg.norm(u)
        _take_lane(eng.i64, s)  # as the render path does first: a lane for the gains, a flat tone
        _update_tone(eng.f64, eng.f32, eng.i64, s, nb, 1.0, 1.0, 1.0, 0.0)
        _ibc_targets(eng.f64, eng.f32, eng.i64, s, u[0], u[1], u[2], 1.7, nb, True, True, 0.0)
        g0 = _gain_base(eng.i64, L.H_GTGT, s, nb)  # lane-major: bin k, part c at + (4k + c) LANES
        got = eng.f32[g0:g0 + 4 * nb * LANES:LANES].astype(np.float64)
        ref = np.zeros(4 * nb)
        shape_gains(eng.f64, eng.i64, eng.model.evaluate(u, 1.7).ravel(), ref)
        np.testing.assert_allclose(got, ref, atol=1e-6 * np.abs(ref).max())
        g = got.reshape(nb, 2, 2)
        h = np.fft.irfft((g[:, :, 0] + 1j * g[:, :, 1]).T, N_FFT, axis=-1)
        assert np.sum(h[:, N_FFT // 2 + 1:] ** 2) < 1e-10 * np.sum(h ** 2)
