"""Spec validation, overrides, files, fingerprints and presets."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError

import movingmnist as mm
from movingmnist.errors import SpecError
from movingmnist.presets import get_preset

INVALID = [
    # (overrides, field named in the message, words of what is allowed)
    (["frames=0"], "frames", "[1, 100000]"),
    (["frames=abc"], "frames", "integer"),
    (["canvas.height=0"], "canvas.height", "[1, 4096]"),
    (["canvas.channels=2"], "canvas.channels", "1"),
    (["objects.count=3..1"], "objects.count", "low <= high"),
    (["objects.count=0..0"], "objects.count", "at least 1"),
    (["objects.size=100"], "objects.size", "canvas size"),
    (["motion.model=bounce"], "motion.model", "'srvp', 'free', 'flip', 'affine' or 'path'"),
    (["motion.speed=-1"], "motion.speed", ">= 0"),
    (["motion.speed=5..2"], "motion.speed", "low <= high"),
    (["motion.bounce_on=edge"], "motion.bounce_on", "'box' or 'ink'"),
    (["motion.speeed=3"], "motion.speeed", "motion.speed"),
    (["compositing=add"], "compositing", "'max', 'sum' or 'over'"),
    (["annotations.ignore_label=300"], "annotations.ignore_label", "[0, 255]"),
    (["source.split=dev"], "source.split", "'train', 'val' or 'test'"),
    (["source.val_size=-5"], "source.val_size", "0 (no val)"),
    (["nosection.x=1"], "nosection", "canvas, objects, source, motion, appearance, background, annotations"),
    (["frames"], "--set", "KEY=VALUE"),
    (["objects.choices=[]"], "objects.choices", "1 to 1024 counts"),
    (["objects.choices=[1,300]"], "objects.count", "<= 255"),
    (["motion.affine.rule=twice"], "motion.affine.rule", "'compose' or 'schedule'"),
    (["motion.affine.placement=corner"], "motion.affine.placement", "'jitter' or 'centre'"),
]


def test_count_choices_set_the_count_range_and_weigh_by_repeats():
    spec = mm.Spec.from_preset("srivastava", ["objects.choices=[0,2,2,3]"])
    assert spec.objects.count == (0, 3) and spec.objects.choices == (0, 2, 2, 3)
    counts = mm.generate(spec.frames_only(), num=4000, seed=1, source="glyphs").occupied.sum(1)
    share = np.bincount(counts, minlength=4) / 4000
    assert share[1] == 0 and abs(share[2] - 0.5) < 0.03 and abs(share[0] - 0.25) < 0.03
    assert mm.Spec.from_preset("srivastava").fingerprint == mm.Spec.from_preset("srivastava@1").fingerprint


@pytest.mark.parametrize(("overrides", "field", "allowed"), INVALID)
def test_invalid_specs_name_the_field_and_what_is_allowed(overrides, field, allowed):
    with pytest.raises(SpecError) as info:
        mm.Spec.from_preset("srivastava", overrides)
    message = str(info.value)
    assert message.startswith(field), message
    assert allowed in message, message


def test_errors_at_generation_name_the_field(bank):
    with pytest.raises(SpecError, match="annotations.ignore_label=5 .*class id"):
        mm.generate("srivastava", num=1, source=bank, annotations__ignore_label=5)
    with pytest.raises(SpecError, match="canvas=.*glyph size 28x28"):
        mm.generate("srivastava", num=1, source=bank, canvas__height=20)
    with pytest.raises(SpecError, match="seed=-1"):
        mm.Generator("srivastava", seed=-1, source=bank)
    with pytest.raises(SpecError, match="num=0"):
        mm.generate("srivastava", num=0, source=bank)
    with pytest.raises(SpecError, match="preset='nope'.*srivastava"):
        mm.generate("nope", num=1, source=bank)
    with pytest.raises(SpecError, match="preset='srivastava@9'.*srivastava@1"):
        mm.Spec.from_preset("srivastava@9")


def test_spec_is_frozen_and_kwargs_validate():
    spec = mm.Spec(frames=5, canvas={"height": 32, "width": 48})
    assert spec.canvas.width == 48
    with pytest.raises(ValidationError, match="frozen"):
        spec.frames = 3  # type: ignore[misc]
    with pytest.raises(SpecError, match="frames=-1"):
        mm.Spec(frames=-1)


def test_override_forms_agree():
    a = mm.Spec.from_preset("srivastava", ["motion.speed=2..6", "objects.count=1..3", "frames=30"])
    b = mm.Spec.from_preset("srivastava", {"motion.speed": [2, 6], "objects.count": "1,3", "frames": 30})
    assert a == b
    assert a.motion.speed == (2.0, 6.0) and a.objects.count == (1, 3)
    assert mm.Spec.from_preset("srivastava", ["objects.count=2"]).objects.count == (2, 2)


def test_fingerprint_is_stable_and_ignores_the_preset_label():
    a = mm.Spec.from_preset("srivastava")
    b = mm.Spec.from_dict({**a.to_dict(), "preset": None})
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != a.replace(["frames=21"]).fingerprint
    # Pinned: datasets record it, and --resume / verify compare it. Only fields that differ from their defaults
    # count, so the Spec can grow new (neutral) fields without changing it.
    assert a.fingerprint == "86340de704f9b5db"
    assert a.fingerprint == mm.Spec.from_dict(a.model_dump(exclude_defaults=True)).fingerprint
    assert a.diff(a.replace(["frames=21"])) == {"frames": (20, 21)}


def test_round_trip_through_json_and_yaml_files(tmp_path):
    spec = mm.Spec.from_preset("stochastic", ["objects.count=1..3"])
    (tmp_path / "s.json").write_text(spec.to_json())
    assert mm.Spec.from_file(tmp_path / "s.json") == spec
    (tmp_path / "s.yaml").write_text("preset: stochastic\nobjects:\n  count: 1..3\n")
    from_yaml = mm.Spec.from_file(tmp_path / "s.yaml")
    assert from_yaml.fingerprint == spec.fingerprint and from_yaml.preset == "stochastic@1"
    (tmp_path / "bad.yaml").write_text("objects:\n  cout: 2\n")
    with pytest.raises(SpecError, match="objects.cout"):
        mm.Spec.from_file(tmp_path / "bad.yaml")
    with pytest.raises(SpecError, match="config"):
        mm.Spec.from_file(tmp_path / "missing.yaml")
    assert json.loads(spec.to_json())["objects"]["count"] == [1, 3]


@pytest.mark.parametrize("preset", mm.list_presets(), ids=lambda p: p.key)
def test_presets_are_documented_and_versioned(preset):
    assert preset.summary and preset.reference and preset.version >= 1
    assert get_preset(preset.key) is preset and get_preset(preset.name).version >= preset.version
    assert preset.spec().preset == preset.key


def test_frames_only_switches_every_annotation_off(bank):
    spec = mm.Spec.from_preset("segmentation", ["annotations.flow=true"]).frames_only()
    assert not any(getattr(spec.annotations, name) for name in ("semantic", "instance", "boxes", "amodal_boxes",
                                                                 "visibility", "tracks", "amodal_masks", "flow"))
    gen = mm.Generator(spec, seed=1, source=bank)
    assert gen.array_names == ["frames", "labels", "present", "occupied", "glyph_index"]
    full = mm.Generator("segmentation", seed=1, source=bank).render(0, 3)
    assert np.array_equal(gen.render(0, 3).frames, full.frames)
