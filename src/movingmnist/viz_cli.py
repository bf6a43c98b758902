"""The ``preview`` and ``stats`` subcommands of the ``movingmnist`` command.

``movingmnist.cli`` calls :func:`add_parser` with its subparsers object; each subcommand sets ``func``, a handler
that takes the parsed arguments and returns an exit code (0 success, 2 a bad request, with one line on stderr).

    movingmnist preview --preset srivastava --source glyphs --num 16 --masks semantic --boxes --out preview.gif
    movingmnist preview data/train.zarr --indices 0:16 --out preview.png
    movingmnist stats srivastava --source glyphs --num 512 --compare stochastic --out stats.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .errors import MovingMNISTError

EXIT_OK = 0
EXIT_ERROR = 2
ANIMATION_NUM = 64  # default sequences of a GIF / MP4 preview
GRID_NUM = 8  # default sequences (rows) of a PNG preview
STATS_NUM = 256  # default sequences rendered from a preset for stats
STATS_DATASET_NUM = 1024  # default sequences read from a dataset for stats
#: The most sequences one preview shows: checked before any index list is built (a picture of more would be refused
#: by its 64-megapixel limit anyway, after minutes of work).
MAX_PREVIEW_NUM = 100_000
#: The most sequences stats render or read: distributions settle long before, and more would run for hours.
MAX_STATS_NUM = 1_000_000

PREVIEW_EPILOG = """\
examples:
  movingmnist preview --preset srivastava --source glyphs --out preview.gif
  movingmnist preview --preset stochastic --set objects.count=1..3 --num 8 --masks semantic --boxes --out grid.png
  movingmnist preview data/train.zarr --indices 0:16 --trails --out preview.mp4
  movingmnist preview --preset srivastava --source glyphs --num 4 --captions events --out grid.png

PNG: sequences as rows, frames as columns (--num defaults to 8). GIF / MP4: sequences tiled on a grid, one
animation frame per frame (--num defaults to 64). A picture larger than 64 megapixels is refused: pick fewer
sequences, frames or a smaller --scale.
"""

STATS_EPILOG = """\
examples:
  movingmnist stats srivastava --source glyphs --out stats.png
  movingmnist stats data/train.zarr --num 10000 --out stats.png
  movingmnist stats srivastava --compare srivastava-tfds --source glyphs --out compare.png

Plots distributions of object speed (|velocity|), classes, visibility (occlusion), mean intensity per frame and
objects per sequence; with --compare the second dataset is overlaid.
"""


def add_parser(subparsers: Any) -> None:
    """Add the ``preview`` and ``stats`` subcommands to an argparse subparsers object."""
    add_preview_parser(subparsers)
    add_stats_parser(subparsers)


def _add_source_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec field of the preset, e.g. motion.speed=2..6 (repeatable)")
    p.add_argument("--source", help="glyph source: mnist, fashion-mnist, kmnist, glyphs, idx:PATH, folder:PATH")
    p.add_argument("--split", choices=("train", "val", "test"), help="source split (default: the preset's)")
    p.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")


def add_preview_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "preview",
        help="draw sequences of a preset or a dataset as a PNG grid, a GIF or an MP4",
        description="Draw sequences of a preset (rendered now) or of a dataset on disk, with optional masks, "
        "boxes and trails. The suffix of --out chooses the format: .png (grid), .gif or .mp4 (animation).",
        epilog=PREVIEW_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dataset", nargs="?", help="a dataset written by `movingmnist generate` (or give --preset)")
    p.add_argument("--preset", help="render sequences of this preset, e.g. srivastava or srivastava@1")
    _add_source_options(p)
    p.add_argument("--num", type=int, help=f"sequences to show (default {GRID_NUM} for .png, "
                   f"{ANIMATION_NUM} for .gif/.mp4)")
    p.add_argument("--indices", help="which sequences: START:STOP[:STEP] or a comma list (default: the first --num)")
    p.add_argument("--frames", type=int, help="show the first N frames (default: all)")
    p.add_argument("--masks", choices=("semantic", "instance"), help="show a mask beside/under every frame")
    p.add_argument("--boxes", action="store_true", help="draw each object's box with its slot id")
    p.add_argument("--trails", action="store_true", help="draw each object's path up to the frame")
    p.add_argument("--fps", type=float, default=8.0, help="animation frame rate (default 8)")
    p.add_argument("--scale", type=int, default=2, help="nearest-neighbour upscaling factor (default 2)")
    p.add_argument("--tile", help="animation grid ROWSxCOLS (default: the squarest that holds the sequences)")
    p.add_argument("--no-captions", dest="captions", action="store_false", help="no labels and frame numbers")
    p.add_argument("--captions", dest="caption_style", nargs="?", const="auto",
                   choices=("auto", "template", "events"),
                   help="also print a text caption of each sequence shown (and write them below a PNG): the data's "
                   "own captions when it has them, else template (default), or made now in the style template "
                   "('digit 6 is moving up and down and ...') or events (arrivals, walls, occlusions, collisions, "
                   "exits)")
    p.add_argument("--no-legend", dest="legend", action="store_false", help="no colour legend")
    p.add_argument("--out", "-o", required=True, help="output file: .png, .gif or .mp4")
    p.set_defaults(func=run_preview)
    return p


def add_stats_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "stats",
        help="plot distributions (speed, classes, occlusion, intensity, objects) of a dataset or a preset",
        description="Plot distributions of a dataset on disk, or of --num sequences rendered from a preset.",
        epilog=STATS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("target", help="a dataset path or a preset name")
    p.add_argument("--compare", metavar="OTHER", help="a second dataset path or preset, overlaid")
    _add_source_options(p)
    p.add_argument("--num", type=int, help=f"sequences to use (default {STATS_NUM} of a preset, the first "
                   f"{STATS_DATASET_NUM} of a dataset)")
    p.add_argument("--out", "-o", required=True, help="output image (.png, .pdf, .svg)")
    p.set_defaults(func=run_stats)
    return p


# -- handlers ----------------------------------------------------------------------------------------------------------
def _fail(command: str, message: str) -> int:
    print(f"movingmnist {command}: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _open_dataset(path: str):
    """``movingmnist.open(path)``, imported when needed."""
    import movingmnist

    opener = getattr(movingmnist, "open", None)
    if opener is None:
        raise MovingMNISTError(f"cannot read the dataset {path!r}: this version of movingmnist has no reader "
                               "(movingmnist.open); preview a preset with --preset instead")
    return opener(path)


def _generator(preset: str, args: argparse.Namespace, source: str | None = None):
    """A Generator of ``preset``; without ``--source``, the preset's own source, or the built-in glyphs (with a note)
    where that source cannot be downloaded: a preview is a look, and works offline."""
    from .errors import DownloadError
    from .generator import Generator, resolve_spec

    source = args.source or source
    spec = resolve_spec(preset, args.overrides or None, source=source, split=args.split)
    try:
        return Generator(spec, seed=args.seed, source=source)
    except DownloadError as exc:
        if source is not None:
            raise
        first = str(exc).splitlines()[0]
        print(f"movingmnist: note: {first}; showing the built-in glyphs instead (--source glyphs)", file=sys.stderr)
        spec = resolve_spec(preset, args.overrides or None, source="glyphs", split=args.split)
        return Generator(spec, seed=args.seed, source="glyphs")


def _preview(args: argparse.Namespace) -> str:
    from . import viz

    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (".png", ".gif", ".mp4"):
        raise ValueError(f"--out {args.out}: the suffix must be .png, .gif or .mp4")
    if (args.dataset is None) == (args.preset is None):
        raise ValueError("give either a dataset path or --preset NAME (not both)")
    if args.num is not None and args.num < 1:
        raise ValueError(f"--num {args.num}: at least 1")
    if args.frames is not None and args.frames < 1:
        raise ValueError(f"--frames {args.frames}: at least 1")
    num = args.num or (GRID_NUM if suffix == ".png" else ANIMATION_NUM)
    tile = _parse_tile(args.tile)
    if tile is not None and args.num is None and args.indices is None:
        num = tile[0] * tile[1]
    _check_preview_count(num, "--num" if args.num is not None else "--tile", args.num or args.tile)
    indices = viz.parse_slice(args.indices, "--indices") if args.indices else None
    if isinstance(indices, list):
        _check_preview_count(len(indices), "--indices", args.indices)
    if args.preset is not None:
        if isinstance(indices, slice):
            if indices.stop is None:
                raise ValueError(f"--indices {args.indices}: a preset has no end, give START:STOP")
            indices = range(*indices.indices(indices.stop))
            _check_preview_count(len(indices), "--indices", args.indices)
        # Rendered lazily: the size of the picture is checked before any sequence is rendered.
        data = GeneratorView(_generator(args.preset, args), range(num) if indices is None else indices)
        chosen = None
    else:
        if args.overrides or args.source or args.split:
            raise ValueError("--set, --source and --split apply to --preset, not to a dataset on disk")
        data = _open_dataset(args.dataset)
        if isinstance(indices, slice):
            _check_preview_count(len(range(*indices.indices(len(data)))), "--indices", args.indices)
        chosen = indices if indices is not None else num
    options: dict[str, Any] = {
        "frames": args.frames,
        "masks": args.masks or False,
        "boxes": args.boxes,
        "trails": args.trails,
        "scale": args.scale,
        "captions": args.captions,
        "legend": args.legend,
    }
    if suffix != ".png":
        options.update(fps=args.fps, tile=tile)
    if args.caption_style is None:
        return f"wrote {viz.save(data, out, indices=chosen, **options)}"
    # The sequences the picture reads are kept, so that captions do not read (or render) them a second time.
    recorder = _Recorder(data)
    if suffix != ".png":  # an animation gets them in a band under every frame
        lines = recorder.captions(chosen, args.caption_style)
        path = viz.save(recorder, out, indices=chosen, below=lines, **options)
        return "\n".join([*lines, f"wrote {path}"])
    path = viz.save(recorder, out, indices=chosen, **options)
    lines = recorder.captions(chosen, args.caption_style)
    if suffix == ".png":  # a still picture gets them written below it too
        import numpy as np
        from PIL import Image

        from .viz._captions import caption_band

        Image.fromarray(caption_band(np.asarray(Image.open(path).convert("RGB")), lines, args.scale)).save(path)
    return "\n".join([*lines, f"wrote {path}"])


class _Recorder:
    """A dataset (or GeneratorView) that keeps the Batches read from it, by position, for the captions."""

    def __init__(self, data) -> None:
        self.data = data
        self.read: dict[int, tuple[Any, int]] = {}  # position -> (batch, row)

    def __len__(self) -> int:
        return len(self.data)

    def __getattr__(self, name: str):  # metadata(), class_names, spec...: the data's own
        return getattr(self.data, name)

    def __getitem__(self, item: slice):
        batch = self.data[item]
        for row, position in enumerate(range(*item.indices(len(self.data)))):
            self.read.setdefault(position, (batch, row))
        return batch

    def captions(self, chosen, style: str) -> list[str]:
        from .viz._captions import caption_text
        from .viz._select import _metadata, positions_of

        names = getattr(self.data, "class_names", None) or (_metadata(self.data).get("source") or {}).get(
            "class_names")
        lines = []
        for position in positions_of(chosen, len(self.data), "indices").tolist():
            batch, row = self.read.get(position) or (self.data[position : position + 1], 0)
            lines.append(f"sequence {int(batch.index[row])}: {caption_text(batch, row, style, class_names=names)}")
        return lines


def _check_preview_count(count: int, flag: str, value: object) -> None:
    if count > MAX_PREVIEW_NUM:
        raise ValueError(f"{flag} {value}: {count:,} sequences, but a preview shows at most {MAX_PREVIEW_NUM:,} "
                         "(a picture of more would pass its 64-megapixel limit); pick fewer")


class GeneratorView:
    """Sequences ``indices`` of a Generator as a dataset: ``len()``, and slices rendered on demand as Batches."""

    def __init__(self, generator, indices) -> None:
        import numpy as np

        self.generator = generator
        self.indices = np.asarray(list(indices), dtype=np.int64)
        if self.indices.size and self.indices.min() < 0:
            raise ValueError(f"sequence indices must be >= 0, got {int(self.indices.min())}")

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: slice):
        if not isinstance(item, slice):
            raise TypeError("GeneratorView supports slices only")
        return self.generator.render_indices(self.indices[item])

    def metadata(self) -> dict:
        return self.generator.metadata()


def _parse_tile(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        rows, cols = (int(v) for v in text.lower().replace(",", "x").split("x"))
    except ValueError:
        raise ValueError(f"--tile {text}: ROWSxCOLS, e.g. 4x4") from None
    if rows < 1 or cols < 1:
        raise ValueError(f"--tile {text}: rows and columns must be >= 1")
    return rows, cols


def _stats_of(target: str, args: argparse.Namespace, source: str | None = None):
    from . import viz
    from .presets import get_preset

    if Path(target).exists():  # --set/--source/--split are for a preset beside it (checked in _stats)
        return viz.compute_stats(_open_dataset(target), args.num or STATS_DATASET_NUM, name=target)
    try:
        get_preset(target)
    except MovingMNISTError:
        raise ValueError(f"{target!r} is neither an existing path nor a preset") from None
    gen = _generator(target, args, source)
    return viz.compute_stats(gen, args.num or STATS_NUM, name=target,
                             class_names=gen.metadata()["source"]["class_names"])


def _stats(args: argparse.Namespace) -> str:
    from . import viz
    from .sources import stored_source_name

    if args.num is not None and not 1 <= args.num <= MAX_STATS_NUM:
        raise ValueError(f"--num {args.num}: at least 1 and at most {MAX_STATS_NUM:,} sequences (distributions "
                         "settle long before that)")
    targets = [args.target, *([args.compare] if args.compare else [])]
    if (args.overrides or args.source or args.split) and all(Path(t).exists() for t in targets):
        raise ValueError("--set, --source and --split apply to presets (the target or --compare), not to a dataset "
                         "on disk")
    stats = [_stats_of(args.target, args)]
    if args.compare:
        # A preset compared with a dataset on disk uses that dataset's source unless --source says otherwise.
        own = _open_dataset(args.target).spec.source.name if Path(args.target).exists() else None
        own = stored_source_name(own) if own is not None else None  # plain 'glyphs' there means glyphs@1
        stats.append(_stats_of(args.compare, args, source=own))
    fig = viz.plot_stats(*stats)
    fig.savefig(args.out)
    return f"wrote {args.out} ({', '.join(f'{s.name}: {s.num} sequences' for s in stats)})"


def _run(command: str, work, args: argparse.Namespace) -> int:
    try:
        message = work(args)
    except (MovingMNISTError, ValueError, IndexError, TypeError, OSError) as exc:
        return _fail(command, str(exc))
    print(message)
    return EXIT_OK


def run_preview(args: argparse.Namespace) -> int:
    """Handler of ``movingmnist preview``: returns the exit code."""
    return _run("preview", _preview, args)


def run_stats(args: argparse.Namespace) -> int:
    """Handler of ``movingmnist stats``: returns the exit code."""
    return _run("stats", _stats, args)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m movingmnist.viz_cli preview ...``) until ``movingmnist.cli`` registers us."""
    parser = argparse.ArgumentParser(prog="movingmnist")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_parser(subparsers)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
