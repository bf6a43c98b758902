"""Counter-based random streams."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from movingmnist.latents import rng


def test_pinned_draws():
    """numpy-style repeatability test: the bits of known draws never change."""
    words = rng.random_bits(0, "pin", np.arange(4), (3,))
    digest = hashlib.sha256(words.astype("<u8").tobytes()).hexdigest()
    assert digest == PINNED, digest


PINNED = "1e7f649bea67aaa9823e5b8458803fe9e5c2054515fe8cbe88e96efdd57af984"


@given(st.integers(0, 2**63 - 1), st.lists(st.integers(0, 2**40), min_size=1, max_size=20))
def test_each_index_is_independent_of_the_batch(seed, indices):
    index = np.array(indices)
    together = rng.uniform(seed, "s", index, (2, 3))
    for i, value in enumerate(indices):
        assert np.array_equal(together[i], rng.uniform(seed, "s", np.array([value]), (2, 3))[0])


def test_counters_do_not_depend_on_other_axes():
    a = rng.uniform(1, "s", np.arange(5), (2, 10))
    b = rng.uniform(1, "s", np.arange(5), (4, 30))
    assert np.array_equal(a, b[:, :2, :10])


def test_streams_and_seeds_differ():
    a = rng.uniform(1, "a", np.arange(100))
    assert not np.array_equal(a, rng.uniform(1, "b", np.arange(100)))
    assert not np.array_equal(a, rng.uniform(2, "a", np.arange(100)))


def test_distributions():
    u = rng.uniform(3, "u", np.arange(200_000))
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.005
    k = rng.integers(3, "k", np.arange(90_000), (), -4, 4)
    counts = np.bincount(k + 4, minlength=9)
    assert k.min() == -4 and k.max() == 4 and np.all(np.abs(counts / 10_000 - 1) < 0.05)


def test_bad_seed_is_refused():
    with pytest.raises(ValueError, match="seed=-3"):
        rng.uniform(-3, "s", np.arange(2))


def test_sincos_of_all_zero_angles_takes_the_polynomials_bits():
    """All-zero angles skip the polynomials: the shortcut gives the bits the polynomials give to the same zeros
    (+0.0 and 1.0 for either sign) when other angles keep them in play; NaN and infinities keep their bits too."""
    zeros = np.array([0.0, -0.0, 0.0, -0.0])
    mixed = np.concatenate([zeros, [0.3, np.nan, np.inf, -np.inf]])
    with np.errstate(invalid="ignore"):
        full = rng.sincos_turns(mixed)
    short = rng.sincos_turns(zeros)
    for got, want in zip(short, full, strict=True):
        np.testing.assert_array_equal(got.view(np.int64), want[:4].view(np.int64))
    assert np.isnan(full[0][5:]).all() and np.isnan(full[1][5:]).all()


def test_sincos_matches_libm():
    turns = np.linspace(-2, 2, 100_001)
    sin, cos = rng.sincos_turns(turns)
    assert np.abs(sin - np.sin(2 * np.pi * turns)).max() < 1e-14
    assert np.abs(cos - np.cos(2 * np.pi * turns)).max() < 1e-14
    assert np.abs(sin * sin + cos * cos - 1.0).max() < 5e-16 * 8
