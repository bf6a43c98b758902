"""No glyph is shared across splits: the sequences of train, val and test draw their objects from disjoint glyphs.

Split definition (``movingmnist.sources``): a named source has its own test glyphs; ``val`` is the last
``source.val_size`` glyphs of the training set and ``train`` the glyphs before them. ``glyph_index`` indexes the
split's own bank. Checked with the offline ``glyphs`` source, by glyph ids and by glyph content.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import movingmnist as mm

from ._cases import PRESET_KEYS

NUM = 300  # sequences per split


def _digests(images: np.ndarray) -> set[str]:
    return {hashlib.sha256(image.tobytes()).hexdigest() for image in images}


def _used(spec: mm.Spec, split: str, val_size: int, source) -> tuple[np.ndarray, mm.GlyphBank]:
    """Glyph ids used by the first NUM sequences of ``split`` and the bank they index."""
    spec = spec.replace({"source.split": split, "source.val_size": val_size})
    gen = mm.Generator(spec, seed=1, source=source)
    bank = mm.load_source(source, split, val_size=val_size)
    assert gen.metadata()["source"]["checksum"] == bank.checksum, split
    glyphs = gen.scene(np.arange(NUM)).glyph_index
    assert np.array_equal(glyphs[:3], gen.render(0, 3).glyph_index), split  # the latents are what is rendered
    used = np.unique(glyphs[glyphs >= 0])
    assert used.size and used.max() < len(bank), split
    return used, bank


@pytest.mark.parametrize("key", PRESET_KEYS)
def test_no_glyph_shared_across_splits(key):
    spec = mm.Spec.from_preset(key)
    val_size = spec.source.val_size if spec.source.val_size else 10_000  # presets without val: the usual size
    whole_train = mm.load_source("glyphs", "train", val_size=0)
    cut = len(whole_train) - val_size
    used = {}
    for split in ("train", "val", "test"):
        ids, bank = _used(spec, split, val_size, "glyphs")
        if split != "test":
            # val is the tail of the training set, train the rest.
            offset = 0 if split == "train" else cut
            assert len(bank) == (cut if split == "train" else val_size)
            assert np.array_equal(bank.images, whole_train.images[offset : offset + len(bank)]), split
        used[split] = _digests(bank.images[ids])
    assert not used["train"] & used["val"]
    assert not used["train"] & used["test"]
    assert not used["val"] & used["test"]


def test_array_source_carves_val_from_the_end(banks):
    """An (images, labels) pair is the training set; ``val`` is its last ``val_size`` glyphs, disjoint from train.
    (Its ``test`` split is the whole array: such a source has no held-out glyphs.)"""
    images, labels = banks["blobs"]
    spec = mm.Spec.from_preset("srivastava@1")
    train, train_bank = _used(spec, "train", 10, (images, labels))
    val, val_bank = _used(spec, "val", 10, (images, labels))
    assert np.array_equal(train_bank.images, images[:-10]) and np.array_equal(val_bank.images, images[-10:])
    assert not _digests(train_bank.images[train]) & _digests(val_bank.images[val])
