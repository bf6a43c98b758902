"""How far a set of 28x28 digits is from real MNIST: the measurements behind ``bench_glyphs.py``.

All of it is numpy (plus torch for the optional CNN); images are ``(N, 28, 28) uint8``, labels ``(N,)`` ints.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

INK = 0  # a pixel above this level is ink
FAINT = 128  # an ink pixel below this level is a faint (anti-aliased edge) pixel
SATURATED = 250  # an ink pixel at or above this level is saturated
CORE = 128  # the binary image that stroke width is measured on
# Parts of MNIST's 10,000 test digits, to fit on one and measure on another. The first and last 5,000 come from
# different writers (census employees, then students), so first/second mixes a held-out measure with a change of
# writers; even/odd does not.
HALVES = {
    "all": slice(None), "first": slice(0, 5000), "second": slice(5000, None),
    "even": slice(0, None, 2), "odd": slice(1, None, 2),
}  # fmt: skip


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped or not) as a uint8 array of its stored shape."""
    data = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_mnist_test(folder: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """MNIST's 10,000 test digits ``(10000, 28, 28) uint8`` and labels from ``folder``, or None when absent."""
    names = [(f"{stem}.gz", stem) for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")]
    found = []
    for candidates in names:
        path = next((folder / n for n in candidates if (folder / n).exists()), None)
        if path is None:
            return None
        found.append(read_idx(path))
    return found[0], found[1].astype(np.int64)


def knn_predict(
    train: np.ndarray, train_labels: np.ndarray, test: np.ndarray, k: int = 3, block: int = 1000
) -> np.ndarray:
    """k-nearest-neighbour labels of ``test (N, 28, 28)`` among ``train (M, 28, 28)`` (pixels / 255, Euclidean;
    ties of the vote go to the nearest neighbour's class)."""
    a = train.reshape(len(train), -1).astype(np.float32) / 255
    a_sq = (a * a).sum(axis=1)
    out = np.empty(len(test), np.int64)
    for lo in range(0, len(test), block):
        b = test[lo : lo + block].reshape(-1, a.shape[1]).astype(np.float32) / 255
        distance = a_sq[None, :] - 2 * b @ a.T  # |b|^2 is the same for every candidate
        nearest = np.argpartition(distance, k, axis=1)[:, :k]
        order = np.take_along_axis(distance, nearest, axis=1).argsort(axis=1)
        votes = train_labels[np.take_along_axis(nearest, order, axis=1)]  # (n, k), nearest first
        counts = (votes[:, :, None] == votes[:, None, :]).sum(axis=2)
        out[lo : lo + block] = votes[np.arange(len(votes)), counts.argmax(axis=1)]
    return out


def per_class_accuracy(predicted: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``(10,)`` accuracy of each class."""
    return np.array([(predicted[labels == c] == c).mean() for c in range(10)])


def glyph_statistics(images: np.ndarray) -> dict[str, np.ndarray]:
    """Per-glyph statistics ``{name: (N,) float}`` compared with MNIST's.

    ink: sum / 255. saturated, faint: shares of the ink pixels at >= 250 and below 128. slant: x shear per row of
    the ink from its second moments (mu11 / mu02; positive leans right). width: stroke width in px, 2 x area /
    boundary of the binary image at >= 128 (a stroke of length L and width w has area wL and boundary ~2L).
    box_w, box_h: the ink's bounding box.
    """
    x = images.astype(np.float64)
    ink = images > INK
    n_ink = np.maximum(ink.sum(axis=(1, 2)), 1)
    mass = x.sum(axis=(1, 2))
    ys, xs = np.mgrid[:28, :28]
    w = x / np.maximum(mass, 1)[:, None, None]
    cx, cy = (w * xs).sum(axis=(1, 2)), (w * ys).sum(axis=(1, 2))
    dx, dy = xs - cx[:, None, None], ys - cy[:, None, None]
    mu11, mu02 = (w * dx * dy).sum(axis=(1, 2)), (w * dy * dy).sum(axis=(1, 2))
    core = images >= CORE
    padded = np.pad(core, ((0, 0), (1, 1), (1, 1)))
    inside = padded[:, :-2, 1:-1] & padded[:, 2:, 1:-1] & padded[:, 1:-1, :-2] & padded[:, 1:-1, 2:]
    boundary = (core & ~inside).sum(axis=(1, 2))
    rows, cols = ink.any(axis=2), ink.any(axis=1)
    return {
        "ink": mass / 255,
        "saturated": (images >= SATURATED).sum(axis=(1, 2)) / n_ink,
        "faint": (ink & (images < FAINT)).sum(axis=(1, 2)) / n_ink,
        "slant": -mu11 / np.maximum(mu02, 1e-9),  # image y runs down: a right lean has negative mu11
        "width": 2 * core.sum(axis=(1, 2)) / np.maximum(boundary, 1),
        "box_w": 28 - np.argmax(cols, axis=1) - np.argmax(cols[:, ::-1], axis=1),
        "box_h": 28 - np.argmax(rows, axis=1) - np.argmax(rows[:, ::-1], axis=1),
    }


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the empirical CDFs of ``a`` and ``b``."""
    values = np.concatenate([a, b])
    cdf_a = np.searchsorted(np.sort(a), values, side="right") / len(a)
    cdf_b = np.searchsorted(np.sort(b), values, side="right") / len(b)
    return float(np.abs(cdf_a - cdf_b).max())


def cnn_accuracy(
    train: np.ndarray,
    train_labels: np.ndarray,
    test: np.ndarray,
    test_labels: np.ndarray,
    epochs: int = 4,
    seed: int = 0,
) -> tuple[np.ndarray, float]:
    """Per-class accuracy ``(10,)`` and overall accuracy on ``test`` of a small CNN (2 conv layers, Adam, batches of
    128) trained on ``train`` for ``epochs`` (torch on the CPU, seeded).

    The learning rate falls linearly from 2e-3 to 0 over the training: with a constant rate the model tested is
    wherever the last Adam step left it, and three seeds of the same glyphs ended 4 points apart (89.7-94.4%)."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10),
    )  # fmt: skip
    x = torch.from_numpy(train.astype(np.float32) / 255).unsqueeze(1)
    y = torch.from_numpy(train_labels.astype(np.int64))
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(seed)
    batches_per_epoch = -(-len(x) // 128)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 1 - step / (epochs * batches_per_epoch))
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=generator).split(128):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimiser.step()
            schedule.step()
    model.eval()
    with torch.no_grad():
        t = torch.from_numpy(test.astype(np.float32) / 255).unsqueeze(1)
        predicted = torch.cat([model(part).argmax(1) for part in t.split(1000)]).numpy()
    return per_class_accuracy(predicted, test_labels), float((predicted == test_labels).mean())
