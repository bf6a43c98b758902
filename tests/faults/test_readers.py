"""Readers refuse damaged, tampered or hostile datasets (issue 12): missing or swapped pieces are DatasetErrors naming
the array and the rows, never fill values; stored dtypes and shapes are checked against the layout; array names are
schema names; nothing outside the dataset is read; ``info`` and ``verify`` report all of it without a traceback.

Each test builds a real dataset (40 tiny sequences, 4 chunks of 10, built-in glyphs) and really edits its files.
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

import movingmnist as mm
from movingmnist.cli import main

SPEC = mm.Spec.from_preset("srivastava", ["frames=4", "canvas.height=32", "canvas.width=32"])
NUM, CHUNK, SEED = 40, 10, 0
NAMES = {"zarr": "d.zarr", "npy": "d.npy-dir", "hdf5": "d.h5", "classic-npy": "d.npy"}
FRAMES_SHARD = "frames/c/{}/0/0/0/0"  # key of shard k of the 5-D frames array
LABELS_SHARD = "labels/c/{}/0"


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("originals")
    paths = {}
    for fmt, name in NAMES.items():
        paths[fmt] = str(root / name)
        mm.write_dataset(SPEC, SEED, NUM, paths[fmt], source="glyphs", chunk_size=CHUNK, progress=False)
    return paths


@pytest.fixture
def fresh(originals, tmp_path):
    """``fresh(fmt)``: a private copy of the intact dataset of format ``fmt`` (with its sidecar files)."""

    def copy(fmt: str) -> str:
        src = originals[fmt]
        dst = str(tmp_path / os.path.basename(src))
        if os.path.isdir(src):
            shutil.copytree(src, dst, symlinks=True)
        else:
            for suffix in ("", ".json", ".manifest.json"):
                if os.path.exists(src + suffix):
                    shutil.copy(src + suffix, dst + suffix)
        return dst

    return copy


def edit_json(path: str, change) -> None:
    with open(path) as f:
        data = json.load(f)
    result = change(data)
    with open(path, "w") as f:
        json.dump(data if result is None else result, f)


def edit_metadata(path: str, change) -> None:
    """Apply ``change(metadata)`` to the stored metadata of the dataset at ``path``, in any format."""
    if path.endswith(".zarr"):
        edit_json(os.path.join(path, "zarr.json"), lambda group: change(group["attributes"]["movingmnist"]))
    elif path.endswith(".npy-dir"):
        edit_json(os.path.join(path, "metadata.json"), change)
    elif path.endswith(".npy"):
        edit_json(path + ".json", change)
    else:
        import h5py

        with h5py.File(path, "r+") as f:
            metadata = json.loads(f.attrs["movingmnist"])
            change(metadata)
            f.attrs["movingmnist"] = json.dumps(metadata)


def rename_array(metadata: dict, old: str, new: str) -> None:
    arrays = metadata["layout"]["arrays"]
    arrays[new] = arrays.pop(old)


def flip(path: str, offset: int, count: int = 4) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        data = bytearray(f.read(count))
        f.seek(offset)
        f.write(bytes(b ^ 0xFF for b in data))


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the movingmnist command in-process: (exit status, stdout, stderr); never a traceback."""
    capsys.readouterr()
    status = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, err
    return status, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("movingmnist: error: "), err
    return lines[0]


def info_complete(out: str) -> str:
    return next(line for line in out.splitlines() if line.startswith("complete")).split(None, 1)[1]


# -- 1. missing or swapped data is never read as fill values -------------------------------------------------------
@pytest.mark.parametrize("key", [FRAMES_SHARD, LABELS_SHARD])
def test_missing_shard_file_is_an_error_not_fill(fresh, capsys, key):
    path = fresh("zarr")
    array = key.split("/")[0]
    os.remove(os.path.join(path, key.format(2)))  # rows 20..29; the shard's directory stays
    ds = mm.open(path)
    with pytest.raises(mm.DatasetError, match=rf"^{array}: rows 20\.\.29 are missing \(no shard file: .*c/2"):
        ds[25]
    with pytest.raises(mm.DatasetError, match=rf"{array}: rows 20\.\.29 are missing"):
        ds[15:25]
    assert ds[5]["frames"].any() and ds[35]["frames"].any()  # the rest still reads

    status, out, _ = cli(capsys, "info", path)
    assert status == 1 and info_complete(out).startswith("NO: damaged, 10 of 40 sequences")
    assert f"{array} rows 20..29: shard file " in out and " is missing" in out
    status, out, _ = cli(capsys, "verify", path, "--all")
    assert status == 1 and out.startswith("DAMAGED: 1 problem in the files of")
    assert f"  {array} rows 20..29: shard file" in out and f"sequence 25 (row 25): cannot read {array}" in out


def test_missing_shard_directory_is_refused_at_open(fresh, capsys):
    path = fresh("zarr")
    shutil.rmtree(os.path.join(path, "frames", "c", "3"))
    with pytest.raises(mm.DatasetError, match=r"^frames: rows 30\.\.39 are missing \(no entry for this shard"):
        mm.open(path)
    status, _, err = cli(capsys, "verify", path, "--sample", "3")
    assert status == 2 and "frames: rows 30..39 are missing" in one_error_line(err)


def test_swapped_shards_are_refused(fresh, capsys):
    path = fresh("zarr")
    os.replace(os.path.join(path, FRAMES_SHARD.format(1)), os.path.join(path, FRAMES_SHARD.format(2)))
    shutil.copy(os.path.join(path, "depth/c/0/0/0"), os.path.join(path, LABELS_SHARD.format(0)))
    ds = mm.open(path)
    with pytest.raises(mm.DatasetError, match=r"frames: the shard file of rows 20\.\.29 .* holds rows 10\.\.19 of "
                       r"frames: shard files were swapped or renamed"):
        ds[25]
    with pytest.raises(mm.DatasetError, match=r"frames: rows 10\.\.19 are missing"):
        ds[15]
    with pytest.raises(mm.DatasetError, match=r"labels: the shard file of rows 0\.\.9 .* holds shard 0 of another "
                       "array"):
        ds.arrays["labels"][3]
    # --sample 1 regenerates one sequence, but the structure of every chunk is checked
    status, out, _ = cli(capsys, "verify", path, "--sample", "1", "--seed", "0")
    assert status == 1
    assert "DAMAGED: 3 problems" in out and "(structure of 16 arrays x 4 written chunks checked)" in out
    assert "  frames rows 10..19: shard file" in out and "  frames rows 20..29: the shard file of rows 20..29" in out
    assert "  labels rows 0..9: the shard file of rows 0..9" in out
    assert " of 1 sequences checked" in out or "verified 1 of 40 sequences" in out


def test_complete_metadata_over_an_incomplete_dataset(fresh, capsys):
    """A run killed after 2 of 4 chunks, then its metadata edited to say complete."""
    path = fresh("zarr")
    edit_json(os.path.join(path, "manifest.json"), lambda m: m.update(done=[[0, 2]], complete=False))
    for name in os.listdir(path):
        if os.path.isdir(os.path.join(path, name)):
            for chunk in ("2", "3"):
                shutil.rmtree(os.path.join(path, name, "c", chunk))
    with pytest.raises(mm.DatasetError, match=r"incomplete: 20 of 40 sequences are missing \(its metadata says "
                       r"complete, but its manifest records only 2 of 4 chunks as written\)"):
        mm.open(path)
    status, out, _ = cli(capsys, "info", path)
    assert status == 0 and info_complete(out).startswith("NO: 20 of 40 sequences are missing")
    status, _, err = cli(capsys, "verify", path)
    assert status == 2 and "incomplete: 20 of 40" in one_error_line(err)
    # without the manifest the metadata is all there is: the missing shards are then refused where they are read
    os.remove(os.path.join(path, "manifest.json"))
    with pytest.raises(mm.DatasetError, match=r"frames: rows 20\.\.29 are missing \(no entry for this shard"):
        mm.open(path)


def test_flipped_bytes_in_npy_arrays(fresh, capsys):
    path = fresh("npy")
    frames = os.path.join(path, "frames.npy")
    flip(frames, os.path.getsize(frames) - 1000)  # data of the last sequence: no checksum, verify regenerates
    status, out, _ = cli(capsys, "verify", path, "--all")
    assert status == 1 and "sequence 39 (row 39): differs in frames" in out
    flip(os.path.join(path, "labels.npy"), 20, 6)  # inside the header
    with pytest.raises(mm.DatasetError, match=r"^labels: cannot read .*labels\.npy"):
        mm.open(path)
    status, _, err = cli(capsys, "verify", path, "--all")
    assert status == 2 and "labels: cannot read" in one_error_line(err)


def test_hdf5_chunks_never_stored_are_an_error_not_fill(fresh, capsys):
    import h5py

    path = fresh("hdf5")
    with h5py.File(path, "r+") as f:  # rebuild frames without the chunks of rows 20..23
        old = f["frames"]
        new = f.create_dataset("rebuilt", shape=old.shape, dtype=old.dtype, chunks=old.chunks, fillvalue=0)
        step = old.chunks[0]
        for row in range(0, NUM, step):
            if not 20 <= row < 24:
                offset = (row,) + (0,) * (old.ndim - 1)
                mask, data = old.id.read_direct_chunk(offset)
                new.id.write_direct_chunk(offset, data, mask)
        del f["frames"]
        f.move("rebuilt", "frames")
    ds = mm.open(path)
    assert ds[19]["frames"].any() and ds[24]["frames"].any()
    with pytest.raises(mm.DatasetError, match=rf"^frames: rows 20\.\.{20 + step - 1} are missing \(their HDF5 chunk"):
        ds[21]
    status, out, _ = cli(capsys, "info", path)
    assert status == 1 and info_complete(out).startswith("NO: damaged, 4 of 40 sequences")
    status, out, _ = cli(capsys, "verify", path, "--sample", "2")
    assert status == 1 and f"  frames rows 20..23: {4 // step} HDF5 chunks were never stored" in out


# -- 2. stored dtypes and shapes are checked against the layout ----------------------------------------------------
def _npy_with(path: str, change) -> None:
    array = np.load(path)
    np.save(path, change(array))


@pytest.mark.parametrize(
    ("fmt", "tamper", "message"),
    [
        ("zarr", lambda p: edit_json(f"{p}/frames/zarr.json", lambda m: m.update(data_type="int8")),
         "array 'frames' is stored as int8 with shape (40, 4, 1, 32, 32), but the dataset's layout gives uint8"),
        ("zarr", lambda p: edit_json(f"{p}/labels/zarr.json", lambda m: m.update(data_type="uint16")),
         "array 'labels' is stored as uint16 with shape (40, 2), but the dataset's layout gives int16 with shape "
         "(40, 2)"),
        ("zarr", lambda p: edit_json(f"{p}/frames/zarr.json", lambda m: m["shape"].__setitem__(1, 3)),
         "array 'frames' is stored as uint8 with shape (40, 3, 1, 32, 32), but the dataset's layout gives uint8 "
         "with shape (40, 4, 1, 32, 32)"),
        ("npy", lambda p: _npy_with(f"{p}/frames.npy", lambda a: a.view(np.int8)),
         "array 'frames' is stored as int8 with shape (40, 4, 1, 32, 32), but the dataset's layout gives uint8"),
        ("npy", lambda p: _npy_with(f"{p}/boxes.npy", lambda a: a[:, :3]),
         "array 'boxes' is stored as float32 with shape (40, 3, 2, 4), but the dataset's layout gives float32 with "
         "shape (40, 4, 2, 4)"),
        ("classic-npy", lambda p: _npy_with(p, lambda a: a.view(np.int8)),
         "d.npy: a classic .npy holds (T, N, H, W) uint8 frames; this one holds int8 (4, 40, 32, 32)"),
        ("classic-npy", lambda p: edit_metadata(p, lambda m: m["layout"]["arrays"]["frames"].update(
            shape=[5, 1, 32, 32])), "but the dataset's layout gives uint8 with shape (40, 5, 1, 32, 32)"),
    ],
    ids=["zarr-int8", "zarr-uint16", "zarr-shape", "npy-int8", "npy-shape", "classic-int8", "classic-layout"],
)
def test_tampered_dtype_or_shape_is_refused(fresh, capsys, fmt, tamper, message):
    path = fresh(fmt)
    tamper(path)
    with pytest.raises(mm.DatasetError) as caught:
        mm.open(path)
    assert message in str(caught.value)
    status, _, err = cli(capsys, "verify", path, "--all")
    assert status == 2 and message in one_error_line(err)


def test_hdf5_dtype_is_checked(fresh):
    import h5py

    path = fresh("hdf5")
    with h5py.File(path, "r+") as f:
        labels = f["labels"][:]
        del f["labels"]
        f.create_dataset("labels", data=labels.astype("u2"), chunks=(10, 2))
    with pytest.raises(mm.DatasetError, match=r"array 'labels' is stored as uint16 with shape \(40, 2\), but the "
                       r"dataset's layout gives int16"):
        mm.open(path)


# -- 3. verify never crashes on hostile metadata --------------------------------------------------------------------
def _spec_frames(metadata: dict, *, fingerprint: bool) -> None:
    metadata["spec"]["frames"] = 6
    if fingerprint:
        metadata["fingerprint"] = mm.Spec.from_dict(metadata["spec"]).fingerprint


@pytest.mark.parametrize(
    ("change", "manifest", "message"),
    [
        (lambda m: _spec_frames(m, fingerprint=False), True,
         "differ in spec.frames (4 and 6): one of them was changed after the dataset was written"),
        (lambda m: _spec_frames(m, fingerprint=False), False,
         "the stored spec has fingerprint"),
        (lambda m: _spec_frames(m, fingerprint=True), False,
         "the stored spec does not describe the stored arrays (it renders frames as uint8 (6, 1, 32, 32) per "
         "sequence, stored as uint8 (4, 1, 32, 32)"),
        (lambda m: rename_array(m, "labels", "../outside_victim/labels"), True,
         "the metadata names an array '../outside_victim/labels', a path; array names are one of the schema's"),
        (lambda m: m.update(seed="abc"), False, "the metadata has seed='abc'; allowed: an integer >= 0"),
        (lambda m: m.update(source=5), True, "the metadata has source=5; allowed: an object"),
        (lambda m: m["layout"].update(arrays=["frames"]), True, "the stored layout is damaged"),
        (lambda m: m["layout"].update(chunk_size=0), True, "chunk_size=0"),
        (lambda m: m["spec"].update(frames="x"), False, "the stored spec is not valid here: frames='x'"),
        (lambda m: m["layout"]["arrays"]["labels"].update(dtype="float64"), True,
         "the layout gives array 'labels' dtype 'float64'; the schema's is int16"),
    ],
    ids=["spec", "spec-no-manifest", "spec-and-fingerprint", "name", "seed", "source", "arrays", "chunk-size",
         "bad-spec", "layout-dtype"],
)
def test_hostile_metadata_is_one_error_line(fresh, capsys, tmp_path, change, manifest, message):
    path = fresh("zarr")
    os.makedirs(tmp_path / "outside_victim" / "labels")
    edit_metadata(path, change)
    if not manifest:
        os.remove(os.path.join(path, "manifest.json"))
    for argv in (["verify", path, "--all"], ["verify", path, "--sample", "3"], ["info", path]):
        status, out, err = cli(capsys, *argv)
        if argv[0] == "info" and status == 0:  # info does not regenerate: only what opening checks
            continue
        assert status == 2, out
        assert message in one_error_line(err)


@pytest.mark.parametrize("fmt", ["zarr", "npy", "hdf5", "classic-npy"])
@pytest.mark.parametrize("name", ["../outside/labels", "/etc/passwd", "frames/../labels", "labelz", ".."])
def test_array_names_must_be_schema_names(fresh, fmt, name):
    path = fresh(fmt)
    edit_metadata(path, lambda m: rename_array(m, "frames" if fmt == "classic-npy" else "labels", name))
    with pytest.raises(mm.DatasetError, match=r"the metadata names an array .*; array names are one of the schema's "
                       r"arrays \(frames, semantic"):
        mm.open(path, allow_incomplete=True)


# -- 5. nothing outside the dataset is read -------------------------------------------------------------------------
def test_npy_reads_no_file_outside_the_dataset(fresh, tmp_path):
    path = fresh("npy")
    labels = mm.open(path).arrays["labels"][:]
    np.save(tmp_path / "elsewhere.npy", np.zeros((NUM, 2), np.int16))
    # an absolute name: refused as a path before any file is opened
    edit_metadata(path, lambda m: rename_array(m, "labels", str(tmp_path / "elsewhere")))
    with pytest.raises(mm.DatasetError, match="a path; array names are"):
        mm.open(path)
    edit_metadata(path, lambda m: rename_array(m, str(tmp_path / "elsewhere"), "labels"))
    # a symlink that leaves the dataset: refused; one that stays inside: fine
    os.replace(os.path.join(path, "labels.npy"), tmp_path / "labels-moved.npy")
    os.symlink(tmp_path / "labels-moved.npy", os.path.join(path, "labels.npy"))
    with pytest.raises(mm.DatasetError, match=r"array 'labels': .*labels\.npy resolves to .*labels-moved\.npy, "
                       r"outside the dataset directory"):
        mm.open(path)
    os.remove(os.path.join(path, "labels.npy"))
    os.makedirs(os.path.join(path, "store"))
    shutil.copy(tmp_path / "labels-moved.npy", os.path.join(path, "store", "labels.npy"))
    os.symlink(os.path.join("store", "labels.npy"), os.path.join(path, "labels.npy"))
    np.testing.assert_array_equal(mm.open(path).arrays["labels"][:], labels)


def test_zarr_reads_no_file_outside_the_dataset(fresh, tmp_path, capsys):
    path = fresh("zarr")
    expected = mm.open(path)[25]["frames"]
    shard = os.path.join(path, FRAMES_SHARD.format(2))
    os.replace(shard, tmp_path / "shard-moved")
    os.symlink(tmp_path / "shard-moved", shard)
    ds = mm.open(path)
    with pytest.raises(mm.DatasetError, match=r"^frames: rows 20\.\.29: .* resolves to .*shard-moved, outside the "
                       "dataset directory"):
        ds[25]
    status, out, _ = cli(capsys, "verify", path, "--sample", "2")
    assert status == 1 and "  frames rows 20..29: " in out and "outside the dataset directory" in out
    # a link inside the dataset is followed
    os.remove(shard)
    shutil.copy(tmp_path / "shard-moved", os.path.join(path, "frames", "spare"))
    os.symlink(os.path.join(path, "frames", "spare"), shard)
    np.testing.assert_array_equal(mm.open(path)[25]["frames"], expected)
    # a whole array directory elsewhere
    shutil.move(os.path.join(path, "labels"), tmp_path / "labels-dir")
    os.symlink(tmp_path / "labels-dir", os.path.join(path, "labels"))
    with pytest.raises(mm.DatasetError, match=r"array 'labels': .* resolves to .*labels-dir, outside the dataset"):
        mm.open(path)


@pytest.mark.parametrize("kind", ["external-link", "soft-link", "external-storage", "group"])
def test_hdf5_members_must_be_datasets_in_the_file(fresh, tmp_path, capsys, kind):
    import h5py

    path = fresh("hdf5")
    other = str(tmp_path / "other.h5")
    shutil.copy(path, other)
    with h5py.File(path, "r+") as f:
        labels = f["labels"][:]
        if kind == "soft-link":
            f.move("labels", "labels_real")
        else:
            del f["labels"]
        if kind == "external-link":
            f["labels"] = h5py.ExternalLink(other, "labels")
        elif kind == "soft-link":
            f["labels"] = h5py.SoftLink("/labels_real")
        elif kind == "external-storage":
            labels.tofile(tmp_path / "raw.bin")
            f.create_dataset("labels", shape=labels.shape, dtype=labels.dtype,
                             external=[(str(tmp_path / "raw.bin"), 0, labels.nbytes)])
        else:
            f.create_group("labels")
    message = {
        "external-link": f"array 'labels' is an external link to 'labels' in {other}; only datasets stored in the "
        "file itself are read",
        "soft-link": "array 'labels' is a SoftLink to '/labels_real'; only datasets stored in the file itself",
        "external-storage": "array 'labels' is stored in external files",
        "group": "'labels' is a Group, not a dataset",
    }[kind]
    with pytest.raises(mm.DatasetError) as caught:
        mm.open(path)
    assert message in str(caught.value)
    status, _, err = cli(capsys, "verify", path)
    assert status == 2 and message in one_error_line(err)


# -- cost and compatibility -----------------------------------------------------------------------------------------
def test_checks_are_cached_not_repeated_per_read(fresh, monkeypatch):
    """Path and header checks run once per shard; later reads of it make no extra system calls."""
    path = fresh("zarr")
    ds = mm.open(path)
    ds[25]
    calls = []
    for name in ("lstat", "stat"):
        real = getattr(os, name)
        monkeypatch.setattr(os, name, lambda *a, _real=real, _name=name, **k: calls.append(_name) or _real(*a, **k))
    real_realpath = os.path.realpath
    monkeypatch.setattr(os.path, "realpath", lambda *a, **k: calls.append("realpath") or real_realpath(*a, **k))
    for _ in range(5):
        ds[21], ds[29]
    assert calls == []


def test_shards_without_a_header_still_read(fresh):
    """Shards written by zarr itself or an earlier version have no header: read as before."""
    from movingmnist.io.zarr_writer import HEADER_SIZE, MAX_UINT64, decode_index, encode_shard

    path = fresh("zarr")
    want = mm.open(path)[:]
    layout = mm.open(path).layout
    for name, spec in layout.arrays.items():
        per_shard = CHUNK // spec.chunk_rows
        for chunk in range(NUM // CHUNK):
            shard = os.path.join(path, name, "c", str(chunk), *(["0"] * len(spec.shape)))
            data = open(shard, "rb").read()
            index = decode_index(data[-(16 * per_shard + 4):], per_shard, len(data), shard)
            assert int(index[index[:, 0] != MAX_UINT64, 0].min()) == HEADER_SIZE
            pieces = [data[int(o) : int(o) + int(n)] for o, n in index if o != MAX_UINT64]
            with open(shard, "wb") as f:
                f.write(b"".join(encode_shard(pieces, per_shard)))
    got = mm.open(path)[:]
    for name, array in want.arrays().items():
        assert getattr(got, name).tobytes() == array.tobytes(), name


def test_a_damaged_dataset_can_be_overwritten(fresh, capsys):
    """The errors say "generate it again": --overwrite replaces a dataset the reader refuses, even without its
    manifest (it is recognised by its metadata); a directory that is not a dataset is still left untouched."""
    path = fresh("zarr")
    os.remove(os.path.join(path, "manifest.json"))
    shutil.rmtree(os.path.join(path, "frames", "c", "1"))
    edit_json(os.path.join(path, "labels", "zarr.json"), lambda m: m.update(data_type="uint16"))
    with pytest.raises(mm.DatasetError):
        mm.open(path)
    argv = ["generate", "--preset", "srivastava", "--set", "frames=4", "--set", "canvas.height=32", "--set",
            "canvas.width=32", "--source", "glyphs", "--num", str(NUM), "--chunk-size", str(CHUNK), "--quiet",
            "--out", path]
    status, _, err = cli(capsys, *argv)
    assert status == 2 and "pass --overwrite" in one_error_line(err)
    status, _, _ = cli(capsys, *argv, "--overwrite")
    assert status == 0 and mm.open(path)[15]["frames"].any()
    status, out, _ = cli(capsys, "verify", path, "--all")
    assert status == 0 and "every written chunk is present and intact" in out
