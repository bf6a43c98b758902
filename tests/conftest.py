"""Shared fixtures: a small deterministic glyph bank that does not depend on any downloadable source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def make_test_bank(num: int = 200, size: int = 28, seed: int = 1234) -> tuple[np.ndarray, np.ndarray]:
    """``(images (num, size, size) uint8, labels (num,))``: blobs of varied shape and intensity with empty margins,
    like MNIST digits (ink inside a smaller box, zeros around it). Fixed forever: golden hashes depend on it."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    images = np.zeros((num, size, size), dtype=np.uint8)
    for i in range(num):
        cy, cx = rng.uniform(size * 0.35, size * 0.65, 2)
        ry, rx = rng.uniform(size * 0.12, size * 0.32, 2)
        d = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2
        ring = np.clip(1.0 - np.abs(d - 0.6) * 2.5, 0, 1)
        images[i] = np.round(ring * rng.uniform(150, 255)).astype(np.uint8)
    labels = np.arange(num) % 10
    return images, labels


@pytest.fixture(scope="session")
def bank() -> tuple[np.ndarray, np.ndarray]:
    return make_test_bank()


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    if not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST test files not found at {SHARED_MNIST} (only present on the project's machines)")
    return SHARED_MNIST
