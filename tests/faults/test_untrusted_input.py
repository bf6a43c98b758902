"""Untrusted input is refused up front with one clear message: links out of image folders, images and IDX files that
decode to far more than their size on disk, specs and counts that no memory holds, endless config files, and bad
arguments to the public calls (the package's own errors, never a raw numpy or Python one)."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

import movingmnist as mm
from movingmnist.errors import MovingMNISTError, SourceError, SpecError
from movingmnist.sources import load_source
from movingmnist.sources.folder import open_image
from movingmnist.sources.idx import read_idx


def _png(path: Path, width: int, height: int) -> Path:
    """A black 1-bit greyscale PNG of ``width`` x ``height``: a few kB on disk whatever its pixel count."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = bytes(1 + (width + 7) // 8)  # filter byte 0, then the packed pixels
    packer = zlib.compressobj(9)
    rows_at_once = max(1, 2**22 // len(row))
    data = [packer.compress(row * min(rows_at_once, height - y)) for y in range(0, height, rows_at_once)]
    idat = b"".join(data) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def _glyph_folder(root: Path, n: int = 3) -> Path:
    from PIL import Image

    for label in "01":
        for i in range(n):
            (root / label).mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((28, 28), 50 * (i + 1), np.uint8)).save(root / label / f"{i}.png")
    return root


# -- 1. folder: sources stay inside their folder ---------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links here")
def test_folder_refuses_links_out_of_the_folder(tmp_path):
    root = _glyph_folder(tmp_path / "glyphs")
    outside = _glyph_folder(tmp_path / "elsewhere")
    os.symlink(outside / "0" / "0.png", root / "0" / "zz.png")
    with pytest.raises(SourceError) as info:
        load_source(f"folder:{root}", val_size=0)
    message = str(info.value)
    assert f"image {root / '0' / 'zz.png'} is a link to {os.path.realpath(outside / '0' / '0.png')}" in message
    assert f"outside the folder {os.path.realpath(root)}" in message

    # A class folder that is a link out is refused the same way (its images lie outside).
    (root / "0" / "zz.png").unlink()
    os.symlink(outside / "1", root / "2")
    with pytest.raises(SourceError, match=r"2/0.png is a link to .*elsewhere/1/0.png, outside the folder"):
        load_source(f"folder:{root}", val_size=0)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links here")
def test_folder_follows_links_that_stay_inside(tmp_path):
    real = _glyph_folder(tmp_path / "real")
    os.symlink(real / "0" / "1.png", real / "1" / "from-class-0.png")  # inside: followed
    os.symlink(real, tmp_path / "alias")  # the folder itself may be a link
    bank = load_source(f"folder:{tmp_path / 'alias'}", val_size=0)
    assert len(bank) == 7 and bank.labels.tolist().count(1) == 4


# -- 2. images: a pixel cap read from the header ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("side", "size"),
    [(20000, "400,000,000 pixels"), (10000, "10000x10000 = 100,000,000 pixels"), (4200, "4200x4200 = 17,640,000")],
    ids=["400MP-pillow-refuses", "100MP", "just-over"],
)
def test_folder_refuses_images_over_the_pixel_cap(tmp_path, side, size):
    png = _png(tmp_path / "big" / "0" / "a.png", side, side)
    assert png.stat().st_size < 100_000  # small on disk, huge decoded
    with pytest.raises(SourceError) as info:
        load_source(f"folder:{tmp_path / 'big'}", val_size=0)
    message = str(info.value)
    assert f"image {png} is {size}" in message
    assert "over the cap of 16,777,216 pixels per image" in message and "MOVINGMNIST_MAX_IMAGE_PIXELS" in message


def test_pixel_cap_is_raised_by_the_environment(tmp_path, monkeypatch):
    _png(tmp_path / "big" / "0" / "a.png", 4200, 4200)
    monkeypatch.setenv("MOVINGMNIST_MAX_IMAGE_PIXELS", "18_000_000")
    bank = load_source(f"folder:{tmp_path / 'big'}", val_size=0)
    assert bank.images.shape == (1, 4200, 4200)
    monkeypatch.setenv("MOVINGMNIST_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(ValueError, match=r"MOVINGMNIST_MAX_IMAGE_PIXELS='lots' is not allowed: a whole number"):
        with open_image(tmp_path / "big" / "0" / "a.png"):
            pass


# -- 3. IDX files: the header is checked before anything is inflated -------------------------------------------------
def _gzip_idx(path: Path, code_ndim: bytes, dims: tuple[int, ...], data: bytes = b"", zeros: int = 0) -> Path:
    """A gzip IDX file: header, ``data``, then ``zeros`` zero bytes (compressed as they stream, never held)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip container
    parts = [packer.compress(b"\0\0" + code_ndim + struct.pack(f">{len(dims)}I", *dims) + data)]
    block = bytes(2**20)
    for lo in range(0, zeros, len(block)):
        parts.append(packer.compress(block[: min(len(block), zeros - lo)]))
    path.write_bytes(b"".join(parts) + packer.flush())
    return path


def test_idx_header_promising_terabytes_is_refused_before_inflating(tmp_path):
    images = _gzip_idx(tmp_path / "train-images-idx3-ubyte.gz", b"\x08\x03", (60000, 65536, 65536), bytes(1000))
    _gzip_idx(tmp_path / "train-labels-idx1-ubyte.gz", b"\x08\x01", (60000,), bytes(60000))
    with pytest.raises(SourceError) as info:
        load_source(f"idx:{tmp_path}", val_size=0)
    message = str(info.value)
    assert f"IDX file {images}: its header (shape (60000, 65536, 65536), uint8) promises" in message
    assert f"{60000 * 65536**2:,} bytes of data, over the cap of {2 * 2**30:,} bytes per file" in message
    assert "MOVINGMNIST_MAX_IDX_BYTES" in message


def test_idx_gzip_bomb_is_stopped_at_what_the_header_promises(tmp_path):
    import tracemalloc

    bomb = _gzip_idx(tmp_path / "bomb-images-idx3-ubyte.gz", b"\x08\x03", (10, 28, 28), zeros=256 * 2**20)
    assert bomb.stat().st_size < 2**20  # 256 MiB of zeros once inflated
    tracemalloc.start()
    try:
        with pytest.raises(SourceError) as info:
            read_idx(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert f"IDX file {bomb} holds more than the 7840 bytes of data that its header" in str(info.value)
    assert "once inflated" in str(info.value)
    assert peak < 8 * 2**20  # read up to the promise and one byte past it, not the whole stream


def test_idx_cap_comes_from_the_environment(tmp_path, monkeypatch):
    small = _gzip_idx(tmp_path / "small-images-idx3-ubyte.gz", b"\x08\x03", (10, 28, 28), bytes(7840))
    assert read_idx(small).shape == (10, 28, 28)
    monkeypatch.setenv("MOVINGMNIST_MAX_IDX_BYTES", "1000")
    with pytest.raises(SourceError, match=r"promises 7,840 bytes of data, over the cap of 1,000 bytes per file"):
        read_idx(small)
    with pytest.raises(SourceError, match=r"holds a 3-dimensional array \(10, 28, 28\); it must be 1-dimensional"):
        read_idx(small, ndim=1)


# -- shared by the CLI cases ----------------------------------------------------------------------------------------
def _cli_error(capsys, argv: list[str]) -> str:
    """Run the CLI in-process: exit status 2 and one ``movingmnist...: error:`` line, no traceback."""
    from movingmnist.cli import main

    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("movingmnist") and "Traceback" not in err, err
    return lines[0]


BIG = ["canvas.height=4096", "canvas.width=4096", "frames=100"]  # 5 GB per sequence with its masks


# -- 4. specs and batches that no memory holds -----------------------------------------------------------------------
def test_batch_over_memory_is_refused_with_its_size():
    with pytest.raises(SpecError) as info:  # 50 PB: more than any machine has
        mm.generate("srivastava", num=10**7, source="glyphs", overrides=BIG)
    message = str(info.value)
    assert message.startswith("num=10000000 is not allowed: a batch of 10,000,000 sequences x 5,033,178,014 bytes "
                              "needs 50,331,780,140,000,000 bytes (50.3 PB), more than the ")
    assert "MOVINGMNIST_MAX_MEMORY" in message and "render fewer sequences per call" in message
    gen = mm.Generator(mm.Spec.from_preset("srivastava", BIG), source="glyphs")
    with pytest.raises(SpecError, match=r"^num=10000000 is not allowed: a batch of 10,000,000 sequences"):
        gen.render(0, 10**7)
    with pytest.raises(SpecError, match=r"^num=10000000 is not allowed"):
        gen.render_indices(range(10**7))


def test_sequence_over_memory_blames_the_spec(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MOVINGMNIST_MAX_MEMORY", str(2**30))
    with pytest.raises(SpecError) as info:
        mm.generate("srivastava", num=1, source="glyphs", overrides=BIG)
    message = str(info.value)
    assert message.startswith("spec='100 frames of 4096x4096' is not allowed: one sequence (")
    assert "needs 5,033,178,014 bytes (5.0 GB), more than the 1,073,741,824 bytes (1.1 GB) of memory" in message
    assert "use fewer frames, a smaller canvas" in message

    out = tmp_path / "big.zarr"
    argv = ["generate", "--preset", "srivastava", "--source", "glyphs", "--num", "4", "--out", str(out), "--quiet"]
    line = _cli_error(capsys, [*argv, *(a for kv in BIG for a in ("--set", kv))])
    assert "spec='100 frames of 4096x4096' is not allowed: one sequence" in line and "5.0 GB" in line
    assert not out.exists()

    # A render step that fits, times workers that do not.
    monkeypatch.setenv("MOVINGMNIST_MAX_MEMORY", str(200 * 2**20))
    wide = ["--set", "canvas.height=1024", "--set", "canvas.width=1024", "--set", "frames=30"]  # 94 MB each
    line = _cli_error(capsys, [*argv, *wide, "--workers", "4"])
    assert "workers=4 is not allowed: 4 workers' render steps of 4 sequences" in line and "use fewer workers" in line
    assert not out.exists()


# -- 5. a huge --num of a tiny spec ----------------------------------------------------------------------------------
TINY = ["frames=1", "canvas.height=28", "canvas.width=28", "annotations.semantic=false",
        "annotations.instance=false", "annotations.tracks=false"]  # 870 bytes a sequence


def test_huge_num_of_a_tiny_spec_is_planned_in_bounded_chunks(tmp_path, capsys, monkeypatch):
    from movingmnist.io.manifest import MAX_CHUNKS
    from movingmnist.runner import write as write_module

    out = tmp_path / "huge.zarr"
    argv = ["generate", "--preset", "srivastava", "--source", "glyphs", "--num", str(10**11), "--out", str(out),
            "--quiet", *(a for kv in TINY for a in ("--set", kv))]
    line = _cli_error(capsys, [*argv, "--chunk-size", "1000"])
    assert ("chunk_size=1000 is not allowed: at least 95,368 for num=100,000,000,000: 100,000,000,000 sequences in "
            f"chunks of 1,000 make 100,000,000 work chunks, over the limit of {MAX_CHUNKS:,} chunks") in line
    assert not out.exists()

    # The default chunk size grows instead: the plan holds at most MAX_CHUNKS chunks (stopped before writing).
    planned = {}

    def stop(plan, *args, **kwargs):
        planned["layout"] = plan.layout
        raise KeyboardInterrupt

    monkeypatch.setattr(write_module, "write_chunks", stop)
    with pytest.raises(KeyboardInterrupt):
        mm.write_dataset("srivastava", num=10**11, path=out, source="glyphs", overrides=TINY, progress=False)
    assert planned["layout"].chunk_size == 95_368 and planned["layout"].num_chunks <= MAX_CHUNKS


def test_damaged_manifest_cannot_claim_more_chunks_than_the_dataset():
    from movingmnist.io.manifest import from_ranges

    assert from_ranges([[0, 3], [5, 6]], 6) == {0, 1, 2, 5}
    with pytest.raises(ValueError, match=r"chunk range \[0, 1000000000000\) is outside the dataset's 6 chunks"):
        from_ranges([[0, 10**12]], 6)


# -- 6. config files: bounded reads, text only -----------------------------------------------------------------------
@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_endless_config_is_refused_after_a_bounded_read(tmp_path, capsys):
    with pytest.raises(SpecError, match=r"^config='/dev/zero' is not allowed: a YAML or JSON file of at most "
                       r"1,048,576 bytes \(1 MiB\); it holds more \(reading stopped there\)"):
        mm.Spec.from_file("/dev/zero")
    line = _cli_error(capsys, ["generate", "--config", "/dev/zero", "--num", "1", "--out", str(tmp_path / "d.zarr")])
    assert "at most 1,048,576 bytes" in line


def test_large_and_binary_configs_are_refused(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("frames: 3\n" + "# padding\n" * 200_000)
    with pytest.raises(SpecError, match=r"at most 1,048,576 bytes \(1 MiB\); it holds 2,000,010 bytes"):
        mm.Spec.from_file(big)
    nul = tmp_path / "nul.yaml"
    nul.write_bytes(b"frames: 3\n\0\0\0")
    with pytest.raises(SpecError, match=r"^config='.*nul.yaml' is not allowed: a YAML or JSON text file \(byte 10 is "
                       r"a NUL: a binary file\)"):
        mm.Spec.from_file(nul)


# -- 7. preview and stats counts -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--num", str(10**8)], "--num 100000000: 100,000,000 sequences, but a preview shows at most 100,000"),
        (["--indices", f"0:{10**8}"], f"--indices 0:{10**8}: 100,000,000 sequences, but a preview shows at most"),
        (["--tile", "1000x1000", "--out", "x.gif"], "--tile 1000x1000: 1,000,000 sequences, but a preview shows"),
    ],
    ids=["num", "indices", "tile"],
)
def test_preview_count_is_bounded(tmp_path, capsys, monkeypatch, extra, message):
    monkeypatch.chdir(tmp_path)
    line = _cli_error(capsys, ["preview", "--preset", "srivastava", "--source", "glyphs", "--out", "x.png", *extra])
    assert message in line
    assert not list(tmp_path.iterdir())


def test_stats_count_is_bounded(tmp_path, capsys):
    line = _cli_error(capsys, ["stats", "srivastava", "--source", "glyphs", "--num", str(10**8),
                               "--out", str(tmp_path / "s.png")])
    assert "--num 100000000: at least 1 and at most 1,000,000 sequences" in line


# -- 8. an unknown preset inside a config file -----------------------------------------------------------------------
def test_unknown_preset_in_a_config_names_the_field_and_the_choices(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("preset: srivastav\nframes: 5\n")
    line = _cli_error(capsys, ["generate", "--config", str(config), "--num", "1", "--out", str(tmp_path / "d.zarr")])
    assert "preset='srivastav' is not allowed: one of srivastava, " in line and "(did you mean 'srivastava'?)" in line


# -- 9. bad arguments to the public calls: the package's own errors, naming argument, value and what is allowed -------
@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A generator of tiny sequences, and a 3-sequence dataset on disk."""
    spec = mm.Spec.from_preset("srivastava", ["frames=3", "canvas.height=32", "canvas.width=32"])
    path = tmp_path_factory.mktemp("ds") / "d.zarr"
    mm.write_dataset(spec, num=3, path=path, source="glyphs", progress=False)
    return mm.Generator(spec, source="glyphs"), path


def _bad_out(gen, name: str, dtype) -> mm.Batch:
    """A batch of 2 whose array ``name`` has the wrong ``dtype``."""
    import dataclasses

    out = gen.allocate(2)
    return dataclasses.replace(out, **{name: getattr(out, name).astype(dtype)})


BAD_CALLS = [
    ("generate num=1.5", lambda g, p: mm.generate(g.spec, num=1.5, source="glyphs"), r"^num=1.5 is not allowed: an "),
    ("generate num=None", lambda g, p: mm.generate(g.spec, num=None, source="glyphs"), r"^num=None is not allowed"),
    ("generate num='3'", lambda g, p: mm.generate(g.spec, num="3", source="glyphs"), r"^num='3' is not allowed"),
    ("generate num=True", lambda g, p: mm.generate(g.spec, num=True, source="glyphs"), r"^num=True is not allowed"),
    ("generate num=2**70", lambda g, p: mm.generate(g.spec, num=2**70, source="glyphs"), r"^num=11805916207174113"),
    ("generate start=2**63", lambda g, p: mm.generate(g.spec, num=1, start=2**63, source="glyphs"),
     r"^start=9223372036854775808 is not allowed: an integer in \[0, 2\*\*63-1-num\]"),
    ("generate start=1.5", lambda g, p: mm.generate(g.spec, num=1, start=1.5, source="glyphs"), r"^start=1.5 is not"),
    ("Generator batch_size=1.5", lambda g, p: mm.Generator(g.spec, source="glyphs", batch_size=1.5),
     r"^batch_size=1.5 is not allowed: an integer >= 1"),
    ("Generator batch_size='x'", lambda g, p: mm.Generator(g.spec, source="glyphs", batch_size="x"), r"^batch_size="),
    ("render num=1.5", lambda g, p: g.render(0, 1.5), r"^num=1.5 is not allowed"),
    ("render num=None", lambda g, p: g.render(0, None), r"^num=None is not allowed"),
    ("render start=None", lambda g, p: g.render(None, 1), r"^start=None is not allowed"),
    ("render start=1.5", lambda g, p: g.render(1.5, 1), r"^start=1.5 is not allowed"),
    ("render last index past int64", lambda g, p: g.render(2**63 - 1, 2),
     r"^start=9223372036854775807 is not allowed: .*\(sequence indices start..start\+num-1 are 64-bit\)"),
    ("render out=ndarray", lambda g, p: g.render(0, 2, np.zeros(3)), r"^out='ndarray' is not allowed: a Batch of "),
    ("render out=float frames", lambda g, p: g.render(0, 2, _bad_out(g, "frames", dtype=np.float32)),
     r"^out.frames is float32 \(2, 3, 1, 32, 32\), not uint8 \(2, 3, 1, 32, 32\)"),
    ("render_indices [2**64]", lambda g, p: g.render_indices([2**64]),
     r"^indices=18446744073709551616 is not allowed: integer sequence indices in \[0, 2\*\*63-2\]"),
    ("render_indices [1.5]", lambda g, p: g.render_indices([1.5]), r"^indices=1.5 is not allowed"),
    ("render_indices ['a']", lambda g, p: g.render_indices(["a"]), r"^indices='a' is not allowed"),
    ("render_indices None", lambda g, p: g.render_indices(None), r"^indices=None is not allowed: a sequence of"),
    ("render_indices [[1, 2]]", lambda g, p: g.render_indices([[1, 2]]), r"^indices=\[1, 2\] is not allowed"),
    ("render_indices float array", lambda g, p: g.render_indices(np.zeros(2)), r"^indices='an array of float64"),
    ("render_indices small out", lambda g, p: g.render_indices([1, 2, 3], g.allocate(2)), r"^out='a batch of 2'"),
    ("gen[1.5]", lambda g, p: g[1.5], r"^index=1.5 is not allowed: an integer sequence index in \[0, "),
    ("gen['a']", lambda g, p: g["a"], r"^index='a' is not allowed"),
    ("gen[2**63]", lambda g, p: g[2**63], r"^index=9223372036854775808 is not allowed"),
    ("write path=5", lambda g, p: mm.write_dataset(g.spec, num=1, path=5, source="glyphs"), r"^path=5 is not allowed"),
    ("open(None)", lambda g, p: mm.open(None), r"^path=None is not allowed: the path of a dataset"),
    ("ds[10]", lambda g, p: mm.open(p)[10], r"^index 10 is out of range for a dataset of 3 sequences \(rows -3..2\)"),
    ("ds['a']", lambda g, p: mm.open(p)["a"], r"^dataset index 'a' is not allowed: use an integer row"),
    ("load_source val_size=1.5", lambda g, p: load_source("glyphs", "val", val_size=1.5),
     r"^source.val_size=1.5 is not allowed: it must be an integer and must lie in \[0, 60000\)"),
]


@pytest.mark.parametrize(("call", "message"), [(c, m) for _, c, m in BAD_CALLS], ids=[n for n, _, _ in BAD_CALLS])
def test_bad_arguments_raise_the_package_errors(small, call, message):
    gen, path = small
    with pytest.raises(MovingMNISTError, match=message):
        call(gen, path)


def test_dataset_key_errors_keep_their_python_kinds(small):
    _, path = small
    ds = mm.open(path)
    with pytest.raises(TypeError):
        ds["a"]
    with pytest.raises(IndexError):
        ds[10]
    assert [len(batch) for batch in (ds[0:3], ds[[0, 2]])] == [3, 2]
