"""Every backend gives the numpy reference's bytes: same arrays, dtypes, shapes and bytes (NaN payloads included).

Backends (see ``_backends.py``): the numpy translation renderer, the numpy general renderer, the numba kernels, the
torch kernels on CPU through the translation and the general renderer, TorchGenerator with the numpy kernels, and
torch on CUDA. A translation-only spec drawn by the general renderer gives the translation renderer's bytes, so every
backend is compared on every spec it can draw. The reference is skipped against itself.

Known deviations (library bugs, listed in ``_backends.KNOWN_DEVIATIONS``; none today) would be forgiven exactly;
the differences this suite found are fixed and kept fixed by the regression tests at the end of this file.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import movingmnist as mm
from _strategies import appearance_specs, translation_specs

from ._backends import BACKENDS, assert_conforms, assert_identical, reference
from ._cases import CASES, PRESET_KEYS, Case

PRESET_CASES = tuple(Case(key, source="test_bank", seed=7, start=3, num=16) for key in PRESET_KEYS)


def pairs(cases):
    """(case, backend) params for every backend that draws the case's spec and is not its reference."""
    params = []
    for case in cases:
        spec = case.spec()
        for b in BACKENDS:
            if b.is_reference(spec) or (b.translation_only and spec.general_renderer):
                continue
            marks = [pytest.mark.skipif(b.absent is not None, reason=b.absent or "")]
            params.append(pytest.param(case, b, id=f"{case.id}-{b.name}", marks=marks))
    return params


def check(case, backend, banks, reference_output, start=None, num=None):
    reason = backend.refuses(case.spec())
    if reason:
        pytest.skip(reason)
    got = backend(case.spec(), case.seed, banks[case.source])
    start = case.start if start is None else start
    num = case.num if num is None else num
    assert_conforms(
        reference_output(case, start, num), got.render(start, num), backend, case.spec(), f"{case.id} on {backend.name}"
    )


@pytest.mark.parametrize("case, backend", pairs(PRESET_CASES))
def test_presets(case, backend, banks, reference_output):
    check(case, backend, banks, reference_output)


@pytest.mark.parametrize("case, backend", pairs(CASES))
def test_override_cases(case, backend, banks, reference_output):
    check(case, backend, banks, reference_output)


@pytest.mark.parametrize("case, backend", pairs(PRESET_CASES[:1]))
def test_large_indices(case, backend, banks, reference_output):
    """Indices beyond 32 bits (the counter-based streams take 64-bit indices)."""
    check(case, backend, banks, reference_output, start=2**40 - 3, num=6)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spec=translation_specs(), seed=st.integers(0, 2**63 - 1), start=st.integers(0, 2**40), batch_size=st.integers(1, 7)
)
def test_random_translation_specs(backend, banks, spec, seed, start, batch_size):
    """Random translation-only specs, rendered by each backend in steps of ``batch_size`` sequences."""
    reason = backend.refuses(spec)
    if reason:
        pytest.skip(reason)
    expected = reference(spec, seed, banks["test_bank"]).render(start, 9)
    got = backend(spec, seed, banks["test_bank"], batch_size=batch_size).render(start, 9)
    assert_conforms(expected, got, backend, spec)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=appearance_specs(), seed=st.integers(0, 2**62), start=st.integers(0, 2**40), batch_size=st.integers(1, 4))
def test_random_appearance_specs(backend, banks, spec, seed, start, batch_size):
    """Random specs of the general renderer (which the translation-only backends do not draw)."""
    if backend.translation_only:
        pytest.skip(f"{backend.name} does not draw specs that need the general renderer")
    reason = backend.refuses(spec)
    if reason:
        pytest.skip(reason)
    expected = reference(spec, seed, banks["blank_edge"]).render(start, 3)
    got = backend(spec, seed, banks["blank_edge"], batch_size=batch_size).render(start, 3)
    assert_conforms(expected, got, backend, spec)


def test_image_background(backend, banks, tmp_path):
    """Backgrounds panned over images from a folder, grey and colour."""
    if backend.translation_only:
        pytest.skip(f"{backend.name} does not draw image backgrounds (they need the general renderer)")
    from PIL import Image

    g = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(g.integers(0, 256, (40 + 7 * i, 50, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    for channels in (1, 3):
        spec = mm.Spec.from_preset(
            "segmentation@1",
            {"background.kind": "image", "background.image_folder": str(tmp_path), "canvas.channels": channels},
        )
        reason = backend.refuses(spec)
        if reason:
            pytest.skip(reason)
        expected = reference(spec, 7, banks["blank_edge"]).render(3, 4)
        got = backend(spec, 7, banks["blank_edge"]).render(3, 4)
        assert_conforms(expected, got, backend, spec, f"{backend.name}, C={channels}")


@pytest.mark.parametrize("preset", ["srivastava@1", "segmentation@1"])
def test_real_mnist_digits(backend, preset, mnist_dir):
    """MNIST test digits (only where the files are present): real glyphs, not blobs."""
    spec = mm.Spec.from_preset(preset, {"source.split": "test"})
    if backend.is_reference(spec):
        pytest.skip(f"{backend.name} is the reference for {preset}")
    reason = backend.refuses(spec)
    if reason:
        pytest.skip(reason)
    source = f"idx:{mnist_dir}"
    expected = reference(spec, 0, source).render(100, 8)
    assert_conforms(expected, backend(spec, 0, source).render(100, 8), backend, spec)


# -- regressions: differences this suite found between backends, fixed -------------------------------------------
REGRESSION_CASES = {
    # A glyph whose peak (at most 200 for half of the test bank's glyphs) is not above the mask threshold.
    "amodal-box-without-ink": Case(
        "srivastava@1",
        ("objects.count=1", "annotations.mask_threshold=200"),
        source="test_bank",
        seed=0,
        start=0,
        num=16,
    ),
    "flow-zero-sign": Case("affine@1", ("annotations.flow=true",), source="test_bank", seed=0, start=0, num=4),
    # Grey static noise broadcast to three channels: a plain copy kept the channel axis innermost, and the numba
    # kernel (which takes C-contiguous backgrounds) failed to compile.
    "static-grey-noise-in-colour": Case(
        "segmentation@1",
        ("canvas.channels=3", "background.kind=noise", "background.noise.dynamic=false", "background.colour=false"),
        source="test_bank",
        seed=0,
        start=0,
        num=4,
    ),
}


def _regression_params():
    params = []
    for name, case in REGRESSION_CASES.items():
        spec = case.spec()
        for b in BACKENDS:
            if b.is_reference(spec) or b.refuses(spec) is not None:
                continue
            marks = [pytest.mark.skipif(b.absent is not None, reason=b.absent or "")]
            params.append(pytest.param(case, b, id=f"{name}-{b.name}", marks=marks))
    return params


@pytest.mark.parametrize("case, backend", _regression_params())
def test_regressions(case, backend, banks, reference_output):
    """amodal boxes of glyphs without ink above the threshold (NaN in every renderer), the sign of zero of the
    background flow (the reference's -0.0) and grey static noise on a colour canvas: compared byte for byte."""
    got = backend(case.spec(), case.seed, banks[case.source]).render(case.start, case.num)
    assert_identical(reference_output(case), got, f"{case.id} on {backend.name}")


@pytest.mark.parametrize("margin", [2.0, 4.5])
def test_flip_with_margin_past_the_padding(margin, banks):
    """flip with ink walls and a margin moves a blank glyph (its ink box empty) beyond one glyph of padding: drawn
    (nothing) without a crash, and the other backends agree."""
    images, labels = banks["blank_edge"]
    blank = (images[-2:], labels[-2:])  # the bank's two blank glyphs
    spec = mm.Spec.from_preset(
        "srivastava@1",
        {
            "objects.count": 1,
            "motion.model": "flip",
            "motion.speed": "1..4",
            "motion.speed_unit": "px",
            "motion.bounce_on": "ink",
            "motion.margin": margin,
        },
    )
    expected = reference(spec, 0, blank).render(0, 9)
    assert not expected["frames"].any()
    for backend in BACKENDS:
        if backend.absent is None and not backend.is_reference(spec) and backend.refuses(spec) is None:
            assert_conforms(expected, backend(spec, 0, blank).render(0, 9), backend, spec)
