"""Time of a 64-sequence GIF preview (issue target: under 2 s on the 2-core development machine).

    python benchmarks/bench_viz.py [--source idx:/path/to/mnist --split test] [--repeats 5]

Reports the median over repeats of: the whole CLI command (`movingmnist preview --preset srivastava --out p.gif`,
rendering included) and `mm.viz.save_gif` of an already rendered batch, plain and with masks, boxes and trails.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import movingmnist as mm
from movingmnist.cli import main as cli_main


def median_seconds(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default="glyphs")
    parser.add_argument("--split", default="test")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp()) / "p.gif"
    cli = ["preview", "--preset", "srivastava", "--source", args.source, "--split", args.split, "--out", str(out)]
    batch = mm.generate("srivastava", num=64, seed=0, source=args.source, split=args.split)
    rows = {
        "CLI preview, 64 sequences (render + GIF)": lambda: cli_main(cli),
        "save_gif of 64 rendered sequences": lambda: mm.viz.save_gif(batch, out),
        "save_gif with masks, boxes, trails": lambda: mm.viz.save_gif(
            batch, out, masks="semantic", boxes=True, trails=True
        ),
    }
    for name, fn in rows.items():
        print(f"{name:<45}{median_seconds(fn, args.repeats):8.2f} s")


if __name__ == "__main__":
    main()
