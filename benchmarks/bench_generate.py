"""Single-core generation throughput per preset, beside the memory-copy bound of the same output bytes.

    python benchmarks/bench_generate.py                      # all presets, built-in glyphs
    python benchmarks/bench_generate.py --source mnist --split test --repeats 7

For each preset it renders ``--num`` sequences into a reused output Batch ``--repeats`` times and reports the median
sequences/s, then copies the same number of bytes between two warm buffers (the memory-copy bound) in the same
run and reports the ratio. Run it pinned to one core (``taskset -c 0``); BLAS threads are set to 1 here.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402

from _common import copy_bound, median_rates  # noqa: E402

import movingmnist as mm  # noqa: E402


def _renderer(gen: mm.Generator, out: mm.Batch, num: int):
    """Each call renders the next ``num`` fresh sequences into the same (warm) output batch."""
    counter = iter(range(10**9))
    return lambda: gen.render(next(counter) * num, num, out)



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="*", default=[p.name for p in mm.list_presets()])
    parser.add_argument("--source", default="glyphs")
    parser.add_argument("--split", default="train")
    parser.add_argument("--num", type=int, default=8192)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()

    results = []
    print(f"{'preset':<18}{'annotations':<13}{'seq/s':>10}{'copy bound':>12}{'ratio':>8}{'MB/seq':>9}")
    for name in args.presets:
        for label, frames_only in (("frames only", True), ("default", False)):
            spec = mm.Spec.from_preset(name, [f"source.split={args.split}"])
            spec = spec.frames_only() if frames_only else spec
            kwargs = {"batch_size": args.batch_size} if args.batch_size else {}
            gen = mm.Generator(spec, seed=0, source=args.source, **kwargs)
            out = gen.allocate(args.num)
            rate = median_rates(_renderer(gen, out, args.num), args.num, args.repeats)[0]
            nbytes = sum(a.nbytes for a in out.arrays().values())
            bound = copy_bound(nbytes, args.num, args.repeats)
            row = {
                "preset": name,
                "annotations": label,
                "seq_per_s": round(rate),
                "copy_bound_seq_per_s": round(bound),
                "ratio_to_copy_bound": round(rate / bound, 3),
                "bytes_per_seq": nbytes // args.num,
            }
            results.append(row)
            print(
                f"{name:<18}{label:<13}{rate:>10.0f}{bound:>12.0f}{rate / bound:>8.2f}"
                f"{nbytes / args.num / 1e6:>9.3f}"
            )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
