"""Small deterministic glyph banks that need no download, shared by the tests.

They are fixed forever: the pinned outputs of ``conformance/pins.json`` are computed from them (the pins file
records their checksums, so a change here is reported as a changed bank, not as a changed preset).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

# Real MNIST test files for the integration tests (skipped where absent): MOVINGMNIST_TEST_MNIST, else the project
# machines' copy beside the repository.
MNIST_DIR = Path(
    os.environ.get("MOVINGMNIST_TEST_MNIST", Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist")
)
HAVE_MNIST_TEST = (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file()


def make_test_bank(num: int = 200, size: int = 28, seed: int = 1234) -> tuple[np.ndarray, np.ndarray]:
    """``(images (num, size, size) uint8, labels (num,))``: blobs of varied shape and intensity with empty margins,
    like MNIST digits (ink inside a smaller box, zeros around it)."""
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


def blob_source(n: int = 50, size: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic soft elliptic blobs with labels 0..9: a small array source that needs no files."""
    r = np.random.default_rng(123)
    imgs = np.zeros((n, size, size), np.uint8)
    yy, xx = np.mgrid[:size, :size]
    for i in range(n):
        cx, cy = r.uniform(8, size - 8, 2)
        rx, ry = r.uniform(3, 8, 2)
        d = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2
        imgs[i] = np.clip(255 * (1.3 - d), 0, 255).astype(np.uint8)
    return imgs, (np.arange(n) % 10).astype(np.int64)


def blank_edge_bank(n: int = 60, size: int = 28, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Digit-like blobs with empty margins and, as its last two glyphs, blank ones (no ink: empty ink boxes)."""
    g = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    images = np.zeros((n, size, size), dtype=np.uint8)
    for i in range(n - 2):
        cy, cx = g.uniform(size * 0.3, size * 0.7, 2)
        ry, rx = g.uniform(size * 0.1, size * 0.3, 2)
        d = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2
        images[i] = np.clip((1.2 - d) * g.uniform(150, 400), 0, 255).astype(np.uint8)
    return images, np.arange(n) % 10


#: The banks by name (the pins file and the conformance cases name them).
BANKS = {
    "test_bank": make_test_bank,
    "blobs": blob_source,
    "blank_edge": blank_edge_bank,
    "blank_heavy": lambda: blank_edge_bank(n=6),  # four blobs and two blank glyphs: blanks in most sequences
}


def bank_checksum(bank: tuple[np.ndarray, np.ndarray]) -> str:
    """sha256 over the images' shape and bytes and the labels as little-endian int64 (computed here, not by the
    library, so that the check does not depend on the code under test)."""
    images, labels = bank
    digest = hashlib.sha256(repr((tuple(images.shape), str(images.dtype))).encode())
    digest.update(np.ascontiguousarray(images).tobytes())
    digest.update(np.ascontiguousarray(labels, dtype="<i8").tobytes())
    return digest.hexdigest()
