"""glyphs@2 (sources/handwriting.py) and the versions of the built-in digits: glyphs@1 kept byte for byte, plain
``glyphs`` resolved to the newest, and datasets whose metadata says plain ``glyphs`` (written before versions) still
verified and resumed with glyphs@1."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

import movingmnist as mm
from _io_helpers import small_spec, undo_zarr_chunk
from movingmnist.errors import SourceError
from movingmnist.generator import resolve_spec
from movingmnist.io.manifest import Manifest
from movingmnist.sources import available_sources, handwriting, load_source, resolve_source_name, stored_source_name
from movingmnist.sources import glyphs as glyphs_module
from movingmnist.sources.glyphs import render_glyphs
from movingmnist.sources.handwriting import render_handwriting


@pytest.fixture(scope="module")
def first_train() -> np.ndarray:
    """The first 400 glyphs@2 of train, ``(400, 28, 28) uint8``."""
    return render_handwriting("train", np.arange(400))[0]


def test_shapes_dtypes_and_balanced_labels(first_train):
    images, labels = render_handwriting("test", np.arange(1000))
    assert images.shape == (1000, 28, 28) and images.dtype == np.uint8
    assert labels.dtype == np.int16 and np.array_equal(np.bincount(labels), np.full(10, 100))
    assert first_train.shape == (400, 28, 28)
    assert (first_train.reshape(400, -1).max(axis=1) == 255).mean() > 0.95  # saturated cores, as MNIST


def test_pure_function_of_split_and_index(monkeypatch, first_train):
    """The same bytes whatever else is rendered with a glyph, in any order and any chunking."""
    order = np.random.default_rng(0).permutation(400)
    np.testing.assert_array_equal(render_handwriting("train", order)[0], first_train[order])
    alone = np.stack([render_handwriting("train", np.array([i]))[0][0] for i in (0, 7, 123, 399)])
    np.testing.assert_array_equal(alone, first_train[[0, 7, 123, 399]])
    mixed = render_handwriting("train", np.array([5, 100_000, 17, 17, 3]))[0]  # repeats, far indices
    np.testing.assert_array_equal(mixed[[0, 2, 3, 4]], first_train[[5, 17, 17, 3]])
    monkeypatch.setattr(handwriting, "_CHUNK", 7)
    np.testing.assert_array_equal(render_handwriting("train", np.arange(400))[0], first_train)
    assert not np.array_equal(render_handwriting("test", np.arange(400))[0], first_train)


def test_pinned():
    """The pixels of the first glyphs; a change here is a new version (glyphs@3), never an edit of glyphs@2."""
    digest = hashlib.sha256()
    for split in ("train", "test"):
        digest.update(np.ascontiguousarray(render_handwriting(split, np.arange(300))[0]).tobytes())
    assert handwriting.VERSION == 2
    assert digest.hexdigest() == "a1eee7571eba4a6d4b1957fa621456229b2aa41de203e45569b9b00edfe96dca"


def test_mnist_frame(first_train):
    """Fitted and centred as MNIST: the ink's box at most 20 px (mostly exactly 20 along its larger side), the centre
    of mass at the pixel nearest (14, 14)."""
    images = first_train.astype(np.float64)
    ink = first_train > 0
    rows, cols = ink.any(axis=2), ink.any(axis=1)
    height = 28 - rows.argmax(axis=1) - rows[:, ::-1].argmax(axis=1)
    width = 28 - cols.argmax(axis=1) - cols[:, ::-1].argmax(axis=1)
    box = np.maximum(height, width)
    assert box.max() <= 20 and (box == 20).mean() > 0.85
    mass = images.sum(axis=(1, 2))
    grid = np.arange(28)
    cy = (images.sum(axis=2) * grid).sum(axis=1) / mass
    cx = (images.sum(axis=1) * grid).sum(axis=1) / mass
    assert np.abs(cy - 14).max() <= 0.5 + 1e-9 and np.abs(cx - 14).max() <= 0.5 + 1e-9


def test_errors():
    with pytest.raises(SourceError, match="choose train or test"):
        render_handwriting("val", np.arange(3))
    with pytest.raises(SourceError, match="non-negative"):
        render_handwriting("train", np.array([-1]))
    empty = render_handwriting("train", np.arange(0))
    assert empty[0].shape == (0, 28, 28) and empty[1].shape == (0,)


def test_version_names():
    assert resolve_source_name("glyphs") == "glyphs@2"
    assert [resolve_source_name(n) for n in ("glyphs@1", "glyphs@2", "mnist", "idx:/x")] == [
        "glyphs@1", "glyphs@2", "mnist", "idx:/x",
    ]  # fmt: skip
    assert stored_source_name("glyphs") == "glyphs@1" and stored_source_name("glyphs@2") == "glyphs@2"
    assert {"glyphs", "glyphs@1", "glyphs@2"} <= set(available_sources())
    for bad in ("glyphs@9", "glyphs@", "glyphs@0"):
        with pytest.raises(SourceError, match=r"glyphs@9|is not allowed: choose glyphs \(the newest, glyphs@2\)"):
            resolve_source_name(bad)
    with pytest.raises(SourceError, match="glyphs@1, glyphs@2"):
        load_source("glyphs@9", "test")
    with pytest.raises(SourceError, match="glyphs@1, glyphs@2"):
        mm.Generator("srivastava", source="glyphs@9")


def test_sources_by_version():
    """Plain glyphs is glyphs@2 and says so; glyphs@1 is the old digits, byte for byte."""
    newest, v2, v1 = (load_source(n, "test") for n in ("glyphs", "glyphs@2", "glyphs@1"))
    assert newest.name == v2.name == "glyphs@2" and newest.checksum == v2.checksum
    assert v1.name == "glyphs@1"
    np.testing.assert_array_equal(v1.images, render_glyphs("test", np.arange(10_000))[0])
    np.testing.assert_array_equal(v2.images[:50], render_handwriting("test", np.arange(50))[0])
    assert glyphs_module.VERSION == 1


def test_splits():
    train, val, test = (load_source("glyphs@2", s) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (50_000, 10_000, 10_000)
    np.testing.assert_array_equal(val.images[:20], render_handwriting("train", np.arange(50_000, 50_020))[0])
    assert all(np.array_equal(np.bincount(b.labels), np.full(10, len(b) // 10)) for b in (train, val, test))


def test_specs_record_the_version():
    assert resolve_spec("srivastava", source="glyphs").source.name == "glyphs@2"
    assert resolve_spec("srivastava", ["source.name=glyphs"]).source.name == "glyphs@2"
    assert resolve_spec("srivastava", source="glyphs", plain_glyphs="glyphs@1").source.name == "glyphs@1"
    assert resolve_spec("srivastava", source="glyphs@1", plain_glyphs="glyphs@2").source.name == "glyphs@1"
    gen = mm.Generator(small_spec(), seed=0, source="glyphs")
    assert gen.spec.source.name == "glyphs@2" and gen.metadata()["source"]["name"] == "glyphs@2"


def _as_if_written_before_versions(path: str) -> None:
    """Rewrite the metadata and manifest of a zarr dataset made with glyphs@1 so that they say plain ``glyphs``,
    as every dataset made with the built-in digits did before they had versions."""
    with open(f"{path}/zarr.json") as f:
        meta = json.load(f)
    manifest = Manifest.load(f"{path}/manifest.json")
    for record in (meta["attributes"]["movingmnist"], manifest.identity):
        assert record["spec"]["source"]["name"] == "glyphs@1"
        record["spec"]["source"]["name"] = "glyphs"
        record["fingerprint"] = mm.Spec.from_dict(record["spec"]).fingerprint
        record["source"]["name"] = "glyphs"
    with open(f"{path}/zarr.json", "w") as f:
        json.dump(meta, f)
    manifest.save()


def test_dataset_written_before_versions_verifies_and_resumes(tmp_path):
    spec = small_spec()
    path = str(tmp_path / "old.zarr")
    mm.write_dataset(spec, seed=3, num=6, path=path, source="glyphs@1", chunk_size=2)
    _as_if_written_before_versions(path)
    with mm.open(path) as ds:
        assert ds.spec.source.name == "glyphs" and ds.metadata["source"]["name"] == "glyphs"
    assert mm.verify_dataset(path, all=True).ok
    expected = mm.Generator(spec, seed=3, source="glyphs@1").render(0, 6).frames

    # Interrupted: the last chunk is missing. A resume with the same arguments (plain "glyphs") completes it
    # with glyphs@1, and the result verifies.
    undo_zarr_chunk(path, 2)
    summary = mm.write_dataset(spec, seed=3, num=6, path=path, source="glyphs", chunk_size=2, resume=True)
    assert summary.written == 2
    with mm.open(path) as ds:
        np.testing.assert_array_equal(ds.arrays["frames"][:], expected)
    assert mm.verify_dataset(path, all=True).ok


def test_new_datasets_record_glyphs_at_2(tmp_path):
    path = str(tmp_path / "new.zarr")
    mm.write_dataset(small_spec(), seed=1, num=2, path=path, source="glyphs", chunk_size=2)
    with mm.open(path) as ds:
        assert ds.spec.source.name == "glyphs@2" and ds.metadata["source"]["name"] == "glyphs@2"
    assert mm.verify_dataset(path, all=True).ok
