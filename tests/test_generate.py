"""The core engine: reproducibility by index, the invariants of every preset, exact protocol rules.

Byte-level conformance (chunking, order, batch size, backends, pinned bytes) is in tests/conformance."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import movingmnist as mm
from _strategies import translation_specs
from movingmnist.latents import rng

PRESETS = [p.name for p in mm.list_presets()]
CORE_PRESETS = ["srivastava", "srivastava-tfds", "stochastic", "srvp"]


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


def _assert_batches_equal(a: mm.Batch, b: mm.Batch) -> None:
    assert a.arrays().keys() == b.arrays().keys()
    for name, array in a.arrays().items():
        assert _equal(array, b.arrays()[name]), name
    assert np.array_equal(a.index, b.index)


# -- sequence i = f(spec, seed, i) --------------------------------------------------------------------------------
def test_seed_matters_and_seed_zero_is_a_seed(bank):
    a = mm.generate("srivastava", num=4, seed=0, source=bank)
    b = mm.generate("srivastava", num=4, seed=0, source=bank)
    c = mm.generate("srivastava", num=4, seed=1, source=bank)
    _assert_batches_equal(a, b)
    assert not np.array_equal(a.frames, c.frames)


def test_start_selects_the_index_range(bank):
    whole = mm.generate("stochastic", num=20, seed=3, source=bank)
    tail = mm.generate("stochastic", num=5, seed=3, source=bank, start=15)
    _assert_batches_equal(whole[15:20], tail)
    assert np.array_equal(tail.index, np.arange(15, 20))


def test_annotations_off_do_not_change_frames(bank):
    full = mm.generate("srivastava", num=16, seed=2, source=bank, objects__count="1..3")
    frames_only = mm.generate(
        "srivastava",
        num=16,
        seed=2,
        source=bank,
        objects__count="1..3",
        overrides=[f"annotations.{n}=false" for n in ("semantic", "instance", "boxes", "amodal_boxes", "tracks")]
        + ["annotations.visibility=false"],
    )
    assert np.array_equal(full.frames, frames_only.frames)
    assert frames_only.semantic is None and frames_only.boxes is None and frames_only.centers is None


def test_longer_sequences_extend_shorter_ones(bank):
    """Per-frame draws are keyed by frame, so the first T frames do not depend on the total length."""
    for preset in CORE_PRESETS:
        short = mm.generate(preset, num=6, seed=5, source=bank, frames=10)
        long = mm.generate(preset, num=6, seed=5, source=bank, frames=25)
        assert np.array_equal(short.frames, long.frames[:, :10]), preset


# -- invariants for every preset ------------------------------------------------------------------------------------
def _placed(gen: mm.Generator, batch: mm.Batch, b: int, t: int, k: int) -> np.ndarray:
    """Object k of sequence b drawn alone at frame t on an empty canvas (independent re-implementation)."""
    spec = gen.spec
    canvas = np.zeros((spec.canvas.height, spec.canvas.width), dtype=np.int32)
    glyph = gen.glyphs.images[batch.glyph_index[b, k]]
    h, w = glyph.shape
    cx, cy = batch.centers[b, t, k]
    x, y = int(round(cx - w / 2)), int(round(cy - h / 2))
    y0, y1, x0, x1 = max(y, 0), min(y + h, canvas.shape[0]), max(x, 0), min(x + w, canvas.shape[1])
    if y0 < y1 and x0 < x1:
        canvas[y0:y1, x0:x1] = glyph[y0 - y : y1 - y, x0 - x : x1 - x]
    return canvas


def check_invariants(gen: mm.Generator, batch: mm.Batch) -> None:
    """Masks agree with pixels, boxes are tight around visible pixels, and ink is conserved without overlap."""
    spec = gen.spec
    thr = spec.annotations.mask_threshold
    for b in range(len(batch)):
        present = np.flatnonzero(batch.occupied[b])
        assert np.all(batch.labels[b, present] >= 0) and np.all(batch.labels[b, ~batch.occupied[b]] == -1)
        for t in range(spec.frames):
            layers = {k: _placed(gen, batch, b, t, k) for k in present}
            frame = batch.frames[b, t, 0].astype(np.int32)
            # The frame is the composite of the layers.
            stack = np.stack([layers[k] for k in present]) if len(present) else np.zeros((1,) + frame.shape, int)
            if spec.compositing == "max":
                assert np.array_equal(frame, stack.max(axis=0))
            elif spec.compositing == "sum":
                assert np.array_equal(frame, np.minimum(stack.sum(axis=0), 255))
            else:  # over: each layer's inked pixels replace what is below
                expected = np.zeros_like(frame)
                for layer in stack:
                    expected = np.where(layer > 0, layer, expected)
                assert np.array_equal(frame, expected)
            inst = batch.instance[b, t] if batch.instance is not None else None
            for k in present:
                layer = layers[k]
                if inst is not None:
                    owned = inst == k + 1
                    # Every owned pixel has ink above the threshold from that object.
                    assert np.all(layer[owned] > thr)
                    if batch.semantic is not None:
                        assert np.all(batch.semantic[b, t][owned] == batch.labels[b, k])
                    if batch.boxes is not None:
                        box = batch.boxes[b, t, k]
                        if owned.any():
                            ys, xs = np.nonzero(owned)
                            assert tuple(box) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
                        else:
                            assert np.isnan(box).all()
                    if batch.visibility is not None:
                        total = layer_total = gen.glyphs.ink_sum[batch.glyph_index[b, k]]
                        seen = np.where(owned, layer, 0).sum()
                        expected = seen / total if layer_total else 0.0
                        assert batch.visibility[b, t, k] == pytest.approx(expected, abs=1e-5)
            if inst is not None:
                # The topmost inked layer owns each pixel (for max: the one shown; ties to the later object).
                assert np.all((inst > 0) == (stack.max(axis=0) > thr) if len(present) else inst == 0)
                if batch.semantic is not None:
                    assert np.all(batch.semantic[b, t][inst == 0] == spec.annotations.ignore_label)


@pytest.mark.parametrize("preset", CORE_PRESETS)
def test_preset_invariants(preset, bank):
    gen = mm.Generator(preset, seed=11, source=bank)
    batch = gen.render(0, 12)
    shapes = gen.shapes
    for name, array in batch.arrays().items():
        assert array.shape[1:] == shapes[name][0] and array.dtype == shapes[name][1], name
    check_invariants(gen, batch)


@pytest.mark.parametrize("preset", CORE_PRESETS)
def test_ink_conserved_without_overlap(preset, bank):
    gen = mm.Generator(preset, seed=4, source=bank)
    batch = gen.render(0, 40)
    checked = 0
    for b in range(len(batch)):
        ink = gen.glyphs.images[batch.glyph_index[b]].astype(np.int64).sum()
        for t in range(gen.spec.frames):
            (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = batch.amodal_boxes[b, t]
            apart = ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0  # ink boxes do not intersect
            if apart:
                assert int(batch.frames[b, t].astype(np.int64).sum()) == ink
                assert np.all(batch.visibility[b, t] == 1.0)
                assert np.array_equal(batch.boxes[b, t], batch.amodal_boxes[b, t])
                checked += 1
    assert checked > 30


# -- exact protocol rules -------------------------------------------------------------------------------------------
def test_srivastava_follows_the_2015_rule_to_the_pixel(bank):
    """Recompute the trajectory with a scalar re-implementation of the 2015 rule (docs/presets.md)."""
    seed, n = 21, 30
    gen = mm.Generator("srivastava", seed=seed, source=bank)
    batch = gen.render(0, n)
    index = np.arange(n)
    start = rng.uniform(seed, "motion.start", index, (2, 2))
    turns = rng.uniform(seed, "motion.direction", index, (2,))
    sin, cos = rng.sincos_turns(turns)
    bounces = 0
    for i in range(n):
        for k in range(2):
            x, y = start[i, k]
            vx, vy = cos[i, k] * 0.1, sin[i, k] * 0.1
            for t in range(20):
                px, py = x, y
                x += vx
                y += vy
                hit = False
                if x <= 0:
                    x, vx, hit = 0.0, -vx, True
                if x >= 1:
                    x, vx, hit = 1.0, -vx, True
                if y <= 0:
                    y, vy, hit = 0.0, -vy, True
                if y >= 1:
                    y, vy, hit = 1.0, -vy, True
                # Top-left = floor(36 * p) (truncation); centre = top-left + 14.
                assert batch.centers[i, t, k, 0] == int(36 * x) + 14
                assert batch.centers[i, t, k, 1] == int(36 * y) + 14
                step = np.hypot(36 * (x - px), 36 * (y - py))
                if hit:
                    bounces += 1
                else:
                    assert step == pytest.approx(3.6, abs=1e-9)
    assert bounces > 10


def test_srivastava_speed_is_3_6_px_except_at_bounces(bank):
    batch = mm.generate("srivastava", num=200, seed=8, source=bank)
    step = np.hypot(*np.moveaxis(batch.velocities[:, :-1], -1, 0))
    # Truncated integer positions: each component is off the true 3.6 px step by less than one pixel.
    at_wall = (batch.centers[:, 1:] - 14 <= 0) | (batch.centers[:, 1:] - 14 >= 36)
    free = ~at_wall.any(axis=-1) & ~np.roll(at_wall.any(axis=-1), 1, axis=1)
    assert np.all(np.abs(step[free] - 3.6) < np.sqrt(2) + 1e-6)
    assert abs(float(np.median(step[free])) - 3.6) < 0.5


def test_tfds_reflection_is_a_triangle_wave(bank):
    seed, n = 5, 10
    batch = mm.generate("srivastava-tfds", num=n, seed=seed, source=bank)
    index = np.arange(n)
    start = rng.uniform(seed, "motion.start", index, (2, 2))
    sin, cos = rng.sincos_turns(rng.uniform(seed, "motion.direction", index, (2,)))
    v = np.stack([cos * 0.1, sin * 0.1], axis=-1)
    for t in range(20):
        p = np.mod(start + v * t, 2.0)
        p = np.minimum(p, 2.0 - p)
        assert np.array_equal(batch.centers[:, t] - 14, np.rint(36 * p))
    assert np.array_equal(batch.centers[:, 0] - 14, np.rint(36 * start))  # frame 0 at the start


def test_stochastic_svg_rules(bank):
    batch = mm.generate("stochastic", num=200, seed=9, source=bank, frames=30)
    top_left = batch.centers - 16
    assert top_left.min() >= 0 and top_left.max() <= 31  # SVG keeps positions in 0..31
    step = np.diff(top_left, axis=1)
    assert np.all(step == np.round(step)) and np.abs(step).max() <= 4
    # Where neither end of two consecutive steps touched a wall the velocity is unchanged.
    inside = (top_left > 0) & (top_left < 31)
    interior = inside[:, 1:-1] & inside[:, 2:]
    same = step[:, 1:] == step[:, :-1]
    assert np.all(same[interior.all(axis=-1)])
    # A redrawn velocity happens somewhere (stochastic), pointing away from the wall that was hit.
    changed = ~same.all(axis=-1)
    assert changed.sum() > 20


@pytest.mark.parametrize("deterministic", [False, True])
def test_stochastic_follows_svg_to_the_pixel(bank, deterministic):
    """Scalar re-implementation of SVG's loop (docs/presets.md) fed with the same random draws."""
    seed, n, frames = 13, 25, 30
    batch = mm.generate(
        "stochastic", num=n, seed=seed, source=bank, frames=frames, motion__deterministic=deterministic
    )
    index = np.arange(n)
    start = np.floor(rng.uniform(seed, "motion.start", index, (2, 2)) * 32).astype(int)
    velocity = rng.integers(seed, "motion.velocity", index, (2, 2), -4, 4)
    shape = (2, frames, 2)
    away_low = rng.integers(seed, "motion.redraw.away_low", index, shape, 1, 4)
    away_high = rng.integers(seed, "motion.redraw.away_high", index, shape, -4, -1)
    other = rng.integers(seed, "motion.redraw.other", index, shape, -4, 4)
    redraws = 0
    for i in range(n):
        for k in range(2):
            (sx, sy), (dx, dy) = start[i, k], velocity[i, k]
            for t in range(frames):
                if sy < 0:
                    sy = 0
                    dy, dx = (-dy, dx) if deterministic else (away_low[i, k, t, 1], other[i, k, t, 1])
                    redraws += 1
                elif sy >= 32:
                    sy = 31
                    dy, dx = (-dy, dx) if deterministic else (away_high[i, k, t, 1], other[i, k, t, 1])
                    redraws += 1
                if sx < 0:
                    sx = 0
                    dx, dy = (-dx, dy) if deterministic else (away_low[i, k, t, 0], other[i, k, t, 0])
                elif sx >= 32:
                    sx = 31
                    dx, dy = (-dx, dy) if deterministic else (away_high[i, k, t, 0], other[i, k, t, 0])
                assert tuple(batch.centers[i, t, k] - 16) == (sx, sy)
                sx, sy = sx + dx, sy + dy
    assert redraws > 5


def test_srvp_rules(bank):
    batch = mm.generate("srvp", num=200, seed=3, source=bank, frames=40, motion__deterministic=True)
    top_left = batch.centers - 14
    assert top_left.min() >= 0 and top_left.max() <= 36
    # Deterministic exact collisions = reflection: the closed-form triangle wave over [0, 36], frame 0 at start.
    index = np.arange(200)
    start = np.floor(rng.uniform(3, "motion.start", index, (2, 2)) * 37)
    velocity = rng.integers(3, "motion.velocity", index, (2, 2), -4, 4)
    t = np.arange(40).reshape(1, -1, 1, 1)
    unfolded = np.mod(start[:, None] + velocity[:, None] * t, 72)
    assert np.array_equal(top_left, np.minimum(unfolded, 72 - unfolded))
    stochastic = mm.generate("srvp", num=200, seed=3, source=bank, frames=40)
    top_left = stochastic.centers - 14
    assert top_left.min() >= 0 and top_left.max() <= 36
    assert (np.abs(np.diff(top_left, axis=1)) <= 4 * np.sqrt(2) + 1e-6).all()


def test_free_motion_leaves_the_canvas_and_wrap_reenters(bank):
    spec = ["motion.model=free", "motion.speed=6", "motion.speed_unit=px", "frames=30"]
    gen = mm.Generator(mm.Spec.from_preset("srivastava", spec), seed=1, source=bank)
    batch = gen.render(0, 20)
    assert (batch.visibility[:, -1] == 0).mean() > 0.5  # most objects are gone after 30 frames at 6 px/frame
    assert np.isnan(batch.boxes[:, -1]).all(axis=-1).mean() > 0.5
    check_invariants(gen, batch)
    wrap = mm.Generator(mm.Spec.from_preset("srivastava", spec + ["motion.wrap=true"]), seed=1, source=bank)
    wrapped = wrap.render(0, 20)
    assert (wrapped.visibility[:, -1] > 0).mean() > 0.5
    check_invariants(wrap, wrapped)


def test_bounce_on_ink_lets_the_empty_margin_cross_the_wall(bank):
    gen = mm.Generator("srivastava", seed=2, source=bank, batch_size=64)
    ink_gen = mm.Generator(mm.Spec.from_preset("srivastava", ["motion.bounce_on=ink"]), seed=2, source=bank)
    box, ink = gen.render(0, 64), ink_gen.render(0, 64)
    assert np.all(np.isfinite(ink.boxes))
    # The ink touches the walls; the glyph box goes past them.
    assert ink.amodal_boxes[..., 0].min() == 0 and ink.amodal_boxes[..., 2].max() == 64
    assert (ink.centers - 14).min() < 0 and (box.centers - 14).min() == 0
    assert np.all(ink.visibility == ink.visibility)  # no NaN
    check_invariants(ink_gen, ink[:8])


# -- properties over random valid specs -------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    spec=translation_specs({"annotations.instance": True, "annotations.tracks": True}),
    seed=st.integers(0, 2**63 - 1),
    start=st.integers(0, 10**12),
)
def test_random_specs_render_and_keep_the_invariants(spec, seed, start, bank):
    gen = mm.Generator(spec, seed=seed, source=bank)
    check_invariants(gen, gen.render(start, 3))


def test_generation_runs_with_one_blas_thread_and_gives_the_threads_back(bank, monkeypatch):
    """Inside a render BLAS has one thread (small products cost more in hand-offs than they compute); the caller's
    setting is restored when the call returns."""
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads() -> set[int]:
        return {lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"}

    if not blas_threads():
        pytest.skip("numpy is not linked to a BLAS that threadpoolctl can see")
    gen = mm.Generator("srivastava", seed=0, source=bank)
    seen: list[set[int]] = []
    render_into = gen._render_into
    monkeypatch.setattr(gen, "_render_into", lambda *a: (seen.append(blas_threads()), render_into(*a)))
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        gen.render(0, 3)
        gen.render_indices([5, 1])
        assert blas_threads() == {2}
    assert seen == [{1}, {1}]
