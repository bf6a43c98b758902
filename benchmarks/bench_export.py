"""Export throughput of each exchange format beside the zarr write of the same data.

    python benchmarks/bench_export.py --num 2000
    python benchmarks/bench_export.py --num 200 --formats mot hf --keep /tmp/exports

Writes ``--num`` ``srivastava`` sequences (the preset's annotations: frames, semantic and instance masks, boxes,
amodal boxes, tracks, visibility) from the built-in glyphs to zarr with ``mm.write_dataset`` (rendering included),
then exports that dataset to each format with ``mm.export`` (reading and decompressing the zarr included) and
prints wall time, sequences/s, the time relative to the zarr write, and the size on disk. The formats that write
PNG frames (mot, coco-vis, coco-det) are also timed with ``images=False`` (annotations only). One process, one
run each: a rough comparison, not a median.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))

FORMATS = ("mot", "coco-vis", "coco-det", "hf", "webdataset")
WITH_IMAGES = ("mot", "coco-vis", "coco-det")


def copy_bound(path: str, num: int, repeats: int = 5) -> float:
    """Seconds a memcpy of ``num`` sequences' raw array bytes takes between two warm buffers (the median of
    ``repeats``; copied in blocks of at most 64 MiB so that the buffers stay small)."""
    import numpy as np

    import movingmnist as mm

    with mm.open(path) as ds:
        per_sequence = sum(int(np.prod(a.shape[1:])) * np.dtype(a.dtype).itemsize for a in ds.arrays.values())
    total = per_sequence * num
    block = min(total, 64 * 2**20)
    src, dst = np.ones(block, np.uint8), np.zeros(block, np.uint8)
    np.copyto(dst, src)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(total // block):
            np.copyto(dst, src)
        np.copyto(dst[: total % block], src[: total % block])
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num", type=int, default=2000, help="sequences (default 2000)")
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--keep", help="write here and keep the outputs (default: a temporary directory)")
    args = parser.parse_args(argv)

    import movingmnist as mm
    from movingmnist.runner.summary import human_bytes

    root = args.keep or tempfile.mkdtemp(prefix="bench-export-")
    os.makedirs(root, exist_ok=True)
    try:
        data = os.path.join(root, "data.zarr")
        began = time.perf_counter()
        summary = mm.write_dataset("srivastava", seed=0, num=args.num, path=data, source="glyphs", overwrite=True,
                                   progress=False, command="bench_export")
        base = time.perf_counter() - began
        copy_seconds = copy_bound(data, args.num)
        rows = [("zarr write (mm.write_dataset)", base, summary.nbytes)]
        for fmt in args.formats:
            variants = [(fmt, {})] + ([(f"{fmt} images=False", {"images": False})] if fmt in WITH_IMAGES else [])
            for label, options in variants:
                out = os.path.join(root, label.replace(" ", "-").replace("=", "-"))
                result = mm.export(data, to=fmt, out=out, overwrite=True, progress=False, **options)
                rows.append((f"{label} (mm.export)", result.seconds, result.nbytes))
                if not args.keep:
                    shutil.rmtree(out)
        print(f"{args.num:,} srivastava sequences (64x64, 20 frames, 2 digits, default annotations), glyphs source, "
              "one process")
        print(f"copy bound: a memcpy of the same raw array bytes between warm buffers, {args.num / copy_seconds:,.0f} "
              "sequences/s in this run")
        print()
        print("| what | wall | sequences/s | share of copy bound | time vs zarr write | on disk |")
        print("|---|---|---|---|---|---|")
        for label, seconds, nbytes in rows:
            print(f"| {label} | {seconds:.1f} s | {args.num / seconds:,.0f} | {copy_seconds / seconds:.4f} | "
                  f"{seconds / base:.2f}x | {human_bytes(nbytes)} |")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
