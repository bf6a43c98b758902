"""Every way the library renders a spec, behind one interface: ``render(start, num)`` and ``render_indices(idx)``
return ``{name: numpy array}`` with every array of the batch plus ``index``.

The numpy reference is ``mm.Generator(spec, kernel="numpy")`` (the translation renderer for translation-only specs,
the general renderer otherwise); every other backend must give its bytes.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import movingmnist as mm

HAVE_NUMBA = importlib.util.find_spec("numba") is not None
HAVE_TORCH = importlib.util.find_spec("torch") is not None


def torch_api() -> Any:
    """The public torch module of the library: where ``TorchGenerator`` and ``unsupported_reason`` come from.

    The one place that names it, so that only this line changes if they move."""
    import torch

    torch.set_num_threads(1)  # the suite runs on shared cores; results do not depend on the thread count
    import movingmnist.torch as mmt

    return mmt


def have_cuda() -> bool:
    if not HAVE_TORCH:
        return False
    import torch

    return bool(torch.cuda.is_available())


class Rendered:
    """A generator of one backend whose outputs are plain numpy dicts (index included)."""

    def __init__(self, generator: Any, torch_output: bool) -> None:
        self.generator = generator
        self.torch_output = torch_output

    def _arrays(self, out: Any) -> dict[str, np.ndarray]:
        if self.torch_output:
            return {name: tensor.detach().cpu().numpy() for name, tensor in out.items()}
        return {"index": out.index, **out.arrays()}

    def render(self, start: int, num: int) -> dict[str, np.ndarray]:
        return self._arrays(self.generator.render(start, num))

    def render_indices(self, indices: Iterable[int]) -> dict[str, np.ndarray]:
        return self._arrays(self.generator.render_indices(list(indices)))


@dataclass(frozen=True)
class Backend:
    """One backend: how to build its generator, when it is absent, and which specs it does not draw."""

    name: str
    build: Callable[..., Rendered]
    absent: str | None = None  # why this machine lacks it (a skip reason), or None
    translation_only: bool = False  # draws only specs that do not need the general renderer
    general: bool = False  # draws through the general renderer (any spec)
    torch_kernels: bool = False  # renders with the torch kernels (refused for specs they do not render)

    def refuses(self, spec: mm.Spec) -> str | None:
        """Why this backend does not draw ``spec`` (a skip reason), or None."""
        if self.translation_only and spec.general_renderer:
            return f"{self.name}: the translation renderer does not draw specs that need the general renderer"
        if self.torch_kernels:
            reason = torch_api().unsupported_reason(spec)
            if reason is not None:
                return f"{self.name}: the torch kernels do not render this spec: {reason}"
        return None

    def is_reference(self, spec: mm.Spec) -> bool:
        """Whether this backend is the numpy reference itself for ``spec`` (comparing them would be vacuous)."""
        return self.name == ("numpy-general" if spec.general_renderer else "numpy-translation")

    def __call__(self, spec: mm.Spec, seed: int, source: Any, batch_size: int | None = None) -> Rendered:
        return self.build(spec, seed, source, batch_size)


def reference(spec: mm.Spec, seed: int, source: Any, batch_size: int | None = None) -> Rendered:
    """The numpy reference."""
    return Rendered(mm.Generator(spec, seed=seed, source=source, kernel="numpy", batch_size=batch_size), False)


def _numpy(renderer: str, kernel: str) -> Callable[..., Rendered]:
    def build(spec, seed, source, batch_size=None):
        gen = mm.Generator(spec, seed=seed, source=source, kernel=kernel, renderer=renderer, batch_size=batch_size)
        return Rendered(gen, False)

    return build


def _torch(renderer: str, device: str, kernels: str = "torch") -> Callable[..., Rendered]:
    def build(spec, seed, source, batch_size=None):
        numpy_gen = mm.Generator(spec, seed=seed, source=source, kernel="numpy", renderer=renderer)
        gen = torch_api().TorchGenerator(generator=numpy_gen, device=device, kernels=kernels, batch_size=batch_size)
        return Rendered(gen, True)

    return build


_NO_TORCH = None if HAVE_TORCH else "torch is not installed"
BACKENDS: tuple[Backend, ...] = (
    Backend("numpy-translation", _numpy("translation", "numpy"), translation_only=True),
    Backend(
        "numba-translation",
        _numpy("translation", "numba"),
        absent=None if HAVE_NUMBA else "numba is not installed",
        translation_only=True,
    ),
    Backend("numpy-general", _numpy("general", "numpy"), general=True),
    Backend("numba", _numpy("general", "numba"), absent=None if HAVE_NUMBA else "numba is not installed", general=True),
    Backend(
        "torch-cpu-translation",
        _torch("translation", "cpu"),
        absent=_NO_TORCH,
        translation_only=True,
        torch_kernels=True,
    ),
    Backend("torch-cpu-general", _torch("general", "cpu"), absent=_NO_TORCH, general=True, torch_kernels=True),
    # TorchGenerator(kernels="numpy"): the numpy generator renders into the tensors (what kernels="auto" picks on CPU
    # for annotated translation-only specs).
    Backend("torch-cpu-numpy-kernels", _torch("auto", "cpu", kernels="numpy"), absent=_NO_TORCH),
    Backend(
        "torch-cuda",
        _torch("auto", "cuda"),
        torch_kernels=True,
        absent=_NO_TORCH or (None if have_cuda() else "no CUDA device on this machine"),
    ),
)


def backend_params(only: Callable[[Backend], bool] = lambda b: True) -> list[Any]:
    """``BACKENDS`` as pytest params: ids are the names; an absent backend is skipped with its reason."""
    return [
        pytest.param(b, id=b.name, marks=[pytest.mark.skipif(b.absent is not None, reason=b.absent or "")])
        for b in BACKENDS
        if only(b)
    ]


# -- known deviations --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Deviation:
    """A known difference from the reference (a bug in the library, reported and not yet fixed).

    The parity tests forgive exactly this difference, and nothing else in the same arrays; ``test_backends.py``
    keeps one strict test per deviation marked ``xfail(strict=True)``, so the fix makes it fail until the
    deviation is deleted from here."""

    name: str
    reason: str
    applies: Callable[[Backend, mm.Spec], bool]
    forgive: Callable[[dict[str, np.ndarray], dict[str, np.ndarray]], None]  # edits copies of both outputs


KNOWN_DEVIATIONS: tuple[Deviation, ...] = ()
"""None today. Two were found while building this suite and fixed: amodal boxes of glyphs without ink (NaN in every
renderer now) and the sign of zero in the torch general renderer's background flow."""


# -- comparing ---------------------------------------------------------------------------------------------------
def differences(expected: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> list[str]:
    """What differs between two outputs: array names, then per array dtype, shape and bytes (NaN payloads and
    the sign of zero included); empty when they are byte-identical."""
    problems = []
    if set(expected) != set(got):
        problems.append(f"arrays: expected {sorted(expected)}, got {sorted(got)}")
    for name in sorted(set(expected) & set(got)):
        a, b = expected[name], got[name]
        if a.dtype != b.dtype or a.shape != b.shape:
            problems.append(f"{name}: expected {a.dtype}{list(a.shape)}, got {b.dtype}{list(b.shape)}")
        elif np.ascontiguousarray(a).tobytes() != np.ascontiguousarray(b).tobytes():
            if a.dtype.kind == "f":
                same = (a == b) | (np.isnan(a) & np.isnan(b))
            else:
                same = a == b
            problems.append(
                f"{name}: {int((~same).sum())} of {a.size} values differ"
                + ("" if (~same).any() else " (equal values, different bytes: sign of zero or NaN)")
            )
    return problems


def assert_identical(expected: dict[str, np.ndarray], got: dict[str, np.ndarray], what: str = "") -> None:
    problems = differences(expected, got)
    assert not problems, f"{what}: " + "; ".join(problems)


def assert_conforms(
    expected: dict[str, np.ndarray], got: dict[str, np.ndarray], backend: Backend, spec: mm.Spec, what: str = ""
) -> None:
    """``got`` of ``backend`` is byte-identical to the reference's ``expected``, up to the known deviations."""
    deviations = [d for d in KNOWN_DEVIATIONS if d.applies(backend, spec)]
    if deviations:
        expected = {name: a.copy() for name, a in expected.items()}
        got = {name: a.copy() for name, a in got.items()}
        for deviation in deviations:
            deviation.forgive(expected, got)
    assert_identical(expected, got, f"{what or backend.name}")


def take(arrays: dict[str, np.ndarray], rows: Any) -> dict[str, np.ndarray]:
    return {name: a[rows] for name, a in arrays.items()}


def concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
