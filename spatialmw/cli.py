"""``spatialmw render|play|fit|eval|bench|export|info`` — the command line.

Every failure a user can cause (bad scene, SOFA or model file, unsupported settings) ends
with one line on stderr and exit status 2; nothing prints a traceback.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _known_errors():
    from .engine import EngineConfigError, EngineError
    from .geometry import GeometryError
    from .scene import SceneError

    errors = [SceneError, EngineConfigError, EngineError, GeometryError, OSError]
    for mod, name in (("spatialmw.model", "ModelError"), ("spatialmw.hrtf.sofa", "SOFAError"),
                      ("spatialmw.playback", "PlaybackError"), ("spatialmw.peers.openal", "OpenALError")):
        try:
            errors.append(getattr(__import__(mod, fromlist=[name]), name))
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


def cmd_render(args) -> int:
    from .scene import load_scene

    scene = load_scene(args.scene)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    kw = {} if args.renderer == "reference" else {"model": args.model, "block": args.block}
    y = scene.write(out, renderer=args.renderer, progress=not args.quiet, **kw)
    peak = float(abs(y).max()) if y.size else 0.0
    print(f"wrote {out} ({y.shape[0] / scene.sample_rate:.2f} s, stereo, {scene.sample_rate} Hz, "
          f"renderer {args.renderer}, peak {peak:.3f})")
    return 0


def cmd_play(args) -> int:
    from .playback import play
    from .scene import load_scene

    scene = load_scene(args.scene)
    kw = {} if args.renderer == "reference" else {"model": args.model}
    y = scene.render(args.renderer, progress=not args.quiet, **kw)
    print(f"playing {y.shape[0] / scene.sample_rate:.2f} s through OpenAL"
          + (f" device {args.device!r}" if args.device else ""))
    play(y, scene.sample_rate, device_name=args.device)
    return 0


def cmd_fit(args) -> int:
    if bool(args.sofa) == bool(args.binaural_speech):
        raise SystemExit("spatialmw fit: give exactly one of --sofa FILE or --binaural-speech DIR")
    kw = {"seed": args.seed, "progress": not args.quiet}
    if args.steps:
        kw["steps"] = args.steps
    if args.sofa:
        from .train.fit_hrtf import fit_sofa
        metrics = fit_sofa(args.sofa, args.output, **kw)
    else:
        from .train.binaural_speech import fit_binaural_speech
        metrics = fit_binaural_speech(args.binaural_speech, args.output, init_model=args.init_model, **kw)
    print(f"wrote {args.output}")
    for k, v in (metrics or {}).items():
        print(f"  {k}: {v}")
    return 0


def cmd_eval(args) -> int:
    from .evaluation import format_table, run_eval

    result = run_eval(model_path=args.model, sofa_path=args.sofa, json_path=args.json,
                      plots_dir=args.plots, quick=args.quick, progress=not args.quiet)
    print(format_table(result))
    if args.json:
        print(f"wrote {args.json}")
    return 0


def cmd_bench(args) -> int:
    root = Path(__file__).resolve().parents[1]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        from benchmarks.run import main as bench_main
    except ImportError as e:
        raise OSError(f"the benchmarks/ folder of the source tree is needed for 'bench': {e}") from None
    return int(bench_main(args.bench_args) or 0)


def cmd_export(args) -> int:
    from .asset import export
    out = export(args.model, args.output)
    print(f"wrote {out} ({out.stat().st_size} bytes): the model asset the native library reads")
    return 0


def cmd_info(args) -> int:
    import platform
    import shutil

    import numba
    import numpy

    from . import __version__
    print(f"spatialmw {__version__}  python {platform.python_version()}  numpy {numpy.__version__}  "
          f"numba {numba.__version__}")
    print("real-time FFT: allocation-free radix-4/2 numba kernel (spatialmw/kernels/fft.py)")
    try:
        from .model import default_model_path, load_model
        m = load_model(args.model)
        meta = m.meta
        print(f"model: {args.model or default_model_path()} ({meta.get('parameter_count', m.theta.size)} params, "
              f"grid {len(m.grid_hz)} points, head radius {m.head_radius * 1000:.1f} mm)")
    except Exception as e:  # info reports, it does not fail
        print(f"model: not usable ({e})")
    try:
        from .hrtf.sofa import default_sofa_path
        print(f"HRTF: {default_sofa_path()}")
    except ImportError:
        pass
    try:
        from .peers.openal import _library_path, load_library
        load_library()
        print(f"OpenAL Soft: {_library_path()}")
    except Exception as e:
        print(f"OpenAL Soft: not found ({e})")
    print(f"ffmpeg: {shutil.which('ffmpeg') or 'not found'}")
    lib = Path(__file__).resolve().parents[1] / "build" / "lib" / "libspatialmw.so"
    print(f"C library: {lib if lib.exists() else 'not built (make lib)'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spatialmw", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("render", help="render a JSON scene to a stereo WAV")
    r.add_argument("scene")
    r.add_argument("-o", "--output", required=True)
    r.add_argument("--renderer", choices=("liteinn", "tdw", "reference"), default="liteinn")
    r.add_argument("--model", default=None, help="Lite-INN model .npz (default: the shipped KEMAR model)")
    r.add_argument("--block", type=int, default=512)
    r.add_argument("-q", "--quiet", action="store_true")
    r.set_defaults(func=cmd_render)

    pl = sub.add_parser("play", help="render a scene and play it through OpenAL")
    pl.add_argument("scene")
    pl.add_argument("--renderer", choices=("liteinn", "tdw", "reference"), default="liteinn")
    pl.add_argument("--model", default=None)
    pl.add_argument("--device", default=None, help="OpenAL device name (default device if omitted)")
    pl.add_argument("-q", "--quiet", action="store_true")
    pl.set_defaults(func=cmd_play)

    f = sub.add_parser("fit", help="fit a Lite-INN model to a SOFA file or paired recordings")
    f.add_argument("--sofa")
    f.add_argument("--binaural-speech", metavar="DIR")
    f.add_argument("--init-model", default=None)
    f.add_argument("-o", "--output", required=True)
    f.add_argument("--steps", type=int, default=None)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("-q", "--quiet", action="store_true")
    f.set_defaults(func=cmd_fit)

    e = sub.add_parser("eval", help="evaluate against measured HRIRs and peers (DESIGN.md protocol)")
    e.add_argument("--model", default=None)
    e.add_argument("--sofa", default=None)
    e.add_argument("--json", default=None)
    e.add_argument("--plots", default=None)
    e.add_argument("--quick", action="store_true")
    e.add_argument("-q", "--quiet", action="store_true")
    e.set_defaults(func=cmd_eval)

    b = sub.add_parser("bench", help="benchmarks against peers (see benchmarks/)")
    b.add_argument("bench_args", nargs=argparse.REMAINDER)
    b.set_defaults(func=cmd_bench)

    x = sub.add_parser("export", help="compile a model .npz into the .smwm asset the C library reads")
    x.add_argument("model", nargs="?", default=None, help="model .npz (default: the shipped KEMAR model)")
    x.add_argument("-o", "--output", required=True)
    x.set_defaults(func=cmd_export)

    i = sub.add_parser("info", help="versions and what was found")
    i.add_argument("--model", default=None)
    i.set_defaults(func=cmd_info)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except _known_errors() as e:
        print(f"spatialmw: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("spatialmw: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
