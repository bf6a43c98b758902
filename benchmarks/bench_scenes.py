"""Throughput of the scene presets (tracking, detection) with every annotation, beside the memory-copy bound of the
same bytes and beside srivastava's default annotations, all in one run; and the detection preset timed beside the
generator it follows, ``detection-moving-mnist``, when that package is installed.

    python benchmarks/bench_scenes.py --source mnist --split test --repeats 5
    python benchmarks/bench_scenes.py --reference --mnist DIR    # also time detection-moving-mnist

``--reference`` needs ``pip install detection-moving-mnist`` (and torch and torchvision) in the environment, and the
MNIST test files (``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``) in ``--mnist DIR``. The reference
reads MNIST through torchvision: the files are unpacked into a temporary folder in its layout. Both sides draw from
the 10,000 test digits. Its ``easy`` version (linear trajectories) fails in release 0.4.3 because its
``get_trajectory_params`` only knows the non-linear trajectory; that one function is replaced here by one returning
no parameters for the linear trajectory, which is what the linear trajectory takes.

Run pinned to one core (``taskset -c 0``); BLAS threads are set to 1 here.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import gzip  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from _common import copy_bound, median_rates  # noqa: E402

import movingmnist as mm  # noqa: E402

EVERY = {"annotations.amodal_masks": True, "annotations.events": True}  # every annotation the schema has


def _ours(preset: str, overrides: dict, source: str, num: int, repeats: int, what: str = "") -> dict:
    spec = mm.Spec.from_preset(preset, overrides)
    gen = mm.Generator(spec, seed=0, source=source)
    out = gen.allocate(num)
    counter = iter(range(10**9))
    rate = median_rates(lambda: gen.render(next(counter) * num, num, out), num, repeats)[0]
    nbytes = sum(a.nbytes for a in out.arrays().values())
    bound = copy_bound(nbytes, num, repeats)
    return {"preset": preset, "what": what, "seq_per_s": rate, "copy_bound": bound, "bytes_per_seq": nbytes / num}


def _reference_dataset(mnist_dir: Path, folder: Path, frames: int):
    """detection-moving-mnist's MovingMNIST, version easy with delayed appearance, on the MNIST test split."""
    raw = folder / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(mnist_dir / f"{name}.gz") as src, open(raw / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (raw / name).touch()  # torchvision checks that every file exists; only the test split is read
    if "torchvision._meta_registrations" not in sys.modules:
        # the CUDA build of torchvision registers fake kernels for ops a CPU torch lacks; nothing here needs them
        sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
    from detection_moving_mnist.mmnist import mmnist as ref
    from detection_moving_mnist.mmnist.trajectory import SimpleLinearTrajectory

    original = ref.get_trajectory_params

    def params(trajectory, mnist_label):
        if trajectory is SimpleLinearTrajectory:
            return {}
        return original(trajectory, mnist_label)

    ref.get_trajectory_params = params
    easy = types.SimpleNamespace(angle=(0, 0), translate=((-5, 5), (-5, 5)), scale=(1, 1), shear=(0, 0))
    return ref.MovingMNIST(
        trajectory=SimpleLinearTrajectory, affine_params=easy, train=False, path=str(folder),
        num_digits=tuple(range(1, 11)), num_frames=frames, enable_delayed_appearance=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default="glyphs")
    parser.add_argument("--split", default="train")
    parser.add_argument("--num", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--reference", action="store_true", help="also time detection-moving-mnist")
    parser.add_argument("--mnist", type=Path, help="folder with the MNIST test files (for --reference)")
    parser.add_argument("--reference-num", type=int, default=64)
    args = parser.parse_args()

    split = {"source.split": args.split}
    rows = [
        _ours("srivastava", split, args.source, args.num * 8, args.repeats),  # default annotations
        _ours("tracking", split, args.source, args.num, args.repeats),  # the preset's own annotations
        _ours("tracking", {**split, **EVERY}, args.source, args.num, args.repeats, "+ amodal masks"),
        _ours("detection", split, args.source, args.num, args.repeats),
        _ours("detection", {**split, **EVERY}, args.source, args.num, args.repeats, "+ amodal masks"),
    ]
    base = rows[0]
    print(f"{'preset':<28}{'seq/s':>10}{'MB/seq':>9}{'copy bound':>12}{'share':>8}{'vs srivastava':>15}"
          f"{'share vs srivastava':>21}")
    for row in rows:
        share = row["seq_per_s"] / row["copy_bound"]
        name = f"{row['preset']} {row['what']}".strip()
        print(f"{name:<28}{row['seq_per_s']:>10.0f}{row['bytes_per_seq'] / 1e6:>9.3f}"
              f"{row['copy_bound']:>12.0f}{share:>8.3f}{row['seq_per_s'] / base['seq_per_s']:>15.3f}"
              f"{share / (base['seq_per_s'] / base['copy_bound']):>21.2f}")

    if not args.reference:
        return
    if args.mnist is None or not (args.mnist / "t10k-images-idx3-ubyte.gz").is_file():
        print("reference: skipped (give --mnist DIR holding the MNIST test files)")
        return
    try:
        import detection_moving_mnist  # noqa: F401
    except ImportError:
        print("reference: skipped (pip install detection-moving-mnist)")
        return
    frames = mm.Spec.from_preset("detection").frames
    with tempfile.TemporaryDirectory() as folder:
        dataset = _reference_dataset(args.mnist, Path(folder), frames)
        dataset[0]
        n = args.reference_num
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            for _ in range(n):
                dataset[0]
            times.append(time.perf_counter() - start)
        theirs = n / float(np.median(times))
    ours = next(r for r in rows if r["preset"] == "detection" and r["what"])["seq_per_s"]
    print(f"detection-moving-mnist (easy, delayed appearance, test digits): {theirs:.1f} seq/s; "
          f"movingmnist detection with every annotation: {ours:.0f} seq/s; ratio {ours / theirs:.0f}x")


if __name__ == "__main__":
    main()
