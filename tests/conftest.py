"""Shared fixtures: a small deterministic glyph bank that does not depend on any downloadable source (built by
``_banks.make_test_bank``), and the real MNIST test files where the machine has them."""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from _banks import HAVE_MNIST_TEST, MNIST_DIR, make_test_bank

# Property tests draw the same examples on every run ("repeatable", the default: CI stays green or red for the code,
# not for the draw); HYPOTHESIS_PROFILE=explore draws new random examples on each run, to hunt for bugs.
settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

# Tests write tiny datasets with workers=2 to exercise the pool: start it however small the job (spawned test
# processes inherit this). test_workers.py checks the default, which runs tiny jobs in-process.
os.environ["MOVINGMNIST_POOL_MIN_BYTES"] = "0"

# torchvision's CUDA wheel beside a CPU torch fails on import, registering fake kernels of its detection ops, and
# torchmetrics (under lightning) imports torchvision whenever it is installed. No test uses those ops; skip their
# registration, as benchmarks/bench_fidelity.py does.
if importlib.util.find_spec("torchvision") is not None:
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))


@pytest.fixture(scope="session")
def bank() -> tuple[np.ndarray, np.ndarray]:
    return make_test_bank()


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    if not HAVE_MNIST_TEST:
        pytest.skip(f"real MNIST test files not found at {MNIST_DIR} (set MOVINGMNIST_TEST_MNIST to a folder of them)")
    return MNIST_DIR
