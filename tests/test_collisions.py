"""Elastic collisions (``motion.collisions="elastic"``; docs/scenes.md, "Collisions"): conservation, no overlap,
walls, events, numpy = torch, any batch composition."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import movingmnist as mm
from _banks import make_test_bank
from movingmnist.errors import SpecError
from movingmnist.latents import collisions, motion

torch = pytest.importorskip("torch")
import array_api_compat.numpy as xnp  # noqa: E402

GLYPHS = make_test_bank()


def apart_starts(rs: np.random.Generator, b: int, k: int, room: float, radius: np.ndarray) -> np.ndarray:
    """``(B, K, 2)`` positions in [0, room]^2 whose discs (centred at the positions) do not overlap."""
    out = np.zeros((b, k, 2))
    for i in range(b):
        for j in range(k):
            for _ in range(10_000):
                p = rs.uniform(0, room, 2)
                if all(np.hypot(*(p - out[i, q])) >= radius[i, j] + radius[i, q] + 1e-3 for q in range(j)):
                    break
            else:
                raise AssertionError("too crowded")
            out[i, j] = p
    return out


class Recorder:
    """Collects (positions, velocities) after every event iteration."""

    def __init__(self) -> None:
        self.states: list[tuple[np.ndarray, np.ndarray]] = []

    def __call__(self, t: int, p, v) -> None:
        self.states.append((np.array(p, copy=True), np.array(v, copy=True)))


def min_gap(p: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """``(B,)`` smallest ``distance - (r_a + r_b)`` over pairs a < b of positions ``(B, K, 2)``."""
    d = np.hypot(*np.moveaxis(p[:, :, None] - p[:, None, :], -1, 0))
    gap = d - (radius[:, :, None] + radius[:, None, :])
    k = p.shape[1]
    gap[:, np.arange(k), np.arange(k)] = np.inf
    return gap.reshape(len(p), -1).min(axis=1)


def run(b=24, k=4, frames=40, room=60.0, walled=False, mass="random", seed=0):
    rs = np.random.default_rng(seed)
    radius = rs.uniform(2.0, 6.0, (b, k))
    m = rs.uniform(0.5, 4.0, (b, k)) if mass == "random" else np.ones((b, k))
    geo = collisions.Discs(offset=np.zeros((b, k, 2)), radius=radius, mass=m)
    start = apart_starts(rs, b, k, room, radius)
    vel = rs.uniform(-3, 3, (b, k, 2))
    lo, hi = (np.zeros((b, k, 2)), np.full((b, k, 2), room)) if walled else (None, None)
    rec = Recorder()
    pos, v, hits = collisions.simulate_elastic(
        xnp, start, vel, lo, hi, geo, np.ones((b, frames, k), bool), frames, on_event=rec
    )
    return dict(radius=radius, mass=m, start=start, vel=vel, pos=pos, v=v, hits=hits, rec=rec, room=room)


def test_free_discs_conserve_momentum_and_energy_at_every_event():
    r = run(walled=False)
    m = r["mass"][..., None]
    p0 = (m * r["vel"]).sum(axis=1)
    e0 = (m * r["vel"] ** 2).sum(axis=(1, 2))
    assert r["hits"].any()
    for _, v in r["rec"].states:
        np.testing.assert_allclose((m * v).sum(axis=1), p0, rtol=1e-9, atol=1e-9 * np.abs(p0).max())
        np.testing.assert_allclose((m * v**2).sum(axis=(1, 2)), e0, rtol=1e-9)


def test_walls_conserve_energy_and_hold_the_discs():
    r = run(walled=True, k=5, frames=60)
    m = r["mass"][..., None]
    e0 = (m * r["vel"] ** 2).sum(axis=(1, 2))
    for p, v in r["rec"].states:
        np.testing.assert_allclose((m * v**2).sum(axis=(1, 2)), e0, rtol=1e-9)
        assert (p >= -1e-9).all() and (p <= r["room"] + 1e-9).all()
    assert (r["pos"] >= -1e-9).all() and (r["pos"] <= r["room"] + 1e-9).all()


@pytest.mark.parametrize("walled", [False, True])
def test_discs_never_overlap(walled):
    r = run(walled=walled, k=5, frames=60, room=50.0)
    for p, _ in r["rec"].states:
        assert (min_gap(p, r["radius"]) >= -1e-6).all()
    for t in range(r["pos"].shape[1]):
        assert (min_gap(r["pos"][:, t], r["radius"]) >= -1e-6).all()


def test_hits_are_symmetric_and_velocities_change_only_at_hits():
    r = run(walled=False)
    hits, v = r["hits"], r["v"]
    assert not hits[:, 0].any()
    assert np.array_equal(hits, np.swapaxes(hits, 2, 3))
    assert not hits[:, :, np.arange(4), np.arange(4)].any()
    changed = (v[:, 1:] != v[:, :-1]).any(axis=-1)  # (B, T - 1, K)
    assert np.array_equal(changed, hits[:, 1:].any(axis=-1))


def test_head_on_equal_masses_exchange_velocities():
    geo = collisions.Discs(offset=np.zeros((1, 2, 2)), radius=np.full((1, 2), 2.0), mass=np.ones((1, 2)))
    start = np.array([[[0.0, 5.0], [10.0, 5.0]]])
    vel = np.array([[[1.5, 0.0], [-0.5, 0.0]]])
    pos, v, hits = collisions.simulate_elastic(xnp, start, vel, None, None, geo, np.ones((1, 6, 2), bool), 6)
    # Contact when the gap of 10 - 4 = 6 closes at speed 2: t = 3, at x = 4.5 and 8.5; then the velocities swap.
    assert hits[0, 3, 0, 1] and hits.sum() == 2
    np.testing.assert_allclose(pos[0, 3, :, 0], [4.5, 8.5], atol=1e-12)
    np.testing.assert_allclose(pos[0, 5, :, 0], [3.5, 11.5], atol=1e-12)
    np.testing.assert_allclose(v[0, 5], [[-0.5, 0.0], [1.5, 0.0]], atol=1e-12)


def test_inactive_objects_do_not_collide():
    geo = collisions.Discs(offset=np.zeros((1, 2, 2)), radius=np.full((1, 2), 2.0), mass=np.ones((1, 2)))
    start = np.array([[[0.0, 5.0], [10.0, 5.0]]])
    vel = np.array([[[1.0, 0.0], [-1.0, 0.0]]])
    active = np.ones((1, 12, 2), bool)
    active[0, :, 1] = False
    pos, v, hits = collisions.simulate_elastic(xnp, start, vel, None, None, geo, active, 12)
    assert not hits.any() and np.array_equal(v[0, -1], vel[0])
    np.testing.assert_allclose(pos[0, -1, :, 0], [11.0, -1.0])
    # Present again from frame 4 on: they meet after that (an object collides in the steps it is active at both ends).
    active[0, 4:, 1] = True
    pos, v, hits = collisions.simulate_elastic(xnp, start, vel, None, None, geo, active, 12)
    assert hits[0, 5:, 0, 1].any() and not hits[0, :5].any()


SPECS = [
    {"motion.model": "srvp", "motion.deterministic": True},
    {"motion.model": "srvp"},
    {"motion.model": "free", "motion.speed": "1..3", "motion.speed_unit": "px"},
    {"motion.model": "reflect", "motion.collision_mass": "area"},
    {"motion.model": "srvp", "motion.collision_radius": 6.0, "motion.bounce_on": "ink"},
]


def spec_of(fields, **more) -> mm.Spec:
    return mm.Spec.from_preset(
        "srivastava", {"motion.collisions": "elastic", "objects.count": "1..4", "frames": 16, **fields, **more}
    )


@pytest.mark.parametrize("fields", SPECS)
def test_numpy_and_torch_same_bits_and_events(fields):
    m = spec_of(fields).motion
    index = np.arange(40, dtype=np.int64)
    b, k = len(index), 4
    lo = np.zeros((b, k, 2))
    hi = np.full((b, k, 2), 36.0)
    ink = np.tile(np.array([5, 4, 22, 25]), (b, k, 1)) + (np.arange(b * k).reshape(b, k, 1) % 3)
    present = (np.arange(b * k).reshape(b, k) % 5) != 4
    w = motion.Walls(lo, hi, (28, 28), (64, 64))
    ev_n, ev_t = {}, {}
    for subpixel in (False, True):
        expected = motion.simulate(m, 9, index, 30, w, subpixel, active=present, ink_box=ink, events=ev_n)
        tw = motion.Walls(torch.from_numpy(lo), torch.from_numpy(hi), (28, 28), (64, 64))
        got = motion.simulate(m, 9, torch.from_numpy(index), 30, tw, subpixel, active=torch.from_numpy(present),
                              ink_box=torch.from_numpy(ink), events=ev_t)
        assert np.array_equal(expected, got.numpy())
        assert np.array_equal(ev_n["collisions"], ev_t["collisions"].numpy())
        assert np.array_equal(ev_n["velocities"], ev_t["velocities"].numpy())
    hits = ev_n["collisions"]
    assert hits.shape == (b, 30, k, k) and hits.any()
    assert not (hits & ~(present[:, None, :, None] & present[:, None, None, :])).any()  # absent slots never collide
    if m.model != "free":
        assert (expected >= lo[:, None]).all() and (expected <= hi[:, None]).all()
    # Any batch composition: [7, 20) alone gives the same rows.
    part = {}
    sub = motion.simulate(m, 9, index[7:20], 30, motion.Walls(lo[7:20], hi[7:20], (28, 28), (64, 64)), True,
                          active=present[7:20], ink_box=ink[7:20], events=part)
    assert np.array_equal(sub, expected[7:20]) and np.array_equal(part["collisions"], hits[7:20])


def test_events_without_collisions_are_all_false():
    m = mm.Spec.from_preset("srvp").motion
    ev = {}
    w = motion.Walls(np.zeros((3, 2, 2)), np.full((3, 2, 2), 36.0), (28, 28), (64, 64))
    plain = motion.simulate(m, 1, np.arange(3), 10, w)
    assert np.array_equal(motion.simulate(m, 1, np.arange(3), 10, w, events=ev), plain)
    assert ev["collisions"].shape == (3, 10, 2, 2) and not ev["collisions"].any()


@pytest.mark.parametrize("fields", SPECS[:4])
def test_generator_chunks_and_torch_renderer(fields):
    spec = spec_of(fields)
    gen = mm.Generator(spec, seed=3, source=GLYPHS)
    whole = gen.render(0, 20)
    parts = [gen.render(0, 7), gen.render(7, 13)]
    for name in ("frames", "centers"):
        assert np.array_equal(getattr(whole, name), np.concatenate([getattr(p, name) for p in parts]), equal_nan=True)
    from movingmnist.torch import generator as tb

    got = tb.TorchGenerator(generator=gen, device="cpu", kernels="torch").render(0, 20)
    assert np.array_equal(whole.frames, got["frames"].numpy())


def test_collisions_change_the_motion_of_a_crowded_scene():
    plain = mm.Generator(mm.Spec.from_preset("srvp", {"objects.count": 4}), seed=1, source=GLYPHS).render(0, 10)
    bumped = mm.Generator(spec_of({"motion.model": "srvp"}, **{"objects.count": 4, "frames": 20}), seed=1,
                          source=GLYPHS).render(0, 10)
    assert np.array_equal(plain.centers[:, 0], bumped.centers[:, 0])  # same starts
    assert not np.array_equal(plain.centers, bumped.centers)


def test_refused_models_and_fields_are_named():
    for model in ("srivastava", "stochastic", "flip", "affine", "path"):
        with pytest.raises(SpecError, match=r"^motion.collisions='elastic' is not allowed: .*free, reflect, srvp"):
            mm.Spec.from_preset("srivastava", {"motion.model": model, "motion.collisions": "elastic"})
    with pytest.raises(SpecError, match=r"^motion.wrap"):
        spec_of({"motion.model": "free", "motion.wrap": True})
    with pytest.raises(SpecError, match=r"^motion.collision_radius"):
        spec_of({"motion.model": "free", "motion.collision_radius": -1.0})
    with pytest.raises(SpecError, match=r"motion.collision_mass"):
        spec_of({"motion.model": "free", "motion.collision_mass": "heavy"})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    k=st.integers(2, 5),
    walled=st.booleans(),
    speed=st.floats(0.1, 6.0),
)
def test_property_conservation_and_no_overlap(seed, k, walled, speed):
    rs = np.random.default_rng(seed)
    b, frames, room = 4, 25, 45.0
    radius = rs.uniform(1.0, 5.0, (b, k))
    mass = rs.uniform(0.2, 5.0, (b, k))
    geo = collisions.Discs(offset=np.zeros((b, k, 2)), radius=radius, mass=mass)
    start = apart_starts(rs, b, k, room, radius)
    vel = rs.uniform(-speed, speed, (b, k, 2))
    lo, hi = (np.zeros((b, k, 2)), np.full((b, k, 2), room)) if walled else (None, None)
    rec = Recorder()
    collisions.simulate_elastic(xnp, start, vel, lo, hi, geo, np.ones((b, frames, k), bool), frames, on_event=rec)
    m = mass[..., None]
    e0 = (m * vel**2).sum(axis=(1, 2))
    p0 = (m * vel).sum(axis=1)
    for p, v in rec.states:
        assert (min_gap(p, radius) >= -1e-6).all()
        np.testing.assert_allclose((m * v**2).sum(axis=(1, 2)), e0, rtol=1e-9)
        if not walled:
            np.testing.assert_allclose((m * v).sum(axis=1), p0, rtol=1e-9, atol=1e-9 * (np.abs(p0).max() + 1))


def test_sqrt_is_the_same_on_numpy_and_torch_and_accurate():
    import array_api_compat.torch as xt

    x = np.concatenate([np.random.default_rng(0).uniform(0, 200, 10_000), 10.0 ** np.arange(-300, 300, 7.0), [0.0]])
    got = collisions.sqrt(xnp, x)
    assert np.array_equal(got, collisions.sqrt(xt, torch.from_numpy(x)).numpy())
    np.testing.assert_allclose(got, np.sqrt(x), rtol=4.5e-16, atol=0)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    model=st.sampled_from(["srvp", "free", "reflect"]),
    deterministic=st.booleans(),
    mass=st.sampled_from(["equal", "area"]),
    radius=st.sampled_from([None, 3.0, 9.0]),
    seed=st.integers(0, 2**63 - 1),
    k=st.integers(1, 5),
    frames=st.integers(1, 20),
    cut=st.tuples(st.integers(0, 11), st.integers(1, 12)),
)
def test_property_same_rows_in_any_batch_and_backend(model, deterministic, mass, radius, seed, k, frames, cut):
    m = spec_of({"motion.model": model, "motion.deterministic": deterministic, "motion.collision_mass": mass,
                 "motion.collision_radius": radius, "motion.speed": "1..4", "motion.speed_unit": "px"}).motion
    index = np.arange(100, 112, dtype=np.int64)
    b = len(index)
    lo, hi = np.zeros((b, k, 2)), np.full((b, k, 2), 30.0)
    ink = np.tile(np.array([4, 6, 20, 24]), (b, k, 1)) + (np.arange(b * k).reshape(b, k, 1) % 4)
    present = (np.arange(b * k).reshape(b, k) % 4) != 3
    ev = {}
    whole = motion.simulate(m, seed, index, frames, motion.Walls(lo, hi, (28, 28), (58, 58)), True,
                            active=present, ink_box=ink, events=ev)
    start, stop = min(cut), max(cut) + 1
    part_ev = {}
    part = motion.simulate(m, seed, torch.from_numpy(index[start:stop]), frames,
                           motion.Walls(torch.from_numpy(lo[start:stop]), torch.from_numpy(hi[start:stop]), (28, 28),
                                        (58, 58)), True, active=torch.from_numpy(present[start:stop]),
                           ink_box=torch.from_numpy(ink[start:stop]), events=part_ev)
    assert np.array_equal(whole[start:stop], part.numpy())
    assert np.array_equal(ev["collisions"][start:stop], part_ev["collisions"].numpy())
