"""glyphs@2 and glyphs@3 (sources/handwriting.py) and the versions of the built-in digits: glyphs@1 and glyphs@2 kept
byte for byte, plain ``glyphs`` resolved to the newest, and datasets whose metadata says plain ``glyphs`` (written
before versions) still verified and resumed with glyphs@1."""

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


@pytest.fixture(scope="module", params=[2, 3], ids=["glyphs@2", "glyphs@3"])
def version(request) -> int:
    return request.param


@pytest.fixture(scope="module")
def first_train(version) -> np.ndarray:
    """The first 400 glyphs of train of the version, ``(400, 28, 28) uint8``."""
    return render_handwriting("train", np.arange(400), version)[0]


def test_shapes_dtypes_and_balanced_labels(version, first_train):
    images, labels = render_handwriting("test", np.arange(1000), version)
    assert images.shape == (1000, 28, 28) and images.dtype == np.uint8
    assert labels.dtype == np.int16 and np.array_equal(np.bincount(labels), np.full(10, 100))
    assert first_train.shape == (400, 28, 28)
    assert (first_train.reshape(400, -1).max(axis=1) == 255).mean() > 0.95  # saturated cores, as MNIST


def test_pure_function_of_split_and_index(monkeypatch, version, first_train):
    """The same bytes whatever else is rendered with a glyph, in any order and any chunking."""
    order = np.random.default_rng(0).permutation(400)
    np.testing.assert_array_equal(render_handwriting("train", order, version)[0], first_train[order])
    alone = np.stack([render_handwriting("train", np.array([i]), version)[0][0] for i in (0, 7, 123, 399)])
    np.testing.assert_array_equal(alone, first_train[[0, 7, 123, 399]])
    mixed = render_handwriting("train", np.array([5, 100_000, 17, 17, 3]), version)[0]  # repeats, far indices
    np.testing.assert_array_equal(mixed[[0, 2, 3, 4]], first_train[[5, 17, 17, 3]])
    monkeypatch.setattr(handwriting, "_CHUNK", 7)
    np.testing.assert_array_equal(render_handwriting("train", np.arange(400), version)[0], first_train)
    assert not np.array_equal(render_handwriting("test", np.arange(400), version)[0], first_train)


PINS = {  # sha256 of the first 300 glyphs of train then of test
    2: "a1eee7571eba4a6d4b1957fa621456229b2aa41de203e45569b9b00edfe96dca",
    3: "5b549bbd45f2ecfa097d69dc8cbd6a1871734e213c1e1715fe62d2be1392cf47",
}


def test_pinned(version):
    """The pixels of the first glyphs; a change here is a new version (glyphs@4), never an edit of one."""
    digest = hashlib.sha256()
    for split in ("train", "test"):
        digest.update(np.ascontiguousarray(render_handwriting(split, np.arange(300), version)[0]).tobytes())
    assert handwriting.VERSION == 2 and handwriting.VERSIONS == (2, 3)
    assert digest.hexdigest() == PINS[version]


def test_versions_differ():
    """glyphs@3 is not glyphs@2 under another name: other shapes, other draws (its own split keys)."""
    older, newest = (render_handwriting("train", np.arange(400), v)[0] for v in (2, 3))
    assert (older != newest).any(axis=(1, 2)).mean() > 0.99


def test_glyphs3_shape_model():
    """glyphs@3's shapes: every allograph's weight is the count of digits it was fitted to, modes only where enough
    digits were; each glyph's control points are its mean shape moved along the modes (unit-variance draws)."""
    from movingmnist.sources.shape_model import load_shapes3

    model = handwriting._model(3)
    for (digit, k), (count, mean, modes) in load_shapes3().items():
        assert model.allographs[digit][k].weight == count > 0
        assert mean.shape == model.allographs[digit][k].points.shape and modes.shape[1:] == mean.shape
    draws = np.full((2, model.n_draws), 0.5)
    draws[1, handwriting._MODES] = 1.0  # the first mode's draw at its largest: +sqrt(6)/2 of a standard deviation
    mean, modes = model.shapes[(3, 3)]
    base = handwriting._base_points(model, 3, 3, draws)
    np.testing.assert_array_equal(base[0], mean)
    np.testing.assert_allclose(base[1], mean + 6**0.5 / 2 * modes[0])


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
    assert resolve_source_name("glyphs") == "glyphs@3"
    assert [resolve_source_name(n) for n in ("glyphs@1", "glyphs@2", "glyphs@3", "mnist", "idx:/x")] == [
        "glyphs@1", "glyphs@2", "glyphs@3", "mnist", "idx:/x",
    ]  # fmt: skip
    assert stored_source_name("glyphs") == "glyphs@1" and stored_source_name("glyphs@2") == "glyphs@2"
    assert {"glyphs", "glyphs@1", "glyphs@2", "glyphs@3"} <= set(available_sources())
    for bad in ("glyphs@9", "glyphs@", "glyphs@0"):
        with pytest.raises(SourceError, match=r"glyphs@9|is not allowed: choose glyphs \(the newest, glyphs@3\)"):
            resolve_source_name(bad)
    with pytest.raises(SourceError, match="glyphs@1, glyphs@2, glyphs@3"):
        load_source("glyphs@9", "test")
    with pytest.raises(SourceError, match="glyphs@1, glyphs@2, glyphs@3"):
        mm.Generator("srivastava", source="glyphs@9")


def test_sources_by_version():
    """Plain glyphs is glyphs@3 and says so; glyphs@1 and glyphs@2 are the older digits, byte for byte."""
    newest, v3, v2, v1 = (load_source(n, "test") for n in ("glyphs", "glyphs@3", "glyphs@2", "glyphs@1"))
    assert newest.name == v3.name == "glyphs@3" and newest.checksum == v3.checksum
    assert (v1.name, v2.name) == ("glyphs@1", "glyphs@2") and len({v1.checksum, v2.checksum, v3.checksum}) == 3
    np.testing.assert_array_equal(v1.images, render_glyphs("test", np.arange(10_000))[0])
    np.testing.assert_array_equal(v2.images[:50], render_handwriting("test", np.arange(50), 2)[0])
    np.testing.assert_array_equal(v3.images[:50], render_handwriting("test", np.arange(50), 3)[0])
    assert glyphs_module.VERSION == 1


def test_splits(version):
    train, val, test = (load_source(f"glyphs@{version}", s) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (50_000, 10_000, 10_000)
    np.testing.assert_array_equal(val.images[:20], render_handwriting("train", np.arange(50_000, 50_020), version)[0])
    assert all(np.array_equal(np.bincount(b.labels), np.full(10, len(b) // 10)) for b in (train, val, test))


def test_specs_record_the_version():
    assert resolve_spec("srivastava", source="glyphs").source.name == "glyphs@3"
    assert resolve_spec("srivastava", ["source.name=glyphs"]).source.name == "glyphs@3"
    assert resolve_spec("srivastava", source="glyphs", plain_glyphs="glyphs@1").source.name == "glyphs@1"
    assert resolve_spec("srivastava", source="glyphs@1", plain_glyphs="glyphs@2").source.name == "glyphs@1"
    assert resolve_spec("srivastava", source="glyphs@2").source.name == "glyphs@2"
    gen = mm.Generator(small_spec(), seed=0, source="glyphs")
    assert gen.spec.source.name == "glyphs@3" and gen.metadata()["source"]["name"] == "glyphs@3"


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


def test_new_datasets_record_the_newest_glyphs(tmp_path):
    path = str(tmp_path / "new.zarr")
    mm.write_dataset(small_spec(), seed=1, num=2, path=path, source="glyphs", chunk_size=2)
    with mm.open(path) as ds:
        assert ds.spec.source.name == "glyphs@3" and ds.metadata["source"]["name"] == "glyphs@3"
    assert mm.verify_dataset(path, all=True).ok


def test_shape_model_fitter_round_trip(tmp_path, monkeypatch):
    """benchmarks/fit_glyph_shapes.py: a fit lowers the error from its start, and the file the shape model is written
    to loads as a shape model that renders (here fitted to glyphs@3's own 3s, as MNIST is not needed)."""
    pytest.importorskip("torch")
    from pathlib import Path

    from movingmnist.sources.shape_model import read_shapes, shapes_text

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    fitter = __import__("fit_glyph_shapes")
    images, labels = render_handwriting("test", np.arange(300), 3)
    threes = images[labels == 3]
    _, start_error = fitter.fit_shapes(3, 3, threes, steps=0)
    shapes, error = fitter.fit_shapes(3, 3, threes, steps=60)
    assert shapes.shape == (30, handwriting.ALLOGRAPHS_3[3][3].points.shape[0], 2)
    assert error.mean() < 0.7 * start_error.mean()
    mean, modes = fitter.summarise(3, 3, shapes, modes=4, scale=0.85, min_digits=20)
    assert mean.shape == shapes.shape[1:] and modes.shape == (4, *mean.shape)
    assert mean[:, 1].min() >= -0.2 and mean[:, 1].max() <= 1.2  # a unit-high box (samples overshoot the points)
    seven = handwriting.ALLOGRAPHS_3[7][0].points  # an allograph with its mean only (too few digits for modes)
    out = tmp_path / "shapes.json"
    out.write_text(shapes_text({(3, 3): (30, mean, modes), (7, 0): (5, seven, np.zeros((0, *seven.shape)))}, "test"))
    table = read_shapes(out.read_text())
    assert table[(7, 0)][2].shape == (0, *seven.shape)
    model = handwriting._shape_model(table)
    np.testing.assert_allclose(model.shapes[(3, 3)][0], mean, atol=5e-5)
    assert model.allographs[3][3].weight == 30 and model.allographs[3][0].weight == 0
    drawn = handwriting._render(model, "test", np.array([3, 13, 23]))[0]
    assert drawn.shape == (3, 28, 28) and (drawn.reshape(3, -1).max(axis=1) > 200).all()
