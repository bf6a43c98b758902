"""Captions (movingmnist.captions): hand-built latents and event tables for every case, captions parsed back and
checked against the arrays, the fixed-length storage, and ``preview --captions``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import movingmnist as mm
from movingmnist import captions as C
from movingmnist.events import (
    BOTTOM,
    COLLISION,
    ENTER,
    EXIT,
    LEFT,
    OCCLUSION_END,
    OCCLUSION_START,
    RIGHT,
    TOP,
    WALL,
)

HW = (64, 64)


def scene(paths: list[np.ndarray], labels: list[int]) -> dict[str, np.ndarray]:
    """Arrays of one sequence from each object's ``(T, 2)`` centres (NaN rows: absent)."""
    centers = np.stack(paths, axis=1).astype(np.float32)  # (T, K, 2)
    present = np.isfinite(centers).all(axis=2)
    velocities = np.full_like(centers, np.nan)
    velocities[:-1] = centers[1:] - centers[:-1]  # NaN where absent at t or t + 1
    return {"labels": np.array(labels, np.int16), "centers": centers, "velocities": velocities, "present": present}


def line(t: int, start: tuple[float, float], step: tuple[float, float]) -> np.ndarray:
    return np.asarray(start, np.float64) + np.arange(t)[:, None] * np.asarray(step, np.float64)


def bounce(t: int, start: float, step: float, low: float, high: float) -> np.ndarray:
    """1-D positions moving by ``step`` and reflected between ``low`` and ``high``."""
    out, x = [], start
    for _ in range(t):
        out.append(x)
        x += step
        if not low <= x <= high:
            step = -step
            x = 2 * (high if x > high else low) - x
    return np.asarray(out)


def table(*rows: tuple[int, int, int, int], size: int = 16) -> np.ndarray:
    ev = np.full((size, 4), -1, np.int32)
    if rows:
        ev[: len(rows)] = sorted(rows)
    return ev


def template(s: dict, **kw) -> str:
    return C.template_caption(s["labels"], s["centers"], s["velocities"], s["present"], **kw)


def events_caption(s: dict, ev: np.ndarray, **kw) -> str:
    return C.event_caption(s["labels"], s["centers"], s["velocities"], s["present"], ev, canvas_hw=HW, **kw)


# -- template ----------------------------------------------------------------------------------------------------------
def test_template_wording_of_sync_draw():
    t = 20
    vertical = np.stack([np.full(t, 20.0), bounce(t, 30, 3, 14, 50)], axis=1)
    horizontal = np.stack([bounce(t, 30, 3, 14, 50), np.full(t, 40.0)], axis=1)
    s = scene([vertical, horizontal], [6, 3])
    text = template(s)
    assert text == "digit 6 is moving up and down and digit 3 is moving left and right"
    assert C.parse_template_caption(text) == [("6", "vertical"), ("3", "horizontal")]


def test_template_one_digit_still_and_unused_slots():
    t = 10
    s = scene([line(t, (10, 10), (0, 2)), np.full((t, 2), np.nan), line(t, (30, 30), (0, 0))], [4, 1, 9])
    s["labels"][1] = -1
    assert template(s) == "digit 4 is moving up and down and digit 9 is standing still"
    one = scene([line(t, (10, 10), (1.5, 0.2))], [7])
    assert template(one) == "digit 7 is moving left and right"
    assert C.parse_template_caption(template(one)) == [("7", "horizontal")]
    nobody = scene([np.full((t, 2), np.nan)], [-1])
    assert template(nobody) == C.EMPTY_TEMPLATE and C.parse_template_caption(template(nobody)) == []


def test_template_diagonal_rule():
    t = 12
    s = scene([line(t, (10, 10), (2, 1.5)), line(t, (10, 50), (2, -0.5))], [1, 2])
    # Default: the dominant axis (the template's two motions); with a ratio, diagonal where the axes are close.
    assert template(s) == "digit 1 is moving left and right and digit 2 is moving left and right"
    assert template(s, diagonal=0.5) == "digit 1 is moving diagonally and digit 2 is moving left and right"
    assert C.parse_template_caption(template(s, diagonal=0.5)) == [("1", "diagonal"), ("2", "horizontal")]
    tie = scene([line(t, (10, 10), (1, 1))], [5])
    assert template(tie) == "digit 5 is moving left and right"


def test_template_class_names_and_one_flag_per_slot():
    t = 8
    s = scene([line(t, (10, 10), (0, 1)), line(t, (40, 10), (1, 0))], [1, 9])
    names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    text = template(s, class_names=names)
    assert text == "the Trouser is moving up and down and the Ankle boot is moving left and right"
    assert C.parse_template_caption(text) == [("Trouser", "vertical"), ("Ankle boot", "horizontal")]
    s["present"] = np.array([True, True])  # (K,): the current Batch's one flag per slot
    assert template(s, class_names=names) == text


def test_template_parser_refuses_other_text():
    for bad in ("digit 3 is flying", "digit 3 is moving left and right and", "hello"):
        with pytest.raises(ValueError):
            C.parse_template_caption(bad)


@st.composite
def random_scenes(draw):
    t, k = draw(st.integers(1, 12)), draw(st.integers(1, 5))
    vel = np.array(draw(st.lists(st.lists(st.floats(-6, 6, width=32), min_size=2, max_size=2),
                                 min_size=t * k, max_size=t * k)), np.float32).reshape(t, k, 2)
    present = np.array(draw(st.lists(st.booleans(), min_size=t * k, max_size=t * k))).reshape(t, k)
    labels = np.array(draw(st.lists(st.integers(-1, 9), min_size=k, max_size=k)), np.int16)
    vel[~present] = np.nan
    centers = np.where(present[..., None], np.float32(20), np.float32(np.nan))
    return labels, centers, vel, present


@settings(max_examples=150, deadline=None)
@given(random_scenes(), st.sampled_from([None, 0.5]))
def test_template_names_the_present_digits_with_their_dominant_axis(arrays, diagonal):
    labels, centers, vel, present = arrays
    parsed = C.parse_template_caption(C.template_caption(labels, centers, vel, present, diagonal=diagonal))
    slots = [k for k in range(len(labels)) if labels[k] >= 0 and present[:, k].any()]
    assert [name for name, _ in parsed] == [str(labels[k]) for k in slots]
    for (_, motion), k in zip(parsed, slots, strict=True):
        v = np.abs(vel[present[:, k], k].astype(np.float64))
        sx, sy = v.mean(axis=0)
        if max(sx, sy) < C.STILL_SPEED:
            assert motion == "still"
        elif diagonal is not None and min(sx, sy) >= diagonal * max(sx, sy):
            assert motion == "diagonal"
        else:
            assert motion == ("horizontal" if sx >= sy else "vertical")


# -- events ------------------------------------------------------------------------------------------------------------
def two_digit_story() -> tuple[dict, np.ndarray]:
    """A 3 that enters from the left, bounces off the bottom and passes behind a 5; the 5 sits still."""
    t = 20
    three = np.full((t, 2), np.nan)
    three[2:] = np.stack([line(t - 2, (4, 40), (3.5, 0))[:, 0], bounce(t - 2, 46, 1.5, 14, 50)], axis=1)
    five = line(t, (50, 20), (0, 0))
    s = scene([three, five], [3, 5])
    ev = table((2, ENTER, 0, LEFT), (2, WALL, 0, LEFT), (5, WALL, 0, BOTTOM), (12, OCCLUSION_START, 1, 0),
               (16, OCCLUSION_END, 1, 0), (0, ENTER, 1, -1))
    return s, ev


def test_event_caption_story():
    s, ev = two_digit_story()
    text = events_caption(s, ev)
    assert text == ("The 5 starts at the top right and stays still. The 3 enters from the left at frame 2, moves "
                    "right, bounces off the bottom wall at frame 5 and passes behind the 5 from frame 12 to 15.")
    parsed = C.parse_event_caption(text)
    assert C.Phrase("the 3", "enter", 2, place="left") in parsed
    assert C.Phrase("the 3", "bounce", 5, place="bottom") in parsed
    assert C.Phrase("the 3", "behind", 12, 15, other="the 5") in parsed
    assert C.Phrase("the 5", "move", place="still") in parsed


def test_reach_edge_open_occlusion_collision_exit_and_reentry():
    t = 30
    a = line(t, (10, 32), (2, 0))  # moves right, never turns back
    b = line(t, (50, 50), (0, 0))
    b[8:14] = np.nan  # leaves at 8 and comes back at 14
    c = line(t, (32, 10), (0, 0))
    c[10:] = np.nan  # vanishes in place at 10
    s = scene([a, b, c], [2, 2, 7])
    ev = table((0, ENTER, 0, -1), (0, ENTER, 1, -1), (0, ENTER, 2, -1), (5, COLLISION, 0, 1), (8, EXIT, 1, RIGHT),
               (10, EXIT, 2, -1), (14, ENTER, 1, TOP), (20, WALL, 0, RIGHT), (22, OCCLUSION_START, 0, 1),
               (4, OCCLUSION_START, 2, 0))
    text = events_caption(s, ev)
    assert text == (
        "The first 2 starts at the left, moves right, passes behind the 7 from frame 4 to 9, collides with the "
        "second 2 at frame 5 and reaches the right edge at frame 20. The second 2 starts at the bottom right, stays "
        "still, leaves through the right at frame 8, comes back from the top at frame 14 and passes behind the first "
        "2 from frame 22 on. The 7 starts at the top, stays still and disappears at frame 10."
    )
    parsed = C.parse_event_caption(text)
    assert C.Phrase("the second 2", "enter", 14, place="top") in parsed
    assert C.Phrase("the second 2", "exit", 8, place="right") in parsed
    assert C.Phrase("the 7", "exit", 10) in parsed
    assert C.Phrase("the second 2", "behind", 22, None, other="the first 2") in parsed
    # No end event: the overlap ends when the 7 leaves (its last frame is 9).
    assert C.Phrase("the first 2", "behind", 4, 9, other="the 7") in parsed
    # The collision is told once, by the object described first.
    assert [p for p in parsed if p.verb == "collide"] == [C.Phrase("the first 2", "collide", 5, other="the second 2")]


def test_appears_in_place_and_empty_event_table():
    t = 10
    a = np.full((t, 2), np.nan)
    a[4:] = line(t - 4, (32, 10), (0, 1.5))
    s = scene([a], [8])
    with_table = events_caption(s, table((4, ENTER, 0, -1)))
    assert with_table == events_caption(s, table()) == "The 8 appears at frame 4 and moves down."
    assert C.parse_event_caption(with_table) == [C.Phrase("the 8", "enter", 4), C.Phrase("the 8", "move", place="down")]
    empty = scene([np.full((t, 2), np.nan)], [-1])
    assert events_caption(empty, table()) == C.EMPTY_EVENTS and C.parse_event_caption(C.EMPTY_EVENTS) == []


def test_long_sequences_are_capped():
    t = 200
    x = bounce(t, 30, 5, 14, 50)
    s = scene([np.stack([x, np.full(t, 32.0)], axis=1)], [1])
    # A contact at every turn: where the next step moves away from the wall.
    rows = [(f, WALL, 0, RIGHT if s["velocities"][f - 1, 0, 0] > 0 else LEFT)
            for f in range(1, t - 1) if s["velocities"][f, 0, 0] * s["velocities"][f - 1, 0, 0] < 0]
    ev = table(*rows, size=len(rows))
    text = events_caption(s, ev, max_events=3)
    parsed = C.parse_event_caption(text)
    bounces = [p for p in parsed if p.verb == "bounce"]
    assert len(bounces) == 3 and [p.frame for p in bounces] == [r[0] for r in rows[:3]]
    assert parsed[-1] == C.Phrase("the 1", "more", len(rows) - 3, place="bounce")
    assert text.endswith(f"and bounces {len(rows) - 3} more times.") and len(text) < 250
    flicker = line(40, (32, 32), (0, 0))
    flicker[np.arange(40) % 4 >= 2] = np.nan  # present 2 frames in 4: ten arrivals, nine exits after the start
    parsed = C.parse_event_caption(events_caption(scene([flicker], [0]), table(), max_events=3))
    assert [p.verb for p in parsed] == ["start", "move", "exit", "enter", "exit", "enter", "exit", "more"]
    assert parsed[-1] == C.Phrase("the 0", "more", 7, place="enter")


def test_event_captions_agree_with_the_arrays():
    """Every told frame and wall matches the table and the presence; motion words match the velocities."""
    s, ev = two_digit_story()
    for p in C.parse_event_caption(events_caption(s, ev)):
        k = {"the 3": 0, "the 5": 1}[p.subject]
        if p.verb == "enter":
            assert s["present"][p.frame, k] and not s["present"][p.frame - 1, k]
        if p.verb in ("bounce", "reach"):
            assert (p.frame, WALL, k, ("left", "top", "right", "bottom").index(p.place)) in map(tuple, ev.tolist())
        if p.verb == "move" and p.place == "right":
            assert np.nanmin(s["velocities"][:, k, 0]) > 0


def test_event_parser_refuses_other_text():
    for bad in ("The 3 flies.", "the 3 starts at the top", "The 3 starts at the top, teleports."):
        with pytest.raises(ValueError):
            C.parse_event_caption(bad)


def test_caption_dispatch():
    s, ev = two_digit_story()
    assert C.caption("template", s) == template(s)
    assert C.caption("events", {**s, "events": ev}, canvas_hw=HW) == events_caption(s, ev)
    frames = np.zeros((20, 1, *HW), np.uint8)
    assert C.caption("events", {**s, "frames": frames}) == events_caption(s, table())
    with pytest.raises(ValueError, match="canvas_hw"):
        C.caption("events", s)
    with pytest.raises(ValueError, match="style"):
        C.caption("poem", s)


# -- storage -----------------------------------------------------------------------------------------------------------
def test_encode_decode_round_trip_and_exact_fit():
    text = "digit 6 is moving up and down"
    n = len(text.encode())
    assert C.decode_caption(C.encode_caption(text, 64)) == text
    exact = C.encode_caption(text, n)
    assert exact.dtype == np.uint8 and exact.shape == (n,) and exact[-1] != 0 and C.decode_caption(exact) == text
    assert C.decode_caption(C.encode_caption("", 8)) == "" and not C.encode_caption("", 8).any()
    assert C.encode_caption("", 0).shape == (0,) and C.decode_caption(np.zeros(0, np.uint8)) == ""


def test_truncation_at_a_character_boundary():
    text = "the café is moving"  # é is two bytes: 0xC3 0xA9 at bytes 7 and 8
    cut = C.decode_caption(C.encode_caption(text, 11))  # 8 bytes of room would split é: back to 7
    assert cut == "the caf..." and len(cut.encode()) == 10
    assert C.decode_caption(C.encode_caption(text, 12)) == "the café..."
    assert C.decode_caption(C.encode_caption("€€", 2)) == ""  # no room for dots nor for one € (3 bytes)
    assert C.decode_caption(C.encode_caption("abcdef", 3)) == "..."
    with pytest.raises(ValueError):
        C.encode_caption("a\x00b", 8)


def test_batch_encode_decode():
    texts = ["digit 1 is still", "", "ünïcode ✓ text that is far too long to fit"]
    table_ = C.encode_captions(texts, 24)
    assert table_.shape == (3, 24) and table_.dtype == np.uint8
    assert [C.decode_caption(r) for r in table_] == C.decode_captions(table_)
    out = C.decode_captions(table_)
    assert out[:2] == texts[:2] and out[2].endswith("...") and len(out[2].encode()) <= 24
    assert C.encode_captions([], 8).shape == (0, 8) and C.decode_captions(np.zeros((2, 0), np.uint8)) == ["", ""]


# -- preview --captions ------------------------------------------------------------------------------------------------
def test_preview_prints_captions(tmp_path, capsys):
    from movingmnist.cli import main

    common = ["preview", "--preset", "srivastava", "--source", "glyphs", "--set", "frames=6", "--num", "3"]
    assert main([*common, "--captions", "--out", str(tmp_path / "p.png")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [o.split(":")[0] for o in out[:3]] == ["sequence 0", "sequence 1", "sequence 2"]
    for o in out[:3]:
        parsed = C.parse_template_caption(o.split(": ", 1)[1])
        assert len(parsed) == 2 and all(m in ("horizontal", "vertical", "still") for _, m in parsed)
    assert out[3].startswith("wrote")
    # A PNG also gets the captions written in a band below the grid.
    assert main([*common, "--out", str(tmp_path / "plain.png")]) == 0
    with Image.open(tmp_path / "p.png") as captioned, Image.open(tmp_path / "plain.png") as plain:
        assert captioned.width == plain.width and captioned.height > plain.height + 3 * 10
        assert np.array_equal(np.asarray(captioned)[: plain.height], np.asarray(plain))
    capsys.readouterr()
    assert main([*common, "--indices", "5,7", "--captions", "events", "--out", str(tmp_path / "p.gif")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [o.split(":")[0] for o in out[:2]] == ["sequence 5", "sequence 7"]
    assert all(len({p.subject for p in C.parse_event_caption(o.split(": ", 1)[1])}) >= 1 for o in out[:2])
    # An animation gets them in a band under every frame; the frames above it are the plain animation's.
    assert main([*common, "--indices", "5,7", "--out", str(tmp_path / "plain.gif")]) == 0
    with Image.open(tmp_path / "p.gif") as captioned, Image.open(tmp_path / "plain.gif") as plain:
        assert captioned.n_frames == plain.n_frames == 6
        assert captioned.width == plain.width and captioned.height > plain.height + 2 * 10
        captioned.seek(3)
        plain.seek(3)
        top = np.asarray(captioned.convert("RGB"))[: plain.height]
        assert np.abs(top.astype(int) - np.asarray(plain.convert("RGB")).astype(int)).mean() < 2


def test_stored_captions_are_shown_by_default(tmp_path, capsys):
    from movingmnist.cli import main
    from movingmnist.viz import caption_text

    batch = mm.generate("tracking", num=2, seed=0, source="glyphs")
    assert caption_text(batch, 1, "auto") == batch.caption(1) and batch.caption(1).startswith("The ")
    assert main(["preview", "--preset", "tracking", "--source", "glyphs", "--num", "2", "--frames", "2",
                 "--captions", "--out", str(tmp_path / "t.png")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == [f"sequence {i}: {batch.caption(i)}" for i in range(2)]


def test_caption_band_wraps_to_the_picture_width():
    from movingmnist.viz._captions import caption_band

    image = np.zeros((20, 120, 3), np.uint8)
    one = caption_band(image, ["short"], scale=1)
    long = caption_band(image, ["a much longer caption that cannot fit on one line of a narrow picture"], scale=1)
    assert one.shape[1] == long.shape[1] == 120 and long.shape[0] > one.shape[0] > 20
    assert np.array_equal(long[:20], image) and (long[20:] != long[20, 0]).any()  # text was drawn


def test_preview_captions_of_a_dataset_on_disk(tmp_path, capsys):
    from movingmnist.cli import main

    small = ["--set", "frames=8", "--set", "canvas.height=40", "--set", "canvas.width=40"]
    assert main(["generate", "--preset", "srivastava", "--source", "glyphs", *small, "--num", "12",
                 "--chunk-size", "6", "--out", str(tmp_path / "d.zarr")]) == 0
    capsys.readouterr()
    assert main(["preview", str(tmp_path / "d.zarr"), "--indices", "4:8", "--captions",
                 "--out", str(tmp_path / "p.gif")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [o.split(":")[0] for o in out[:4]] == [f"sequence {i}" for i in range(4, 8)]
    assert all(len(C.parse_template_caption(o.split(": ", 1)[1])) == 2 for o in out[:4])


@st.composite
def random_event_scenes(draw):
    """Random presence, velocities and an event table consistent with the presence (enter / exit rows where it
    changes) plus random wall, occlusion and collision rows between present objects."""
    t, k = draw(st.integers(2, 16)), draw(st.integers(1, 4))
    present = np.array(draw(st.lists(st.booleans(), min_size=t * k, max_size=t * k))).reshape(t, k)
    vel = np.array(draw(st.lists(st.floats(-4, 4, width=32), min_size=t * k * 2, max_size=t * k * 2)),
                   np.float32).reshape(t, k, 2)
    vel[~present] = np.nan
    at = np.array(draw(st.lists(st.floats(0, 63), min_size=2, max_size=2)), np.float32)
    centers = np.where(present[..., None], at, np.float32(np.nan))
    labels = np.array(draw(st.lists(st.integers(0, 3), min_size=k, max_size=k)), np.int16)
    rows = []
    for s in range(k):
        for f in range(t):
            before = present[f - 1, s] if f else False
            if present[f, s] != before:
                rows.append((f, ENTER if present[f, s] else EXIT, s, draw(st.integers(-1, 3))))
    pairs = [(f, a, b) for f in range(t) for a in range(k) for b in range(k) if a != b and present[f, [a, b]].all()]
    for f, a, b in draw(st.lists(st.sampled_from(pairs), max_size=6)) if pairs else []:
        kind = draw(st.sampled_from([WALL, OCCLUSION_START, OCCLUSION_END, COLLISION]))
        rows.append((f, kind, min(a, b), max(a, b)) if kind == COLLISION else
                    (f, kind, a, draw(st.integers(0, 3))) if kind == WALL else (f, kind, a, b))
    return labels, centers, vel, present, table(*sorted(set(rows)), size=len(set(rows)) + 2)


@settings(max_examples=120, deadline=None)
@given(random_event_scenes(), st.integers(1, 5))
def test_event_captions_parse_and_agree_with_the_table(arrays, max_events):
    labels, centers, vel, present, ev = arrays
    text = C.event_caption(labels, centers, vel, present, ev, canvas_hw=HW, max_events=max_events)
    parsed = C.parse_event_caption(text)
    slots = sorted((s for s in range(len(labels)) if present[:, s].any()), key=lambda s: (np.argmax(present[:, s]), s))
    names = [str(labels[s]) for s in slots]
    subject = {}
    for i, s in enumerate(slots):
        same = [j for j, n in enumerate(names) if n == names[i]]
        subject[s] = f"the {C._ordinal(same.index(i) + 1)} {names[i]}" if len(same) > 1 else f"the {names[i]}"
    slot_of = {v: s for s, v in subject.items()}
    assert [slot_of[p.subject] for p in parsed if p.verb in ("start", "enter")][:1] == slots[:1]
    rows = {tuple(r) for r in ev.tolist() if r[0] >= 0}
    walls = ("left", "top", "right", "bottom")
    for p in parsed:
        s = slot_of[p.subject]
        if p.verb == "start":
            assert present[0, s]
        elif p.verb == "enter":
            assert present[p.frame, s] and not present[p.frame - 1, s]
            assert p.place is None or (p.frame, ENTER, s, walls.index(p.place)) in rows
        elif p.verb == "exit":
            assert not present[p.frame, s] and present[p.frame - 1, s]
            assert p.place is None or (p.frame, EXIT, s, walls.index(p.place)) in rows
        elif p.verb in ("bounce", "reach"):
            assert (p.frame, WALL, s, walls.index(p.place)) in rows
        elif p.verb == "behind":
            assert (p.frame, OCCLUSION_START, slot_of[p.other], s) in rows
            assert p.end is None or p.end >= p.frame
        elif p.verb == "collide":
            assert (p.frame, COLLISION, *sorted((s, slot_of[p.other]))) in rows
    for s in slots:  # each object's arrivals: every one told, or counted past max_events
        told = [p for p in parsed if slot_of[p.subject] == s]
        starts = int(present[0, s]) + int(np.sum(present[1:, s] & ~present[:-1, s]))
        more = sum(p.frame for p in told if p.verb == "more" and p.place == "enter")
        assert sum(p.verb in ("start", "enter") for p in told) + more == starts
        assert sum(p.verb in ("bounce", "reach", "behind", "collide") for p in told) <= max_events
