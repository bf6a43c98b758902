"""The warm output pool: arrays of a Batch carved from one buffer, reused once every array carved from it is gone,
never while one of them lives."""

from __future__ import annotations

import numpy as np
import pytest

import movingmnist as mm
from _banks import blob_source
from movingmnist import warm

SOURCE = blob_source(40)
SHAPES = {"a": ((64, 300, 300), np.dtype(np.uint8)), "b": ((64, 7, 4), np.dtype(np.float32))}


@pytest.fixture(autouse=True)
def pool(monkeypatch):
    monkeypatch.setenv(warm.WARM_ENV, str(1 << 30))
    warm.release()
    yield
    warm.release()


def test_carved_arrays_share_one_aligned_buffer():
    arrays = warm.carve(SHAPES)
    assert arrays["a"].base is arrays["b"].base
    for name, (shape, dtype) in SHAPES.items():
        array = arrays[name]
        assert array.shape == shape and array.dtype == dtype and array.flags.c_contiguous and array.flags.writeable
        assert array.ctypes.data % warm.ALIGN == 0
    a, b = arrays["a"], arrays["b"]
    assert a.ctypes.data + a.nbytes <= b.ctypes.data or b.ctypes.data + b.nbytes <= a.ctypes.data


def test_a_buffer_is_reused_only_when_all_its_arrays_are_gone():
    first = warm.carve(SHAPES)
    address = first["a"].base.ctypes.data
    keep = first["b"]
    del first
    second = warm.carve(SHAPES)
    assert second["a"].base.ctypes.data != address, "one array of the first batch still lives"
    del keep
    third = warm.carve(SHAPES)
    assert third["a"].base.ctypes.data == address
    assert second["a"].base is not third["a"].base


def test_generated_batches_stay_intact_while_others_are_made():
    spec = mm.Spec.from_preset("srivastava", ["frames=30"])
    first = mm.generate(spec, num=400, seed=0, source=SOURCE)
    frames = first.frames.copy()
    for seed in (1, 2, 3):
        mm.generate(spec, num=400, seed=seed, source=SOURCE)  # dropped at once: its buffer goes back to the pool
    np.testing.assert_array_equal(first.frames, frames)
    again = mm.generate(spec, num=400, seed=0, source=SOURCE)
    for name, array in first.arrays().items():
        np.testing.assert_array_equal(getattr(again, name), array, err_msg=name)


def test_the_pool_can_be_switched_off_and_released(monkeypatch):
    arrays = warm.carve(SHAPES)
    del arrays
    assert warm.release() >= 64 * 300 * 300
    assert warm.release() == 0, "only unused buffers are released, and all of them at once"
    monkeypatch.setenv(warm.WARM_ENV, "0")
    pooled = len(warm._buffers)  # buffers other tests' batches still use
    one = warm.carve(SHAPES)
    assert one["a"].base.nbytes >= 64 * 300 * 300
    del one
    assert len(warm._buffers) == pooled, "nothing is kept with the pool off"


def test_small_batches_are_not_pooled():
    small = {"x": ((8, 8), np.dtype(np.uint8))}
    pooled = len(warm._buffers)
    kept = warm.carve(small)
    assert len(warm._buffers) == pooled and kept["x"].shape == (8, 8)
