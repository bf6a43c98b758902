"""Writers and reader: round trips of every array in every format, layouts, lazy indexing, parallel writes."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest

import movingmnist as mm
from _io_helpers import array_hashes, batch_hashes, glyph_arrays, small_spec
from movingmnist.io import Layout, get_writer, infer_format
from movingmnist.io.layout import storage_chunk_rows

FORMATS = {"zarr": "d.zarr", "hdf5": "d.h5", "npy": "d.npy-dir", "classic-npy": "d.npy"}
SOURCE = glyph_arrays()
NUM, START, SEED = 45, 7, 11  # 45 = 2 chunks of 16 + a partial one of 13


def _bytes(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a).tobytes()


@pytest.fixture(scope="module")
def reference() -> mm.Batch:
    return mm.Generator(small_spec(), SEED, source=SOURCE).render(START, NUM)


@pytest.fixture(scope="module")
def written(tmp_path_factory, reference) -> dict[str, str]:
    root = tmp_path_factory.mktemp("formats")
    paths = {}
    for fmt, name in FORMATS.items():
        path = str(root / name)
        summary = mm.write_dataset(
            small_spec(), SEED, NUM, path, source=SOURCE, start=START, chunk_size=16, progress=False
        )
        assert summary.format == fmt and summary.complete and summary.written == NUM
        paths[fmt] = path
    return paths


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_round_trip_every_array(written, reference, fmt):
    ds = mm.open(written[fmt])
    assert ds.format == fmt and ds.complete and ds.missing == 0 and len(ds) == NUM
    expected = reference.arrays() if fmt != "classic-npy" else {"frames": reference.frames}
    assert list(ds.arrays) == list(expected)
    batch = ds[:]
    np.testing.assert_array_equal(batch.index, np.arange(START, START + NUM))
    for name, want in expected.items():
        assert ds.arrays[name].shape == want.shape and ds.arrays[name].dtype == want.dtype, name
        assert _bytes(getattr(batch, name)) == _bytes(want), name  # byte equality: NaN boxes included
    one = ds[17]
    for name, want in expected.items():
        assert _bytes(one[name]) == _bytes(want[17]), name
    meta = ds.metadata
    assert ds.seed == SEED and ds.start == START and ds.spec == mm.Generator(small_spec(), SEED, source=SOURCE).spec
    assert meta["num"] == NUM and meta["complete"] is True and meta["version"] == mm.__version__
    assert meta["source"]["checksum"] and meta["source"]["name"] == "array" and meta["command"]


def test_formats_agree(written):
    hashes = {fmt: array_hashes(path) for fmt, path in written.items()}
    assert hashes["zarr"] == hashes["hdf5"] == hashes["npy"]
    assert hashes["classic-npy"]["frames"] == hashes["zarr"]["frames"]


def test_classic_layout(written, reference):
    frames = np.load(written["classic-npy"])
    t, _, h, w = reference.frames.shape[1:]
    assert frames.shape == (t, NUM, h, w) and frames.dtype == np.uint8
    np.testing.assert_array_equal(frames, reference.frames[:, :, 0].transpose(1, 0, 2, 3))
    with open(written["classic-npy"] + ".json") as f:
        assert json.load(f)["complete"] is True


def test_zarr_is_standard(written, reference):
    """zarr itself reads what the direct shard writer wrote, with the chunking we chose."""
    import zarr

    group = zarr.open_group(written["zarr"], mode="r")
    assert group.attrs["movingmnist"]["seed"] == SEED
    for name, want in reference.arrays().items():
        array = group[name]
        assert array.shards[0] == 16
        assert array.chunks[0] == (1 if want[0].nbytes >= 16 * 1024 else array.chunks[0])
        assert _bytes(array[:]) == _bytes(want), name


def test_hdf5_is_standard(written, reference):
    import h5py

    with h5py.File(written["hdf5"], "r") as f:
        assert json.loads(f.attrs["movingmnist"])["num"] == NUM
        assert f["frames"].compression == "gzip" and f["frames"].chunks[0] in (1, 2, 4, 8, 16)
        for name, want in reference.arrays().items():
            assert _bytes(f[name][:]) == _bytes(want), name


def test_npy_is_memory_mappable(written, reference):
    frames = np.load(f"{written['npy']}/frames.npy", mmap_mode="r")
    assert isinstance(frames, np.memmap)
    np.testing.assert_array_equal(frames[3], reference.frames[3])


def test_zarr_api_writer_and_fast_reader_agree(tmp_path, reference):
    """Chunks written through zarr's own API read back identically through the direct shard reader, and vice
    versa (test_zarr_is_standard)."""
    import zarr

    src = str(tmp_path / "api.zarr")
    mm.write_dataset(small_spec(), SEED, NUM, src, source=SOURCE, start=START, chunk_size=16, progress=False)
    shifted = {name: np.ascontiguousarray(a[::-1][:16]) for name, a in reference.arrays().items()}
    group = zarr.open_group(src, mode="r+")
    for name, data in shifted.items():
        group[name][16:32] = data  # one whole shard per array, through zarr
    ds = mm.open(src)
    for name, want in shifted.items():
        assert _bytes(ds.arrays[name][16:32]) == _bytes(want), name


def test_lazy_indexing(written, reference):
    ds = mm.open(written["zarr"])
    boxes = ds.arrays["boxes"]
    want = reference.boxes
    assert len(boxes) == NUM and boxes.ndim == 5 - 1
    for key in (3, -1, slice(5, 30), slice(None, None, 7), slice(40, 10, -3), [9, 2, 9, 44], np.array([0, 1])):
        assert _bytes(boxes[key]) == _bytes(want[key]), key
    mask = np.zeros(NUM, bool)
    mask[[1, 20, 33]] = True
    assert _bytes(boxes[mask]) == _bytes(want[mask])
    assert _bytes(boxes[2:9, 3, 1]) == _bytes(want[2:9, 3, 1])
    assert _bytes(np.asarray(ds.arrays["labels"])) == _bytes(reference.labels)
    picked = ds[[30, 4]]
    assert isinstance(picked, mm.Batch) and list(picked.index) == [START + 30, START + 4]
    assert _bytes(picked.frames) == _bytes(reference.frames[[30, 4]])
    with pytest.raises(IndexError):
        ds[NUM]
    with pytest.raises(IndexError):
        boxes[[NUM]]


def test_dataset_pickles(written):
    ds = mm.open(written["hdf5"])
    first = ds[5]["frames"]
    clone = pickle.loads(pickle.dumps(ds))
    assert _bytes(clone[5]["frames"]) == _bytes(first)
    ds.close()


def test_incomplete_dataset_is_refused(tmp_path):
    path = str(tmp_path / "part.zarr")
    mm.write_dataset(small_spec(), SEED, 40, path, source=SOURCE, chunk_size=10, progress=False)
    ds = mm.open(path)
    from movingmnist.io.manifest import Manifest

    manifest = Manifest.load(f"{path}/manifest.json")
    manifest.done -= {1, 2}
    manifest.complete = False
    manifest.save()
    # the metadata still says complete, but a complete run records every chunk: the manifest is believed
    with pytest.raises(mm.DatasetError, match=r"20 of 40 sequences are missing \(its metadata says complete, but its "
                       r"manifest records only 2 of 4 chunks as written\)"):
        mm.open(path)
    meta_path = f"{path}/zarr.json"
    with open(meta_path) as f:
        group = json.load(f)
    group["attributes"]["movingmnist"]["complete"] = False
    with open(meta_path, "w") as f:
        json.dump(group, f)
    with pytest.raises(mm.DatasetError, match="20 of 40 sequences are missing"):
        mm.open(path)
    ds = mm.open(path, allow_incomplete=True)
    assert not ds.complete and ds.missing == 20
    assert list(ds.row_done([0, 10, 25, 39])) == [True, False, False, True]


def test_unwritten_shards_read_as_fill(tmp_path):
    """Chunks an incomplete dataset does not record as written read as the fill value (missing chunks that it
    records as written are refused: tests/faults/test_readers.py)."""
    path = str(tmp_path / "holes.zarr")
    mm.write_dataset(small_spec(), SEED, 30, path, source=SOURCE, chunk_size=10, progress=False)
    import shutil

    from movingmnist.io.manifest import Manifest

    manifest = Manifest.load(f"{path}/manifest.json")
    manifest.done -= {1}
    manifest.complete = False
    manifest.save()
    for name in ("frames", "boxes"):
        shutil.rmtree(f"{path}/{name}/c/1")
    ds = mm.open(path, allow_incomplete=True)
    assert not ds[12]["frames"].any() and np.isnan(ds[12]["boxes"]).all()
    assert ds[2]["frames"].any() and ds[22]["frames"].any()


@pytest.mark.parametrize("fmt", ["zarr", "npy", "hdf5"])
def test_workers_give_identical_bytes(tmp_path, fmt):
    suffix = {"npy": "npy-dir"}.get(fmt, fmt)  # .npy names the classic (frames-only) layout
    one = str(tmp_path / f"one.{suffix}")
    two = str(tmp_path / f"two.{suffix}")
    kwargs = dict(source=SOURCE, chunk_size=8, progress=False, format=fmt)
    mm.write_dataset(small_spec(), 3, 60, one, workers=1, **kwargs)
    summary = mm.write_dataset(small_spec(), 3, 60, two, workers=2, **kwargs)
    assert summary.workers == 2 and summary.complete
    assert 1 <= len(summary.pids) <= 2 and os.getpid() not in summary.pids  # workers rendered and wrote
    assert array_hashes(one) == array_hashes(two)
    assert array_hashes(two) == batch_hashes(mm.Generator(small_spec(), 3, source=SOURCE).render(0, 60))


def test_sink_checks_dtype_shape_and_rows(tmp_path):
    path = str(tmp_path / "chk.zarr")
    mm.write_dataset(small_spec(), 0, 20, path, source=SOURCE, chunk_size=10, progress=False)
    layout = Layout.from_dict(mm.open(path).metadata["layout"])
    batch = mm.Generator(small_spec(), 0, source=SOURCE).render(0, 10)
    arrays = batch.arrays()
    writer = get_writer("zarr")(path, layout)
    bad = {**arrays, "boxes": arrays["boxes"].astype(np.float64)}
    with pytest.raises(mm.DatasetError, match="boxes.*float64"):
        writer.write_chunk(0, bad)
    bad = {**arrays, "frames": arrays["frames"][:, :4]}
    with pytest.raises(mm.DatasetError, match="per-sequence shape"):
        writer.write_chunk(0, bad)
    with pytest.raises(mm.DatasetError, match="got 5 of its 10"):
        writer.write_chunk(0, {k: v[:5] for k, v in arrays.items()})
    missing = dict(arrays)
    missing.pop("labels")
    with pytest.raises(mm.DatasetError, match="labels"):
        writer.write_chunk(0, missing)
    assert array_hashes(path) == batch_hashes(mm.Generator(small_spec(), 0, source=SOURCE).render(0, 20))


def test_registry_and_suffixes():
    assert infer_format("a/b.zarr") == "zarr" and infer_format("x.h5") == "hdf5" and infer_format("x.hdf5") == "hdf5"
    assert infer_format("x.npy-dir") == "npy" and infer_format("x.npy") == "classic-npy"
    assert infer_format("plain") == "zarr"
    with pytest.raises(mm.SpecError, match="format='parquet'.*zarr, hdf5, npy, classic-npy"):
        get_writer("parquet")
    with pytest.raises(mm.SpecError, match="compression"):
        get_writer("hdf5").check_compression("zstd")
    assert get_writer("zarr").check_compression(None) == "zstd:1"
    assert get_writer("hdf5").check_compression("gzip") == "gzip:1"


@pytest.mark.parametrize(
    ("row_bytes", "chunk", "target", "rows"),
    [
        (81920, 1000, 65536, 1),
        (640, 1000, 65536, 100),
        (640, 256, 65536, 64),
        (4, 1000, 65536, 1000),
        (640, 7, 65536, 7),
    ],
)
def test_storage_chunk_rows(row_bytes, chunk, target, rows):
    assert storage_chunk_rows(row_bytes, chunk, target) == rows
    assert chunk % rows == 0


@pytest.mark.parametrize("compression", ["gzip:3", "none", "lz4", "lz4:1", "zstd:-3"])
def test_other_compressions(tmp_path, compression, reference):
    """Each codec round-trips through mm.open and through zarr-python itself (standard zarr v3 codecs)."""
    zarr = pytest.importorskip("zarr")
    path = str(tmp_path / f"c-{compression.replace(':', '')}.zarr")
    mm.write_dataset(
        small_spec(), SEED, NUM, path, source=SOURCE, start=START, chunk_size=16, compression=compression,
        progress=False,
    )
    assert array_hashes(path) == batch_hashes(reference)
    canonical = get_writer("zarr").check_compression(compression)
    assert mm.open(path).metadata["layout"]["compression"] == canonical
    group = zarr.open_group(path, mode="r")
    for name in ("frames", "instance", "boxes"):
        assert _bytes(group[name][:]) == _bytes(getattr(reference, name)), name


def test_lz4_is_zarr_only():
    assert get_writer("zarr").check_compression("lz4") == "lz4:5"
    for bad, allowed in [("lz4:0", r"\[1, 9\]"), ("lz4:x", r"\[1, 9\]")]:
        with pytest.raises(mm.SpecError, match=allowed):
            get_writer("zarr").check_compression(bad)
    with pytest.raises(mm.SpecError, match="one of gzip, none for format hdf5"):
        get_writer("hdf5").check_compression("lz4")


RSS_SCRIPT = """
import resource, sys
import movingmnist as mm
sys.path.insert(0, {tests!r})
from _io_helpers import glyph_arrays, small_spec
num = int(sys.argv[1])
mm.write_dataset(small_spec(), 0, num, sys.argv[2], source=glyph_arrays(), chunk_size=50, progress=False,
                 durable=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def test_peak_memory_does_not_grow_with_n(tmp_path):
    """Writing 10x more sequences (120 MB of raw arrays instead of 12 MB) does not raise peak RSS."""
    import subprocess

    from _io_helpers import PYTHON, subprocess_env

    script = RSS_SCRIPT.format(tests=os.path.dirname(__file__))
    peaks = {}
    for num in (300, 3000):
        run = subprocess.run([PYTHON, "-c", script, str(num), str(tmp_path / f"m{num}.zarr")], env=subprocess_env(),
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        peaks[num] = int(run.stdout.split()[-1])
    raw = 3000 * sum(a.nbytes for a in mm.Generator(small_spec(), 0, source=SOURCE).render(0, 1).arrays().values())
    assert raw > 100e6
    assert peaks[3000] < peaks[300] + 15e6, peaks


def test_progress_bar_when_asked(tmp_path, capsys):
    mm.write_dataset(small_spec(), 0, 30, tmp_path / "p.zarr", source=SOURCE, chunk_size=10, progress=True)
    err = capsys.readouterr().err
    assert "30/30" in err and "seq/s" in err
    mm.write_dataset(small_spec(), 0, 30, tmp_path / "q.zarr", source=SOURCE, chunk_size=10)  # not a terminal
    assert capsys.readouterr().err == ""


def test_summary_splits_render_compress_write(tmp_path):
    """The write summary separates compression from the rest of the writing (zarr and HDF5 compress, npy does not)."""
    for name, compresses in [("s.zarr", True), ("s.h5", True), ("s.npy-dir", False)]:
        summary = mm.write_dataset(small_spec(), SEED, NUM, str(tmp_path / name), source=SOURCE, chunk_size=16,
                                   progress=False)
        assert summary.render_seconds > 0 and summary.write_seconds >= summary.compress_seconds >= 0
        assert (summary.compress_seconds > 0) == compresses, name
        assert f"compress {summary.compress_seconds:.1f} s" in summary.line()


def test_object_storage_example_runs(capsys):
    """examples/object_storage.py writes to fsspec's in-memory store, reads the same bytes back and verifies them."""
    pytest.importorskip("fsspec")
    import runpy
    from pathlib import Path

    example = runpy.run_path(str(Path(__file__).resolve().parents[1] / "examples" / "object_storage.py"))
    example["main"]()
    out = capsys.readouterr().out
    assert "all identical to their regeneration" in out and "memory://examples/train.zarr: 200 sequences" in out
