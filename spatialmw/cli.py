"""``spatialmw render|play|fit|eval|export|info`` — the command line.

Every failure a user can cause (bad scene, SOFA or model file, bad output path, bad
option) ends with one line on stderr, ``spatialmw: error: ...``, and exit status 2;
nothing prints a traceback. Benchmarks are not a subcommand: they need the source tree
(``python -m benchmarks.run``, ``make bench``).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from . import __version__
from .errors import SpatialmwError

DESCRIPTION = ("Binaural (headphone) spatial audio: render or play JSON scenes (format: docs/SCENES.md), "
               "fit the Lite-INN corrector to your own HRTF or recordings (docs/FITTING.md), evaluate a "
               "model, show what was found. Errors end with one 'spatialmw: error:' line and exit "
               "status 2.")
RENDERER_HELP = ("liteinn: time-domain warp + neural corrector (the engine); tdw: the warp only; "
                 "reference: measured-HRIR convolution (offline, slow)")
MODEL_HELP = ("Lite-INN model .npz for --renderer liteinn (default: the shipped KEMAR model); "
              "refused with the other renderers, which use no model")
NORMALIZE_HELP = ("scale the output: peak = peak at -1 dBFS; loudness = -23 dB by an unweighted, ungated "
                  "BS.1770-style measure (RMS power of both channels, no K-weighting); default: as rendered")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # one line, like every other user error (argparse's default prints the usage first)
        hint = (" (benchmarks run from the source tree: python -m benchmarks.run --out DIR)"
                if "'bench'" in message else f" (see '{self.prog} --help')")
        self.exit(2, f"spatialmw: error: {message}{hint}\n")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Appends "(default: X)" to options that have a real default; options whose default is
    None or a flag's False say in their own help what happens without them."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1, or a one-line error."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {v}")
    return v


def _report_peak(y) -> float:
    """The peak of ``y``, with one warning line when it exceeds full scale (float WAVs keep
    it; players and integer conversions clip it)."""
    import numpy as np

    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak > 1.0:
        print(f"spatialmw: warning: peak {peak:.2f} ({20 * math.log10(peak):+.1f} dBFS) exceeds full scale "
              "and will clip on playback or integer conversion; use --normalize peak", file=sys.stderr)
    return peak


def _warned(render):
    """``render()``, the scene's warnings (what a renderer ignores) as one
    ``spatialmw: warning:`` line each instead of Python's file-and-line format."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        y = render()
    for w in caught:
        print(f"spatialmw: warning: {w.message}", file=sys.stderr)
    return y


def cmd_render(args) -> int:
    from .scene import load_scene

    scene = load_scene(args.scene)
    out = Path(args.output)
    y = _warned(lambda: scene.write(out, renderer=args.renderer, progress=not args.quiet,
                                    normalize=args.normalize, model=args.model, block=args.block))
    peak = _report_peak(y)
    print(f"wrote {out} ({y.shape[0] / scene.sample_rate:.2f} s, stereo, {scene.sample_rate} Hz, "
          f"renderer {args.renderer}, peak {peak:.3f})")
    return 0


def cmd_play(args) -> int:
    from .playback import play
    from .scene import load_scene

    scene = load_scene(args.scene)
    y = _warned(lambda: scene.render(args.renderer, progress=not args.quiet, model=args.model,
                                     normalize=args.normalize))
    _report_peak(y)
    print(f"playing {y.shape[0] / scene.sample_rate:.2f} s through OpenAL"
          + (f" device {args.device!r}" if args.device else ""))
    play(y, scene.sample_rate, device_name=args.device)
    return 0


def _check_model_output(path: Path) -> None:
    """A fit runs for minutes: refuse an unusable output path before it starts."""
    if path.suffix.lower() != ".npz":
        raise SpatialmwError(f"cannot write {path}: a model file name must end in .npz")
    if path.is_dir():
        raise SpatialmwError(f"cannot write {path}: it is a folder; give a file name ending in .npz")
    folder = next((p for p in (path.parent, *path.parent.parents) if p.exists()), Path("."))
    if not (folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)):
        raise SpatialmwError(f"cannot write {path}: {folder} is not a writable folder")


def cmd_fit(args) -> int:
    out = Path(args.output)
    _check_model_output(out)
    if args.init_model and not args.binaural_speech:
        raise SpatialmwError("--init-model applies to --binaural-speech only")
    kw = {"seed": args.seed, "progress": not args.quiet}
    if args.steps is not None:
        kw["steps"] = args.steps
    try:
        import torch  # noqa: F401  (the fits import it later; say so now rather than mid-way)
    except ImportError as e:
        raise SpatialmwError(f"fitting needs PyTorch (pip install 'spatialmw[train]'): {e}") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.sofa:
        from .train.fit_hrtf import fit_sofa
        metrics = fit_sofa(args.sofa, out, device=args.device, **kw)
    else:
        from .train.binaural_speech import fit_binaural_speech
        metrics = fit_binaural_speech(args.binaural_speech, out, init_model=args.init_model, **kw)
    print(f"wrote {out}")
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

    print(f"spatialmw {__version__}  python {platform.python_version()}  numpy {numpy.__version__}  "
          f"numba {numba.__version__}")
    print("real-time FFT: allocation-free radix-4/2 numba kernel (spatialmw/kernels/fft.py)")
    try:
        from .model import default_model_path, load_model
        m = load_model(args.model)
        print(f"model: {args.model or default_model_path()} ({m.n_params} trainable parameters, "
              f"grid {m.n_grid} points, head radius {m.head_radius * 1000:.1f} mm)")
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


def _scene_options(sp) -> None:
    """Options render and play share."""
    sp.add_argument("scene", help="JSON scene file (format: docs/SCENES.md)")
    sp.add_argument("--renderer", choices=("liteinn", "tdw", "reference"), default="liteinn", help=RENDERER_HELP)
    sp.add_argument("--model", default=None, help=MODEL_HELP)
    sp.add_argument("--normalize", choices=("peak", "loudness"), default=None, help=NORMALIZE_HELP)
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="spatialmw", description=DESCRIPTION, formatter_class=_Formatter)
    p.add_argument("--version", action="version", version=f"spatialmw {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, help_, **kw):
        return sub.add_parser(name, help=help_, description=help_, formatter_class=_Formatter, **kw)

    r = add("render", "render a JSON scene to a stereo 32-bit float WAV")
    _scene_options(r)
    r.add_argument("-o", "--output", required=True,
                   help="output .wav (checked before rendering; written to a temporary file and "
                        "renamed when complete; missing folders are created)")
    r.add_argument("--block", type=positive_int, default=512, help="engine block size in frames")
    r.set_defaults(func=cmd_render)

    pl = add("play", "render a JSON scene and play it through OpenAL (already binaural: "
                     "OpenAL's own HRTF is off)")
    _scene_options(pl)
    pl.add_argument("--device", default=None, help="OpenAL device name (default: the system's default device)")
    pl.set_defaults(func=cmd_play)

    f = add("fit", "fit a Lite-INN model to a SOFA HRTF or to paired mono/binaural recordings",
            epilog="The --binaural-speech dataset layout (folders, files, sample rate, position "
                   "rows and axes) is documented in docs/FITTING.md.")
    src = f.add_mutually_exclusive_group(required=True)
    src.add_argument("--sofa", metavar="FILE", help="SimpleFreeFieldHRIR SOFA file to fit")
    src.add_argument("--binaural-speech", metavar="DIR",
                     help="paired-recordings dataset folder (layout: docs/FITTING.md)")
    f.add_argument("--init-model", metavar="FILE", default=None,
                   help="with --binaural-speech: fine-tune this model .npz instead of starting from scratch")
    f.add_argument("-o", "--output", required=True, help="output model .npz (checked before fitting)")
    f.add_argument("--steps", type=positive_int, default=None,
                   help="training steps, >= 1 (default: the fit's own, see docs/FITTING.md)")
    f.add_argument("--seed", type=int, default=0, help="random seed")
    f.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="with --sofa: where torch trains (auto: CUDA when torch sees a GPU)")
    f.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=cmd_fit)

    e = add("eval", "evaluate against measured HRIRs and the peer renderers (docs/EVALUATION.md)")
    e.add_argument("--model", default=None, help="model .npz (default: the shipped KEMAR model)")
    e.add_argument("--sofa", default=None, help="SOFA file to compare with (default: the MIT KEMAR set)")
    e.add_argument("--json", default=None, help="also write the results as JSON to this file")
    e.add_argument("--plots", default=None, help="also write plots into this folder")
    e.add_argument("--quick", action="store_true", help="a few directions only (a smoke test)")
    e.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    e.set_defaults(func=cmd_eval)

    x = add("export", "compile a model .npz into the .smwm asset the C library reads")
    x.add_argument("model", nargs="?", default=None, help="model .npz (default: the shipped KEMAR model)")
    x.add_argument("-o", "--output", required=True, help="output asset (.smwm)")
    x.set_defaults(func=cmd_export)

    i = add("info", "print versions and which model, HRTF, OpenAL Soft, ffmpeg and C library were found")
    i.add_argument("--model", default=None, help="model .npz to describe (default: the shipped KEMAR model)")
    i.set_defaults(func=cmd_info)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (SpatialmwError, OSError) as e:
        msg = " ".join(str(e).split()) or type(e).__name__  # one line, whatever the message held
        print(f"spatialmw: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("spatialmw: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
