"""The specs the suite checks: every preset@version, and override cases that reach corners the presets do not."""

from __future__ import annotations

from dataclasses import dataclass, field

import movingmnist as mm


def preset_keys() -> list[str]:
    """Every version of every preset, ``name@version`` (not only the latest: old versions must keep their bytes)."""
    keys = []
    for latest in mm.list_presets():
        for version in range(1, latest.version + 1):
            try:
                keys.append(mm.get_preset(f"{latest.name}@{version}").key)
            except mm.SpecError:  # a withdrawn version
                continue
    return keys


PRESET_KEYS = preset_keys()


@dataclass(frozen=True)
class Case:
    """A preset with overrides, rendered from ``source`` (a bank of ``tests/_banks.py``) at seed, start, num."""

    preset: str
    overrides: tuple[str, ...] = ()
    source: str = "blobs"
    seed: int = 7
    start: int = 3
    num: int = 8
    note: str = field(default="", compare=False)

    @property
    def id(self) -> str:
        return self.preset + ("|" + ",".join(self.overrides) if self.overrides else "")

    def spec(self) -> mm.Spec:
        return mm.Spec.from_preset(self.preset, list(self.overrides))


_RICH = (
    (
        "canvas.channels=3",
        "appearance.colour.mode=hue",
        "background.kind=noise",
        "background.colour=true",
        "background.shapes.count=3..8",
        "background.extent=20",
        "background.pan=0..2",
        "background.distractors.count=1..3",
        "compositing=sum",
        "annotations.flow=true",
        "annotations.amodal_masks=true",
        "appearance.rotation.velocity=-5..5",
        "appearance.subpixel=true",
        "motion.model=free",
    ),
    (
        "motion.model=affine",
        "frames=10",
        "objects.count=1..3",
        "motion.affine.angle=-20..20",
        "motion.affine.translate=[[-30,30],[-30,30]]",
        "motion.affine.scale=0.8..1.3",
        "annotations.flow=true",
        "background.distractors.count=0..2",
        "background.distractors.occlude=false",
    ),
    (
        "motion.model=flip",
        "motion.speed=2..6",
        "motion.speed_unit=px",
        "appearance.rotation.angle=0..359",
        "appearance.rotation.integer=true",
        "appearance.rotation.hint=true",
        "appearance.interpolation=nearest",
        "compositing=over",
        "annotations.mask_threshold=30",
        "appearance.shear=-20..20",
        "motion.bounce_on=ink",
    ),
)

#: Translation-only override cases (the general renderer must give the translation renderer's bytes for them).
TRANSLATION_CASES = (
    Case("srivastava@1", (), seed=3, start=2, num=6),
    Case("srivastava@1", ("objects.count=1..3", "motion.bounce_on=ink"), seed=3, start=2, num=6),
    Case(
        "srivastava@1",
        ("motion.model=free", "motion.wrap=true", "compositing=over", "annotations.mask_threshold=20"),
        seed=3,
        start=2,
        num=6,
    ),
    Case("srivastava@1", ("compositing=sum", "motion.model=stochastic"), seed=3, start=2, num=6),
    # Small canvas, up to five objects: heavy overlap, objects leaving through the walls with ink bounces.
    *(
        Case(
            "srivastava@1",
            (
                "canvas.height=40",
                "canvas.width=33",
                "objects.count=0..5",
                f"compositing={mode}",
                f"annotations.mask_threshold={threshold}",
                "motion.bounce_on=ink",
            ),
            source="test_bank",
            seed=7,
            start=3,
            num=10,
        )
        for mode in ("max", "sum", "over")
        for threshold in (0, 40)
    ),
    Case("srivastava@1", ("objects.choices=[0,2,2,3]",), source="test_bank", seed=4, start=1, num=8),
    # Blank glyphs: no ink, so no visible or amodal box.
    Case("srivastava@1", ("objects.count=1..3",), source="blank_heavy", seed=3, start=0, num=6),
    # A canvas width that is not a multiple of 8 (the word-wise reductions end mid-word).
    Case(
        "srvp@1",
        ("canvas.width=61", "objects.count=1..3", "compositing=sum"),
        source="test_bank",
        seed=2,
        start=0,
        num=8,
    ),
)

#: Override cases of the general renderer.
GENERAL_CASES = (
    *(Case("srivastava@1", rich, seed=11, start=3, num=6) for rich in _RICH),
    Case("segmentation@1", seed=5, start=11, num=6),
    Case("affine@1", ("objects.count=1..3",), seed=5, start=11, num=6),
    # Canvas widths that are not a multiple of 8 (the word-wise compositing falls back at the frame's end), digits
    # leaving the canvas, colour, amodal masks.
    Case("segmentation@1", ("canvas.height=45", "canvas.width=37", "background.extent=6"), seed=5, start=11, num=6),
    Case(
        "affine@1",
        ("canvas.height=41", "canvas.width=43", "annotations.amodal_masks=true", "annotations.flow=true"),
        seed=5,
        start=11,
        num=6,
    ),
    Case(
        "segmentation@1",
        ("canvas.channels=3", "appearance.colour.mode=hue", "background.colour=true"),
        seed=5,
        start=11,
        num=6,
    ),
    Case(
        "segmentation@1",
        ("annotations.instance=false", "annotations.boxes=false", "annotations.visibility=false"),
        seed=5,
        start=11,
        num=6,
    ),
    # Frames only, and masks without the semantic map: the word-wise path composes the masks it does not write out.
    *(
        Case(preset, (*extra, *(f"annotations.{name}=false" for name in (
            "semantic", "instance", "boxes", "amodal_boxes", "visibility", "tracks"))), seed=5, start=11, num=6)
        for preset, extra in (
            ("segmentation@2", ()),
            ("segmentation@2", ("compositing=max", "canvas.width=37", "background.shapes.size=2..50")),
            ("affine@2", ("objects.count=1..3",)),
            ("affine@2", ("appearance.interpolation=bilinear", "motion.boundary=bounce")),
        )
    ),
    Case("segmentation@2", ("annotations.semantic=false", "compositing=max"), seed=5, start=11, num=6),
    # Amodal boxes alone: unclipped rows, no ownership.
    Case("affine@2", ("objects.count=1..3", *(f"annotations.{name}=false" for name in (
        "semantic", "instance", "boxes", "visibility", "tracks"))), seed=5, start=11, num=6),
    # A bank where a third of the glyphs are blank (empty ink boxes).
    Case(
        "segmentation@1",
        (
            "appearance.rotation.hint=true",
            "appearance.interpolation=nearest",
            "annotations.flow=true",
            "annotations.amodal_masks=true",
        ),
        source="blank_heavy",
        num=5,
    ),
    Case(
        "segmentation@1",
        ("canvas.channels=3", "appearance.colour.mode=hue", "background.colour=true", "compositing=sum"),
        source="blank_heavy",
        num=5,
    ),
    Case("affine@1", ("motion.boundary=bounce", "annotations.mask_threshold=40"), source="blank_heavy", num=5),
    # The schedule rule (affine@2): centred placement, nearest; with bounce, bilinear sampling, tracks and flow; and a
    # single frame (its schedules hold their first value).
    Case("affine@2", ("objects.count=1..3",), seed=5, start=11, num=6),
    Case(
        "affine@2",
        ("motion.boundary=bounce", "appearance.interpolation=bilinear", "annotations.flow=true",
         "annotations.amodal_masks=true", "canvas.height=45", "canvas.width=37"),
        seed=5,
        start=11,
        num=6,
    ),
    Case("affine@2", ("frames=1",), seed=2, start=0, num=4),
    Case("affine-compound@1", ("objects.count=1..3",), seed=5, start=11, num=6),
    # Background shapes placed as scikit-image's random_shapes places them (segmentation@2), also in colour and on a
    # small canvas where shapes are clipped.
    Case("segmentation@2", seed=5, start=11, num=6),
    Case(
        "segmentation@2",
        ("canvas.channels=3", "background.colour=true", "canvas.height=33", "canvas.width=41", "background.extent=4",
         "background.shapes.size=2..37"),
        seed=2,
        start=3,
        num=5,
    ),
    # Counts drawn from a list (random.choice semantics), in both renderers.
    Case("affine@2", ("objects.choices=[1,1,3]",), seed=3, start=2, num=8),
)

CASES = TRANSLATION_CASES + GENERAL_CASES
