"""Lifetimes, per-frame presence and the event table (docs/scenes.md): every annotation is absent exactly outside
an object's lifetime, and every event agrees with the tracks and the masks."""

from __future__ import annotations

import numpy as np
import pytest

import movingmnist as mm
from _banks import blob_source
from movingmnist.events import EVENT_KINDS, LEFT, TOP, WALLS, event_table, events_of

SOURCE = blob_source(60)

# free motion, late appearances, exits and births: every lifetime rule at once
LIFE = {
    "motion.model": "free", "motion.speed": "2..5", "motion.speed_unit": "px", "frames": 24,
    "objects.count": "1..3", "objects.appear": "0..8", "objects.exit": "offscreen", "objects.births": 0.2,
    "objects.max_births": 3, "annotations.events": True, "annotations.amodal_masks": True,
}


def render(overrides: dict, num: int = 40, seed: int = 3, preset: str = "srivastava") -> mm.Batch:
    spec = mm.Spec.from_preset(preset, overrides)
    return mm.Generator(spec, seed=seed, source=SOURCE).render(0, num)


@pytest.fixture(scope="module")
def life() -> mm.Batch:
    return render(LIFE)


@pytest.fixture(scope="module")
def leave() -> mm.Batch:
    return render({**LIFE, "objects.exit": "leave"})


def test_slots_and_schedule(life):
    k = 3 + 3
    assert life.present.shape == (40, 24, k) and life.occupied.shape == (40, k)
    assert np.array_equal(life.present.any(axis=1) & ~life.occupied, np.zeros_like(life.occupied))
    assert np.array_equal(life.labels >= 0, life.occupied) and np.array_equal(life.glyph_index >= 0, life.occupied)
    assert life.present.any(axis=(0, 1))[3:].any(), "some births enter the canvas"


def test_annotations_are_absent_exactly_outside_the_lifetime(life):
    absent = ~life.present
    assert np.isnan(life.centers[absent]).all() and np.isfinite(life.centers[~absent]).all()
    assert np.isnan(life.velocities[absent]).all()
    assert np.isnan(life.boxes[absent]).all() and np.isnan(life.amodal_boxes[absent]).all()
    assert np.isnan(life.angles[absent]).all() and (life.depth[absent] == -1).all()
    assert (life.visibility[absent] == 0).all()
    assert not life.amodal_masks[absent].any()
    b, t, k = np.nonzero(absent)
    assert not np.any(life.instance[b, t] == (k + 1)[:, None, None])
    # present: the ink box overlaps the canvas (its corner may, where the glyph has no ink: no mask pixel then)
    assert np.array_equal(np.isfinite(life.amodal_boxes).all(-1), life.present)
    box = life.amodal_boxes[life.present]
    assert ((box[:, 0] < 64) & (box[:, 2] > 0) & (box[:, 1] < 64) & (box[:, 3] > 0)).all()


def test_leave_is_for_good_and_offscreen_may_return(life, leave):
    def runs(p: np.ndarray) -> np.ndarray:  # (B, K) number of separate present runs
        starts = p & ~np.concatenate([np.zeros_like(p[:, :1]), p[:, :-1]], axis=1)
        return starts.sum(axis=1)

    assert runs(leave.present).max() <= 1
    wrap = render({**LIFE, "motion.wrap": True, "objects.births": 0.0, "objects.max_births": 0,
                   "motion.speed": "6..9"})
    assert runs(wrap.present).max() >= 2, "wrapping objects leave and come back with the same slot"


def test_late_appearance_starts_the_motion_there():
    base = render({"objects.count": "2", "annotations.events": True})
    late = render({"objects.count": "2", "objects.appear": "3..7"})
    first = late.present.argmax(axis=1)  # (B, K)
    assert ((first >= 3) & (first <= 7)).all() and (first > 3).any()
    for b in range(5):
        for k in range(2):
            f = first[b, k]
            assert not late.present[b, :f, k].any() and late.present[b, f:, k].all()
            np.testing.assert_array_equal(late.centers[b, f:, k], base.centers[b, : 20 - f, k])


def test_enter_and_exit_events_match_presence(life):
    for b in range(len(life)):
        rows = events_of(life.events[b])
        assert len(rows) < life.events.shape[1], "the table is not full: every event is listed"
        p = life.present[b]
        starts = {(int(t), int(k)) for t, k in np.argwhere(p & ~np.vstack([np.zeros_like(p[:1]), p[:-1]]))}
        ends = {(int(t) + 1, int(k)) for t, k in np.argwhere(p[:-1] & ~p[1:])}
        assert {(f, a) for f, kind, a, _ in rows if kind == "enter"} == starts
        assert {(f, a) for f, kind, a, _ in rows if kind == "exit"} == ends
        for _f, kind, a, wall in rows:
            if kind == "exit":  # it left through that wall: its box lies beyond it
                assert wall >= 0
            if kind == "enter" and a >= 3:  # births come through a wall
                assert wall >= 0
        keys = [(f, EVENT_KINDS.index(kind), a, w) for f, kind, a, w in rows]
        assert keys == sorted(keys)


def test_wall_events_are_where_the_box_touches_the_wall():
    spec = mm.Spec.from_preset("srivastava", {"annotations.events": True, "frames": 30})
    gen = mm.Generator(spec, seed=1, source=SOURCE)
    batch = gen.render(0, 30)
    topleft = gen.positions(np.arange(30))  # (B, T, K, 2)
    hi = np.array([64 - 28, 64 - 28])
    touching = np.concatenate([topleft <= 0, topleft >= hi], axis=-1)  # left, top, right, bottom
    expected = set()
    for b, t, k, w in np.argwhere(touching):
        if t == 0 or not touching[b, t - 1, k, w]:
            expected.add((int(b), int(t), int(k), int(w)))
    got = {(b, f, a, w) for b in range(30) for f, kind, a, w in events_of(batch.events[b]) if kind == "wall"}
    assert got == expected and len(got) > 20
    assert {WALLS[w] for *_, w in got} == set(WALLS)


def test_occlusions_agree_with_the_masks():
    batch = render({"objects.count": "3", "annotations.events": True, "annotations.amodal_masks": True,
                    "compositing": "over", "frames": 16}, num=30)
    checked = 0
    for b in range(len(batch)):
        open_pairs: set[tuple[int, int]] = set()
        rows = events_of(batch.events[b])
        for t in range(16):
            for f, kind, a, c in rows:
                if f == t and kind == "occlusion_start":
                    open_pairs.add((a, c))
                if f == t and kind == "occlusion_end":
                    open_pairs.discard((a, c))
            inst = batch.instance[b, t]
            for behind in range(3):
                covered = batch.amodal_masks[b, t, behind] & (inst > behind + 1)
                for front in np.unique(inst[covered]) - 1:
                    assert (int(front), behind) in open_pairs, (b, t, front, behind)
                    checked += 1
            boxes = batch.amodal_boxes[b, t]
            for a, c in open_pairs:  # an open occlusion: the visible parts of the ink boxes overlap
                x0, y0 = np.maximum(np.maximum(boxes[a, :2], boxes[c, :2]), 0)
                x1, y1 = np.minimum(np.minimum(boxes[a, 2:], boxes[c, 2:]), 64)
                assert x0 < x1 and y0 < y1
    assert checked > 10


def test_event_table_truncates_at_max_events_and_sorts():
    present = np.ones((1, 4, 2), bool)
    boxes = np.tile(np.array([0.0, 0.0, 10.0, 10.0]), (1, 4, 2, 1))
    touch = np.zeros((1, 4, 2, 4), bool)
    touch[0, 1:, 1, LEFT] = True
    touch[0, 2, 0, TOP] = True
    table = event_table(present, boxes, touch, (64, 64), 3)
    assert events_of(table[0]) == [(0, "enter", 0, -1), (0, "enter", 1, -1), (0, "occlusion_start", 1, 0)]
    full = event_table(present, boxes, touch, (64, 64), 16)
    assert events_of(full[0])[3:] == [(1, "wall", 1, LEFT), (2, "wall", 0, TOP)]
    assert (full[0, 5:] == -1).all()


def test_chunking_and_batches_do_not_change_lifetimes():
    spec = mm.Spec.from_preset("srivastava", LIFE)
    gen = mm.Generator(spec, seed=5, source=SOURCE)
    whole = gen.render(0, 24)
    parts = [gen.render_indices(np.arange(lo, min(24, lo + 7))) for lo in range(0, 24, 7)]
    for name, array in whole.arrays().items():
        np.testing.assert_array_equal(array, np.concatenate([getattr(p, name) for p in parts]), err_msg=name)
    one = gen[13]
    for name, array in one.items():
        np.testing.assert_array_equal(array, getattr(whole, name)[13], err_msg=name)


def test_torch_gives_the_same_lifetimes_and_events():
    torch = pytest.importorskip("torch")
    from movingmnist.torch import TorchGenerator

    spec = mm.Spec.from_preset("srivastava", LIFE)
    ref = mm.Generator(spec, seed=2, source=SOURCE).render(0, 12)
    for kernels in ("torch", "numpy"):
        out = TorchGenerator(spec, seed=2, source=SOURCE, device="cpu", kernels=kernels).render(0, 12)
        for name, array in ref.arrays().items():
            got = out[name].numpy() if isinstance(out[name], torch.Tensor) else out[name]
            np.testing.assert_array_equal(got, array, err_msg=f"{kernels}: {name}")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"objects.max_births": 2, "objects.births": 0.1}, "objects.max_births"),  # srivastava motion: no births
        ({"motion.model": "free", "motion.wrap": True, "objects.max_births": 2, "objects.births": 0.1},
         "objects.max_births"),
        ({"objects.births": 0.3}, "objects.max_births"),
        ({"objects.births": 1.5, "objects.max_births": 1}, "objects.births"),
        ({"objects.appear": "0..20"}, "objects.appear"),
        ({"objects.exit": "sometimes"}, "objects.exit"),
        ({"annotations.max_events": 0}, "annotations.max_events"),
        ({"motion.velocity": "integer"}, "motion.velocity"),
        ({"motion.directions": []}, "motion.directions"),
    ],
)
def test_bad_scene_fields_name_the_field(overrides, field):
    with pytest.raises(mm.SpecError) as info:
        mm.Spec.from_preset("srivastava", overrides)
    assert field in str(info.value)


def _make_legacy(path) -> None:
    """Rewrite a fresh npy dataset as datasets were written before presence was per frame: ``present`` holds the
    ``(K,)`` slots and there is no ``occupied``."""
    import json

    occupied = np.load(path / "occupied.npy")
    (path / "occupied.npy").unlink()
    np.save(path / "present.npy", occupied)
    for name in ("metadata.json", "manifest.json"):
        data = json.loads((path / name).read_text())

        def strip(node):
            if isinstance(node, dict):
                arrays = node.get("arrays")
                if isinstance(arrays, dict) and "occupied" in arrays:
                    arrays["present"] = arrays.pop("occupied")
                for value in node.values():
                    strip(value)
            elif isinstance(node, list):
                for value in node:
                    strip(value)

        strip(data)
        (path / name).write_text(json.dumps(data))


def test_datasets_written_before_per_frame_presence_still_read_and_verify(tmp_path):
    from movingmnist.cli import main

    out = tmp_path / "old"
    assert main(["generate", "--preset", "srivastava", "--source", "glyphs", "--num", "6", "--out", str(out),
                 "--format", "npy", "--quiet"]) == 0
    fresh = mm.open(out)[:]
    _make_legacy(out)
    old = mm.open(out)[:]
    np.testing.assert_array_equal(old.occupied, fresh.occupied)
    np.testing.assert_array_equal(old.present, fresh.present)
    assert old.present.shape == (6, 20, 2)
    assert main(["verify", str(out), "--all"]) == 0


def test_stored_captions_name_the_digits_and_their_directions():
    from movingmnist.captions import parse_event_caption, parse_template_caption

    batch = mm.Generator(mm.Spec.from_preset("captions"), seed=4, source=SOURCE).render(0, 30)
    for i in range(len(batch)):
        parsed = parse_template_caption(batch.caption(i))
        assert [name for name, _ in parsed] == [str(label) for label in batch.labels[i]]
        for k, (_, motion) in enumerate(parsed):
            speed = np.nanmean(np.abs(batch.velocities[i, :, k]), axis=0)  # (|vx|, |vy|)
            assert motion == ("horizontal" if speed[0] >= speed[1] else "vertical")
    tracking = mm.Generator(mm.Spec.from_preset("tracking"), seed=1, source=SOURCE).render(0, 4)
    for i in range(len(tracking)):
        text = tracking.caption(i)
        assert text and not text.endswith("...")
        names = {p.subject.split()[-1] for p in parse_event_caption(text)}
        assert names == {str(label) for label in tracking.labels[i][tracking.present[i].any(axis=0)]}


def test_collision_events_are_the_solver_hits():
    spec = mm.Spec.from_preset("srivastava", {
        "motion.model": "reflect", "motion.collisions": "elastic", "motion.speed": "0.08..0.12",
        "objects.count": "4", "canvas.height": 96, "canvas.width": 96, "annotations.events": True,
    })
    gen = mm.Generator(spec, seed=0, source=SOURCE)
    batch = gen.render(0, 30)
    tracks = gen.tracks(np.arange(30), spec.simulated_frames)
    hits = tracks.collisions[:, : spec.frames]
    expected = {(int(b), int(t), int(a), int(c)) for b, t, a, c in np.argwhere(hits) if a < c}
    got = {(b, f, a, c) for b in range(30) for f, kind, a, c in events_of(batch.events[b]) if kind == "collision"}
    assert got == expected and len(got) >= 5
    for b, t, a, c in got:  # an elastic collision changes both velocities
        before, after = batch.velocities[b, t - 1, [a, c]], batch.velocities[b, t, [a, c]]
        assert not np.allclose(before, after)


def test_paths_compose_with_lifetimes_and_appearance():
    torch = pytest.importorskip("torch")
    from movingmnist.torch import TorchGenerator

    spec = mm.Spec.from_preset("srivastava", {
        "motion.model": "path", "motion.path.walls": "none", "motion.speed": "1..3", "motion.speed_unit": "px",
        "objects.count": "2..4", "objects.appear": "0..6", "objects.exit": "offscreen",
        "appearance.rotation.velocity": "-8..8", "annotations.events": True, "annotations.captions": "events",
        "frames": 16,
    })
    ref = mm.Generator(spec, seed=9, source=SOURCE).render(0, 16)
    assert (~ref.present & ref.occupied[:, None, :]).any(), "objects are absent in some frames"
    assert np.isnan(ref.centers[~ref.present]).all() and np.isfinite(ref.centers[ref.present]).all()
    out = TorchGenerator(spec, seed=9, source=SOURCE, device="cpu", kernels="torch").render(0, 16)
    for name in ("present", "occupied", "events", "captions", "centers", "boxes", "instance"):
        got = out[name].numpy() if isinstance(out[name], torch.Tensor) else out[name]
        np.testing.assert_array_equal(got, getattr(ref, name), err_msg=name)
