"""Every array has the shape and dtype that ``mm.SCHEMA`` gives it for the spec, and exactly the switched-on arrays
are produced (the expectation is derived here from SCHEMA and the spec, not taken from the generator)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import movingmnist as mm
from _strategies import appearance_specs, translation_specs

from ._backends import reference
from ._cases import CASES, PRESET_KEYS

TRACKS = ("centers", "velocities", "angles", "scales", "brightness", "depth")


def expected_schema(spec: mm.Spec) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Per-sequence shape and dtype of every array ``spec`` switches on."""
    ann = spec.annotations
    on = {"frames", "labels", "present", "occupied", "glyph_index"}
    on |= {
        name
        for name in ("semantic", "instance", "boxes", "amodal_boxes", "visibility", "amodal_masks", "flow")
        if getattr(ann, name)
    }
    if ann.events:
        on.add("events")
    if ann.captions != "none":
        on.add("captions")
    if ann.tracks:
        on |= set(TRACKS)
    sizes = {
        "T": spec.frames,
        "T-1": spec.frames - 1,
        "C": spec.canvas.channels,
        "H": spec.canvas.height,
        "W": spec.canvas.width,
        "K": spec.objects.slots,
        "E": spec.annotations.max_events,
        "L": spec.annotations.caption_bytes,
    }
    schema = {a.name: a for a in mm.SCHEMA}
    assert on <= set(schema), sorted(on - set(schema))
    return {
        name: (
            tuple(sizes[d] if isinstance(d, str) else int(d) for d in schema[name].dims),
            np.dtype(schema[name].dtype),
        )
        for name in on
    }


def check(spec: mm.Spec, source, num: int = 2, start: int = 0, seed: int = 0) -> None:
    expected = expected_schema(spec)
    gen = mm.Generator(spec, seed=seed, source=source, kernel="numpy")
    assert {name: (tuple(shape), np.dtype(dtype)) for name, (shape, dtype) in gen.shapes.items()} == expected
    out = reference(spec, seed, source).render(start, num)
    assert out["index"].dtype == np.int64 and out["index"].shape == (num,)
    got = {name: (a.shape[1:], a.dtype) for name, a in out.items() if name != "index"}
    assert got == expected
    assert all(a.shape[0] == num for a in out.values())


@pytest.mark.parametrize("key", PRESET_KEYS)
def test_presets(key, banks):
    check(mm.Spec.from_preset(key), banks["test_bank"])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_override_cases(case, banks):
    check(case.spec(), banks[case.source])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=st.one_of(translation_specs(), appearance_specs()), seed=st.integers(0, 2**63 - 1))
def test_random_specs(banks, spec, seed):
    check(spec, banks["blank_edge"] if spec.general_renderer else banks["test_bank"], seed=seed)


def test_schema_lists_every_array_once():
    names = [a.name for a in mm.SCHEMA]
    assert len(names) == len(set(names))
    assert {"frames", "labels", "present", "occupied", "glyph_index", *TRACKS} <= set(names)
