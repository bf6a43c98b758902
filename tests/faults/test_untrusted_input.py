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

from movingmnist.errors import SourceError
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
