"""Our bilinear resize against Pillow's, byte for byte (Pillow is the reference the SVG generator used)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from movingmnist.latents.scene import resize_glyphs
from movingmnist.resize import PRECISION_BITS, bilinear_resize, bilinear_weights

Image = pytest.importorskip("PIL.Image")


def pillow_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR))


def _images(seed: int, count: int, h: int, w: int) -> np.ndarray:
    """Random noise, saturated blocks and smooth digit-like blobs (the three regimes of rounding)."""
    g = np.random.default_rng(seed)
    noise = g.integers(0, 256, (count, h, w), dtype=np.uint8)
    blocks = (g.random((count, h, w)) > 0.5).astype(np.uint8) * 255
    yy, xx = np.mgrid[:h, :w]
    blobs = np.clip(300 - 40 * ((yy - h / 2) ** 2 + (xx - w / 2) ** 2) ** 0.5, 0, 255).astype(np.uint8)
    return np.concatenate([noise, blocks, np.broadcast_to(blobs, (1, h, w))])


@pytest.mark.parametrize(("h", "w", "out_h", "out_w"), [
    (28, 28, 32, 32),   # stochastic@1
    (28, 28, 14, 14),
    (28, 28, 64, 64),
    (28, 28, 7, 7),     # strong shrink: 9 taps per output pixel
    (28, 28, 36, 20),
    (32, 17, 32, 40),   # one axis unchanged
    (5, 9, 3, 1),
])
def test_matches_pillow(h, w, out_h, out_w):
    """Sizes where every Pillow version resamples horizontally first (the height does not shrink more)."""
    images = _images(h * 100 + out_w, 6, h, w)
    ours = bilinear_resize(images, out_h, out_w)
    assert ours.shape == (len(images), out_h, out_w) and ours.dtype == np.uint8
    for image, got in zip(images, ours, strict=True):
        np.testing.assert_array_equal(got, pillow_resize(image, out_h, out_w))


@settings(max_examples=60, deadline=None)
@given(n_in=st.integers(1, 40), n_out=st.integers(1, 80), other=st.integers(1, 30), vertical=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_one_axis_matches_pillow(n_in, n_out, other, vertical, seed):
    """Each pass alone is Pillow's, for any sizes (shrinking, growing, 1-pixel images)."""
    shape = (n_in, other) if vertical else (other, n_in)
    out = (n_out, other) if vertical else (other, n_out)
    image = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    np.testing.assert_array_equal(bilinear_resize(image, *out), pillow_resize(image, *out))


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), out_h=st.integers(1, 80), out_w=st.integers(1, 80),
       seed=st.integers(0, 2**32 - 1))
def test_two_axes_are_horizontal_then_vertical(h, w, out_h, out_w, seed):
    """Both axes: Pillow's horizontal pass, stored as uint8, then its vertical pass (the classic order, which
    Pillow 13 changed for heights shrinking much more than widths)."""
    image = np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8)
    classic = pillow_resize(pillow_resize(image, h, out_w), out_h, out_w)
    np.testing.assert_array_equal(bilinear_resize(image, out_h, out_w), classic)


def test_weights_sum_to_one_in_fixed_point():
    for n_in, n_out in [(28, 32), (28, 7), (13, 100), (100, 13)]:
        sums = bilinear_weights(n_in, n_out).sum(axis=1)
        assert np.all(np.abs(sums - (1 << PRECISION_BITS)) <= n_in), (n_in, n_out)


def test_same_size_is_a_copy_and_shapes_are_checked():
    image = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = bilinear_resize(image, 3, 4)
    np.testing.assert_array_equal(out, image)
    assert not np.shares_memory(out, image)
    with pytest.raises(ValueError, match="uint8"):
        bilinear_resize(image.astype(np.float32), 4, 4)
    with pytest.raises(ValueError, match=">= 1"):
        bilinear_resize(image, 0, 4)


def test_resize_glyphs_uses_the_pillow_rule():
    glyphs = _images(7, 4, 28, 28)
    expected = np.stack([pillow_resize(g, 32, 32) for g in glyphs])
    np.testing.assert_array_equal(resize_glyphs(glyphs, 32), expected)
