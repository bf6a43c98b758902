"""Single-core throughput of the appearance presets, beside the memory-copy bound of the same output bytes.

    taskset -c 1 python benchmarks/bench_appearance.py --source idx:/path/to/mnist --split test
    taskset -c 1 python benchmarks/bench_appearance.py --kernel numpy --num 512

Cases: ``segmentation`` as the preset (64x64, 20 frames, 2-3 rotating digits with brightness ramps over panned shapes
and noise, 0-2 occluding distractors, every annotation) and with only the semantic masks (plus labels); ``affine``
(10 frames, 1-3 digits, README ranges). For each case it renders ``--num`` sequences into a reused output Batch
``--repeats`` times and reports the median sequences/s (wall clock, and CPU time of this process, which is steadier
on a shared machine), then copies the same number of bytes between two warm buffers (the memory-copy bound) in the
same run and reports the ratio. Pin it to one core (``taskset -c 1``); BLAS threads are set to 1 here. The first
render of each case compiles or loads the numba kernels and is not timed.

``--breakdown`` also says where each sequence's time goes (medians over the repeats, microseconds per sequence): the
numba kernel, the rest of the renderer (poses, regions, gains, output fields), the background plan (shapes, pan,
distractors) and the rest (tracks: motion, appearance, annotations).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from _common import copy_bound, median_rates  # noqa: E402

import movingmnist as mm  # noqa: E402

SEMANTIC_ONLY = [
    "annotations.instance=false",
    "annotations.boxes=false",
    "annotations.amodal_boxes=false",
    "annotations.visibility=false",
    "annotations.tracks=false",
]
CASES = {
    "segmentation": ("segmentation", []),
    "segmentation-semantic": ("segmentation", SEMANTIC_ONLY),
    "affine-1..3": ("affine", ["objects.count=1..3"]),
}




def split_times(gen, render, num: int, repeats: int) -> dict[str, float]:
    """Median microseconds per sequence spent in the kernel, the rest of the renderer, the background plan and the
    rest of a render, timed by wrapping the three calls (the generator calls them through these names)."""
    import movingmnist.generator as generator_module
    import movingmnist.render.fused as fused

    spent = {"kernel": 0.0, "renderer": 0.0, "background": 0.0}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - start

        return wrapper

    originals = (fused.render, gen.renderer.draw, generator_module.plan_background)
    fused.render = timed("kernel", fused.render)
    gen.renderer.draw = timed("renderer", gen.renderer.draw)
    generator_module.plan_background = timed("background", generator_module.plan_background)
    rows = []
    try:
        for _ in range(repeats):
            spent.update(kernel=0.0, renderer=0.0, background=0.0)
            start = time.perf_counter()
            render()
            total = time.perf_counter() - start
            rows.append((spent["kernel"], spent["renderer"] - spent["kernel"], spent["background"],
                         total - spent["renderer"] - spent["background"], total))
    finally:
        fused.render, generator_module.plan_background = originals[0], originals[2]
        del gen.renderer.draw  # the instance attribute; the method shows through again
    med = np.median(np.array(rows), axis=0) / num * 1e6
    names = ("kernel", "renderer", "background", "tracks", "total")
    return {name: round(float(v), 1) for name, v in zip(names, med, strict=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="*", default=list(CASES))
    parser.add_argument("--source", default="glyphs")
    parser.add_argument("--split", default="test")
    parser.add_argument("--num", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--kernel", default="auto", choices=["auto", "numba", "numpy"])
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--breakdown", action="store_true", help="also time kernel, renderer, background, tracks")
    args = parser.parse_args()

    results = []
    print(f"{'case':<24}{'kernel':<8}{'seq/s wall':>11}{'seq/s cpu':>11}{'copy bound':>12}{'ratio':>8}{'MB/seq':>9}")
    for case in args.cases:
        name, overrides = CASES[case]
        spec = mm.Spec.from_preset(name, [*overrides, f"source.split={args.split}"])
        gen = mm.Generator(spec, seed=0, source=args.source, kernel=args.kernel)
        out = gen.allocate(args.num)
        starts = iter(range(10**9))

        def render(gen=gen, out=out, starts=starts):
            gen.render(next(starts) * args.num, args.num, out)

        wall, cpu = median_rates(render, args.num, args.repeats)
        nbytes = sum(a.nbytes for a in out.arrays().values())
        bound = copy_bound(nbytes, args.num, args.repeats)
        row = {
            "case": case,
            "preset": spec.preset,
            "kernel": gen.kernel,
            "seq_per_s_wall": round(wall),
            "seq_per_s_cpu": round(cpu),
            "copy_bound_seq_per_s": round(bound),
            "ratio_to_copy_bound": round(wall / bound, 4),
            "bytes_per_seq": nbytes // args.num,
        }
        results.append(row)
        print(
            f"{case:<24}{gen.kernel:<8}{wall:>11.0f}{cpu:>11.0f}{bound:>12.0f}{wall / bound:>8.3f}"
            f"{nbytes / args.num / 1e6:>9.3f}"
        )
        if args.breakdown:
            row["split_us_per_seq"] = split_times(gen, render, args.num, args.repeats)
            print("    us/seq: " + ", ".join(f"{k} {v:.1f}" for k, v in row["split_us_per_seq"].items()))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
