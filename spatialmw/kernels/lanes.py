"""LANES-wide float32 vector primitives for the lane-major spectral path.

The corrected sources are transformed LANES at a time, stored lane-major: element j of
lane (source) l at ``[j * LANES + l]``. Every operation is then the same arithmetic on
LANES independent values, which is one vector operation, but only if the vector is
emitted: numba runs LLVM's loop vectoriser and not its SLP vectoriser, and a loop of
LANES trips over two arrays that may alias is too short for the loop vectoriser (it
needs runtime alias checks, which it refuses for tiny trip counts). So these
``@intrinsic``s emit the vector IR directly: ``<LANES x float>`` loads and stores at
element offsets (unchecked, like ``boundscheck=False``), twiddles broadcast from scalars.
Arithmetic carries the ``contract`` flag so multiply-adds fuse.

All offsets are element indices into 1-D contiguous float32 arrays; the caller
guarantees that ``offset + LANES`` is in bounds.
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

LANES = 8
_FLAGS = ("contract",)


def _f32_array(t):
    return isinstance(t, types.Array) and t.dtype == types.float32 and t.ndim == 1


def _ints(*ts):
    return all(isinstance(t, types.Integer) for t in ts)


def _floats(*ts):
    return all(isinstance(t, types.Float) for t in ts)


class VectorIR:
    """IR helpers bound to one codegen call: ``width``-lane float32 vectors (LANES here;
    the warp's 16-tap dot products use 16)."""

    def __init__(self, context, builder, width=LANES):
        self.c = context
        self.b = builder
        self.f32 = ir.FloatType()
        self.vty = ir.VectorType(self.f32, width)
        self.width = width

    def data(self, ty, val):
        return self.c.make_array(ty)(self.c, self.b, val).data

    def unpack(self, signature, args):
        """The codegen arguments as IR values: arrays -> data pointers, integers -> intp
        element offsets, floats -> float32 scalars."""
        out = []
        for ty, val in zip(signature.args, args):
            if isinstance(ty, types.Array):
                out.append(self.data(ty, val))
            elif isinstance(ty, types.Integer):
                out.append(self.index(ty, val))
            else:
                out.append(self.scalar(ty, val))
        return out

    def index(self, ty, val):
        return self.c.cast(self.b, val, ty, types.intp)

    def scalar(self, ty, val):
        return self.c.cast(self.b, val, ty, types.float32)

    def _ptr(self, data, idx):
        p = self.b.gep(data, [idx], inbounds=True, source_etype=self.f32)
        return self.b.bitcast(p, self.vty.as_pointer())

    def load(self, data, idx):
        return self.b.load(self._ptr(data, idx), align=4, typ=self.vty)

    def store(self, data, idx, v):
        self.b.store(v, self._ptr(data, idx), align=4)

    def add_i(self, idx, k):
        return self.b.add(idx, ir.Constant(idx.type, k)) if isinstance(k, int) else self.b.add(idx, k)

    def mul_i(self, idx, k):
        return self.b.mul(idx, ir.Constant(idx.type, k))

    def splat(self, s):
        i32 = ir.IntType(32)
        v = self.b.insert_element(ir.Constant(self.vty, ir.Undefined), s, ir.Constant(i32, 0))
        return self.b.shuffle_vector(v, v, ir.Constant(ir.VectorType(i32, self.width), [0] * self.width))

    def add(self, x, y):
        return self.b.fadd(x, y, flags=_FLAGS)

    def sub(self, x, y):
        return self.b.fsub(x, y, flags=_FLAGS)

    def mul(self, x, y):
        return self.b.fmul(x, y, flags=_FLAGS)

    def neg(self, x):
        return self.b.fneg(x)

    def cmul(self, xr, xi, wr, wi):
        """(xr + j xi)(wr + j wi)."""
        return (self.sub(self.mul(xr, wr), self.mul(xi, wi)),
                self.add(self.mul(xr, wi), self.mul(xi, wr)))

    def twiddle_bfly(self, u, x, wr, wi):
        """(u + w x, u - w x) for complex vectors u, x (re, im) and twiddle w: the DIT
        butterfly of :func:`spatialmw.kernels.fft._twiddle_bfly`."""
        t = self.cmul(x[0], x[1], wr, wi)
        return ((self.add(u[0], t[0]), self.add(u[1], t[1])),
                (self.sub(u[0], t[0]), self.sub(u[1], t[1])))


def transpose_sum(builder, vecs, width):
    """``width`` vectors of ``width`` lanes -> one vector whose lane m is the sum of
    vecs[m]'s lanes, by a transposing tree (2 (width - 1) two-source shuffles and
    width - 1 adds instead of a horizontal reduction per vector). Each sum is formed in
    pairwise order (lanes 0..w/2 - 1 plus w/2..w - 1, recursively)."""
    i32 = ir.IntType(32)
    cur = [(v, [(m, 0, width)]) for m, v in enumerate(vecs)]  # segments: (vector, lane, width)
    while len(cur) > 1:
        nxt = []
        for k in range(0, len(cur), 2):
            (u, su), (v, sv) = cur[k], cur[k + 1]
            segs = [(m, st, w) for m, st, w in su] + [(m, st + width, w) for m, st, w in sv]
            lo, hi, new = [], [], []
            for m, st, w in segs:
                h = w // 2
                new.append((m, len(lo), h))
                lo += list(range(st, st + h))
                hi += list(range(st + h, st + w))
            a = builder.shuffle_vector(u, v, ir.Constant(ir.VectorType(i32, width), lo))
            b = builder.shuffle_vector(u, v, ir.Constant(ir.VectorType(i32, width), hi))
            nxt.append((builder.fadd(a, b), new))
        cur = nxt
    v, segs = cur[0]
    order = [0] * width
    for m, st, _ in segs:
        order[m] = st
    if order != list(range(width)):
        v = builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(i32, width), order))
    return v


def _butterfly4(e, a0, a1, a2, a3):
    """Forward radix-4 butterfly (twiddles 1, -j) on complex vectors (re, im), inputs in
    bit-reversed order, outputs in natural order (as ``fft._butterfly4`` with sgn = 1)."""
    b0 = (e.add(a0[0], a1[0]), e.add(a0[1], a1[1]))
    b1 = (e.sub(a0[0], a1[0]), e.sub(a0[1], a1[1]))
    b2 = (e.add(a2[0], a3[0]), e.add(a2[1], a3[1]))
    b3 = (e.sub(a2[0], a3[0]), e.sub(a2[1], a3[1]))
    return ((e.add(b0[0], b2[0]), e.add(b0[1], b2[1])),
            (e.add(b1[0], b3[1]), e.sub(b1[1], b3[0])),
            (e.sub(b0[0], b2[0]), e.sub(b0[1], b2[1])),
            (e.sub(b1[0], b3[1]), e.add(b1[1], b3[0])))


@intrinsic
def lanes_load_radix4(typingctx, stage, off_l, off_r, j, m, re, im, dst):
    """Load of LANES frames from a lane-major stage plus the first FFT pass.

    Frame sample k of the left (right) ears is the vector at ``stage[off_l + k * LANES]``
    (``off_r``). Reads samples j, j + 2m, j + m, j + 3m (m = n / 4) and stores the radix-4
    butterfly of (left + j right) at
    ``dst + c * LANES`` (c = 0..3) in ``re``/``im``: with dst = 4 rev[4 j] LANES that is
    the bit-reversed load and first pass of :func:`spatialmw.kernels.fft.fft_load_forward`."""
    if not (_f32_array(stage) and _f32_array(re) and _f32_array(im) and _ints(off_l, off_r, j, m, dst)):
        return None
    sig = types.void(stage, off_l, off_r, j, m, re, im, dst)

    def codegen(context, builder, signature, args):
        e = VectorIR(context, builder)
        st, ol, orr, jj, mm, red, imd, d = e.unpack(signature, args)
        xs = []
        for k in (jj, e.add_i(jj, e.mul_i(mm, 2)), e.add_i(jj, mm), e.add_i(jj, e.mul_i(mm, 3))):
            ko = e.mul_i(k, LANES)
            xs.append((e.load(st, e.add_i(ol, ko)), e.load(st, e.add_i(orr, ko))))
        ys = _butterfly4(e, *xs)
        for c, (yr, yi) in enumerate(ys):
            e.store(red, e.add_i(d, c * LANES), yr)
            e.store(imd, e.add_i(d, c * LANES), yi)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def lanes_radix22(typingctx, re, im, i0, qw, w1r, w1i, w2r, w2i, w3r, w3i):
    """One radix-2^2 forward butterfly (two DIT stages) on LANES transforms: the points at
    i0, i0 + qw, i0 + 2 qw, i0 + 3 qw with twiddles w1, w2, w3, as in
    :func:`spatialmw.kernels.fft._fft_passes`."""
    if not (_f32_array(re) and _f32_array(im) and _ints(i0, qw) and _floats(w1r, w1i, w2r, w2i, w3r, w3i)):
        return None
    sig = types.void(re, im, i0, qw, w1r, w1i, w2r, w2i, w3r, w3i)

    def codegen(context, builder, signature, args):
        e = VectorIR(context, builder)
        red, imd, i0, q, *tw = e.unpack(signature, args)
        w = [e.splat(v) for v in tw]
        idx = [i0]
        for _ in range(3):
            idx.append(e.add_i(idx[-1], q))
        x = [(e.load(red, i), e.load(imd, i)) for i in idx]
        a0, a1 = e.twiddle_bfly(x[0], x[1], w[0], w[1])
        a2, a3 = e.twiddle_bfly(x[2], x[3], w[0], w[1])
        y0, y2 = e.twiddle_bfly(a0, a2, w[2], w[3])
        y1, y3 = e.twiddle_bfly(a1, a3, w[4], w[5])
        for i, y in zip(idx, (y0, y1, y2, y3)):
            e.store(red, i, y[0])
            e.store(imd, i, y[1])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def lanes_radix2(typingctx, re, im, i0, qw, wr, wi):
    """One radix-2 forward DIT butterfly on LANES transforms: points i0 and i0 + qw."""
    if not (_f32_array(re) and _f32_array(im) and _ints(i0, qw) and _floats(wr, wi)):
        return None
    sig = types.void(re, im, i0, qw, wr, wi)

    def codegen(context, builder, signature, args):
        e = VectorIR(context, builder)
        red, imd, i0, q, wr, wi = e.unpack(signature, args)
        i1 = e.add_i(i0, q)
        y0, y1 = e.twiddle_bfly((e.load(red, i0), e.load(imd, i0)), (e.load(red, i1), e.load(imd, i1)),
                                e.splat(wr), e.splat(wi))
        for i, y in ((i0, y0), (i1, y1)):
            e.store(red, i, y[0])
            e.store(imd, i, y[1])
        return context.get_dummy_value()

    return sig, codegen


def _split_ears(e, red, imd, k_, nk_):
    """(Codegen.) The two ears' spectra at bin offset ``k_`` of LANES transforms of
    (left + j right), from bins k and n - k (``nk_``): ((left re, im), (right re, im))."""
    half = e.splat(ir.Constant(e.f32, 0.5))
    ar, ai = e.load(red, k_), e.load(imd, k_)
    br, bi = e.load(red, nk_), e.neg(e.load(imd, nk_))  # conj(Z[n - k])
    xl = (e.mul(half, e.add(ar, br)), e.mul(half, e.add(ai, bi)))
    xr = (e.mul(half, e.sub(ai, bi)), e.mul(half, e.sub(br, ar)))  # (Z - conj Z[n-k]) / 2j
    return xl, xr


def _add_gained(e, xl, xr, g, md, mk_):
    """(Codegen.) mix[mk + c LANES] += the ears' spectra times the complex gains ``g``
    (left re, left im, right re, right im), c = 0..3 in the same order."""
    yl = e.cmul(xl[0], xl[1], g[0], g[1])
    yr = e.cmul(xr[0], xr[1], g[2], g[3])
    for c, y in enumerate((yl[0], yl[1], yr[0], yr[1])):
        i = e.add_i(mk_, c * LANES)
        e.store(md, i, e.add(e.load(md, i), y))


@intrinsic
def lanes_split_gain_add(typingctx, re, im, k, nk, gains, gk, mix, mk):
    """Bin k of LANES transforms of (left + j right): split into the two ears' spectra
    (using bin nk = n - k, or 0 for k = 0), multiply by the per-lane complex gains at
    ``gains[gk + c * LANES]`` (c = 0..3: left re, left im, right re, right im) and add
    into ``mix[mk + c * LANES]``. ``k``/``nk`` are element offsets (bin times LANES)."""
    if not (_f32_array(re) and _f32_array(im) and _f32_array(gains) and _f32_array(mix)
            and _ints(k, nk, gk, mk)):
        return None
    sig = types.void(re, im, k, nk, gains, gk, mix, mk)

    def codegen(context, builder, signature, args):
        e = VectorIR(context, builder)
        red, imd, k_, nk_, gd, gk_, md, mk_ = e.unpack(signature, args)
        xl, xr = _split_ears(e, red, imd, k_, nk_)
        _add_gained(e, xl, xr, [e.load(gd, e.add_i(gk_, c * LANES)) for c in range(4)], md, mk_)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def lanes_split_ramp_add(typingctx, re, im, k, nk, gains, gc, gt, gk, ramp, mix, mixd, mk):
    """:func:`lanes_split_gain_add` for a batch whose gains move, in one pass: each lane's
    gains move from the previous hop's, at ``gains[gc + gk + c LANES]``, the fraction
    ``ramp[lane]`` of the way to its target at ``gains[gt + gk + c LANES]``
    (g = previous + fraction (target - previous), stored back at ``gc``), and the two ears'
    spectra times g are added into ``mix``, times the change (previous - g) into ``mixd``."""
    if not (_f32_array(re) and _f32_array(im) and _f32_array(gains) and _f32_array(ramp)
            and _f32_array(mix) and _f32_array(mixd) and _ints(k, nk, gc, gt, gk, mk)):
        return None
    sig = types.void(re, im, k, nk, gains, gc, gt, gk, ramp, mix, mixd, mk)

    def codegen(context, builder, signature, args):
        e = VectorIR(context, builder)
        red, imd, k_, nk_, gd, gc_, gt_, gk_, rd, md, mdd, mk_ = e.unpack(signature, args)
        fraction = e.load(rd, ir.Constant(ir.IntType(64), 0))
        xl, xr = _split_ears(e, red, imd, k_, nk_)
        g, dg = [], []
        for c in range(4):
            off = e.add_i(gk_, c * LANES)
            cur = builder.add(gc_, off)
            old = e.load(gd, cur)
            new = e.add(old, e.mul(fraction, e.sub(e.load(gd, builder.add(gt_, off)), old)))
            e.store(gd, cur, new)
            g.append(new)
            dg.append(e.sub(old, new))
        _add_gained(e, xl, xr, g, md, mk_)
        _add_gained(e, xl, xr, dg, mdd, mk_)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def lanes_rows4_scatter(typingctx, src, i0, i1, i2, i3, a0, a1, a2, a3, dst, d, stride, accumulate):
    """v = a0 src[i0:+LANES] + a1 src[i1:+LANES] + a2 src[i2:+LANES] + a3 src[i3:+LANES]
    (four weighted rows, one vector each), stored to (``accumulate``: added into)
    dst[d + m stride] for m < LANES: the direction table's lookup written straight into a
    lane-major gain column, which a contiguous result and a strided copy cost twice over."""
    if not (_f32_array(src) and _f32_array(dst) and _ints(i0, i1, i2, i3, d, stride)
            and _floats(a0, a1, a2, a3) and isinstance(accumulate, types.Boolean)):
        return None
    sig = types.void(src, i0, i1, i2, i3, a0, a1, a2, a3, dst, d, stride, accumulate)

    def codegen(context, builder, signature, args):
        e = VectorIR(context, builder)
        sd, j0, j1, j2, j3, w0, w1, w2, w3, dd, d_, st_, _ = e.unpack(signature, args)
        v = e.mul(e.splat(w0), e.load(sd, j0))
        for w, j in ((w1, j1), (w2, j2), (w3, j3)):
            v = e.add(v, e.mul(e.splat(w), e.load(sd, j)))
        i32 = ir.IntType(32)
        ptrs = [builder.gep(dd, [builder.add(d_, builder.mul(st_, ir.Constant(st_.type, m)))], inbounds=True,
                            source_etype=e.f32) for m in range(LANES)]
        with builder.if_else(context.is_true(builder, types.boolean, args[-1])) as (add, put):
            with add:
                for m, p in enumerate(ptrs):
                    x = builder.extract_element(v, ir.Constant(i32, m))
                    builder.store(builder.fadd(builder.load(p, typ=e.f32), x, flags=_FLAGS), p)
            with put:
                for m, p in enumerate(ptrs):
                    builder.store(builder.extract_element(v, ir.Constant(i32, m)), p)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def lanes_copy(typingctx, dst, di, src, si):
    """dst[di:di + LANES] = src[si:si + LANES] as one vector load and store (ascending copies
    within one array stay correct while the source lies at least LANES above)."""
    if not (_f32_array(dst) and _f32_array(src) and _ints(di, si)):
        return None
    sig = types.void(dst, di, src, si)

    def codegen(context, builder, signature, args):
        e = VectorIR(context, builder)
        dd, di_, sd, si_ = e.unpack(signature, args)
        e.store(dd, di_, e.load(sd, si_))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def lanes_row_sums(typingctx, src, si, dst, di):
    """dst[di + r] += sum over lanes of the vector at src[si + r * LANES], r < LANES
    (LANES rows reduced at once by :func:`transpose_sum`); ``dst`` is float64."""
    if not (_f32_array(src) and isinstance(dst, types.Array) and dst.dtype == types.float64
            and dst.ndim == 1 and _ints(si, di)):
        return None
    sig = types.void(src, si, dst, di)

    def codegen(context, builder, signature, args):
        e = VectorIR(context, builder)
        sd, si_, dd, di_ = e.unpack(signature, args)
        rows = [e.load(sd, e.add_i(si_, r * LANES)) for r in range(LANES)]
        dty = ir.VectorType(ir.DoubleType(), LANES)
        s = builder.fpext(transpose_sum(builder, rows, LANES), dty)
        p = builder.bitcast(builder.gep(dd, [di_], inbounds=True, source_etype=ir.DoubleType()),
                            dty.as_pointer())
        builder.store(builder.fadd(builder.load(p, align=8, typ=dty), s), p, align=8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def lanes_encode(typingctx, dst, da, db, coef, src, frames):
    """``src[:frames]`` into the ambisonic bed (:mod:`.lod`): for each sample i,
    dst[da + i LANES:+LANES] += src[i] (coef[0:LANES] + (i + 1) coef[2 LANES:3 LANES]) and
    dst[db + i LANES:+LANES] += src[i] (coef[LANES:2 LANES] + (i + 1) coef[3 LANES:4 LANES])
    (the even and the odd channels, each coefficient ramping by its step per sample).
    One loop in IR with the four coefficient vectors loaded once: ``coef`` lives in the
    same pool as ``dst``, so a per-sample call would reload them after every store."""
    if not (_f32_array(dst) and _f32_array(coef) and _f32_array(src) and _ints(da, db, frames)):
        return None
    sig = types.void(dst, da, db, coef, src, frames)

    def codegen(context, builder, signature, args):
        e = VectorIR(context, builder)
        dd, da_, db_, cd, sd, n = e.unpack(signature, args)
        i64 = ir.IntType(64)
        parts = [(da_, e.load(cd, ir.Constant(i64, 0)), e.load(cd, ir.Constant(i64, 2 * LANES))),
                 (db_, e.load(cd, ir.Constant(i64, LANES)), e.load(cd, ir.Constant(i64, 3 * LANES)))]
        with cgutils.for_range(builder, n) as loop:
            i = loop.index
            x = builder.load(builder.gep(sd, [i], inbounds=True, source_etype=e.f32), align=4, typ=e.f32)
            xv = e.splat(x)
            kv = e.splat(builder.sitofp(builder.add(i, ir.Constant(i.type, 1)), e.f32))
            at = e.mul_i(i, LANES)
            for base, c0, step in parts:
                idx = builder.add(base, at)
                e.store(dd, idx, e.add(e.load(dd, idx), e.mul(xv, e.add(c0, e.mul(kv, step)))))
        return context.get_dummy_value()

    return sig, codegen


def _prefetch_codegen(rw):
    """Codegen of ``llvm.prefetch`` (``rw`` 0: for a read, 1: for a write) of ``arr[idx]``'s
    cache line, kept in every cache level."""
    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        i = context.cast(builder, args[1], signature.args[1], types.intp)
        p = builder.gep(data, [i], source_etype=context.get_data_type(signature.args[0].dtype))
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]), "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(p, i8p), ir.Constant(i32, rw), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return codegen


def _is_prefetchable(arr, idx):
    return isinstance(arr, types.Array) and arr.ndim == 1 and isinstance(idx, types.Integer)


@intrinsic
def prefetch(typingctx, arr, idx):
    """Ask the CPU to start loading the cache line that holds ``arr[idx]`` for a read; a hint
    only, it changes no result and cannot fault. The render loop walks a thousand sources
    whose state is spread over the pools: fetching the next source's lines while this one
    is processed hides most of that latency."""
    if not _is_prefetchable(arr, idx):
        return None
    return types.void(arr, idx), _prefetch_codegen(0)


@intrinsic
def prefetch_write(typingctx, arr, idx):
    """:func:`prefetch` for a line about to be written (the CPU fetches it for ownership).
    A source's write stores 2 KB into its delay line at lines last touched a ring's length
    ago, i.e. in memory: asking for all of them first overlaps their fetches instead of
    stalling the stores one line after another."""
    if not _is_prefetchable(arr, idx):
        return None
    return types.void(arr, idx), _prefetch_codegen(1)
