"""How much the built-in digits pass for MNIST's handwriting, measured against MNIST's real test digits.

    python benchmarks/bench_glyphs.py --mnist /path/to/mnist          # the newest (glyphs@3), every measure
    python benchmarks/bench_glyphs.py --mnist DIR --source glyphs@1   # the old font, for comparison
    taskset -c 1 python benchmarks/bench_glyphs.py --time-only        # generation time alone, no MNIST needed

``--mnist`` (or ``$MOVINGMNIST_MNIST_DIR``) is a folder with ``t10k-images-idx3-ubyte(.gz)`` and
``t10k-labels-idx1-ubyte(.gz)``; without them the comparisons are skipped with a message. Measures:

- train on ``--train`` glyphs (train split), test on the 10,000 real digits: a k-NN (k=3, pixels / 255, Euclidean)
  and a small CNN (torch on the CPU, 2 conv layers, ``--epochs``, its learning rate falling linearly to 0,
  the mean of ``--cnn-seeds`` trainings): accuracy
  overall and of the weakest class;
- fitted on 8,000 real digits (k-NN): accuracy on the 2,000 other real digits and on 2,000 glyphs (test split);
- per-glyph statistics of 10,000 glyphs against the 10,000 real digits, as two-sample Kolmogorov-Smirnov
  statistics: ink mass, shares of saturated and of faint ink pixels, slant, stroke width, box width and height;
- the time to render all 60,000 train glyphs (best of ``--repeats``; pin to one core with ``taskset -c 1``).

Every number is measured on MNIST's test digits, the only real digits on these machines, which glyphs@2 was tuned on
and glyphs@3's shape model was fitted to (``fit_glyph_shapes.py``): read them as how close the model came to those
digits. For a held-out measure, fit a shape model to half of them (``fit_glyph_shapes.py --half even --out FILE``)
and measure it on the other half: ``--shapes FILE --real odd``. (MNIST's first and last 5,000 test digits come from
different writers, so ``--half first`` / ``--real second`` mixes a held-out measure with a change of writers.)
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from _glyph_metrics import (  # noqa: E402
    HALVES,
    cnn_accuracy,
    glyph_statistics,
    knn_predict,
    ks_statistic,
    load_mnist_test,
    per_class_accuracy,
)

from movingmnist.sources import resolve_source_name  # noqa: E402

TARGETS = {  # measure: (bound, "min" or "max")
    "knn_glyphs_to_mnist": (0.92, "min"),
    "cnn_glyphs_to_mnist": (0.95, "min"),
    "cnn_weakest_class": (0.85, "min"),
    "knn_weakest_class": (0.85, "min"),
    "real_fit_gap": (0.02, "max"),
    "ks_max": (0.10, "max"),
    "seconds_60k": (2.0, "max"),
}


def renderer(source: str):
    """``render(split, indices) -> (images, labels)`` of a versioned built-in source."""
    name = resolve_source_name(source)
    if name == "glyphs@1":
        from movingmnist.sources.glyphs import render_glyphs

        return render_glyphs
    from movingmnist.sources.handwriting import render_handwriting

    return functools.partial(render_handwriting, version=int(name.removeprefix("glyphs@")))


def generation_seconds(render, repeats: int) -> tuple[float, float]:
    """Best wall and CPU seconds of rendering the 60,000 train glyphs."""
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        render("train", np.arange(60_000))
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu)


def compare(render, real: np.ndarray, real_labels: np.ndarray, args: argparse.Namespace) -> dict[str, object]:
    """Every comparison with the real digits (see the module docstring)."""
    glyphs, labels = render("train", np.arange(args.train))
    results: dict[str, object] = {}
    predicted = knn_predict(glyphs, labels, real)
    knn_classes = per_class_accuracy(predicted, real_labels)
    results["knn_glyphs_to_mnist"] = float((predicted == real_labels).mean())
    results["knn_weakest_class"] = float(knn_classes.min())
    results["knn_per_class"] = knn_classes.round(4).tolist()
    if not args.no_cnn:
        try:
            seeds = range(args.cnn_seeds)
            runs = [cnn_accuracy(glyphs, labels, real, real_labels, args.epochs, seed) for seed in seeds]
        except ImportError:
            print("torch is not installed: the CNN is skipped")
        else:  # the mean over seeds: one training run moves a class by several points
            cnn_classes = np.mean([classes for classes, _ in runs], axis=0)
            results["cnn_glyphs_to_mnist"] = float(np.mean([overall for _, overall in runs]))
            results["cnn_runs"] = [round(overall, 4) for _, overall in runs]
            results["cnn_weakest_class"] = float(cnn_classes.min())
            results["cnn_per_class"] = cnn_classes.round(4).tolist()
    cut = len(real) * 4 // 5  # 8,000 of the 10,000 real digits fit, 2,000 are held out (and as many glyphs)
    held_glyphs, held_labels = render("test", np.arange(len(real) - cut))
    fit, fit_labels = real[:cut], real_labels[:cut]
    on_real = float((knn_predict(fit, fit_labels, real[cut:]) == real_labels[cut:]).mean())
    on_glyphs = float((knn_predict(fit, fit_labels, held_glyphs) == held_labels).mean())
    results["real_fit_on_real"], results["real_fit_on_glyphs"] = on_real, on_glyphs
    results["real_fit_gap"] = abs(on_real - on_glyphs)
    ours, theirs = glyph_statistics(glyphs[:10_000]), glyph_statistics(real)
    results["ks"] = {name: round(ks_statistic(ours[name], theirs[name]), 4) for name in ours}
    results["ks_max"] = max(results["ks"].values())
    return results


def verdict(name: str, value: float) -> str:
    bound, kind = TARGETS[name]
    ok = value >= bound if kind == "min" else value <= bound
    return f"{'>=' if kind == 'min' else '<='} {bound:<6} {'met' if ok else 'NOT MET'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist", default=os.environ.get("MOVINGMNIST_MNIST_DIR"), help="folder of MNIST's t10k files")
    parser.add_argument("--source", default="glyphs", help="glyphs@1, glyphs@2, glyphs@3 or glyphs (the newest)")
    parser.add_argument("--train", type=int, default=10_000, help="glyphs the classifiers are trained on")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--no-cnn", action="store_true", help="skip the CNN (the slowest measure)")
    parser.add_argument("--cnn-seeds", type=int, default=3, help="CNN trainings averaged (seeds 0, 1, ...)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--time-only", action="store_true", help="only the generation time")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--shapes", help="glyphs@3 with the shape model of this file (fit_glyph_shapes.py --out)")
    parser.add_argument("--real", choices=("all", "second", "odd"), default="all",
                        help="compare with all the real digits, the last 5,000 or the odd-numbered ones")  # fmt: skip
    args = parser.parse_args()

    render = renderer(args.source)
    name = resolve_source_name(args.source)
    if args.shapes:  # glyphs@3 with another shape model (e.g. one fitted to part of the digits)
        from movingmnist.sources import handwriting
        from movingmnist.sources.shape_model import read_shapes

        table = read_shapes(Path(args.shapes).read_text())  # a file written by fit_glyph_shapes.py
        render = functools.partial(handwriting._render, handwriting._shape_model(table))
        name = f"glyphs@3 with {Path(args.shapes).name}"
    results: dict[str, object] = {"source": name}
    wall, cpu = generation_seconds(render, args.repeats)
    results["seconds_60k"], results["cpu_seconds_60k"] = wall, cpu
    loaded = None
    if not args.time_only:
        loaded = load_mnist_test(Path(args.mnist)) if args.mnist else None
        if loaded is not None:
            loaded = loaded[0][HALVES[args.real]], loaded[1][HALVES[args.real]]
        if loaded is None:
            print("MNIST's t10k files were not found (--mnist DIR or $MOVINGMNIST_MNIST_DIR): comparisons skipped")
    if loaded is not None:
        results.update(compare(render, *loaded, args))

    print(f"{name}: {'measure':<44}{'value':>9}  target")
    rows = [
        ("knn_glyphs_to_mnist", f"k-NN trained on {args.train:,} glyphs, on MNIST"),
        ("knn_weakest_class", "  its weakest class"),
        ("cnn_glyphs_to_mnist", f"CNN trained on {args.train:,} glyphs, on MNIST"),
        ("cnn_weakest_class", "  its weakest class (mean over the seeds)"),
        ("real_fit_on_real", "k-NN fitted on 4/5 of MNIST, on the other 1/5"),
        ("real_fit_on_glyphs", "  the same, on as many glyphs"),
        ("real_fit_gap", "  the gap"),
    ]
    for key, label in rows:
        if key in results:
            value = float(results[key])  # type: ignore[arg-type]
            print(f"{'':{len(name) + 2}}{label:<44}{value:>9.4f}  {verdict(key, value) if key in TARGETS else ''}")
    for stat, value in dict(results.get("ks", {})).items():  # type: ignore[call-overload]
        print(f"{'':{len(name) + 2}}{'KS statistic of ' + stat:<44}{value:>9.4f}  {verdict('ks_max', value)}")
    print(f"{'':{len(name) + 2}}{'seconds to render 60,000 (wall)':<44}{wall:>9.3f}  {verdict('seconds_60k', wall)}")
    print(f"{'':{len(name) + 2}}{'  CPU seconds of this process':<44}{cpu:>9.3f}")
    for key in ("knn_per_class", "cnn_per_class", "cnn_runs"):
        if key in results:
            print(f"{key}: {results[key]}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
