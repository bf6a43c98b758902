"""Named, versioned recipes, as plain data. A change that alters a preset's output adds a new version; old ones stay.

Each recipe is a dictionary: ``name``, ``version``, a one-line ``summary``, the ``reference`` it reproduces, the spec
``fields`` (a nested mapping for :meth:`movingmnist.Spec.from_dict`) and release ``notes``. ``"srivastava"`` names
the latest version, ``"srivastava@1"`` pins one. :func:`movingmnist.get_preset` wraps a recipe as a
:class:`~movingmnist.presets.Preset`; :meth:`movingmnist.Spec.from_preset` builds its Spec.
"""

from __future__ import annotations

from typing import Any

from .errors import SpecError, did_you_mean

_MNIST_TRAIN_ALL = {"name": "mnist", "split": "train", "val_size": 0}
_MNIST_TRAIN_VAL = {"name": "mnist", "split": "train", "val_size": None}  # val = the last 10,000 training images

#: Every version of every preset, oldest version first: name, version, one-line summary, the work it reproduces
#: (reference), the spec fields and release notes.
RECIPES: list[dict[str, Any]] = [
    dict(
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
    dict(
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
    dict(
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
    dict(
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

RECIPES += [
    dict(
        name="segmentation",
        version=1,
        summary="Segmentation Moving MNIST: 2-3 rotating digits with brightness ramps over panned shapes and noise, "
        "semantic masks with ignore label 10",
        reference="Rane et al. 2019, segmentation-moving-MNIST (the notebook in this project's origin)",
        fields={
            "canvas": {"height": 64, "width": 64},
            "frames": 20,
            "objects": {"count": [2, 3]},
            "source": _MNIST_TRAIN_VAL,
            "motion": {
                "model": "flip",
                "speed": [2, 6],
                "speed_unit": "px",
                "integer_speed": True,
                "direction": [-180.0, 180.0],
                "margin": 2.0,
            },
            "appearance": {
                "rotation": {"angle": [0, 359], "velocity": [0, 9], "integer": True},
                "brightness": {"mode": "ramp", "start": [0.1, 1.5], "end": [0.1, 1.5]},
            },
            "background": {
                "kind": "noise",
                "noise": {"mean": 127.0, "std": 127.0, "dynamic": True},
                "extent": 20,
                "pan": [0, 2],
                "shapes": {"count": [15, 25], "size": [2, 32], "intensity": [0, 254]},
                "distractors": {"count": [0, 2], "size": [6, 14], "intensity": [1, 254], "speed": [1.0, 3.0]},
            },
            "compositing": "over",
            "annotations": {"ignore_label": 10},
        },
        notes=(
            "Splits: train = the first 50,000 MNIST training images, val = the last 10,000 (source.val_size "
            "default), test = MNIST test. Labels per video are padded with -1 in `labels`; masks use ignore label 10.",
            "Per digit: speed U{2..6} px/frame, direction U[-pi, pi), start uniform over the free range; a velocity "
            "component flips when the next position would leave [-2, free_range + 2] (motion.model=flip); top-left "
            "pixel by truncation toward zero, as the notebook's astype(int).",
            "Rotation: start U{0..359} deg, increment U{0..9} deg/frame, counter-clockwise (PIL's rotate); "
            "--set appearance.rotation.hint=true gives the rotation hint (2 * label deg/frame).",
            "Brightness: per digit a linear ramp from U(0.1, 1.5) to U(0.1, 1.5), saturating at 255.",
            "Background: a (H + 20) x (W + 20) canvas of 15-25 grey shapes (rectangles, ellipses, triangles, sizes "
            "2-32 px) whose empty pixels show N(127, 127) noise redrawn each frame; the view starts at U{0..9} per "
            "axis and moves by U{0..2} px per axis before each frame while it stays inside.",
            "Fixed defects of the notebook: digits are not transposed; noise is clipped to [0, 255] (the notebook "
            "wrapped it); 0-2 moving shapes per video occlude the digits (the notebook's shapes never did); masks "
            "label a pixel only where the digit's rendered (quantised) intensity is > 0, so no pixel rendered as 0 "
            "is labelled; every sequence is a function of (seed, index).",
            "Deliberate differences: rotated digits are sampled bilinearly from the pristine image about its centre "
            "and not cropped to the 28 x 28 box (the notebook used PIL's nearest-neighbour rotate inside the box; "
            "--set appearance.interpolation=nearest for that sampling); brightness reaches its end value at the "
            "last frame (the notebook stopped one step short); intensities are rounded, not truncated.",
        ),
    ),
    dict(
        name="affine",
        version=1,
        summary="torch_moving_mnist: one random affine step per digit composed t times about the canvas centre, "
        "1-2 digits, 10 frames, max compositing",
        reference="tcapelle/torch_moving_mnist (the PyTorch on-the-fly dataset in this project's origin)",
        fields={
            "canvas": {"height": 64, "width": 64},
            "frames": 10,
            "objects": {"count": [1, 2]},
            "source": _MNIST_TRAIN_ALL,
            "motion": {
                "model": "affine",
                "affine": {
                    "angle": [-20.0, 20.0],
                    "translate": [[-30.0, 30.0], [-30.0, 30.0]],
                    "scale": [0.8, 1.3],
                    "shear": [-20.0, 20.0],
                },
                "boundary": "none",
            },
            "compositing": "max",
        },
        notes=(
            "Per digit: placed with its centre at the canvas centre + U(-pad, pad) per axis, pad = (size - 28) // 2; "
            "one step drawn (angle, translate, scale, shear as torchvision's affine, README ranges); frame t applies "
            "the step t times (frame 0 is the placement), turning and scaling about the canvas centre.",
            "num_digits=[1, 2] becomes objects.count=1..2; num_frames and img_size become frames and canvas.",
            "Fixed defects: each frame samples the pristine digit once through the composed transform (the "
            "original re-warped the previous frame, accumulating blur and clipping); sequences are seeded by "
            "index; a test split exists (source.split=test); odd canvas sizes are not one pixel short; "
            "--set motion.boundary=bounce keeps digits on the canvas (off by default, as the original, where "
            "11.7% of 10-frame sequences end empty).",
            "Deliberate differences: bilinear sampling (torchvision's affine defaults to nearest; --set "
            "appearance.interpolation=nearest), digits drawn uniformly per (seed, index).",
        ),
    ),
]


def _merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A copy of the nested field dict ``base`` with ``changes`` merged in (dicts merge, other values replace)."""
    out = dict(base)
    for key, value in changes.items():
        out[key] = _merged(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out


_SEGMENTATION_1 = next(r for r in RECIPES if r["name"] == "segmentation")
RECIPES.append(
    dict(
        name="segmentation",
        version=2,
        summary="Segmentation Moving MNIST as the notebook draws it: segmentation@1 with the notebook's background "
        "shapes (scikit-image's random_shapes distribution) and nearest-neighbour rotation",
        reference=_SEGMENTATION_1["reference"],
        fields=_merged(
            _SEGMENTATION_1["fields"],
            {
                "appearance": {"interpolation": "nearest"},
                "background": {
                    "shapes": {
                        "count": [15, 25],
                        "size": [2, 84],
                        "kinds": ["rectangle", "circle", "triangle", "ellipse"],
                        "intensity": [0, 254],
                        "placement": "skimage",
                    }
                },
            },
        ),
        notes=(
            *_SEGMENTATION_1["notes"][:4],
            "Background: a (H + 20) x (W + 20) canvas of 15-25 grey shapes drawn as skimage.draw.random_shapes draws "
            "them with the notebook's arguments (min_size 2, max_size the canvas side, overlap allowed, intensity "
            "U{0..254}): rectangles, circles, triangles and ellipses chosen uniformly, each from a uniform start "
            "point with a size bounded by the room left there (background.shapes.placement=skimage); empty pixels "
            "show N(127, 127) noise redrawn each frame; the view starts at U{0..9} per axis and moves by U{0..2} px "
            "per axis before each frame while it stays inside.",
            _SEGMENTATION_1["notes"][5],
            "Deliberate differences: ellipses are axis-aligned (skimage turns them by a uniform angle; same area); "
            "rotated digits are sampled nearest-neighbour (PIL's rotate default) about their centre and not cropped "
            "to the 28 x 28 box; brightness reaches its end value at the last frame (the notebook stopped one step "
            "short); intensities are rounded, not truncated.",
        ),
    )
)


_AFFINE_1 = next(r for r in RECIPES if r["name"] == "affine" and r["version"] == 1)
RECIPES.append(
    dict(
        name="affine",
        version=2,
        summary="torch_moving_mnist as its README documents it: linear schedules of angle, translate, scale and shear "
        "per digit, about the canvas centre, nearest sampling, 1-3 digits, 10 frames, max compositing",
        reference="tcapelle/torch_moving_mnist at commit 7c1dfcb (the code its README documents)",
        fields=_merged(
            _AFFINE_1["fields"],
            {
                "objects": {"count": [1, 3]},
                "motion": {"affine": {"rule": "schedule", "placement": "centre"}},
                "appearance": {"interpolation": "nearest"},
            },
        ),
        notes=(
            "Per digit: the glyph centred on the canvas (the original padded the 28 x 28 digit to the canvas); for "
            "each of angle, translate x, translate y, scale and shear two values drawn uniformly from the README "
            "range and a linear schedule between them over the frames (a + t (b - a) / (T - 1)); frame t is the "
            "pristine digit under torchvision's affine of that frame's values (angle clockwise, x-shear), about "
            "the canvas centre, nearest sampling. Nothing compounds: digits stay in view.",
            "The README's example MovingMNIST(affine_params, num_frames=10, num_digits=[1, 2, 3], img_size=64): "
            "10 frames, 1-3 digits (uniform, as random.choice of the list), 64 x 64.",
            "Fixed defects: sequences are seeded by index; a test split exists (source.split=test); odd canvas "
            "sizes are not one pixel short (the original padded by (size - 28) // 2 on each side).",
            "Deliberate differences: nearest sampling rounds the inverse-mapped position in 16.16 fixed point "
            "(torchvision's grid_sample in float32), so a few edge pixels can differ.",
            "affine@1 (one step compounded t times, with these ranges) stays reproducible; the compounding rule with "
            "its own code's defaults is the preset affine-compound.",
        ),
    )
)
_AFFINE_2 = next(r for r in RECIPES if r["name"] == "affine" and r["version"] == 2)
RECIPES.append(
    dict(
        name="affine-compound",
        version=1,
        summary="torch_moving_mnist's later code: one random affine step per digit compounded frame after frame, "
        "its own small default ranges, 1-2 digits, 4 frames, nearest sampling, max compositing",
        reference="tcapelle/torch_moving_mnist at commit 8a22f02 (the later code; its defaults)",
        fields=_merged(
            _AFFINE_2["fields"],
            {
                "frames": 4,
                "objects": {"count": [1, 2]},
                "motion": {
                    "affine": {
                        "angle": [-4.0, 4.0],
                        "translate": [[-5.0, 5.0], [-5.0, 5.0]],
                        "scale": [0.8, 1.2],
                        "shear": [-3.0, 3.0],
                        "rule": "compose",
                        "placement": "jitter",
                    }
                },
            },
        ),
        notes=(
            "Per digit: placed with its centre at the canvas centre + U(-pad, pad) per axis, pad = (size - 28) // 2; "
            "one step drawn (angle -4..4, translate +-5 px per axis, scale 0.8..1.2, shear -3..3, as torchvision's "
            "affine); frame t applies the step t times (frame 0 is the placement), about the canvas centre.",
            "Its defaults: num_digits=[1, 2], num_frames=4, img_size=64.",
            "Fixed defects: each frame samples the pristine digit once through the composed transform (the code "
            "re-warped the previous frame, accumulating blur and clipping); seeded by index; a test split exists.",
        ),
    )
)

# -- scenes for tracking, detection and captioning (docs/scenes.md) ----------------------------------------------
RECIPES.extend([
    dict(
        name="tracking",
        version=1,
        summary="Multi-object tracking: 3-6 digits crossing a 128x128 canvas in straight lines, leaving for good, "
        "new ones entering through the walls, 40 frames, occlusion, every annotation and the event table",
        reference="After the MNIST-MOT set of Tracking by Animation (He et al. CVPR 2019) and Yang et al.'s MOT "
        "videos: digits enter, leave and occlude each other",
        fields={
            "canvas": {"height": 128, "width": 128},
            "frames": 40,
            "objects": {"count": [3, 6], "exit": "leave", "births": 0.12, "max_births": 6},
            "source": _MNIST_TRAIN_VAL,
            "motion": {"model": "free", "speed": [1.5, 4.0], "speed_unit": "px"},
            "compositing": "over",
            "annotations": {"events": True, "captions": "events", "caption_bytes": 2048},
        },
        notes=(
            "3-6 digits start on the canvas, each moving at 1.5-4 px per frame in a uniform direction; a digit whose "
            "ink box is wholly off the canvas has left for good.",
            "In each of frames 1..39 a new digit enters through a uniformly chosen wall with chance 0.12 (at most 6), "
            "so K = 12 slots; track ids are slots, stable over the sequence.",
            "Later digits are drawn over earlier ones (over compositing): occlusion events follow the drawing order.",
        ),
    ),
    dict(
        name="detection",
        version=1,
        summary="detection-moving-mnist's easy set: 128x128, 1-10 digits with integer velocities up to 5 px per "
        "axis, appearing at a random frame of the first half, leaving the canvas, 20 frames",
        reference="maxploter/detection-moving-mnist (PyPI detection-moving-mnist), version 'easy' with "
        "--enable_delayed_appearance",
        fields={
            "canvas": {"height": 128, "width": 128},
            "frames": 20,
            "objects": {"choices": list(range(1, 11)), "appear": [0, 10], "exit": "leave"},
            "source": _MNIST_TRAIN_VAL,
            "motion": {"model": "free", "velocity": "integer", "max_step": 5, "start_overhang": 20.0},
            "compositing": "over",
            "annotations": {"events": True},
        },
        notes=(
            "Digit count: one of 1..10 uniformly (random.choice of the list). Each digit appears at a frame uniform "
            "in 0..T//2 and starts moving there; its translation per frame is an integer in -5..5 per axis, 0 "
            "replaced by 1 (the reference's rule); it is never reflected, and once wholly off the canvas it is gone.",
            "Start: the digit's top-left uniform over the free range widened by 20 px on each side (the reference "
            "draws the centre over 1.2x the canvas, so digits may start partly off it).",
            "Differences: occlusion follows the ink of the later-drawn digit (over compositing), where the reference "
            "hides whole boxes; sequences are not redrawn when no digit is visible; glyphs by (seed, index).",
        ),
    ),
    dict(
        name="captions",
        version=1,
        summary="Captioned Moving MNIST (Sync-DRAW): 64x64, 10 frames, 2 digits each moving only horizontally or "
        "vertically and bouncing, with a caption per sequence",
        reference="Mittal, Marwah, Balasubramanian. Sync-DRAW: Automatic Video Generation using Deep Recurrent "
        "Attentive Architectures. ACM MM 2017; Marwah, Mittal, Balasubramanian. Attentive Semantic Video "
        "Generation using Captions. ICCV 2017",
        fields={
            "canvas": {"height": 64, "width": 64},
            "frames": 10,
            "objects": {"count": [2, 2]},
            "source": _MNIST_TRAIN_VAL,
            "motion": {"model": "srivastava", "speed": [0.1, 0.1], "speed_unit": "free_range",
                       "directions": [0.0, 90.0, 180.0, 270.0]},
            "compositing": "max",
            "annotations": {"events": True, "captions": "template"},
        },
        notes=(
            "Each digit moves right, down, left or up (uniformly) at 0.1 of the free range per frame and bounces off "
            "the walls (the srivastava rule), so it moves 'left and right' or 'up and down'.",
            "Caption: 'digit 6 is moving up and down and digit 3 is moving left and right', one clause per digit in "
            "slot order.",
        ),
    ),
])


def recipe_key(recipe: dict[str, Any]) -> str:
    """``"name@version"``."""
    return f"{recipe['name']}@{recipe['version']}"


def recipe_versions() -> dict[str, list[dict[str, Any]]]:
    """Recipes by name, every version of each, oldest first (names in the order of :data:`RECIPES`)."""
    versions: dict[str, list[dict[str, Any]]] = {}
    for recipe in RECIPES:
        versions.setdefault(recipe["name"], []).append(recipe)
    return versions


def find_recipe(name: str) -> dict[str, Any]:
    """The recipe called ``"name"`` (latest version) or ``"name@version"``; a SpecError names the choices."""
    by_name = recipe_versions()
    base, _, version = name.partition("@")
    if base not in by_name:
        raise SpecError("preset", name, f"one of {', '.join(by_name)}{did_you_mean(base, by_name)}")
    versions = by_name[base]
    if not version:
        return versions[-1]
    for recipe in versions:
        if str(recipe["version"]) == version:
            return recipe
    raise SpecError("preset", name, f"one of the versions {', '.join(recipe_key(r) for r in versions)}")
