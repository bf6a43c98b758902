"""Named, versioned recipes. A change that alters a preset's output adds a new version; old ones stay.

Each preset is data: a dictionary of spec fields, a version, a one-line summary, the paper it reproduces and
release notes. ``Spec.from_preset("srivastava")`` takes the latest version; ``"srivastava@1"`` pins one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import SpecError
from .spec import Spec


@dataclass(frozen=True)
class Preset:
    name: str
    version: int
    summary: str
    reference: str
    fields: dict[str, Any]
    notes: tuple[str, ...] = field(default=())

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    def spec(self) -> Spec:
        return Spec.from_dict({**self.fields, "preset": self.key})


_MNIST_TRAIN_ALL = {"name": "mnist", "split": "train", "val_size": 0}

_PRESETS: list[Preset] = [
    Preset(
        name="srivastava",
        version=1,
        summary="Original Moving MNIST: 64x64, 20 frames, 2 digits bouncing, clamp-and-reverse, max compositing",
        reference="Srivastava, Mansimov, Salakhutdinov. Unsupervised Learning of Video Representations using LSTMs. "
        "ICML 2015",
        fields={
            "canvas": {"height": 64, "width": 64},
            "frames": 20,
            "objects": {"count": [2, 2]},
            "source": _MNIST_TRAIN_ALL,
            "motion": {"model": "srivastava", "speed": [0.1, 0.1], "speed_unit": "free_range"},
            "compositing": "max",
        },
        notes=(
            "Step 0.1 of the free range (3.6 px on 64x64) applied before each frame is recorded; a coordinate <= 0 "
            "or >= 1 is clamped and its velocity component negated; top-left pixel = floor(36 * p).",
            "Deliberate difference: glyphs are drawn uniformly per (seed, index) instead of from a reshuffled "
            "pool, so that any sequence can be regenerated alone.",
        ),
    ),
    Preset(
        name="srivastava-tfds",
        version=1,
        summary="TensorFlow Datasets' moving_sequence: exact reflection, frame 0 at the start, rounding",
        reference="TensorFlow Datasets, tfds.video.moving_sequence (after Srivastava et al. 2015)",
        fields={
            "canvas": {"height": 64, "width": 64},
            "frames": 20,
            "objects": {"count": [2, 2]},
            "source": _MNIST_TRAIN_ALL,
            "motion": {"model": "reflect", "speed": [0.1, 0.1], "speed_unit": "free_range"},
            "compositing": "max",
        },
        notes=("Position = start + t * velocity folded into [0, 1] (triangle wave); pixel = round(36 * p).",),
    ),
    Preset(
        name="stochastic",
        version=1,
        summary="Stochastic Moving MNIST (SVG): 32x32 digits, integer velocities redrawn at each wall, summed",
        reference="Denton & Fergus. Stochastic Video Generation with a Learned Prior. ICML 2018",
        fields={
            "canvas": {"height": 64, "width": 64},
            "frames": 15,
            "objects": {"count": [2, 2], "size": 32},
            "source": _MNIST_TRAIN_ALL,
            "motion": {"model": "stochastic", "max_step": 4, "deterministic": False},
            "compositing": "sum",
        },
        notes=(
            "15 frames (5 past + 10 future) for training; evaluation used 30 (--set frames=30).",
            "Digits resized 28 -> 32 with bilinear filtering; start U{0..31}, velocity U{-4..4}^2; at a wall the "
            "position is clamped (0 or 31) and a new velocity drawn away from it; frames summed and clipped.",
        ),
    ),
    Preset(
        name="srvp",
        version=1,
        summary="SRVP's Stochastic Moving MNIST: 28x28 digits, exact collision times, velocities redrawn at walls",
        reference="Franceschi, Delasalles, Chen, Lamprier, Gallinari. Stochastic Latent Residual Video Prediction. "
        "ICML 2020",
        fields={
            "canvas": {"height": 64, "width": 64},
            "frames": 15,
            "objects": {"count": [2, 2]},
            "source": _MNIST_TRAIN_ALL,
            "motion": {"model": "srvp", "max_step": 4, "deterministic": False},
            "compositing": "sum",
        },
        notes=(
            "Start U{0..36}, velocity U{-4..4}^2; bounces computed at the exact collision time with the wall and "
            "the rest of the step continued with the new velocity; positions rounded when drawn.",
            "Their fixed test sets use 100 frames of MNIST test digits: --set frames=100 --set source.split=test.",
            "--set motion.deterministic=true gives the deterministic variant (velocity reflected, not redrawn).",
        ),
    ),
]

PRESETS: dict[str, list[Preset]] = {}
for _preset in _PRESETS:
    PRESETS.setdefault(_preset.name, []).append(_preset)


def preset_names() -> list[str]:
    return list(PRESETS)


def get_preset(name: str) -> Preset:
    """``"name"`` (latest version) or ``"name@version"``."""
    base, _, version = name.partition("@")
    if base not in PRESETS:
        raise SpecError("preset", name, f"one of {', '.join(PRESETS)}")
    versions = PRESETS[base]
    if not version:
        return versions[-1]
    for preset in versions:
        if str(preset.version) == version:
            return preset
    raise SpecError("preset", name, f"one of the versions {', '.join(p.key for p in versions)}")


def list_presets() -> list[Preset]:
    """The latest version of every preset."""
    return [versions[-1] for versions in PRESETS.values()]
