"""Shared fixtures: a small deterministic glyph bank that does not depend on any downloadable source (built by
``_banks.make_test_bank``), and the real MNIST test files where the machine has them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from _banks import make_test_bank

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


@pytest.fixture(scope="session")
def bank() -> tuple[np.ndarray, np.ndarray]:
    return make_test_bank()


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    if not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST test files not found at {SHARED_MNIST} (only present on the project's machines)")
    return SHARED_MNIST
