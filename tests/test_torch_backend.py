"""The torch backend's internals against the numpy reference: RNG streams and motion bit for bit, the reduction
paths, the kernels choice, the glyph upload and the SWAR helpers. Rendered bytes of every backend against the
reference, and their independence of order and batching, are in tests/conformance."""

from __future__ import annotations

import numpy as np
import pytest

from _banks import make_test_bank

torch = pytest.importorskip("torch")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import movingmnist as mm  # noqa: E402
from movingmnist.latents import motion, rng  # noqa: E402
from movingmnist.render import torch_translation as tt  # noqa: E402
from movingmnist.spec import MotionSpec  # noqa: E402
from movingmnist.torch import generator as tb  # noqa: E402

torch.set_num_threads(1)


GLYPHS = make_test_bank()  # digit-like blobs with empty margins (ink boxes differ from glyph boxes)


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


# -- rendering paths no public argument selects ------------------------------------------------------------------------
CUDA = pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here"))


@pytest.mark.parametrize("device", ["cpu", CUDA])
@pytest.mark.parametrize("reduction", ["fold", "direct"])
def test_reductions_paths_equal(reduction, device):
    """Both reductions on both kinds of device (each device's default is checked in tests/conformance)."""
    spec = mm.Spec.from_preset("srvp", {"canvas.width": 61, "objects.count": "1..3", "compositing": "sum"})
    gen = mm.Generator(spec, seed=2, source=GLYPHS)
    tgen = tb.TorchGenerator(generator=gen, device=device, kernels="torch")
    tgen.renderer.reduction = reduction  # the torch translation renderer's choice
    assert_same(gen.render(0, 16), tgen.render(0, 16))


def test_single_sequences_and_bad_indices():
    tgen = tb.TorchGenerator("stochastic", seed=5, source=GLYPHS, device="cpu", kernels="torch", batch_size=3)
    together = tgen.render(10, 4)
    one = tgen[12]
    assert set(one) == set(together) and torch.equal(one["frames"], together["frames"][2])
    for bad in ([3, -1], torch.tensor([-2])):
        with pytest.raises(mm.SpecError, match="indices"):
            tgen.render_indices(bad)


def test_auto_kernels_choice():
    frames_only = mm.Spec.from_preset("srivastava", {f"annotations.{n}": False for n in (
        "semantic", "instance", "boxes", "amodal_boxes", "visibility", "tracks")})
    assert tb.TorchGenerator(frames_only, source=GLYPHS, device="cpu").kernels == "torch"
    assert tb.TorchGenerator("srivastava", source=GLYPHS, device="cpu").kernels == "numpy"


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
