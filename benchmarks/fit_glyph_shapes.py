"""Fit glyphs@3's shape model to MNIST's test digits and write it as a file like ``sources/shapes3.json``.

    python benchmarks/fit_glyph_shapes.py --mnist /path/to/mnist            # a few minutes on one core (torch)

With the defaults it writes ``shapes3.json`` in the current directory, the same bytes as the package's
``src/movingmnist/sources/shapes3.json`` (which it wrote): glyphs@3 is that file, and a different fit would be a new
version, never an edit of it.

How glyphs@3's shapes were made (docs/glyphs.md). For each real test digit:

1. its allograph: the skeleton of its digit (``ALLOGRAPHS_3``) whose glyphs it is nearest: the allograph of its
   nearest neighbour among ``--bank`` glyphs drawn from the skeletons with glyphs@2's style spreads;
2. its shape: that skeleton's control points moved (Adam, ``--steps``) until a soft rendering of the strokes (the
   spline samples splatted bilinearly, weighted by arc length, blurred by a fixed Gaussian, ``1 - exp(-gain x ink)``)
   matches the digit in the mean squared error of its pixels; it starts from the skeleton laid over the digit's ink
   box.

Per allograph, the shapes are put in a unit-high box (the top of the highest stroke sample at 0, the lowest at 1, the
leftmost at x = 0) and summarised by their mean and their ``--modes`` principal modes, each scaled by its standard
deviation times ``--scale``; the allograph's weight is the number of digits fitted with it. Allographs fitted to
fewer than ``--min-digits`` digits keep their mean only. Nothing else of the digits is kept.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from _glyph_metrics import HALVES, knn_predict, load_mnist_test  # noqa: E402

from movingmnist.sources import handwriting  # noqa: E402
from movingmnist.sources.allographs import ALLOGRAPHS_3, SAMPLINGS_3  # noqa: E402
from movingmnist.sources.shape_model import shapes_text  # noqa: E402

OUT = Path("shapes3.json")


def sample_matrix(digit: int, k: int) -> np.ndarray:
    """``(P, m)`` float32: the stroke samples of allograph ``k`` of ``digit`` as weights of its control points."""
    sampling = SAMPLINGS_3[digit][k]
    m = ALLOGRAPHS_3[digit][k].points.shape[0]
    dense = np.zeros((sampling.taps.shape[1], m), np.float32)
    for tap in range(4):
        np.add.at(dense, (np.arange(dense.shape[0]), sampling.taps[tap]), sampling.weights[tap])
    return dense


def assign(real: np.ndarray, labels: np.ndarray, bank_size: int) -> np.ndarray:
    """``(N,)`` the allograph of each real digit: that of its nearest glyph of its digit, the glyphs drawn from the
    skeletons with glyphs@2's spreads."""
    model = dataclasses.replace(handwriting._V2, allographs=ALLOGRAPHS_3, samplings=SAMPLINGS_3)
    indices = np.arange(bank_size)
    digits = indices % 10
    images = np.zeros((bank_size, 28, 28), np.uint8)
    allograph = np.zeros(bank_size, np.int64)
    for _, k, rows, block in handwriting._rendered_chunks(model, "train", indices, digits):
        images[rows], allograph[rows] = block, k
    out = np.zeros(len(real), np.int64)
    for digit in range(10):
        mine, theirs = np.flatnonzero(labels == digit), np.flatnonzero(digits == digit)
        out[mine] = knn_predict(images[theirs], allograph[theirs], real[mine], k=1)
    return out


def fit_shapes(digit: int, k: int, images: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Control points ``(n, m, 2)`` (pixels) of allograph ``k`` fitted to ``images (n, 28, 28)``, and each fit's
    mean squared error ``(n,)``."""
    import torch

    dense = torch.from_numpy(sample_matrix(digit, k))
    sampling = SAMPLINGS_3[digit][k]
    prev, nxt = torch.from_numpy(sampling.prev), torch.from_numpy(sampling.next)
    target = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255)
    # Start: the skeleton's samples' box laid over the digit's ink box.
    ink = images > 40
    rows, cols = ink.any(axis=2), ink.any(axis=1)
    y0, y1 = rows.argmax(axis=1), 27 - rows[:, ::-1].argmax(axis=1)
    x0, x1 = cols.argmax(axis=1), 27 - cols[:, ::-1].argmax(axis=1)
    points = ALLOGRAPHS_3[digit][k].points.astype(np.float32)
    samples = dense.numpy() @ points
    lo, hi = samples.min(axis=0), samples.max(axis=0)
    unit = (points - lo) / np.maximum(hi - lo, 1e-3)
    start = np.stack(
        [x0[:, None] + unit[None, :, 0] * (x1 - x0)[:, None], y0[:, None] + unit[None, :, 1] * (y1 - y0)[:, None]],
        axis=-1,
    )
    shape = torch.tensor(start, dtype=torch.float32, requires_grad=True)
    log_gain = torch.full((len(images),), float(np.log(1.5)), requires_grad=True)
    optimiser = torch.optim.Adam([shape, log_gain], lr=0.3)
    taps = torch.exp(-(torch.arange(-2.0, 3.0) ** 2) / 2)
    taps = taps / taps.sum()
    kernel = (taps[:, None] * taps[None, :])[None, None]

    def pixel_error() -> torch.Tensor:  # (n,) mean squared error of each digit's soft rendering
        at = torch.einsum("pm,bmd->bpd", dense, shape)
        step = (at[:, nxt] - at).norm(dim=-1)
        arc = (step + step[:, prev]) * 0.5
        at = at.clamp(0.0, 26.999)
        corner = torch.floor(at).detach()
        fx, fy = (at - corner)[..., 0], (at - corner)[..., 1]
        cx, cy = corner[..., 0].long(), corner[..., 1].long()
        index = torch.cat([cy * 28 + cx, cy * 28 + cx + 1, (cy + 1) * 28 + cx, (cy + 1) * 28 + cx + 1], 1)
        weight = torch.cat([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy], 1) * arc.repeat(1, 4)
        density = torch.zeros(len(images), 784).scatter_add(1, index, weight)
        density = torch.nn.functional.conv2d(density.view(-1, 1, 28, 28), kernel, padding=2).view(-1, 784)
        return ((1 - torch.exp(-log_gain.exp()[:, None] * density) - target) ** 2).mean(dim=1)

    for _ in range(steps):
        optimiser.zero_grad()
        pixel_error().sum().backward()
        optimiser.step()
    with torch.no_grad():
        error = pixel_error()
    return shape.detach().numpy(), error.detach().numpy()


def summarise(digit: int, k: int, shapes: np.ndarray, modes: int, scale: float, min_digits: int):
    """``(mean (m, 2), scaled modes (K, m, 2))`` of ``shapes (n, m, 2)`` put in a unit-high box."""
    samples = np.einsum("pm,bmd->bpd", sample_matrix(digit, k).astype(np.float64), shapes.astype(np.float64))
    lo = samples.min(axis=1)
    height = samples[..., 1].max(axis=1) - lo[:, 1]
    unit = (shapes - lo[:, None, :]) / height[:, None, None]
    mean = unit.mean(axis=0)
    if len(unit) < min_digits:
        return mean, np.zeros((0, *mean.shape))
    _, singular, vectors = np.linalg.svd((unit - mean).reshape(len(unit), -1), full_matrices=False)
    spread = singular[:modes] / np.sqrt(len(unit))
    return mean, (vectors[:modes] * (spread * scale)[:, None]).reshape(-1, *mean.shape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist", default=os.environ.get("MOVINGMNIST_MNIST_DIR"), help="folder of MNIST's t10k files")
    parser.add_argument("--bank", type=int, default=40_000, help="glyphs the digits are assigned among")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--modes", type=int, default=6)
    parser.add_argument("--scale", type=float, default=0.85)
    parser.add_argument("--min-digits", type=int, default=20)
    parser.add_argument("--half", choices=("all", "first", "even"), default="all",
                        help="fit to all test digits, the first 5,000 or the even-numbered ones only")  # fmt: skip
    parser.add_argument("--out", type=Path, default=OUT, help="the file written (default: ./shapes3.json)")
    args = parser.parse_args()
    loaded = load_mnist_test(Path(args.mnist)) if args.mnist else None
    if loaded is None:
        raise SystemExit("MNIST's t10k files were not found (--mnist DIR or $MOVINGMNIST_MNIST_DIR)")
    import torch

    torch.set_num_threads(1)
    real, labels = (a[HALVES[args.half]] for a in loaded)
    allograph = assign(real, labels, args.bank)
    table = {}
    for digit in range(10):
        for k in range(len(ALLOGRAPHS_3[digit])):
            mine = np.flatnonzero((labels == digit) & (allograph == k))
            if mine.size == 0:
                continue
            shapes = np.concatenate([fit_shapes(digit, k, real[mine[i : i + 200]], args.steps)[0]
                                     for i in range(0, mine.size, 200)])  # fmt: skip
            mean, modes = summarise(digit, k, shapes, args.modes, args.scale, args.min_digits)
            table[(digit, k)] = (int(mine.size), mean, modes)
            print(f"{digit} #{k}: {mine.size} digits, {len(modes)} modes", flush=True)
    about = (
        f"glyphs@3's shape model, written by benchmarks/fit_glyph_shapes.py (do not edit): per allograph, the number "
        f"of MNIST's test digits fitted with it, the mean of their control points in a unit-high box and its principal "
        f"modes, each scaled by its standard deviation x {args.scale} ({args.modes} modes at most, fits of "
        f"{args.steps} steps)"
    )
    args.out.write_text(shapes_text(table, about))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
