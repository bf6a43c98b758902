"""The ``export`` subcommand of the ``movingmnist`` command (added by ``movingmnist.cli``).

    movingmnist export train.zarr --to mot train-mot
    movingmnist export train.zarr --to coco-vis --start 0 --num 100 vis100
    movingmnist export train.zarr --to webdataset --shard-size 500 shards
"""

from __future__ import annotations

import argparse
from typing import Any

from .base import FORMATS

EPILOG = """\
formats:
  mot         MOTChallenge: OUT/<seq>/img1/000001.png, gt/gt.txt, seqinfo.ini (1-based frames and ids)
  coco-vis    YouTube-VIS JSON (OUT/instances.json, per-frame RLE masks, boxes, areas) + OUT/frames/
  coco-det    COCO detection JSON, one image per frame, track_id and a centre keypoint + OUT/frames/
  hf          Hugging Face datasets (datasets.load_from_disk(OUT)); pip install "movingmnist[export]"
  webdataset  tar shards OUT/shard-000000.tar, one sample of .npy arrays per sequence

OUT must not exist (--overwrite replaces an earlier export). The files are written under a temporary name
beside OUT and renamed to OUT at the end: an interrupted export leaves nothing at OUT. See docs/export.md.
"""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export",
        help="write a dataset in an exchange format (mot, coco-vis, coco-det, hf, webdataset)",
        description="Write sequences of a dataset (written by `movingmnist generate`) in a format other tools "
        "read: MOTChallenge, YouTube-VIS, COCO, Hugging Face datasets or WebDataset.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dataset", metavar="DATASET", help="the dataset to export (.zarr, .h5, .npy-dir, .npy)")
    p.add_argument("out", metavar="OUT", help="the directory to create")
    p.add_argument("--to", required=True, choices=list(FORMATS), help="the format")
    p.add_argument("--start", type=int, help="first row to export (default 0)")
    p.add_argument("--num", type=int, help="rows to export (default: all from --start)")
    p.add_argument("--rows", help="rows to export instead: START:STOP[:STEP] or a comma list such as 3,5,9")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier export at OUT")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--no-images", dest="images", action="store_const", const=False,
                   help="mot, coco-vis, coco-det: write the annotations only, no PNG frames")
    p.add_argument("--boxes", choices=("modal", "amodal"),
                   help="mot: modal (the visible box, default) or amodal (the whole glyph, hidden parts included)")
    p.add_argument("--fps", type=int, help="mot: frameRate in seqinfo.ini (default 10)")
    p.add_argument("--shard-size", type=int, help="hf, webdataset: sequences per shard (default 1000)")
    p.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from .run import export

    options = {
        key: value
        for key, value in (("images", args.images), ("boxes", args.boxes), ("fps", args.fps),
                           ("shard_size", args.shard_size))
        if value is not None
    }
    summary = export(
        args.dataset, args.to, args.out, start=args.start, num=args.num, rows=args.rows,
        overwrite=args.overwrite, progress=False if args.quiet else None, **options,
    )
    print(summary.line())
    return 0
