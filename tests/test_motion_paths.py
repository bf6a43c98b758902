"""The ``path`` motion model (docs/scenes.md, "Paths") against a scalar Python re-implementation of its rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import movingmnist as mm
from _banks import make_test_bank
from movingmnist.errors import SpecError
from movingmnist.latents import motion, paths, rng
from movingmnist.spec import PATH_FAMILIES, MotionSpec

torch = pytest.importorskip("torch")

GLYPHS = make_test_bank()
ALL = ",".join(PATH_FAMILIES)


def path_motion(**fields) -> MotionSpec:
    spec = mm.Spec.from_preset("srivastava", {"motion.model": "path", **{f"motion.{k}": v for k, v in fields.items()}})
    return spec.motion


def walls(b: int, k: int, room=(36.0, 20.0), low=(0.0, 0.0)) -> motion.Walls:
    lo = np.broadcast_to(np.array(low, dtype=np.float64), (b, k, 2)).copy()
    return motion.Walls(lo, lo + np.array(room), (28, 28), (64, 48))


# -- the scalar re-implementation -----------------------------------------------------------------------------------
def lerp(u, lo_hi):
    return lo_hi[0] + u * (lo_hi[1] - lo_hi[0])


def scalar_offset(family: str, u, t: float, m: MotionSpec) -> tuple[float, float, float, float]:
    """(ox, oy, ex, ey) of one object at frame t, written from docs/scenes.md with libm sin/cos."""
    amp, r1, r2 = lerp(u[0], m.path.amplitude), lerp(u[1], m.path.radius), lerp(u[2], m.path.radius)
    freq = lerp(u[3], (1 / m.path.period[1], 1 / m.path.period[0]))
    theta = 2 * math.pi * (freq * t + u[4])
    rot = 2 * math.pi * 0.25 * u[5]
    axis3, axis4 = math.floor(3 * u[8]), math.floor(4 * u[8])
    wx, wy = [(1.0, 0.0), (0.0, 1.0), (0.7071, 0.7071)][axis3]
    sign = 1.0 if u[9] < 0.5 else -1.0

    def rotate(x, y):
        return math.cos(rot) * x - math.sin(rot) * y, math.sin(rot) * x + math.cos(rot) * y

    rot_ext = (math.cos(rot) * r1 + math.sin(rot) * r2, math.sin(rot) * r1 + math.cos(rot) * r2)
    if family == "linear":
        return 0.0, 0.0, 0.0, 0.0
    if family == "sine":
        return 0.0, amp * math.sin(theta), 0.0, amp
    if family == "circle":
        return r1 * math.cos(theta), r1 * math.sin(theta), r1, r1
    if family == "spiral":
        r = amp * (1 + 0.05 * t)
        return r * math.cos(theta), r * math.sin(theta), 0.0, 0.0
    if family == "figure8":
        return (*rotate(r1 * math.sin(theta), r2 * math.sin(2 * theta)), *rot_ext)
    if family == "ellipse":
        return (*rotate(r1 * math.cos(theta), r2 * math.sin(theta)), *rot_ext)
    if family == "zigzag":
        phase = (freq * t + u[4]) % 1.0
        z = 4 * abs(phase - 0.5) - 1
        return wy * amp * z, wx * amp * z, wy * amp, wx * amp
    if family == "polynomial":
        return lerp(u[6], (-0.15, 0.15)) * t * t, lerp(u[7], (-0.15, 0.15)) * t * t, 0.0, 0.0
    if family == "cubic":
        s = lerp(u[5], (0.5, 2.0)) * t
        c = lerp(u[6], (-0.001, 0.001)) * s**3 + lerp(u[7], (-0.05, 0.05)) * s**2
        return wx * c, wy * c, 0.0, 0.0
    if family == "exponential":
        e = lerp(u[7], (0.5, 2.0)) * (lerp(u[6], (1.01, 1.1)) ** t - 1)
        e = -e if axis4 in (1, 2) else e
        return (e, 0.0, 0.0, 0.0) if axis4 <= 1 else (0.0, e, 0.0, 0.0)
    if family == "hyperbolic":
        s, shift = lerp(u[6], (5.0, 15.0)), lerp(u[7], (0.5, 5.0))
        h = sign * s * (1 / shift - 1 / (t + shift))
        return (h, 0.0, s / shift, 0.0) if axis3 == 0 else (0.0, h, 0.0, s / shift)
    raise AssertionError(family)


def fold(q: float, span: float) -> float:
    if span <= 0:
        return 0.0
    m = q % (2 * span)
    return min(m, 2 * span - m)


def scalar_positions(m: MotionSpec, seed: int, index: np.ndarray, frames: int, w: motion.Walls, labels=None):
    """``(B, T, K, 2)`` float positions, one object and one frame at a time."""
    b, k = w.lo.shape[:2]
    u = rng.uniform(seed, "motion.path.params", index, (k, 10))
    start = rng.uniform(seed, "motion.start", index, (k, 2))
    fams = m.path.families
    if m.path.choose == "class":
        pick = np.where(labels >= 0, labels, 0) % len(fams)
    else:
        pick = rng.integers(seed, "motion.path.family", index, (k,), 0, len(fams) - 1)
    span = w.hi - w.lo
    vel = motion._polar_velocity(m, seed, index, k, span, "px")  # the drift draw of the other polar models
    out = np.zeros((b, frames, k, 2))
    h, wd = w.glyph_hw
    big_h, big_w = w.canvas_hw
    for i in range(b):
        for j in range(k):
            fam = fams[pick[i, j]]
            for t in range(frames):
                ox, oy, ex, ey = scalar_offset(fam, u[i, j], float(t), m)
                for axis, (off, ext) in enumerate(((ox, ex), (oy, ey))):
                    lo, hi, v = w.lo[i, j, axis], w.hi[i, j, axis], vel[i, j, axis]
                    if m.path.walls == "none":
                        p = lo + (hi - lo) * start[i, j, axis] + v * t + off
                        size, canvas = (wd, big_w) if axis == 0 else (h, big_h)
                        out[i, t, j, axis] = min(max(p, -size), canvas)
                        continue
                    mid = (lo + hi) / 2
                    lo_c, hi_c = min(lo + ext, mid), max(hi - ext, mid)
                    centre = lo_c + fold((hi_c - lo_c) * start[i, j, axis] + v * t, hi_c - lo_c)
                    p = centre + off
                    if not lo <= p <= hi:
                        p = lo + fold(p - lo, hi - lo)
                    out[i, t, j, axis] = p
    return out


@pytest.mark.parametrize("family", PATH_FAMILIES)
@pytest.mark.parametrize("wall_rule", ["bounce", "none"])
def test_each_family_matches_the_scalar_rules(family, wall_rule):
    m = path_motion(**{"path.families": family, "path.walls": wall_rule, "speed": "0.5..2", "speed_unit": "px"})
    index = np.array([0, 3, 17, 1000], dtype=np.int64)
    w = walls(len(index), 3)
    got = motion.simulate(m, 7, index, 25, w, subpixel=True, labels=np.zeros((4, 3), dtype=np.int16))
    expected = scalar_positions(m, 7, index, 25, w, labels=np.zeros((4, 3), dtype=np.int16))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    whole = motion.simulate(m, 7, index, 25, w, labels=np.zeros((4, 3), dtype=np.int16))
    assert whole.dtype == np.int64 and np.array_equal(whole, np.round(got))


def test_choose_class_ties_families_to_labels():
    m = path_motion(**{"path.families": "linear,circle,sine", "path.choose": "class"})
    index = np.arange(6, dtype=np.int64)
    labels = np.array([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, -1, -1]] * 2, dtype=np.int16)
    codes = paths.family_codes(m, 1, index, 4, labels)
    expected = [["linear", "circle", "sine"][max(int(c), 0) % 3] for c in labels.reshape(-1)]
    assert [PATH_FAMILIES[c] for c in codes.reshape(-1)] == expected
    w = walls(6, 4)
    got = motion.simulate(m, 1, index, 12, w, subpixel=True, labels=labels)
    np.testing.assert_allclose(got, scalar_positions(m, 1, index, 12, w, labels=labels), atol=1e-9)
    with pytest.raises(ValueError, match="labels"):
        motion.simulate(m, 1, index, 12, w)


def test_default_families_follow_the_detection_generator_digits():
    m = path_motion()
    assert m.path.choose == "class"
    assert m.path.families == (
        "sine", "polynomial", "circle", "spiral", "figure8", "ellipse", "cubic", "zigzag", "exponential", "hyperbolic"
    )


def test_choose_object_is_uniform_among_families():
    m = path_motion(**{"path.families": "circle,zigzag", "path.choose": "object"})
    codes = paths.family_codes(m, 3, np.arange(2000, dtype=np.int64), 4, None)
    share = np.mean(codes == PATH_FAMILIES.index("circle"))
    assert set(np.unique(codes)) == {PATH_FAMILIES.index("circle"), PATH_FAMILIES.index("zigzag")}
    assert 0.45 < share < 0.55


@pytest.mark.parametrize("family", PATH_FAMILIES)
def test_bounce_keeps_the_glyph_inside_the_walls(family):
    m = path_motion(**{"path.families": family, "speed": "0..4", "speed_unit": "px"})
    index = np.arange(40, dtype=np.int64)
    w = walls(40, 3, room=(36.0, 8.0), low=(-3.0, 2.0))
    for subpixel in (True, False):
        pos = motion.simulate(m, 2, index, 60, w, subpixel=subpixel, labels=np.zeros((40, 3), dtype=np.int16))
        assert (pos >= w.lo[:, None]).all() and (pos <= w.hi[:, None]).all()


def test_a_bounded_curve_that_fits_is_not_folded():
    """With room for the whole circle, the path is the circle about the bouncing centre: no fold distorts it."""
    m = path_motion(**{"path.families": "circle", "path.radius": 5, "path.period": 10, "speed": 0,
                       "path.choose": "object"})
    pos = motion.simulate(m, 4, np.arange(8, dtype=np.int64), 50, walls(8, 2), subpixel=True)
    # Five whole turns: the mean position is the (still) centre.
    radius = np.hypot(*np.moveaxis(pos - pos.mean(axis=1, keepdims=True), -1, 0))
    np.testing.assert_allclose(radius, 5.0, atol=1e-9)


def test_walls_none_lets_objects_leave_and_clips_far_away():
    m = path_motion(**{"path.families": "linear", "path.walls": "none", "speed": 4, "speed_unit": "px"})
    pos = motion.simulate(m, 0, np.arange(30, dtype=np.int64), 40, walls(30, 2), labels=np.zeros((30, 2), np.int16))
    assert (pos[:, -1] < 0).any() or (pos[:, -1, :, 0] > 36).any()
    assert pos.min() >= -28 and pos[..., 0].max() <= 48 and pos[..., 1].max() <= 64


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    families=st.lists(st.sampled_from(PATH_FAMILIES), min_size=1, max_size=4),
    choose=st.sampled_from(["object", "class"]),
    wall_rule=st.sampled_from(["bounce", "none"]),
    seed=st.integers(0, 2**63 - 1),
    frames=st.integers(1, 40),
    k=st.integers(1, 4),
    room=st.tuples(st.integers(0, 40), st.integers(0, 40)),
    subpixel=st.booleans(),
)
def test_numpy_and_torch_give_the_same_bits(families, choose, wall_rule, seed, frames, k, room, subpixel):
    m = path_motion(**{"path.families": ",".join(families), "path.choose": choose, "path.walls": wall_rule,
                       "speed": "0..3", "speed_unit": "px"})
    index = np.arange(3, 3 + 7 * 9, 7, dtype=np.int64)
    labels = (np.arange(len(index) * k).reshape(-1, k) % 11 - 1).astype(np.int16)
    w = walls(len(index), k, room=tuple(float(r) for r in room))
    expected = motion.simulate(m, seed, index, frames, w, subpixel, labels=labels)
    tw = motion.Walls(torch.from_numpy(w.lo), torch.from_numpy(w.hi), w.glyph_hw, w.canvas_hw)
    got = motion.simulate(m, seed, torch.from_numpy(index), frames, tw, subpixel, labels=torch.from_numpy(labels))
    assert np.array_equal(expected, got.numpy())
    # Any batch composition: the rows of a sub-batch are the same.
    part = motion.simulate(m, seed, index[2:5], frames, motion.Walls(w.lo[2:5], w.hi[2:5], w.glyph_hw, w.canvas_hw),
                           subpixel, labels=labels[2:5])
    assert np.array_equal(expected[2:5], part)


@pytest.mark.parametrize("overrides", [
    {"motion.path.choose": "class"},
    {"motion.path.choose": "object", "motion.path.walls": "none", "motion.path.families": ALL},
])
def test_generator_chunking_and_torch_backend(overrides):
    spec = mm.Spec.from_preset("srivastava", {"motion.model": "path", "objects.count": "1..3", "frames": 12,
                                              **overrides})
    gen = mm.Generator(spec, seed=5, source=GLYPHS)
    whole = gen.render(0, 20)
    parts = [gen.render(0, 7), gen.render(7, 13)]
    for name in ("frames", "centers", "labels"):
        joined = np.concatenate([getattr(p, name) for p in parts])
        assert np.array_equal(getattr(whole, name), joined, equal_nan=True)
    from movingmnist.torch import generator as tb

    tgen = tb.TorchGenerator(generator=gen, device="cpu", kernels="torch")
    got = tgen.render(0, 20)
    assert np.array_equal(whole.frames, got["frames"].numpy())


def test_invalid_path_specs_name_the_field():
    cases = [
        ({"motion.path.families": "sine,wobble"}, "motion.path.families"),
        ({"motion.path.families": []}, "motion.path.families"),
        ({"motion.path.period": "0.5..3"}, "motion.path.period"),
        ({"motion.path.radius": "5..1"}, "motion.path.radius"),
        ({"motion.path.amplitude": "-1..3"}, "motion.path.amplitude"),
    ]
    for overrides, field in cases:
        with pytest.raises(SpecError, match=rf"^{field}"):
            mm.Spec.from_preset("srivastava", {"motion.model": "path", **overrides})
