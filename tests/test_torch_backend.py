"""The torch backend against the numpy reference: same latents bit for bit, same frames and annotations."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import movingmnist as mm  # noqa: E402
from movingmnist.latents import motion, rng  # noqa: E402
from movingmnist.render import torch_translation as tt  # noqa: E402
from movingmnist.spec import MotionSpec  # noqa: E402
from movingmnist.torch import generator as tb  # noqa: E402

torch.set_num_threads(1)


def _glyphs(n: int = 120, size: int = 28, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Digit-like test glyphs: soft blobs with an empty margin (so ink boxes differ from glyph boxes)."""
    g = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    images = np.zeros((n, size, size), dtype=np.uint8)
    for i in range(n):
        cy, cx = g.uniform(size * 0.3, size * 0.7, 2)
        ry, rx = g.uniform(size * 0.12, size * 0.3, 2)
        blob = 1.0 - ((yy - cy) / ry) ** 2 - ((xx - cx) / rx) ** 2
        images[i] = np.clip(blob * g.uniform(200, 400), 0, 255).astype(np.uint8)
    return images, np.arange(n) % 10


GLYPHS = _glyphs()


def assert_same(a: mm.Batch, b: dict[str, torch.Tensor]) -> None:
    """Every array of the numpy batch equals the torch one: names, shapes, dtypes and values (NaN where NaN)."""
    arrays = a.arrays()
    assert set(arrays) | {"index"} == set(b), (sorted(arrays), sorted(b))
    np.testing.assert_array_equal(a.index, b["index"].cpu().numpy())
    for name, expected in arrays.items():
        got = b[name].cpu().numpy()
        assert got.dtype == expected.dtype, (name, got.dtype, expected.dtype)
        assert got.shape == expected.shape, (name, got.shape, expected.shape)
        assert np.array_equal(got, expected, equal_nan=expected.dtype.kind == "f"), name


def compare(spec: mm.Spec, num: int = 24, start: int = 3, seed: int = 7, **kwargs) -> tb.TorchGenerator:
    gen = mm.Generator(spec, seed=seed, source=GLYPHS)
    tgen = tb.TorchGenerator(generator=gen, device="cpu", kernels="torch", **kwargs)
    assert_same(gen.render(start, num), tgen.render(start, num))
    return tgen


# -- RNG and motion -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(), (3,), (4, 2), (2, 3, 5)])
@pytest.mark.parametrize("seed", [0, 1, 2**63 - 1])
def test_rng_streams_bit_equal(seed, shape):
    index = np.array([0, 1, 5, 2**40, 2**62 + 17, 123456789], dtype=np.int64)
    tindex = torch.from_numpy(index)
    bits = rng.random_bits(seed, "a", index, shape)
    assert np.array_equal(bits.view(np.int64), rng.random_bits(seed, "a", tindex, shape).numpy())
    u = rng.uniform(seed, "u", index, shape, -3.5, 7.25)
    tu = rng.uniform(seed, "u", tindex, shape, -3.5, 7.25).numpy()
    assert np.array_equal(u.view(np.int64), tu.view(np.int64))
    i = rng.integers(seed, "i", index, shape, -4, 4)
    assert np.array_equal(i, rng.integers(seed, "i", tindex, shape, -4, 4).numpy())


def test_sincos_bit_equal():
    turns = np.concatenate([np.random.default_rng(0).uniform(-3, 3, 20000), [0.0, 0.25, 0.5, -0.125, 0.125, 1e-300]])
    s, c = rng.sincos_turns(turns)
    ts, tc = rng.sincos_turns(torch.from_numpy(turns))
    assert np.array_equal(s.view(np.int64), ts.numpy().view(np.int64))
    assert np.array_equal(c.view(np.int64), tc.numpy().view(np.int64))


motion_specs = st.builds(
    MotionSpec,
    model=st.sampled_from(["srivastava", "reflect", "stochastic", "srvp", "free", "flip"]),
    speed=st.tuples(st.floats(0, 8), st.floats(0, 8)).map(sorted).map(tuple),
    speed_unit=st.sampled_from(["px", "free_range"]),
    integer_speed=st.booleans(),
    margin=st.floats(0, 5),
    direction=st.tuples(st.floats(-360, 360), st.floats(-360, 360)).map(sorted).map(tuple),
    max_step=st.integers(0, 6),
    deterministic=st.booleans(),
    wrap=st.booleans(),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(m=motion_specs, seed=st.integers(0, 2**63 - 1), k=st.integers(1, 3), frames=st.integers(1, 30),
       span=st.tuples(st.integers(0, 40), st.integers(0, 40)), low=st.integers(-4, 2))
def test_motion_models_bit_equal(m, seed, k, frames, span, low):
    index = np.arange(5, 5 + 23 * 11, 11, dtype=np.int64)
    lo = np.full((len(index), k, 2), float(low))
    hi = lo + np.array(span, dtype=np.float64)
    expected = motion.simulate(m, seed, index, frames, motion.Walls(lo, hi, (28, 28), (64, 48)))
    walls = motion.Walls(torch.from_numpy(lo), torch.from_numpy(hi), (28, 28), (64, 48))
    got = motion.simulate(m, seed, torch.from_numpy(index), frames, walls)
    assert got.dtype == torch.int64
    assert np.array_equal(expected, got.numpy())


# -- rendering ------------------------------------------------------------------------------------------------------
# Presets of the general path (warped glyphs, backgrounds) are compared in test_torch_general.py, within its bounds.
@pytest.mark.parametrize("preset", [p.name for p in mm.list_presets() if not p.spec().general_renderer])
def test_every_preset_equal(preset):
    spec = mm.Spec.from_preset(preset)
    reason = tb.unsupported_reason(spec)
    if reason is not None:
        # The numpy kernels render it; TorchGenerator(kernels="auto") falls back to them with the same bytes.
        gen = mm.Generator(spec, seed=7, source=GLYPHS)
        tgen = tb.TorchGenerator(generator=gen, device="cpu")
        assert tgen.kernels == "numpy"
        assert_same(gen.render(3, 12), tgen.render(3, 12))
        pytest.skip(f"the torch kernels do not render preset {preset!r} yet: {reason}")
    compare(spec)


@pytest.mark.parametrize("compositing", ["max", "sum", "over"])
@pytest.mark.parametrize("threshold", [0, 40])
def test_compositing_modes_with_overlap(compositing, threshold):
    # Small canvas, many objects: lots of overlap, objects leaving through the walls with ink bounces.
    spec = mm.Spec.from_preset(
        "srivastava",
        {
            "canvas.height": 40,
            "canvas.width": 33,
            "objects.count": "0..5",
            "compositing": compositing,
            "annotations.mask_threshold": threshold,
            "motion.bounce_on": "ink",
        },
    )
    compare(spec, num=20)


@pytest.mark.parametrize("reduction", ["fold", "direct"])
def test_reductions_paths_equal(reduction):
    spec = mm.Spec.from_preset("srvp", {"canvas.width": 61, "objects.count": "1..3", "compositing": "sum"})
    gen = mm.Generator(spec, seed=2, source=GLYPHS)
    tgen = tb.TorchGenerator(generator=gen, device="cpu", kernels="torch")
    tgen.renderer.reduction = reduction
    assert_same(gen.render(0, 16), tgen.render(0, 16))


specs = st.fixed_dictionaries(
    {
        "canvas.height": st.integers(28, 72),
        "canvas.width": st.integers(28, 72),
        "frames": st.integers(1, 12),
        "objects.count": st.tuples(st.integers(0, 3), st.integers(1, 4)).map(lambda t: f"{min(t)}..{max(t)}"),
        "objects.size": st.sampled_from([None, 16, 28]),
        "motion.model": st.sampled_from(["srivastava", "reflect", "stochastic", "srvp", "free"]),
        "motion.speed_unit": st.sampled_from(["px", "free_range"]),
        "motion.speed": st.sampled_from(["0.1", "1..5", "0..0.3"]),
        "motion.wrap": st.booleans(),
        "motion.bounce_on": st.sampled_from(["box", "ink"]),
        "motion.deterministic": st.booleans(),
        "compositing": st.sampled_from(["max", "sum", "over"]),
        "annotations.semantic": st.booleans(),
        "annotations.instance": st.booleans(),
        "annotations.boxes": st.booleans(),
        "annotations.amodal_boxes": st.booleans(),
        "annotations.visibility": st.booleans(),
        "annotations.tracks": st.booleans(),
        "annotations.mask_threshold": st.sampled_from([0, 1, 100]),
        "annotations.ignore_label": st.sampled_from([10, 255]),
    }
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(overrides=specs, seed=st.integers(0, 2**63 - 1), start=st.integers(0, 2**40), batch=st.integers(1, 7))
def test_random_specs_equal(overrides, seed, start, batch):
    spec = mm.Spec.from_preset("srivastava", overrides)
    gen = mm.Generator(spec, seed=seed, source=GLYPHS)
    tgen = tb.TorchGenerator(generator=gen, device="cpu", kernels="torch", batch_size=batch)
    assert_same(gen.render(start, 9), tgen.render(start, 9))


def test_real_mnist_digits_equal():
    folder = "/work/shared/data/mnist"
    images, labels = f"{folder}/t10k-images-idx3-ubyte.gz", f"{folder}/t10k-labels-idx1-ubyte.gz"
    import os

    if not (os.path.exists(images) and os.path.exists(labels)):
        pytest.skip(f"MNIST test files not found in {folder}")
    spec = mm.Spec.from_preset("srivastava")
    source = f"idx:{images},{labels}"
    gen = mm.Generator(spec, seed=0, source=source)
    tgen = tb.TorchGenerator(generator=gen, device="cpu", kernels="torch")
    assert_same(gen.render(100, 16), tgen.render(100, 16))


def test_index_order_and_repeats_do_not_matter():
    spec = mm.Spec.from_preset("stochastic")
    tgen = tb.TorchGenerator(spec, seed=5, source=GLYPHS, device="cpu", kernels="torch", batch_size=3)
    together = tgen.render(10, 8)
    shuffled = tgen.render_indices(torch.tensor([17, 10, 13, 13, 11]))
    for position, index in enumerate([17, 10, 13, 13, 11]):
        for name, tensor in together.items():
            assert torch.equal(shuffled[name][position].nan_to_num(-7), tensor[index - 10].nan_to_num(-7)), name
    one = tgen[12]
    assert torch.equal(one["frames"], together["frames"][2])
    for bad in ([3, -1], torch.tensor([-2])):
        with pytest.raises(mm.SpecError, match="indices"):
            tgen.render_indices(bad)


def test_auto_kernels_choice():
    frames_only = mm.Spec.from_preset("srivastava", {f"annotations.{n}": False for n in (
        "semantic", "instance", "boxes", "amodal_boxes", "visibility", "tracks")})
    assert tb.TorchGenerator(frames_only, source=GLYPHS, device="cpu").kernels == "torch"
    assert tb.TorchGenerator("srivastava", source=GLYPHS, device="cpu").kernels == "numpy"
    out_numpy = tb.TorchGenerator("srivastava", source=GLYPHS, device="cpu", kernels="numpy").render(0, 5)
    out_torch = tb.TorchGenerator("srivastava", source=GLYPHS, device="cpu", kernels="torch").render(0, 5)
    for name in out_numpy:
        assert torch.equal(out_numpy[name].nan_to_num(-1), out_torch[name].nan_to_num(-1)), name


def test_every_spec_is_supported():
    """Latents are shared and the torch renderers draw every rule: no spec is refused any more."""
    spec = mm.Spec.from_preset("srivastava", {"motion.wrap": True})
    assert tb.unsupported_reason(spec) is None
    assert tb.TorchGenerator(spec, source=GLYPHS, device="cpu", kernels="torch").renderer is not None


def test_glyph_bank_uploaded_once_per_device():
    gen = mm.Generator("srivastava", source=GLYPHS)
    a = tt.device_glyphs(gen.glyphs, "cpu")
    b = tt.device_glyphs(gen.glyphs, torch.device("cpu"))
    assert a is b and a.images.shape == gen.glyphs.images.shape


@pytest.mark.parametrize("width", [8, 13, 64, 100])
def test_swar_byte_sums_and_folds(width):
    g = torch.Generator().manual_seed(width)
    data = torch.randint(0, 256, (37, 5, width * 8), dtype=torch.uint8, generator=g)
    words = data.view(torch.int64).view(37, -1)
    expected = data.view(37, -1).to(torch.int64).sum(dim=1)
    assert torch.equal(tt._byte_sums(words, "fold"), expected)
    assert torch.equal(tt._byte_sums(words, "direct"), expected)
    full = torch.full((3, 4, width * 8), 255, dtype=torch.uint8).view(torch.int64).view(3, -1)
    assert torch.equal(tt._byte_sums(full, "fold"), torch.full((3,), 255 * 4 * width * 8))
    bits = data.view(torch.int64)  # (37, 5, width)
    for dim in (1, 2):
        expected_or = bits.unbind(dim)[0].clone()
        for part in bits.unbind(dim)[1:]:
            expected_or |= part
        assert torch.equal(tt._fold(bits, dim), expected_or)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_cuda_equals_numpy():
    spec = mm.Spec.from_preset("srivastava", {"objects.count": "1..3", "compositing": "sum"})
    gen = mm.Generator(spec, seed=3, source=GLYPHS)
    tgen = tb.TorchGenerator(generator=gen, device="cuda", kernels="torch")
    assert tgen.render(0, 4)["frames"].device.type == "cuda"
    assert_same(gen.render(0, 64), tgen.render(0, 64))
    tgen.renderer.reduction = "fold"
    assert_same(gen.render(0, 64), tgen.render(0, 64))
