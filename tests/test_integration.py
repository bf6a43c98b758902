"""End to end on real MNIST test digits (skipped where the files are absent) and on the built-in glyphs."""

from __future__ import annotations

import shutil

import numpy as np

import movingmnist as mm
from test_generate import check_invariants


def test_every_preset_on_real_mnist_test_digits(mnist_dir):
    for preset in ("srivastava", "srivastava-tfds", "stochastic", "srvp"):
        gen = mm.Generator(mm.Spec.from_preset(preset, ["source.split=test"]), seed=0, source=f"idx:{mnist_dir}")
        batch = gen.render(0, 24)
        check_invariants(gen, batch)
        assert batch.frames.max() == 255 and len(gen.bank) == 10_000
        assert set(np.unique(batch.labels)) <= set(range(10))


def test_mnist_source_from_a_cache_dir_with_verified_files(mnist_dir, tmp_path):
    (tmp_path / "mnist").mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(mnist_dir / name, tmp_path / "mnist" / name)
    gen = mm.Generator(mm.Spec.from_preset("srivastava", ["source.split=test"]), seed=0, source="mnist",
                       cache_dir=str(tmp_path))
    assert gen.bank.name == "mnist" and len(gen.bank) == 10_000
    via_idx = mm.Generator(mm.Spec.from_preset("srivastava", ["source.split=test"]), seed=0,
                           source=f"idx:{mnist_dir}")
    # Same digits, same sequences, whichever way the files are found.
    assert np.array_equal(gen.render(0, 8).frames, via_idx.render(0, 8).frames)
    assert gen.metadata()["source"]["checksum"] == via_idx.metadata()["source"]["checksum"]


def test_builtin_glyphs_work_offline_for_every_split():
    train = mm.generate("srivastava", num=16, seed=1, source="glyphs")
    test = mm.generate("srivastava", num=16, seed=1, source="glyphs", split="test")
    val = mm.generate("srivastava", num=16, seed=1, source="glyphs", split="val", source__val_size=5000)
    assert not np.array_equal(train.frames, test.frames)
    assert val.glyph_index.max() < 5000
    gen = mm.Generator("stochastic", seed=0, source="glyphs")
    assert gen.glyphs.glyph_hw == (32, 32)  # SVG resizes digits to 32 x 32
    check_invariants(gen, gen.render(0, 4))
