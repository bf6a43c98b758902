"""Docstring examples run as doctests."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "movingmnist.generator",
    "movingmnist.spec",
    "movingmnist.latents.rng",
    "movingmnist.batch",
    "movingmnist.resize",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
