"""Pinned bytes: the output of every preset@version (and of a few override cases) never changes.

``pins.json`` holds, per case (preset@version, overrides, in-memory bank of ``tests/_banks.py``, seed, start, num),
every array of the rendered batch as ``"dtype[shape] sha256"`` (sha256 of the array's C-order bytes), and the
checksums of the banks. The numpy reference renders the cases; every other backend is held to the reference by
``test_backends.py``, so they are pinned too.

Re-pinning, deliberately: a pinned case changes only by mistake. To change a preset's output, add a new version of
the preset (``name@N+1``) and pin it, leaving every existing entry as it is:

1. add a case for ``name@N+1`` to ``pins.json`` with an empty ``"arrays": {}``;
2. run this file: the failure of that case prints its digests (``digest_lines`` of the rendered batch);
3. paste them, review the diff (only additions), and commit them with the new preset version.

No script rewrites this file; edits of existing entries should be rejected in review.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import movingmnist as mm
from _banks import BANKS, bank_checksum

from ._cases import PRESET_KEYS

PINS = json.loads((Path(__file__).parent / "pins.json").read_text())


def digest_lines(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    """``{name: "dtype[shape] sha256"}`` of every array (the format of ``pins.json``)."""
    lines = {}
    for name, array in sorted(arrays.items()):
        array = np.ascontiguousarray(array)
        shape = ",".join(str(n) for n in array.shape)
        lines[name] = f"{array.dtype.name}[{shape}] {hashlib.sha256(array.tobytes()).hexdigest()}"
    return lines


def case_id(case: dict) -> str:
    over = ",".join(case["overrides"])
    return f"{case['preset']}{'|' + over if over else ''}|{case['source']}|seed={case['seed']}"


def _as_first_schema(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays as the schema was when most cases were pinned: the per-sequence ``(K,)`` slots were called
    ``present``; they are ``occupied`` now, and ``present`` is per frame ``(T, K)``. Those presets have no
    lifetimes, so per-frame presence must be the slots in every frame; checked here, then the old name is used."""
    arrays = dict(arrays)
    occupied = arrays.pop("occupied")
    per_frame = arrays.pop("present")
    assert np.array_equal(per_frame, np.broadcast_to(occupied[:, None, :], per_frame.shape))
    arrays["present"] = occupied
    return arrays


@pytest.mark.parametrize("name", sorted(PINS["banks"]))
def test_banks_unchanged(name):
    """The pinned cases are rendered from these banks: a change here is a change of the test data, not of a preset."""
    assert bank_checksum(BANKS[name]()) == PINS["banks"][name]


@pytest.mark.parametrize("case", PINS["cases"], ids=case_id)
def test_pinned_bytes(case, banks):
    spec = mm.Spec.from_preset(case["preset"], case["overrides"])
    gen = mm.Generator(spec, seed=case["seed"], source=banks[case["source"]], kernel="numpy")
    arrays = gen.render(case["start"], case["num"]).arrays()
    if "occupied" not in case["arrays"]:
        arrays = _as_first_schema(arrays)
    got = digest_lines(arrays)
    changed = sorted(name for name in set(got) | set(case["arrays"]) if got.get(name) != case["arrays"].get(name))
    assert not changed, (
        f"{case_id(case)}: the output of {case['preset']} changed in {changed}; a deliberate change needs a new "
        f"preset version (see this module's docstring). Digests now: {json.dumps(got, indent=1)}"
    )


def test_every_preset_version_is_pinned():
    """Each preset@version has a pinned case without overrides; each pinned case names a known preset version."""
    plain = {case["preset"] for case in PINS["cases"] if not case["overrides"]}
    assert set(PRESET_KEYS) <= plain, sorted(set(PRESET_KEYS) - plain)
    assert {case["preset"] for case in PINS["cases"]} <= set(PRESET_KEYS)
    assert len({case_id(case) for case in PINS["cases"]}) == len(PINS["cases"])
