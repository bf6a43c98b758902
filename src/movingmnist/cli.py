"""The ``movingmnist`` command: a thin layer that turns flags into a Spec and calls the library.

    movingmnist presets                                   # one line per preset
    movingmnist generate --preset srivastava --num 10000 --source glyphs --out train.zarr --workers 2
    movingmnist info train.zarr
    movingmnist verify train.zarr --sample 100
    movingmnist export train.zarr --to mot train-mot

Expected errors (bad flags, bad spec values, existing or incomplete datasets, full disks) print one line
``movingmnist: error: ...`` on stderr and exit with status 2; ``verify`` exits 1 when data differ; Ctrl-C during
``generate`` exits 130 after saying how to resume.

Adding a subcommand: write ``add_parser(subparsers)`` in your module (it calls ``subparsers.add_parser(...)``
and ``set_defaults(func=handler)``, where ``handler(args) -> int`` returns the exit status; import heavy
dependencies inside the handler) and add the module's name to :data:`COMMAND_MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shlex
import sys
from collections.abc import Sequence
from typing import Any

from .errors import MovingMNISTError

PROG = "movingmnist"

#: Modules whose ``add_parser(subparsers)`` adds subcommands, in the order they appear in ``--help``.
COMMAND_MODULES: list[str] = [
    "movingmnist.cli",
    "movingmnist.viz_cli",
    "movingmnist.exchange.cli",
]

FORMATS = ("zarr", "hdf5", "npy", "classic-npy")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from ._version import __version__

    parser = _Parser(
        prog=PROG,
        description="Moving-MNIST-style synthetic video datasets with complete ground truth.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--verbose", action="store_true", help="full details of an error (anywhere on the line)")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in argv  # accepted anywhere on the line: full details of an error
    argv = [a for a in argv if a != "--verbose"]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if not hasattr(args, "func"):
        parser.print_help(sys.stderr)
        return 2
    args.argv = argv
    from .runner import Interrupted

    try:
        return int(args.func(args) or 0)
    except Interrupted as exc:
        print(f"{PROG}: {exc}; to finish, run: {_resume_command(argv)}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (MovingMNISTError, OSError) as exc:
        detail = getattr(exc, "detail", None)
        if verbose and detail:
            print(f"{PROG}: error: {detail}", file=sys.stderr)
        elif detail:  # a short message of a few lines, written to be read as lines
            print(f"{PROG}: error: {exc}", file=sys.stderr)
        else:
            print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return 2


def _one_line(exc: BaseException) -> str:
    text = str(exc) if not isinstance(exc, OSError) or not exc.strerror else (
        f"{exc.strerror}" + (f": {exc.filename}" if exc.filename else "")
    )
    return " ".join(text.split())


def _resume_command(argv: list[str]) -> str:
    args = [a for a in argv if a != "--overwrite"]
    if "--resume" not in args:
        args.append("--resume")
    return shlex.join([PROG, *args])


# -- built-in subcommands -----------------------------------------------------------------------------------------
def add_parser(subparsers: Any) -> None:
    """Add the dataset commands: generate, presets, info, verify, download."""
    _add_generate(subparsers)
    _add_presets(subparsers)
    _add_info(subparsers)
    _add_verify(subparsers)
    _add_download(subparsers)


def _add_generate(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "generate",
        help="generate a dataset to disk (zarr, hdf5, npy, classic-npy)",
        description="Generate sequences start .. start+num-1 of (spec, seed) and write them to --out, chunk by "
        "chunk; --resume completes an interrupted run with identical bytes.",
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--preset", help="named recipe, e.g. srivastava or srivastava@1 (see `movingmnist presets`)")
    what.add_argument("--config", metavar="FILE", help="spec file (YAML or JSON; a 'preset:' key starts from one)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec field, e.g. --set motion.speed=2..6 (repeatable)")
    p.add_argument("--source", help="glyph source: mnist, fashion-mnist, kmnist, glyphs, idx:PATH, folder:PATH "
                   "(default: the spec's, mnist for most presets: downloaded on first use; glyphs: built in, offline)")
    p.add_argument("--split", choices=("train", "val", "test"), help="source split (default: the spec's)")
    p.add_argument("--num", type=int, required=True, help="number of sequences")
    p.add_argument("--seed", type=int, default=0, help="dataset seed (default 0, a seed like any other)")
    p.add_argument("--start", type=int, default=0, help="index of the first sequence (default 0)")
    p.add_argument("--out", required=True, metavar="PATH", help="output path (.zarr, .h5, .npy-dir, .npy)")
    p.add_argument("--format", choices=FORMATS,
                   help="storage format (default: from the suffix of --out, else zarr)")
    p.add_argument(
        "--compression",
        help="zstd[:LEVEL] (zarr, default zstd:1), lz4[:LEVEL] (zarr: faster codec, 2.5x larger), "
        "gzip[:LEVEL] (hdf5 default), none",
    )
    p.add_argument("--chunk-size", type=int, help="sequences per work chunk and zarr shard (default <= 1000)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default 1: this process)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="dask.distributed scheduler, e.g. tcp://host:8786")
    p.add_argument("--resume", action="store_true", help="complete an interrupted dataset at --out")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset at --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--cache-dir", help="download cache for the MNIST family")
    p.set_defaults(func=_generate)


def _generate(args: argparse.Namespace) -> int:
    from .runner import write_dataset
    from .spec import Spec

    if args.config:
        spec = Spec.from_file(args.config, args.set)
    else:
        spec = Spec.from_preset(args.preset, args.set)
    summary = write_dataset(
        spec,
        seed=args.seed,
        num=args.num,
        path=args.out,
        format=args.format,
        chunk_size=args.chunk_size,
        workers=args.workers,
        scheduler=args.scheduler,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=False if args.quiet else None,
        source=args.source,
        split=args.split,
        start=args.start,
        cache_dir=args.cache_dir,
        compression=args.compression,
        command=shlex.join([PROG, *args.argv]),
    )
    print(summary.line())
    if summary.format == "classic-npy":
        print(f"note: {args.out} holds the frames only (the classic layout: one uint8 array (N, T, H, W)); "
              "use .npy-dir, .zarr or .h5 for the annotations")
    return 0


def _add_presets(subparsers: Any) -> None:
    p = subparsers.add_parser("presets", help="list the presets, or show one", description="List the named "
                              "recipes (name@version and summary), or show one preset's fields, notes and reference.")
    p.add_argument("name", nargs="?", help="a preset name (name or name@version)")
    p.set_defaults(func=_presets)


def _presets(args: argparse.Namespace) -> int:
    from .presets import PRESETS, get_preset, list_presets
    from .spec import flatten

    if not args.name:
        presets = list_presets()
        width = max(len(p.key) for p in presets)
        for preset in presets:
            print(f"{preset.key:<{width}}  {preset.summary}")
        return 0
    preset = get_preset(args.name)
    print(f"{preset.key}: {preset.summary}")
    print(f"reference: {preset.reference}")
    versions = [p.key for p in PRESETS[preset.name]]
    if len(versions) > 1:
        print(f"versions: {', '.join(versions)}")
    print("fields:")
    flat = flatten(preset.spec().to_dict())
    flat.pop("preset", None)
    width = max(len(k) for k in flat)
    for key, value in flat.items():
        print(f"  {key:<{width}} = {_show(value)}")
    if preset.notes:
        print("notes:")
        for note in preset.notes:
            print(f"  - {note}")
    return 0


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        return f"{value[0]}..{value[1]}"
    return json.dumps(value) if not isinstance(value, str) else value


def _add_info(subparsers: Any) -> None:
    p = subparsers.add_parser("info", help="describe a dataset on disk", description="Print a dataset's spec, "
                              "counts, sizes and completeness. Exit status 1 when written chunks are missing or "
                              "damaged (listed), 2 when the dataset cannot be opened.")
    p.add_argument("path")
    p.add_argument("--json", action="store_true", help="print the stored metadata as JSON")
    p.set_defaults(func=_info)


def _info(args: argparse.Namespace) -> int:
    from .io.reader import open_dataset
    from .runner.summary import human_bytes
    from .spec import flatten

    ds = open_dataset(args.path, allow_incomplete=True)
    meta = ds.metadata or {}
    damage = ds.check_structure()
    if args.json:
        print(json.dumps({**meta, "missing": ds.missing, "damage": [str(d) for d in damage]}, indent=1,
                         sort_keys=True))
        return 1 if damage else 0
    rows = []
    rows.append(("path", ds.path))
    layout = ds.layout
    fmt = ds.format + (f" ({layout.compression}, chunks of {layout.chunk_size:,} sequences)" if layout else "")
    rows.append(("format", fmt))
    if damage:
        unreadable = len({row for d in damage for row in range(d.lo, d.hi)})
        problems = f"{len(damage)} problem" + ("" if len(damage) == 1 else "s")
        rows.append(("complete", f"NO: damaged, {unreadable:,} of {ds.num:,} sequences written but unreadable "
                                 f"({problems}, listed below); generate it again"))
    elif ds.complete:
        rows.append(("complete", "yes"))
    else:
        rows.append(("complete", f"NO: {ds.missing:,} of {ds.num:,} sequences are missing; finish with "
                                 "`movingmnist generate ... --resume` (same arguments)"))
    rows.append(("sequences", f"{ds.num:,} (indices {ds.start:,}..{ds.start + ds.num - 1:,})"))
    if meta:
        rows.append(("seed", str(meta.get("seed"))))
        rows.append(("preset", f"{meta['spec'].get('preset') or '(none)'}, fingerprint {meta.get('fingerprint')}"))
        src = meta.get("source", {})
        glyphs = src.get("num_glyphs")
        glyphs = f"{glyphs:,}" if isinstance(glyphs, int) else "?"
        rows.append(("source", f"{src.get('name')} {src.get('split')} ({glyphs} glyphs, "
                               f"sha256 {str(src.get('checksum'))[:16]}...)"))
        rows.append(("created", f"{meta.get('created')} with movingmnist {meta.get('version')}"))
        rows.append(("command", str(meta.get("command"))))
    stored = ds.storage_bytes()
    raw = sum(a.nbytes for a in ds.arrays.values())
    total = sum(stored.values())
    ratio = f", {raw / total:.1f}x compression" if total else ""
    rows.append(("size", f"{human_bytes(total)} on disk, {human_bytes(raw)} uncompressed{ratio}"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print("arrays:")
    shapes = {name: "(" + ", ".join(str(s) for s in a.shape) + ")" for name, a in ds.arrays.items()}
    wn, ws = max(map(len, shapes)), max(map(len, shapes.values()))
    for name, array in ds.arrays.items():
        print(f"  {name:<{wn}}  {shapes[name]:<{ws}}  {str(array.dtype):<8}{human_bytes(stored[name]):>10}")
    if meta:
        print("spec:")
        flat = flatten(meta["spec"])
        flat.pop("preset", None)
        w = max(len(k) for k in flat)
        for key, value in flat.items():
            print(f"  {key:<{w}} = {_show(value)}")
    if damage:
        print("damage:")
        for d in damage[:20]:
            print(f"  {d}")
        if len(damage) > 20:
            print(f"  ... ({len(damage) - 20} more)")
    ds.close()
    return 1 if damage else 0


def _add_verify(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "verify",
        help="regenerate sequences and compare them byte for byte",
        description="Check the dataset's structure (dtypes, shapes, manifest, the files of every written chunk), "
        "then regenerate sequences from the stored spec and seed and compare every array byte for byte. Exit "
        "status 1 when any sequence differs or cannot be read or a written chunk is damaged (naming them), 2 on "
        "errors (a dataset that cannot be opened or whose metadata contradicts its files).",
    )
    p.add_argument("path")
    p.add_argument("--sample", type=int, default=100, metavar="K", help="random sequences to check (default 100)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random sample (default 0)")
    p.add_argument("--all", action="store_true", help="check every sequence")
    p.add_argument("--source", help="glyph source to use instead of the stored name (its checksum must match)")
    p.add_argument("--cache-dir", help="download cache for the MNIST family")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_verify)


def _verify(args: argparse.Namespace) -> int:
    from .io.verify import verify_dataset

    report = verify_dataset(
        args.path,
        sample=args.sample,
        seed=args.seed,
        all=args.all,
        source=args.source,
        cache_dir=args.cache_dir,
        progress=not args.quiet and sys.stderr.isatty(),
    )
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


def _add_download(subparsers: Any) -> None:
    p = subparsers.add_parser("download", help="download and verify a source (mnist, fashion-mnist, kmnist)",
                              description="Download a source's files from its mirrors, check their sha256 and "
                              "cache them, so that later runs work offline.")
    p.add_argument("name", help="mnist, fashion-mnist or kmnist")
    p.add_argument("--cache-dir", help="cache directory (default: $MOVINGMNIST_CACHE or the user cache dir)")
    p.set_defaults(func=_download)


def _download(args: argparse.Namespace) -> int:
    try:
        from .sources.mnist import download_source
    except ImportError as exc:
        raise MovingMNISTError(f"downloading is not available in this build: {exc}") from None
    for path in download_source(args.name, cache_dir=args.cache_dir):
        print(path)
    return 0
