"""The torch general renderer's internals (affine glyphs, appearance, backgrounds) against the numpy reference.

Parity promised and tested here, piece by piece:
- latents bit for bit: motion (flip, affine and every other model, per-frame walls, subpixel), appearance schedules,
  colours, pose matrices, background plans, fixed-point poses and gains, sampling regions;
- rendering paths that no public argument selects (internal chunking) and the compiled sampling (``compile=True``).

The rendered bytes of the torch renderers (every preset, override cases, random specs, image backgrounds, CUDA)
against the numpy reference, and their independence of order and batching, are in tests/conformance. The bounds
below are the promise should the two ever have to diverge (today they are byte-identical and the tests demand it):
- warped frames within 1 grey level of numpy's (both sample with the same integer arithmetic, 16.16 fixed-point
  poses, 8-bit bilinear weights and integer gains);
- masks (instance, semantic, amodal): identical where the frames are, and in any case at most 0.5% of pixels differ
  (a pixel whose rendered value straddles the mask threshold by one grey level may change owner); boxes within 1
  pixel, visibility within 0.02, flow identical where the masks are.
"""

from __future__ import annotations

import numpy as np
import pytest

from _banks import blank_edge_bank
from _strategies import appearance_specs

torch = pytest.importorskip("torch")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import movingmnist as mm  # noqa: E402
from movingmnist.latents import appearance, motion  # noqa: E402
from movingmnist.latents import background as backgrounds  # noqa: E402
from movingmnist.render import poses as render_poses  # noqa: E402
from movingmnist.render import torch_general  # noqa: E402
from movingmnist.spec import MotionSpec  # noqa: E402
from movingmnist.torch import generator as tb  # noqa: E402

torch.set_num_threads(1)

# Latents: equal bit for bit. Pixels: within these bounds (see the module docstring).
LATENTS = ("index", "labels", "present", "occupied", "glyph_index", "centers", "velocities", "angles", "scales",
           "brightness", "depth")
MASKS = ("instance", "semantic", "amodal_masks")
MASK_FRACTION = 0.005
# The numpy reference samples with integer arithmetic (fixed-point poses and weights) that this renderer ports
# exactly, so every array is byte-identical and the tests demand it (catching regressions the bounds would hide).
# Set to False only if the two must diverge again: the bounds above remain the promise.
EXACT_REFERENCE = True


GLYPHS = blank_edge_bank()  # digit-like blobs with empty margins, and two blank glyphs


def as_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind == "f":
        width = {2: np.int16, 4: np.int32, 8: np.int64}[a.dtype.itemsize]
        return np.array_equal(a.view(width), b.view(width))
    return np.array_equal(a, b)


def assert_parity(a: mm.Batch, b: dict[str, torch.Tensor]) -> dict[str, int]:
    """Numpy batch ``a`` against the torch output ``b`` by the bounds of the module docstring; returns the number
    of differing values per array (all zero today)."""
    arrays = a.arrays()
    assert set(arrays) | {"index"} == set(b), (sorted(arrays), sorted(b))
    diffs = {}
    for name, expected in arrays.items():
        got = as_numpy(b[name])
        assert got.dtype == expected.dtype and got.shape == expected.shape, (name, got.dtype, got.shape)
        if name in LATENTS:
            assert bits_equal(expected, got) or np.array_equal(expected, got, equal_nan=True), name
            diffs[name] = 0
            continue
        if expected.dtype.kind == "f":
            same = (expected == got) | (np.isnan(expected) & np.isnan(got))
        else:
            same = expected == got
        diffs[name] = int((~same).sum())
        if name == "frames":
            assert np.abs(expected.astype(np.int16) - got.astype(np.int16)).max(initial=0) <= 1, name
        elif name in MASKS or name == "flow":
            assert diffs[name] <= MASK_FRACTION * expected.size, (name, diffs[name])
        elif name in ("boxes", "amodal_boxes"):
            both = np.isfinite(expected) & np.isfinite(got)
            assert np.abs(expected[both] - got[both]).max(initial=0) <= 1, name
            assert (np.isnan(expected) != np.isnan(got)).sum() <= MASK_FRACTION * expected.size, name
        elif name == "visibility":
            assert np.abs(expected - got).max(initial=0) <= 0.02, name
    if EXACT_REFERENCE:
        assert not any(diffs.values()), {name: n for name, n in diffs.items() if n}
    return diffs


def compare(spec: mm.Spec, num: int = 6, start: int = 3, seed: int = 7, source=GLYPHS, **kwargs) -> dict[str, int]:
    gen = mm.Generator(spec, seed=seed, source=source)
    tgen = tb.TorchGenerator(generator=gen, device="cpu", kernels="torch", **kwargs)
    assert tgen.renderer.general
    return assert_parity(gen.render(start, num), tgen.render(start, num))


# -- latents --------------------------------------------------------------------------------------------------------
motion_specs = st.builds(
    MotionSpec,
    model=st.sampled_from(["srivastava", "reflect", "stochastic", "srvp", "free", "flip"]),
    speed=st.tuples(st.floats(0, 8), st.floats(0, 8)).map(sorted).map(tuple),
    speed_unit=st.sampled_from(["px", "free_range"]),
    integer_speed=st.booleans(),
    direction=st.tuples(st.floats(-360, 360), st.floats(-360, 360)).map(sorted).map(tuple),
    max_step=st.integers(0, 6),
    deterministic=st.booleans(),
    wrap=st.booleans(),
    margin=st.floats(0, 5),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(m=motion_specs, seed=st.integers(0, 2**63 - 1), k=st.integers(1, 3), frames=st.integers(1, 16),
       per_frame=st.booleans(), subpixel=st.booleans())
def test_motion_with_per_frame_walls_bit_equal(m, seed, k, frames, per_frame, subpixel):
    """Walls per frame (transformed ink boxes) and unrounded positions, every model including flip."""
    index = np.arange(2, 2 + 9 * 13, 13, dtype=np.int64)
    g = np.random.default_rng(seed % 2**32)
    shape = (len(index), frames, k, 2) if per_frame else (len(index), k, 2)
    lo = np.round(g.uniform(-6, 4, shape), 2)
    hi = lo + np.round(g.uniform(0, 40, shape), 2)
    expected = motion.simulate(m, seed, index, frames, motion.Walls(lo, hi, (28, 28), (64, 48)), subpixel=subpixel)
    walls = motion.Walls(torch.from_numpy(lo), torch.from_numpy(hi), (28, 28), (64, 48))
    got = motion.simulate(m, seed, torch.from_numpy(index), frames, walls, subpixel=subpixel)
    assert bits_equal(expected, as_numpy(got))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=appearance_specs(), seed=st.integers(0, 2**62))
def test_appearance_and_poses_bit_equal(spec, seed):
    gen = mm.Generator(spec, seed=seed, source=GLYPHS)
    index = np.array([0, 5, 2**33 + 1], dtype=np.int64)
    scene = gen.scene(index)
    t1 = spec.frames + 1
    look = appearance.sample_appearance(spec, seed, index, scene.labels, t1)
    tindex = torch.from_numpy(index)
    tlook = appearance.sample_appearance(spec, seed, tindex, torch.from_numpy(scene.labels), t1)
    for name in ("angle", "scale", "shear", "brightness", "colour"):
        assert bits_equal(getattr(look, name), as_numpy(getattr(tlook, name))), name
    from movingmnist.tracks import simulate_tracks

    matrix = simulate_tracks(spec, seed, index, gen.glyphs, t1, general=True).matrix
    tmatrix = simulate_tracks(spec, seed, tindex, gen.glyphs, t1, general=True).matrix
    assert bits_equal(matrix, as_numpy(tmatrix))
    assert bits_equal(appearance.invert(matrix), as_numpy(appearance.invert(tmatrix)))
    angle, scale = appearance.decompose(matrix)
    tangle, tscale = appearance.decompose(tmatrix)
    # atan2 and sqrt are torch's (faithfully rounded on CPU): equal once rounded to the float32 of the outputs.
    assert bits_equal(angle.astype(np.float32), as_numpy(tangle).astype(np.float32))
    assert bits_equal(scale.astype(np.float32), as_numpy(tscale).astype(np.float32))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=appearance_specs(), seed=st.integers(0, 2**62))
def test_background_plans_bit_equal(spec, seed):
    index = np.array([1, 4, 77], dtype=np.int64)
    t1 = spec.frames + 1
    plan = backgrounds.plan_background(spec, seed, index, t1)
    tplan = backgrounds.plan_background(spec, seed, torch.from_numpy(index), t1)
    for name in ("static_val", "static_cov"):
        a, b = getattr(plan, name), getattr(tplan, name)
        assert (a is None) == (b is None), name
        if a is not None:
            assert bits_equal(a, as_numpy(b)), name
    assert bits_equal(plan.pan, as_numpy(tplan.pan))
    assert plan.dynamic_noise == tplan.dynamic_noise and bits_equal(plan.lut, as_numpy(tplan.lut))
    d, td = plan.distractors, tplan.distractors
    assert (d is None) == (td is None)
    if d is not None:
        for name in ("present", "value", "grey", "position", "mask"):
            assert bits_equal(getattr(d, name), as_numpy(getattr(td, name))), name
    if spec.background.kind == "noise":
        rows = backgrounds.NoiseRows(3, 5, 13)
        raw = backgrounds.noise_bytes(seed, "background.noise", index, rows)
        assert bits_equal(raw, as_numpy(backgrounds.noise_bytes(seed, "background.noise", torch.from_numpy(index),
                                                                rows)))
        part = backgrounds.noise_bytes(seed, "background.noise", torch.from_numpy(index), backgrounds.NoiseRows(
            3, 5, 13, 1, 3))
        assert bits_equal(raw[:, 1:3], as_numpy(part))


def test_fixed_point_latents_and_regions_bit_equal():
    """fixed_poses (rounding, degenerate and non-finite poses), fixed_gains (clipping) and regions (per-axis minima,
    NaN and huge poses) equal the reference's."""
    g = np.random.default_rng(5)
    b, t, k = 3, 4, 5
    matrix = g.normal(0.0, 3.0, (b, t, k, 2, 3))
    matrix[0, 0, 0] = 0.0  # singular
    matrix[0, 1, 1, 0, 0] = 1e-12  # nearly singular: a huge inverse
    matrix[1, 2, 3, 1, 2] = np.nan
    matrix[2, 3, 4, 0, 1] = np.inf
    matrix[2, 0, 0] = [[1e30, 0.0, 5.0], [0.0, 1e30, 7.0]]
    nzbox = g.integers(0, 28, (b, k, 4))
    present = g.random((b, k)) < 0.8
    with np.errstate(all="ignore"):
        inv = appearance.invert(matrix)
        inv[0, 2, 2, 0] = 0.5 / 2**16  # a tie: floor(x * 2**16 + 0.5)
        inv[0, 2, 2, 1] = -0.5 / 2**16
        fix, ok = render_poses.fixed_poses(inv)
        tfix, tok = render_poses.fixed_poses(torch.from_numpy(inv))
        assert bits_equal(fix, as_numpy(tfix)) and bits_equal(ok, as_numpy(tok))
        assert not ok.all()
        for nearest in (False, True):
            reg = render_poses.regions(matrix, nzbox, present, nearest, (64, 48))
            treg = render_poses.regions(torch.from_numpy(matrix), torch.from_numpy(nzbox),
                                         torch.from_numpy(present), nearest, (64, 48))
            assert bits_equal(reg, as_numpy(treg)), nearest
    bright = g.uniform(-0.5, 3.0, (b, t, k))
    bright[0, 0, 0] = 1e9
    colour = g.uniform(0.0, 1.0, (b, k, 3))
    for c in (1, 3):
        gain, gain_c = render_poses.fixed_gains(bright, colour, c)
        tgain, tgain_c = render_poses.fixed_gains(torch.from_numpy(bright), torch.from_numpy(colour), c)
        assert bits_equal(gain, as_numpy(tgain)) and bits_equal(gain_c, as_numpy(tgain_c))


# -- internal chunking, compile ------------------------------------------------------------------------------------
def test_chunking_does_not_change_output(monkeypatch):
    """Sub-batches, frame chunks and patch-group slices are an implementation detail."""
    spec = mm.Spec.from_preset("segmentation@1", {"annotations.flow": True, "annotations.amodal_masks": True,
                                                  "frames": 7})
    gen = mm.Generator(spec, seed=1, source=GLYPHS)
    expected = gen.render(0, 5)
    monkeypatch.setattr(torch_general, "CPU_CANVAS_BYTES", 3 * 5 * 64 * 64)  # 1 sequence, 3 frames per chunk
    monkeypatch.setattr(torch_general, "CPU_PATCH_PIXELS", 700)  # one patch per slice
    monkeypatch.setattr(torch_general, "CPU_FLOW_PIXELS", 2 * 64 * 64)  # flow 2 frames at a time
    tgen = tb.TorchGenerator(generator=gen, device="cpu", kernels="torch", batch_size=2)
    assert_parity(expected, tgen.render(0, 5))


def test_no_python_loop_over_sequences(monkeypatch):
    """The number of torch operations does not grow with the number of sequences (one chunk, one step)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        calls = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Count.calls += 1
            return func(*args, **(kwargs or {}))

    monkeypatch.setattr(torch_general, "CPU_CANVAS_BYTES", 2**40)
    monkeypatch.setattr(torch_general, "CPU_PATCH_PIXELS", 2**40)
    # Brightness ramps only: every region has the size of its glyph's nonzero box, so the groups are the same.
    images = np.zeros((4, 28, 28), dtype=np.uint8)
    images[:, 5:20, 6:22] = 200
    spec = mm.Spec.from_preset("segmentation@1", {"appearance.rotation.angle": "0..0",
                                                  "appearance.rotation.velocity": "0..0", "objects.count": "2..2"})
    tgen = tb.TorchGenerator(spec, seed=0, source=(images, np.arange(4)), device="cpu", kernels="torch")
    counts = []
    for num in (4, 64):
        tgen.render(0, num)
        Count.calls = 0
        with Count():
            tgen.render(100, num)
        counts.append(Count.calls)
    assert counts[1] <= counts[0] * 1.1, counts


def test_unsupported_reason_and_auto_kernels():
    for name in ("segmentation", "affine"):
        spec = mm.Spec.from_preset(name)
        assert tb.unsupported_reason(spec) is None
        # On CPU auto picks the numba kernels when installed (faster), else torch (faster than the numpy reference).
        auto = tb.TorchGenerator(spec, source=GLYPHS, device="cpu")
        assert auto.kernels == ("numpy" if auto.generator.kernel == "numba" else "torch")
        assert tb.TorchGenerator(spec, source=GLYPHS, device="cpu", kernels="torch").renderer.general
    colour = mm.Spec.from_preset("segmentation", {"canvas.channels": 3, "appearance.colour.mode": "hue"})
    assert tb.unsupported_reason(colour) is None


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # raised inside torch's compile stack
def test_compiled_sampling_parity():
    """``compile=True`` fuses the patch sampling with torch.compile (no fused multiply-adds): same results."""
    spec = mm.Spec.from_preset("segmentation@1", {"frames": 4})
    compare(spec, num=4, compile=True)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_get_batch_and_datasets_pass_compile():
    """``compile=True`` reaches the renderer from get_batch and the datasets, with the same bytes as numpy."""
    import movingmnist.torch as mmt

    spec = mm.Spec.from_preset("segmentation@1", {"frames": 4})
    batch = mmt.get_batch(spec, 3, device="cpu", start=5, seed=1, source=GLYPHS, kernels="torch", compile=True)
    assert mmt._render.cached_generator(spec, 1, GLYPHS, torch.device("cpu"), "torch", None, True).compile
    expected = mm.Generator(spec, seed=1, source=GLYPHS).render(5, 3)
    np.testing.assert_array_equal(as_numpy(batch["frames"]), expected.frames)
    np.testing.assert_array_equal(as_numpy(batch["instance"]), expected.instance)
    ds = mmt.MovingMNISTDataset(spec, num=8, seed=1, source=GLYPHS, kernels="torch", compile=True)
    assert ds.generator.compile
    np.testing.assert_array_equal(as_numpy(ds[5]["frames"]), expected.frames[0])
    stream = mmt.MovingMNISTIterableDataset(spec, seed=1, source=GLYPHS, kernels="torch", compile=True)
    assert stream.generator.compile


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_cuda_compiled_parity():
    spec = mm.Spec.from_preset("segmentation@1", {"annotations.flow": True, "canvas.channels": 3,
                                                  "appearance.colour.mode": "hue"})
    gen = mm.Generator(spec, seed=4, source=GLYPHS)
    tgen = tb.TorchGenerator(generator=gen, device="cuda", compile=True)
    assert_parity(gen.render(0, 64), tgen.render(0, 64))
