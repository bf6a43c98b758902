"""Sequence i = f(spec, seed, i): the bytes of a sequence do not depend on how it is asked for.

Per backend: one call or chunks of any size, any order of indices (repeats included), any internal batch size;
and for datasets on disk, any number of worker processes.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import movingmnist as mm
from _strategies import appearance_specs, translation_specs

from ._backends import assert_identical, concat, reference, take
from ._cases import GENERAL_CASES, PRESET_KEYS, TRANSLATION_CASES

START = 2**32 - 5  # the indices straddle 2**32
NUM = 8


def _check_ways(make, start: int, num: int, what: str) -> None:
    """``make(batch_size)`` builds a generator; its outputs agree however the sequences are asked for."""
    gen = make(None)
    whole = gen.render(start, num)
    assert np.array_equal(whole["index"], np.arange(start, start + num)), what
    split = 5
    assert_identical(
        whole, concat([gen.render(start, split), gen.render(start + split, num - split)]), f"{what}, split"
    )
    backwards = gen.render_indices(range(start + num - 1, start - 1, -1))
    assert_identical(whole, take(backwards, slice(None, None, -1)), f"{what}, reversed indices")
    picks = [num - 1, 0, num // 2, num // 2, 3, num - 1]
    assert_identical(take(whole, picks), gen.render_indices([start + p for p in picks]), f"{what}, repeats")
    for batch_size in (1, 3):
        assert_identical(whole, make(batch_size).render(start, num), f"{what}, batch_size={batch_size}")


@pytest.mark.parametrize("key", PRESET_KEYS)
def test_presets(key, backend, banks):
    spec = mm.Spec.from_preset(key)
    reason = backend.refuses(spec)
    if reason:
        pytest.skip(reason)
    _check_ways(
        lambda batch_size: backend(spec, 5, banks["test_bank"], batch_size), START, NUM, f"{key} on {backend.name}"
    )


@pytest.mark.parametrize("case", [TRANSLATION_CASES[1], *GENERAL_CASES[:2]], ids=lambda c: c.id)
def test_override_cases(case, banks):
    """Cases with every annotation (flow, amodal masks, tracks), through the numpy reference."""
    _check_ways(
        lambda batch_size: reference(case.spec(), case.seed, banks[case.source], batch_size), case.start, 7, case.id
    )


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spec=st.one_of(translation_specs(), appearance_specs()),
    seed=st.integers(0, 2**63 - 1),
    start=st.integers(0, 2**40),
    batch_size=st.integers(1, 3),
)
def test_random_specs(banks, spec, seed, start, batch_size):
    """The reference on random specs: a split range and a shuffled order with another batch size agree with one
    call (the backends are held to the reference in test_backends.py)."""
    gen = reference(spec, seed, banks["blank_edge"] if spec.general_renderer else banks["test_bank"])
    whole = gen.render(start, 5)
    assert_identical(whole, concat([gen.render(start, 2), gen.render(start + 2, 3)]), "split")
    other = reference(spec, seed, banks["blank_edge"] if spec.general_renderer else banks["test_bank"], batch_size)
    order = [4, 0, 2, 2]
    assert_identical(take(whole, order), other.render_indices([start + i for i in order]), "shuffled")


@pytest.mark.parametrize("preset", ["segmentation@1"])
def test_worker_processes_do_not_change_bytes(preset, banks, tmp_path):
    """write_dataset with one and with two worker processes, read back through mm.open, equals rendering in memory.

    A preset of the general renderer (its kernels run in the worker processes); the translation presets and every
    storage format are covered by test_io.py::test_workers_give_identical_bytes."""
    spec = mm.Spec.from_preset(preset, {"frames": 4, "canvas.height": 36, "canvas.width": 36})
    source = banks["test_bank"]
    expected = reference(spec, 3, source).render(0, 14)
    expected.pop("index")
    for workers in (1, 2):
        path = tmp_path / f"w{workers}.zarr"
        mm.write_dataset(spec, 3, 14, path, source=source, chunk_size=3, workers=workers, progress=False)
        with mm.open(path) as ds:
            stored = {name: np.asarray(array[:]) for name, array in ds.arrays.items()}
        assert_identical(expected, stored, f"workers={workers}")
