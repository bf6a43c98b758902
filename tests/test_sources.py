"""Glyph sources: IDX files, the MNIST family downloads (against a real HTTP server on 127.0.0.1), image
folders, the procedural glyphs, and carving val from train. Everything runs offline."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from _banks import MNIST_DIR
from movingmnist.errors import DownloadError, SourceError
from movingmnist.sources import GlyphBank, carve_split, load_source
from movingmnist.sources import bank as bank_module
from movingmnist.sources import glyphs as glyphs_module
from movingmnist.sources import mnist as mnist_module
from movingmnist.sources.folder import load_folder_source
from movingmnist.sources.glyphs import load_glyphs, render_glyphs
from movingmnist.sources.idx import load_idx_source, read_idx
from movingmnist.sources.mnist import Family, RemoteFile, download_source, load_mnist_family

# ------------------------------------------------------------------------------------------------------------
# IDX files


_IDX_CODES = {"u1": 0x08, "i1": 0x09, ">i2": 0x0B, ">i4": 0x0C, ">f4": 0x0D, ">f8": 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of ``array`` (a writer independent of the reader under test)."""
    dtype = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    code = _IDX_CODES[dtype.str.replace("|", "").replace("<", ">")]
    header = bytes([0, 0, code, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(dtype).tobytes()


def write_idx(path: Path, array: np.ndarray, compress: bool | None = None) -> Path:
    data = idx_bytes(array)
    compress = path.suffix == ".gz" if compress is None else compress
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path


_idx_dtypes = st.sampled_from([np.dtype(t) for t in ("u1", "i1", ">i2", ">i4", ">f4", ">f8", "<i4", "<f8")])


@settings(max_examples=40, deadline=None)
@given(
    array=_idx_dtypes.flatmap(
        lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5))
    ),
    compress=st.booleans(),
)
def test_idx_round_trip(tmp_path_factory, array, compress):
    path = write_idx(tmp_path_factory.mktemp("idx") / "a.idx", array, compress)
    back = read_idx(path)
    assert back.shape == array.shape
    assert back.dtype.isnative and back.dtype.kind == array.dtype.kind
    np.testing.assert_array_equal(back, array)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x08\x03\x00\x00" + bytes(20), "magic number is 08030000"),
        (b"", "(empty file)"),
        (bytes([0, 0, 0x07, 1]) + (1).to_bytes(4, "big") + b"x", "type code 0x07"),
        (bytes([0, 0, 8, 2]) + (3).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(8), "truncated"),
        (bytes([0, 0, 8, 1]) + (3).to_bytes(4, "big") + bytes(5), "needs 3"),
        (bytes([0, 0, 8, 3]) + (3).to_bytes(4, "big"), "broken header"),
        (gzip.compress(idx_bytes(np.zeros((4, 4), np.uint8)))[:-10], "corrupt or truncated"),
    ],
    ids=["magic", "empty", "type-code", "short-data", "long-data", "short-header", "bad-gzip"],
)
def test_idx_errors_name_the_file(tmp_path, content, message):
    path = tmp_path / "broken-images-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(SourceError, match="broken-images-idx3-ubyte") as info:
        read_idx(path)
    assert message in str(info.value)


def test_idx_missing_file(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        read_idx(tmp_path / "nope")


def _synthetic_pair(n: int, seed: int, size: tuple[int, int] = (6, 5), classes: int = 4):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, *size), dtype=np.uint8), rng.integers(0, classes, n).astype(np.uint8)


def test_idx_directory_source(tmp_path):
    train = _synthetic_pair(30, 1)
    test = _synthetic_pair(12, 2, classes=6)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", train[0])
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", train[1])
    write_idx(tmp_path / "t10k-images-idx3-ubyte", test[0])  # raw and compressed may be mixed
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", test[1])
    name = f"idx:{tmp_path}"

    bank_train = load_idx_source(name, "train", val_size=5)
    bank_val = load_idx_source(name, "val", val_size=5)
    bank_test = load_idx_source(name, "test", val_size=5)
    np.testing.assert_array_equal(bank_train.images, train[0][:25])
    np.testing.assert_array_equal(bank_val.images, train[0][25:])
    np.testing.assert_array_equal(bank_val.labels, train[1][25:])
    np.testing.assert_array_equal(bank_test.images, test[0])
    # Class names cover the labels of both splits, so that train and test agree.
    classes = tuple(str(i) for i in range(int(test[1].max()) + 1))
    assert bank_train.class_names == bank_test.class_names == classes
    assert bank_test.name == name and bank_test.split == "test"


def test_idx_prefixed_names_and_ambiguity(tmp_path):
    images, labels = _synthetic_pair(10, 3)
    write_idx(tmp_path / "emnist-digits-train-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "emnist-digits-train-labels-idx1-ubyte.gz", labels)
    bank = load_idx_source(f"idx:{tmp_path}", "train", val_size=0)
    np.testing.assert_array_equal(bank.images, images)
    with pytest.raises(SourceError, match="no test images file") as info:
        load_idx_source(f"idx:{tmp_path}", "test", val_size=0)
    assert "t10k-images-idx3-ubyte[.gz]" in str(info.value)
    assert "*-test-images-idx3-ubyte[.gz]" in str(info.value)

    write_idx(tmp_path / "emnist-letters-train-images-idx3-ubyte.gz", images)
    with pytest.raises(SourceError, match="several train images files"):
        load_idx_source(f"idx:{tmp_path}", "train", val_size=0)


def test_idx_pair_source(tmp_path):
    images, labels = _synthetic_pair(18, 4)
    ip = write_idx(tmp_path / "imgs.gz", images)
    lp = write_idx(tmp_path / "labels.gz", labels)
    name = f"idx:{ip},{lp}"
    assert len(load_idx_source(name, "train", val_size=None)) == 15
    np.testing.assert_array_equal(load_idx_source(name, "val", val_size=None).images, images[15:])
    with pytest.raises(SourceError, match="no test split"):
        load_idx_source(name, "test", val_size=None)


def test_idx_mismatched_pair_and_bad_dir(tmp_path):
    ip = write_idx(tmp_path / "imgs", _synthetic_pair(5, 5)[0])
    lp = write_idx(tmp_path / "labels", np.zeros(4, np.uint8))
    with pytest.raises(SourceError, match="do not match"):
        load_idx_source(f"idx:{ip},{lp}", "train", val_size=0)
    with pytest.raises(SourceError, match="must hold a \\(M, h, w\\) uint8"):
        load_idx_source(f"idx:{lp},{lp}", "train", val_size=0)
    with pytest.raises(SourceError, match="not a directory"):
        load_idx_source(f"idx:{tmp_path / 'missing'}", "train", val_size=0)


# ------------------------------------------------------------------------------------------------------------
# MNIST family downloads against a real HTTP server


class _Server:
    """A threaded HTTP server on 127.0.0.1 serving ``routes``: path -> (behaviour, body)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[str, bytes]] = {}
        self.hits: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                server.hits.append(self.path)
                behaviour, body = server.routes.get(self.path, ("missing", b""))
                if behaviour == "missing":
                    self.send_error(404)
                    return
                if behaviour == "html":  # an error page served with status 200
                    body = b"<html><body>Service unavailable, try later</body></html>"
                if behaviour in ("trickle", "endless"):
                    self._send_forever(body, behaviour)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                # "cut": the connection drops half-way; "short": a complete response of half the file.
                if behaviour == "short":
                    body = body[: len(body) // 2]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if behaviour == "cut" else body)

            def _send_forever(self, body: bytes, behaviour: str) -> None:
                """"trickle": one byte every 0.2 s; "endless": no length, bytes without end (until the client goes)."""
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                if behaviour == "trickle":
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    if behaviour == "trickle":
                        for i in range(len(body)):
                            self.wfile.write(body[i : i + 1])
                            self.wfile.flush()
                            time.sleep(0.2)
                    else:
                        while True:
                            self.wfile.write(b"\0" * 65536)
                except OSError:  # the client hung up: what these behaviours are for
                    pass

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, prefix: str, files: dict[str, bytes], behaviour: str = "ok") -> str:
        for name, body in files.items():
            self.routes[f"/{prefix}/{name}"] = (behaviour, body)
        return f"{self.url}/{prefix}/"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # in case the environment sets a proxy
    monkeypatch.delenv("MOVINGMNIST_MIRRORS", raising=False)
    monkeypatch.delenv("MOVINGMNIST_CACHE", raising=False)
    s = _Server()
    yield s
    s.close()


@pytest.fixture
def refused_url():
    """A base URL on a port nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/data/"


_FAMILY_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
_FAMILY_FILES += ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@pytest.fixture
def family(monkeypatch):
    """A registered test family ``tinymnist``: 24 train and 10 test images of 7 x 7, 3 classes.

    Yields (name, {file name: gzip bytes}, {split: (images, labels)}).
    """
    rng = np.random.default_rng(7)
    arrays = {
        "train": (rng.integers(0, 256, (24, 7, 7), np.uint8), rng.integers(0, 3, 24).astype(np.uint8)),
        "test": (rng.integers(0, 256, (10, 7, 7), np.uint8), rng.integers(0, 3, 10).astype(np.uint8)),
    }
    flat = [arrays["train"][0], arrays["train"][1], arrays["test"][0], arrays["test"][1]]
    blobs = {name: gzip.compress(idx_bytes(a), mtime=0) for name, a in zip(_FAMILY_FILES, flat, strict=True)}
    remote = [RemoteFile(n, len(b), "sha256:" + hashlib.sha256(b).hexdigest()) for n, b in blobs.items()]
    fam = Family("tinymnist", (remote[0], remote[1]), (remote[2], remote[3]), (), ("a", "b", "c"))
    monkeypatch.setitem(mnist_module.FAMILIES, fam.name, fam)  # the registry is the documented test hook
    return fam.name, blobs, arrays


def _test_files(blobs: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in blobs.items() if k.startswith("t10k")}


def test_download_verify_and_cache(server, family, tmp_path):
    name, blobs, arrays = family
    good = server.serve("good", blobs)
    bank = load_mnist_family(name, "test", cache_dir=tmp_path, mirrors=[good])
    np.testing.assert_array_equal(bank.images, arrays["test"][0])
    np.testing.assert_array_equal(bank.labels, arrays["test"][1])
    assert bank.class_names == ("a", "b", "c")
    # Only the two files the test split needs were fetched, into <cache>/<name>/.
    assert sorted(server.hits) == ["/good/t10k-images-idx3-ubyte.gz", "/good/t10k-labels-idx1-ubyte.gz"]
    assert sorted(p.name for p in (tmp_path / name).iterdir()) == sorted(_test_files(blobs))
    # Cached: the next load does not go to the network.
    load_mnist_family(name, "test", cache_dir=tmp_path, mirrors=[good])
    assert len(server.hits) == 2
    # train and val carve the training pair.
    val = load_mnist_family(name, "val", val_size=4, cache_dir=tmp_path, mirrors=[good])
    np.testing.assert_array_equal(val.images, arrays["train"][0][-4:])


def test_falls_back_past_refused_and_404_mirrors(server, family, tmp_path, refused_url):
    name, blobs, arrays = family
    missing = f"{server.url}/nothing-here/"
    good = server.serve("good", blobs)
    bank = load_mnist_family(name, "test", cache_dir=tmp_path, mirrors=[refused_url, missing, good])
    np.testing.assert_array_equal(bank.images, arrays["test"][0])
    assert "/nothing-here/t10k-images-idx3-ubyte.gz" in server.hits


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ("wrong", "checksum mismatch"),  # another file
        ("cut", "IncompleteRead"),  # the connection drops mid-file
        ("short", "checksum mismatch"),  # a complete response holding part of the file
        ("html", "checksum mismatch"),  # an error page with status 200
    ],
)
def test_bad_downloads_rejected_and_never_cached(server, family, tmp_path, behaviour, reason):
    name, blobs, arrays = family
    if behaviour == "wrong":  # a valid IDX file, but not the one the checksum names
        other = gzip.compress(idx_bytes(np.ones((10, 7, 7), np.uint8)), mtime=0)
        bad = server.serve("bad", {k: other for k in blobs})
    else:
        bad = server.serve("bad", blobs, behaviour)
    with pytest.raises(DownloadError) as info:
        load_mnist_family(name, "test", cache_dir=tmp_path, mirrors=[bad])
    assert f"{bad}t10k-images-idx3-ubyte.gz: " in info.value.detail
    assert reason in info.value.detail
    # Nothing was left behind under the file's name, nor as a temporary file.
    cache = tmp_path / name
    assert not cache.exists() or list(cache.iterdir()) == []
    # The same call with a good mirror after the bad one succeeds.
    good = server.serve("good", blobs)
    bank = load_mnist_family(name, "test", cache_dir=tmp_path, mirrors=[bad, good])
    np.testing.assert_array_equal(bank.images, arrays["test"][0])


def test_all_mirrors_fail_message(server, family, tmp_path, refused_url):
    name, blobs, _ = family
    missing = f"{server.url}/gone/"
    html = server.serve("html", blobs, "html")
    with pytest.raises(DownloadError) as info:
        load_mnist_family(name, "test", cache_dir=tmp_path, mirrors=[refused_url, missing, html])
    short = str(info.value).splitlines()
    assert len(short) <= 3 and "6 attempt(s) failed" in short[0]
    assert "--source glyphs" in short[1] and f"movingmnist download {name}" in short[1]
    assert "MOVINGMNIST_MIRRORS" in short[2] and "--verbose" in short[2]
    message = info.value.detail  # every URL with its error, and where to put each file by hand
    for file in _test_files(blobs):
        for base in (refused_url, missing, html):
            assert f"{base}{file}" in message
        assert str(tmp_path / name / file) in message  # where to put it by hand
    assert "HTTP 404" in message
    assert "Connection refused" in message or "ConnectionError" in message
    assert "checksum mismatch" in message
    assert "MOVINGMNIST_MIRRORS" in message


def test_corrupt_cached_file_is_not_trusted(server, family, tmp_path, refused_url):
    name, blobs, arrays = family
    cache = tmp_path / name
    cache.mkdir()
    for file, blob in _test_files(blobs).items():
        (cache / file).write_bytes(blob[:-20])  # e.g. left by a killed, non-atomic download
    with pytest.raises(SourceError, match="checksum does not match") as info:
        load_mnist_family(name, "test", cache_dir=tmp_path, download=False)
    assert not isinstance(info.value, DownloadError)
    with pytest.raises(DownloadError) as info:
        load_mnist_family(name, "test", cache_dir=tmp_path, mirrors=[refused_url])
    assert "does not match this checksum: not used" in info.value.detail
    good = server.serve("good", blobs)
    bank = load_mnist_family(name, "test", cache_dir=tmp_path, mirrors=[good])
    np.testing.assert_array_equal(bank.images, arrays["test"][0])
    assert (cache / "t10k-images-idx3-ubyte.gz").read_bytes() == blobs["t10k-images-idx3-ubyte.gz"]


def test_missing_without_download_says_where(family, tmp_path):
    name, blobs, _ = family
    with pytest.raises(SourceError) as info:
        load_mnist_family(name, "train", cache_dir=tmp_path, download=False)
    assert str(tmp_path / name / "train-images-idx3-ubyte.gz") in str(info.value)
    assert f"movingmnist download {name}" in str(info.value)


def test_env_mirrors_go_first_and_env_cache(server, family, tmp_path, refused_url, monkeypatch):
    name, blobs, arrays = family
    server.serve(name, blobs)
    # The family's own mirror is down; $MOVINGMNIST_MIRRORS ({name} expanded) is tried before it.
    monkeypatch.setitem(
        mnist_module.FAMILIES, name, Family(name, *_family_pairs(name), (refused_url,), ("a", "b", "c"))
    )
    monkeypatch.setenv("MOVINGMNIST_MIRRORS", f"{server.url}/{{name}}")
    monkeypatch.setenv("MOVINGMNIST_CACHE", str(tmp_path))
    bank = load_source(name, "test")  # registered families are source names
    np.testing.assert_array_equal(bank.images, arrays["test"][0])
    assert (tmp_path / name / "t10k-labels-idx1-ubyte.gz").is_file()
    assert mnist_module.mirror_urls(mnist_module.FAMILIES[name]) == [f"{server.url}/{name}/", refused_url]


def _family_pairs(name: str):
    fam = mnist_module.FAMILIES[name]
    return fam.train, fam.test


def test_download_source(server, family, tmp_path):
    name, blobs, _ = family
    good = server.serve("good", blobs)
    paths = download_source(name, tmp_path, splits=("test",), mirrors=[good])
    assert [p.name for p in paths] == list(_test_files(blobs))
    paths = download_source(name, tmp_path, mirrors=[good])
    assert [p.name for p in paths] == list(_FAMILY_FILES)
    assert all(p.read_bytes() == blobs[p.name] for p in paths)
    assert len(server.hits) == 4  # the test pair was not fetched twice
    with pytest.raises(SourceError, match="not allowed"):
        download_source("glyphs", tmp_path)


def test_builtin_families_table():
    for fam in mnist_module.FAMILIES.values():
        assert len(fam.class_names) == 10
        for file in (*fam.train, *fam.test):
            algorithm, _, digest = file.known_hash.partition(":")
            assert algorithm == "sha256" and len(digest) == 64
    assert mnist_module.FAMILIES["mnist"].mirrors[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert "lecun" in mnist_module.FAMILIES["mnist"].mirrors[-1]
    assert mnist_module.FAMILIES["kmnist"].class_names[:4] == ("o", "ki", "su", "tsu")


# ------------------------------------------------------------------------------------------------------------
# Real MNIST test split, when the shared data directory has it

_MNIST_DIR = MNIST_DIR
_MNIST_TEST = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
_needs_mnist = pytest.mark.skipif(
    not all((_MNIST_DIR / f).is_file() for f in _MNIST_TEST),
    reason=f"the real MNIST test files are not in {_MNIST_DIR}",
)
# Published label histogram of MNIST's test split.
_MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@_needs_mnist
def test_real_mnist_test_split(tmp_path):
    (tmp_path / "mnist").mkdir()
    for f in _MNIST_TEST:
        shutil.copy(_MNIST_DIR / f, tmp_path / "mnist" / f)
    bank = load_source("mnist", "test", cache_dir=tmp_path, download=False)
    assert bank.images.shape == (10000, 28, 28) and bank.images.dtype == np.uint8
    assert np.bincount(bank.labels).tolist() == _MNIST_TEST_COUNTS
    # The files are the published ones, and a changed byte is refused.
    family = mnist_module.FAMILIES["mnist"]
    for file in family.test:
        digest = hashlib.sha256((tmp_path / "mnist" / file.name).read_bytes()).hexdigest()
        assert file.known_hash == f"sha256:{digest}"
    labels = tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(labels.read_bytes())
    data[100] ^= 1
    labels.write_bytes(bytes(data))
    with pytest.raises(SourceError, match="checksum does not match"):
        load_mnist_family("mnist", "test", cache_dir=tmp_path, download=False)

    # The same files through idx:DIR.
    same = load_source(f"idx:{_MNIST_DIR}", "test")
    np.testing.assert_array_equal(same.images, bank.images)
    np.testing.assert_array_equal(same.labels, bank.labels)


# ------------------------------------------------------------------------------------------------------------
# Image folders


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_folder_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    expected = {}
    for cls, count in (("cat", 4), ("ant", 2), ("bee", 6)):
        for k in range(count):
            image = rng.integers(0, 256, (9, 7), dtype=np.uint8)
            _save(tmp_path / cls / f"{k:02d}.png", image)
            expected[(cls, k)] = image
    (tmp_path / "cat" / "notes.txt").write_text("ignored")
    (tmp_path / ".hidden").mkdir()

    train = load_folder_source(f"folder:{tmp_path}", "train", val_size=0)
    assert train.class_names == ("ant", "bee", "cat")
    assert train.images.shape == (12, 9, 7)
    assert np.bincount(train.labels).tolist() == [2, 6, 4]
    # Every image comes back unchanged under its class.
    for (cls, k), image in expected.items():
        mine = np.flatnonzero(train.labels == train.class_names.index(cls))
        np.testing.assert_array_equal(train.images[mine[k]], image)
    # Stratified order: the last 6 hold the classes in proportion (ant 1, bee 3, cat 2).
    val = load_folder_source(f"folder:{tmp_path}", "val", val_size=6)
    assert np.bincount(val.labels, minlength=3).tolist() == [1, 3, 2]
    with pytest.raises(SourceError, match="no test split"):
        load_folder_source(f"folder:{tmp_path}", "test", val_size=0)


def test_folder_grey_alpha_and_resize(tmp_path):
    _save(tmp_path / "a" / "0.png", np.full((10, 8), 200, np.uint8))  # the first image sets the size
    _save(tmp_path / "a" / "1.png", np.full((20, 16, 3), (255, 0, 0), np.uint8))  # RGB, twice the size
    rgba = np.zeros((10, 8, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[:5, :, 3] = 255  # top half opaque white, bottom half transparent
    _save(tmp_path / "b" / "0.png", rgba)
    Image.fromarray(np.full((10, 8), 90, np.uint8)).save(tmp_path / "b" / "1.jpg", quality=95)
    bank = load_folder_source(f"folder:{tmp_path}", "train", val_size=0)
    assert bank.images.shape == (4, 10, 8)
    a, b = np.flatnonzero(bank.labels == 0), np.flatnonzero(bank.labels == 1)
    assert (bank.images[a[0]] == 200).all()
    assert abs(int(bank.images[a[1]].mean()) - 76) <= 1  # Pillow's luma of pure red
    assert (bank.images[b[0]][:5] == 255).all() and (bank.images[b[0]][5:] == 0).all()
    assert abs(int(bank.images[b[1]].mean()) - 90) <= 2


def test_folder_train_test_layout(tmp_path):
    for split, n in (("train", 3), ("test", 2)):
        for cls in ("x", "y"):
            for k in range(n):
                _save(tmp_path / split / cls / f"{k}.png", np.full((4, 4), 10 * k, np.uint8))
    _save(tmp_path / "test" / "x" / "big.png", np.full((8, 8), 255, np.uint8))
    name = f"folder:{tmp_path}"
    assert len(load_folder_source(name, "train", val_size=0)) == 6
    test = load_folder_source(name, "test", val_size=0)
    assert test.images.shape == (5, 4, 4) and test.class_names == ("x", "y")
    _save(tmp_path / "test" / "z" / "0.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(SourceError, match="class folders that train/ lacks: z"):
        load_folder_source(name, "test", val_size=0)
    shutil.rmtree(tmp_path / "test")
    with pytest.raises(SourceError, match="no test/ subfolder"):
        load_folder_source(name, "test", val_size=0)


def test_folder_errors(tmp_path):
    with pytest.raises(SourceError, match="not a directory"):
        load_folder_source(f"folder:{tmp_path / 'nope'}", "train", val_size=0)
    with pytest.raises(SourceError, match="no class subfolders"):
        load_folder_source(f"folder:{tmp_path}", "train", val_size=0)
    (tmp_path / "a").mkdir()
    with pytest.raises(SourceError, match="has no images"):
        load_folder_source(f"folder:{tmp_path}", "train", val_size=0)
    (tmp_path / "a" / "bad.png").write_bytes(b"not a png")
    with pytest.raises(SourceError, match="bad.png cannot be read"):
        load_folder_source(f"folder:{tmp_path}", "train", val_size=0)
    (tmp_path / "a" / "bad.png").unlink()
    _save(tmp_path / "a" / "0.png", np.zeros((3, 3), np.uint8))
    with pytest.raises(SourceError, match="val_size=0"):
        load_folder_source(f"folder:{tmp_path}", "val", val_size=0)
    with pytest.raises(SourceError, match="must lie in"):
        load_folder_source(f"folder:{tmp_path}", "train", val_size=5)


# ------------------------------------------------------------------------------------------------------------
# Procedural glyphs


@functools.cache
def _reference(split: str, n: int = 400) -> np.ndarray:
    return render_glyphs(split, np.arange(n))[0]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 399), min_size=1, max_size=40))
def test_glyph_is_a_function_of_split_and_index(indices):
    images, labels = render_glyphs("train", np.array(indices))
    np.testing.assert_array_equal(images, _reference("train")[indices])
    np.testing.assert_array_equal(labels, np.array(indices) % 10)


def test_glyphs_independent_of_chunking(monkeypatch):
    monkeypatch.setattr(glyphs_module, "_CHUNK", 7)
    np.testing.assert_array_equal(render_glyphs("test", np.arange(400))[0], _reference("test"))
    alone = np.stack([render_glyphs("test", np.array([i]))[0][0] for i in (0, 57, 399)])
    np.testing.assert_array_equal(alone, _reference("test")[[0, 57, 399]])


def test_glyphs_pinned():
    """The pixels of the first glyphs; a change here is a change of glyphs.VERSION."""
    digest = hashlib.sha256()
    for split in ("train", "test"):
        digest.update(np.ascontiguousarray(_reference(split)).tobytes())
    assert glyphs_module.VERSION == 1
    assert digest.hexdigest() == "77508764127213c996ea53158ab4cdb6e7ae7a8f97c23e0945bdd6d504d589cb"


def test_glyph_splits(capsys):
    bank_module._rendered.cache_clear()
    start = time.perf_counter()
    train = load_glyphs("train")
    seconds = time.perf_counter() - start
    with capsys.disabled():
        print(f"\nglyphs: first load of train (60,000 rendered, 50,000 kept) took {seconds:.2f} s")
    val = load_glyphs("val")
    test = load_glyphs("test")
    assert (len(train), len(val), len(test)) == (50_000, 10_000, 10_000)
    for bank in (train, val, test):
        assert bank.images.shape[1:] == (28, 28) and bank.images.dtype == np.uint8
        assert bank.labels.dtype == np.int16
        assert np.bincount(bank.labels, minlength=10).tolist() == [len(bank) // 10] * 10
        assert bank.class_names == tuple("0123456789")
    # val is the end of the rendered train split; test glyphs differ from train glyphs at the same index.
    np.testing.assert_array_equal(val.images[0], render_glyphs("train", np.array([50_000]))[0][0])
    assert not (test.images == train.images[:10_000]).all(axis=(1, 2)).any()


def test_glyph_ink_is_centred_like_mnist():
    images = load_glyphs("test").images.astype(np.float64)
    mass = images.sum(axis=(1, 2))
    assert mass.min() > 20 * 255  # every glyph has ink
    ys, xs = np.mgrid[:28, :28]
    cy = (images * ys).sum(axis=(1, 2)) / mass
    cx = (images * xs).sum(axis=(1, 2)) / mass
    assert np.abs(cy - 14).max() < 1.1 and np.abs(cx - 14).max() < 1.1
    assert np.abs(cy - 14).mean() < 0.3 and np.abs(cx - 14).mean() < 0.3
    # White on black with saturated cores, and nothing touching the border.
    assert (images.max(axis=(1, 2)) == 255).mean() > 0.95
    assert images[:, [0, -1]].max() == 0 and images[:, :, [0, -1]].max() == 0


def test_glyph_errors():
    with pytest.raises(SourceError, match="train or test"):
        render_glyphs("val", np.arange(3))
    with pytest.raises(SourceError, match="non-negative"):
        render_glyphs("train", np.array([-1]))
    assert render_glyphs("train", np.arange(0))[0].shape == (0, 28, 28)


# ------------------------------------------------------------------------------------------------------------
# Carving val from train, and load_source


def _bank(n: int) -> GlyphBank:
    images = np.arange(n * 4, dtype=np.uint8).reshape(n, 2, 2)
    return GlyphBank("array", "train", images, np.arange(n) % 3, ("a", "b", "c"))


def test_carve_split():
    bank = _bank(60)
    np.testing.assert_array_equal(carve_split(bank, "val", 7).images, bank.images[-7:])
    np.testing.assert_array_equal(carve_split(bank, "train", 7).images, bank.images[:-7])
    assert len(carve_split(bank, "val", None)) == 10 and len(carve_split(bank, "train", None)) == 50
    assert carve_split(bank, "train", 0) is bank
    with pytest.raises(SourceError, match="val_size=0"):
        carve_split(bank, "val", 0)
    for bad in (-1, 60):
        with pytest.raises(SourceError, match="must lie in"):
            carve_split(bank, "train", bad)


def test_load_source_errors():
    with pytest.raises(SourceError, match="choose one of"):
        load_source("not-a-source", "train")
    with pytest.raises(SourceError, match="split='dev'"):
        load_source("glyphs", "dev")


def test_cli_download_failure_is_three_lines_without_pooch_chatter(server, family, tmp_path, refused_url, capsys,
                                                                   monkeypatch, caplog):
    """Offline, the CLI says what failed, the fixes and where the details are; --verbose gives every URL."""
    from movingmnist.cli import main

    name, _, _ = family
    monkeypatch.setenv("MOVINGMNIST_MIRRORS", refused_url)
    assert main(["download", name, "--cache-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 3 and "--source glyphs" in err
    assert "Downloading data from" not in err + caplog.text  # pooch's per-attempt log lines are silenced
    assert main(["download", name, "--cache-dir", str(tmp_path), "--verbose"]) == 2
    err = capsys.readouterr().err
    assert f"{refused_url}t10k-images-idx3-ubyte.gz" in err and str(tmp_path / name) in err


@pytest.mark.parametrize("behaviour", ["trickle", "endless"])
def test_slow_or_endless_mirror_is_left_for_the_next(server, family, tmp_path, monkeypatch, behaviour):
    """A mirror sending a byte at a time is given up after the time limit; one sending more than the file's known
    size is cut at that size; either way the next mirror is tried and nothing is left in the cache."""
    name, blobs, arrays = family
    monkeypatch.setenv("MOVINGMNIST_DOWNLOAD_TIMEOUT", "1.5")
    bad = server.serve("bad", blobs, behaviour)
    good = server.serve("good", blobs)
    start = time.monotonic()
    bank = load_mnist_family(name, "test", cache_dir=tmp_path, mirrors=[bad, good])
    assert time.monotonic() - start < 20
    np.testing.assert_array_equal(bank.images, arrays["test"][0])
    with pytest.raises(DownloadError) as info:
        load_mnist_family(name, "train", cache_dir=tmp_path, mirrors=[bad])
    assert ("too slow" if behaviour == "trickle" else "longer than the file") in info.value.detail
    assert sorted(p.name for p in (tmp_path / name).iterdir()) == sorted(_test_files(blobs))


def test_stale_download_temporaries_are_removed(server, family, tmp_path):
    """A download killed mid-way leaves pooch's temporary file: the next download removes it once it is older than
    any download may take, and leaves a fresh one (another process may be writing it)."""
    name, blobs, _ = family
    cache = tmp_path / name
    cache.mkdir()
    stale, fresh = cache / "tmpkilled", cache / "tmpwriting"
    stale.write_bytes(b"partial")
    fresh.write_bytes(b"partial")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    load_mnist_family(name, "test", cache_dir=tmp_path, mirrors=[server.serve("good", blobs)])
    assert not stale.exists() and fresh.exists()
