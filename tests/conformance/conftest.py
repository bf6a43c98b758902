"""Fixtures of the conformance suite: the in-memory glyph banks, the backends, and memoised reference outputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from _banks import BANKS

from ._backends import backend_params, reference


@pytest.fixture(scope="session")
def banks() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The small deterministic banks of ``tests/_banks.py`` by name (no download)."""
    return {name: build() for name, build in BANKS.items()}


@pytest.fixture(scope="session", params=backend_params())
def backend(request):
    """Every backend (absent ones skipped with the reason)."""
    return request.param


@pytest.fixture(scope="session")
def reference_output(banks):
    """``reference_output(case, start=None, num=None)``: the numpy reference's output of a Case, rendered once per
    session (several backends compare against it)."""
    memo: dict[Any, dict[str, np.ndarray]] = {}

    def get(case, start: int | None = None, num: int | None = None) -> dict[str, np.ndarray]:
        start = case.start if start is None else start
        num = case.num if num is None else num
        key = (case, start, num)
        if key not in memo:
            memo[key] = reference(case.spec(), case.seed, banks[case.source]).render(start, num)
        return memo[key]

    return get
