"""Object storage: zarr datasets written to and read from a real S3-compatible server (moto in server mode on
127.0.0.1), in this process, by pool workers, by the workers of a dask LocalCluster and by a CLI run that is
killed; each result byte-identical to a local dataset of the same arguments."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time

import numpy as np
import pytest

import movingmnist as mm
from _io_helpers import PYTHON, SMALL, SRC, array_hashes, small_spec, subprocess_env
from movingmnist.cli import main
from movingmnist.runner.lock import LOCK_KIND, WriterLockedError, lock_path, writer_lock

pytest.importorskip("s3fs", reason="object-storage tests need s3fs (pip install \"movingmnist[s3]\")")
moto_server = pytest.importorskip("moto.server", reason="object-storage tests need moto[server] (the test extra)")

BUCKET = "mm-test"
SECRET = "s3cr3t-for-tests"  # never written into a dataset


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A moto S3 server on 127.0.0.1 with one bucket. Credentials come from the environment (as a user would set
    them); the endpoint is given per test: as ``storage_options`` in Python, as ``AWS_ENDPOINT_URL`` for the CLI."""
    import logging

    import s3fs

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    nowhere = str(tmp_path_factory.mktemp("aws") / "none")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": nowhere,
            "AWS_SHARED_CREDENTIALS_FILE": nowhere,
            "AWS_EC2_METADATA_DISABLED": "true",
        }.items():
            mp.setenv(key, value)
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        mp.delenv("AWS_PROFILE", raising=False)
        fs = s3fs.S3FileSystem(endpoint_url=endpoint)
        fs.mkdir(BUCKET)
        yield {"endpoint": endpoint, "options": {"endpoint_url": endpoint}, "fs": fs}
    server.stop()


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """Local reference datasets, by arguments: (seed, num, chunk) -> path."""
    made: dict[tuple, str] = {}
    root = tmp_path_factory.mktemp("local")

    def get(seed: int, num: int, chunk: int) -> str:
        if (seed, num, chunk) not in made:
            path = str(root / f"s{seed}-n{num}-c{chunk}.zarr")
            mm.write_dataset(small_spec(), seed, num, path, source="glyphs", chunk_size=chunk, progress=False)
            made[(seed, num, chunk)] = path
        return made[(seed, num, chunk)]

    return get


def _keys(s3, url: str) -> list[str]:
    fs = s3["fs"]
    fs.invalidate_cache()
    prefix = url.removeprefix("s3://")
    return sorted(k[len(prefix) + 1 :] for k in fs.find(prefix))


def _cli(out: str, num: int, chunk: int, *more: str) -> list[str]:
    sets = [x for s in SMALL for x in ("--set", s)]
    return ["generate", "--preset", "srivastava", *sets, "--source", "glyphs", "--num", str(num), "--chunk-size",
            str(chunk), "--out", out, "--quiet", *more]


# -- writing ------------------------------------------------------------------------------------------------------
def test_in_process_and_pool_workers_write_identical_bytes(s3, local):
    opts = {**s3["options"], "key": "testing", "secret": SECRET}
    want = array_hashes(local(1, 60, 16))
    one = f"s3://{BUCKET}/inproc.zarr"
    summary = mm.write_dataset(small_spec(), 1, 60, one, source="glyphs", chunk_size=16, progress=False,
                               storage_options=opts)
    assert summary.complete and summary.written == 60 and summary.nbytes > 0
    assert array_hashes_url(one, s3) == want
    pool = f"s3://{BUCKET}/pool.zarr/"  # a trailing slash names the same dataset
    summary = mm.write_dataset(small_spec(), 1, 60, pool, source="glyphs", chunk_size=16, workers=2,
                               progress=False, storage_options=opts)
    assert summary.workers == 2 and os.getpid() not in summary.pids  # the workers wrote the shards
    assert array_hashes_url(pool.rstrip("/"), s3) == want
    keys = _keys(s3, one)
    assert "manifest.json" in keys and "zarr.json" in keys and "frames/c/3/0/0/0/0" in keys
    assert not any(k.endswith(".tmp") for k in keys)  # one PUT per object, no temporaries
    assert not s3["fs"].exists(lock_path(one).removeprefix("s3://"))  # the lock object is gone
    for name in ("zarr.json", "manifest.json"):  # credentials stay out of the dataset
        assert SECRET not in s3["fs"].cat(f"{BUCKET}/inproc.zarr/{name}").decode()


def array_hashes_url(url: str, s3) -> dict[str, str]:
    import hashlib

    with mm.open(url, storage_options=s3["options"]) as ds:
        assert ds.complete
        return {n: hashlib.sha256(np.ascontiguousarray(a[:]).tobytes()).hexdigest() for n, a in ds.arrays.items()}


def test_dask_workers_write_straight_to_the_bucket(s3, local):
    distributed = pytest.importorskip("distributed")
    url = f"s3://{BUCKET}/dask.zarr"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", SRC)  # the worker processes import movingmnist from this checkout
        cluster = distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        )
        with cluster, distributed.Client(cluster) as client:
            summary = mm.write_dataset(small_spec(), 2, 48, url, source="glyphs", chunk_size=12, client=client,
                                       progress=False, storage_options=s3["options"])
            worker_pids = set(client.run(os.getpid).values())
    assert summary.complete and summary.workers == 2
    assert summary.pids <= worker_pids and os.getpid() not in summary.pids  # the shards came from the workers
    assert array_hashes_url(url, s3) == array_hashes(local(2, 48, 12))


def test_memory_url_any_fsspec_store(local):
    """Not only S3: any fsspec URL (here fsspec's in-memory store) takes a zarr dataset."""
    url = "memory://mm-object-store-test/ds.zarr"
    mm.write_dataset(small_spec(), 1, 60, url, source="glyphs", chunk_size=16, progress=False, overwrite=True)
    assert array_hashes(url) == array_hashes(local(1, 60, 16))
    assert mm.verify_dataset(url, all=True).ok


# -- the CLI on a URL: generate, info, verify -----------------------------------------------------------------------
def test_cli_generate_info_verify_with_endpoint_from_environment(s3, local, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3["endpoint"])  # fsspec/botocore's usual variable, nothing else
    url = f"s3://{BUCKET}/cli.zarr"
    assert main(_cli(url, 40, 10, "--seed", "3")) == 0
    assert "zarr at s3://" in capsys.readouterr().out
    assert main(["info", url]) == 0
    out = capsys.readouterr().out
    assert "complete   yes" in out or "complete  yes" in out
    assert "frames" in out and url in out
    assert main(["info", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["seed"] == 3
    assert main(["verify", url, "--all", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "16 arrays x 4 written chunks checked" in out and "verified 40 of 40" in out
    assert array_hashes(url) == array_hashes(local(3, 40, 10))
    # an existing dataset is refused without --overwrite, in one line
    assert main(_cli(url, 40, 10, "--seed", "3")) == 2
    err = capsys.readouterr().err.strip()
    assert "already exists" in err and len(err.splitlines()) == 1


def test_other_formats_refuse_urls(s3, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3["endpoint"])
    for out, more in ((f"s3://{BUCKET}/x.h5", ()), (f"s3://{BUCKET}/x.npy", ()),
                      (f"s3://{BUCKET}/x", ("--format", "npy"))):
        assert main(_cli(out, 10, 5, *more)) == 2
        err = capsys.readouterr().err
        fmt = {"h5": "hdf5", "npy": "classic-npy"}.get(out.rsplit(".", 1)[-1], "npy")
        assert f"format='{fmt}' is not allowed" in err and "zarr is the format for object storage" in err, err
    assert not _keys(s3, f"s3://{BUCKET}/x")  # nothing was written, no lock left
    with pytest.raises(mm.SpecError, match="storage_options=.*None for a local path"):
        mm.write_dataset(small_spec(), 0, 10, "local.zarr", source="glyphs", storage_options=s3["options"])
    s3["fs"].pipe(f"{BUCKET}/not-zarr/readme.txt", b"hello")
    with pytest.raises(mm.DatasetError, match="only the zarr format"):
        mm.open(f"s3://{BUCKET}/not-zarr", storage_options=s3["options"])


# -- the reader's checks hold on URLs ---------------------------------------------------------------------------
def test_reader_checks_hold_on_urls(s3):
    fs, opts = s3["fs"], s3["options"]
    url = f"s3://{BUCKET}/checks.zarr"
    mm.write_dataset(small_spec(), 4, 30, url, source="glyphs", chunk_size=10, progress=False, storage_options=opts)
    key = f"{BUCKET}/checks.zarr"
    shard0, shard1 = f"{key}/frames/c/0/0/0/0/0", f"{key}/frames/c/1/0/0/0/0"
    # a shard renamed over another: its header names the other shard
    saved = fs.cat(shard0)
    fs.pipe(shard0, fs.cat(shard1))
    with pytest.raises(mm.DatasetError, match="swapped or renamed"):
        mm.open(url, storage_options=opts)[0]
    report = mm.verify_dataset(url, sample=3, storage_options=opts)
    assert not report.ok and report.damage and report.damage[0].array == "frames"
    fs.pipe(shard0, saved)
    # a missing shard of a written chunk is an error at open, never fill values
    fs.rm(shard1)
    with pytest.raises(mm.DatasetError, match=r"frames: rows 10\.\.19 are missing"):
        mm.open(url, storage_options=opts)
    fs.pipe(shard1, fs.cat(shard0)[:100])  # now present but truncated: damaged index
    ds = mm.open(url, storage_options=opts)
    assert [d.array for d in ds.check_structure()] == ["frames"]
    with pytest.raises(mm.DatasetError, match="frames"):
        ds[15]
    # an array whose stored dtype was edited
    meta = json.loads(fs.cat(f"{key}/labels/zarr.json"))
    meta["data_type"] = "int8"
    fs.pipe(f"{key}/labels/zarr.json", json.dumps(meta).encode())
    with pytest.raises(mm.DatasetError, match="'labels' is stored as int8"):
        mm.open(url, storage_options=opts)


# -- the torch dataset over mm.open ---------------------------------------------------------------------------------
def test_torch_file_dataset_reads_a_url(s3, local):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    from movingmnist.torch import MovingMNISTFileDataset

    url = f"s3://{BUCKET}/torch.zarr"
    mm.write_dataset(small_spec(), 5, 24, url, source="glyphs", chunk_size=8, progress=False,
                     storage_options=s3["options"])
    ref = mm.open(local(5, 24, 8))
    data = MovingMNISTFileDataset(url, storage_options=s3["options"])
    assert len(data) == 24
    assert torch.equal(data[7]["frames"], torch.from_numpy(ref[7]["frames"]))
    loader = DataLoader(data, batch_size=6, num_workers=2, shuffle=False)  # workers reopen the URL
    frames = torch.cat([batch["frames"] for batch in loader])
    assert torch.equal(frames, torch.from_numpy(ref.arrays["frames"][:]))


# -- resume, overwrite, one writer ------------------------------------------------------------------------------
def test_resume_after_the_writer_is_killed(s3, local, capsys, monkeypatch):
    """SIGKILL a CLI run writing to the bucket mid-run; a second writer is refused while it runs; --resume then takes
    over the dead run's lock object and completes the dataset to the same bytes."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3["endpoint"])
    url = f"s3://{BUCKET}/killed.zarr"
    manifest = f"{BUCKET}/killed.zarr/manifest.json"
    fs = s3["fs"]
    proc = subprocess.Popen([PYTHON, "-m", "movingmnist", *_cli(url, 600, 15)], env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    done: list = []
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            done = json.loads(fs.cat(manifest))["done"]
        except (FileNotFoundError, ValueError):
            done = []
        if done and sum(hi - lo for lo, hi in done) >= 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.communicate()
    # a second writer while the first runs: refused in one line naming the holder
    assert main(_cli(url, 600, 15, "--resume")) == 2
    err = capsys.readouterr().err.strip()
    assert f"pid {proc.pid}" in err and "is being written by" in err and len(err.splitlines()) == 1
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    lock = json.loads(fs.cat(lock_path(url).removeprefix("s3://")))
    assert lock["kind"] == LOCK_KIND and lock["pid"] == proc.pid  # a killed run cannot delete its lock
    with pytest.raises(mm.DatasetError, match="incomplete"):
        mm.open(url)
    assert main(_cli(url, 600, 15, "--resume")) == 0
    out = capsys.readouterr().out
    assert f"took over the writer lock of a run that died (its process, pid {proc.pid} on this host" in out
    assert array_hashes(url) == array_hashes(local(0, 600, 15))
    assert not fs.exists(lock_path(url).removeprefix("s3://"))


class _DroppingProxy:
    """A TCP proxy on 127.0.0.1 in front of ``port`` that cuts every connection, and stops accepting new ones,
    once ``limit`` bytes went to the server: the store disappears mid-run."""

    def __init__(self, port: int, limit: int) -> None:
        self.target, self.limit, self.sent = port, limit, 0
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.port = self.server.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.cut = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.cut.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.conns += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, counted: bool) -> None:
        try:
            while data := src.recv(65536):
                if counted:
                    self.sent += len(data)
                    if self.sent > self.limit:
                        self.close()
                        return
                dst.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        self.cut.set()
        for sock in [self.server, *self.conns]:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


def test_resume_after_the_store_drops_mid_run(s3, local):
    """The connection to the store is cut mid-run (a proxy that closes after N bytes): the run fails with one line,
    and a resume, through a working connection, completes the same bytes."""
    port = int(s3["endpoint"].rsplit(":", 1)[1])
    proxy = _DroppingProxy(port, limit=500_000)
    flaky = {"endpoint_url": f"http://127.0.0.1:{proxy.port}",
             "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2, "read_timeout": 5}}
    url = f"s3://{BUCKET}/dropped.zarr"
    try:
        with pytest.raises(mm.DatasetError) as failed:
            mm.write_dataset(small_spec(), 6, 240, url, source="glyphs", chunk_size=12, progress=False,
                             storage_options=flaky)
    finally:
        proxy.close()
    message = str(failed.value)
    assert "\n" not in message and "--resume" in message
    ds = mm.open(url, allow_incomplete=True, storage_options=s3["options"])
    assert not ds.complete and 0 < ds.missing < 240  # cut mid-run, after some chunks were recorded
    summary = mm.write_dataset(small_spec(), 6, 240, url, source="glyphs", chunk_size=12, progress=False,
                               resume=True, storage_options=s3["options"])
    assert summary.complete and summary.already == 240 - ds.missing
    assert "left by a run of this process that has ended" in summary.line()  # its lock could not be deleted
    assert array_hashes_url(url, s3) == array_hashes(local(6, 240, 12))


def test_overwrite_replaces_every_object(s3, local):
    opts = s3["options"]
    url = f"s3://{BUCKET}/over.zarr"
    mm.write_dataset(small_spec(), 7, 40, url, source="glyphs", chunk_size=8, progress=False, storage_options=opts)
    assert "frames/c/4/0/0/0/0" in _keys(s3, url)
    with pytest.raises(mm.DatasetError, match="already exists"):
        mm.write_dataset(small_spec(), 8, 40, url, source="glyphs", chunk_size=20, progress=False,
                         storage_options=opts)
    mm.write_dataset(small_spec(), 8, 40, url, source="glyphs", chunk_size=20, progress=False, overwrite=True,
                     storage_options=opts)
    keys = _keys(s3, url)
    assert "frames/c/1/0/0/0/0" in keys and "frames/c/4/0/0/0/0" not in keys  # no shard of the old run is left
    assert array_hashes_url(url, s3) == array_hashes(local(8, 40, 20))
    # something that is not a dataset is never overwritten
    s3["fs"].pipe(f"{BUCKET}/precious/data.bin", b"keep me")
    with pytest.raises(mm.DatasetError, match="not a movingmnist dataset"):
        mm.write_dataset(small_spec(), 8, 10, f"s3://{BUCKET}/precious", source="glyphs", progress=False,
                         overwrite=True, storage_options=opts)
    assert s3["fs"].cat(f"{BUCKET}/precious/data.bin") == b"keep me"


def test_lock_object_refuses_live_writers_and_takes_over_dead_ones(s3):
    opts = s3["options"]
    url = f"s3://{BUCKET}/locked.zarr"
    key = lock_path(url).removeprefix("s3://")

    def write(**more):
        return mm.write_dataset(small_spec(), 0, 10, url, source="glyphs", chunk_size=5, progress=False,
                                storage_options=opts, **more)

    with writer_lock(url, opts):  # a run of this process holds it
        with pytest.raises(WriterLockedError, match="is being written by pid") as refused:
            write()
        assert "\n" not in str(refused.value)
    # another host's run with a fresh heartbeat: refused; with a heartbeat older than the limit: taken over
    other = {"kind": LOCK_KIND, "pid": 1, "host": "elsewhere", "run": "r1", "started": 0.0}
    s3["fs"].pipe(key, json.dumps({**other, "heartbeat": time.time()}).encode())
    with pytest.raises(WriterLockedError, match="pid 1 on elsewhere"):
        write()
    assert not _keys(s3, url)  # nothing was touched
    s3["fs"].pipe(key, json.dumps({**other, "heartbeat": time.time() - 3600}).encode())
    summary = write()
    assert summary.complete and "last heartbeat was 3600 s ago" in summary.line()
    assert not s3["fs"].exists(key)


def test_heartbeat_keeps_the_lock_and_notices_a_takeover(s3):
    """The holder's heartbeat rewrites its lock object (on S3 conditional on its ETag); once another run has taken
    the lock over (this run's heartbeat came too late), the heartbeat notices and check() stops the run."""
    url = f"s3://{BUCKET}/beat.zarr"
    key = lock_path(url).removeprefix("s3://")
    with writer_lock(url, s3["options"]) as lock:
        first = json.loads(s3["fs"].cat(key))
        time.sleep(0.01)
        lock.heartbeat()
        second = json.loads(s3["fs"].cat(key))
        assert second["run"] == first["run"] and second["heartbeat"] > first["heartbeat"]
        lock.check()
        s3["fs"].pipe(key, json.dumps({**first, "run": "thief", "pid": 2, "host": "elsewhere"}).encode())
        lock.heartbeat()
        with pytest.raises(WriterLockedError, match="lost its writer lock.*pid 2 on elsewhere"):
            lock.check()
    assert json.loads(s3["fs"].cat(key))["run"] == "thief"  # the other run's lock is left alone


def test_stores_without_conditional_writes_get_a_best_effort_lock(s3, monkeypatch):
    """A store that answers conditional PUTs with 501 NotImplemented (older S3-compatible stores): the lock falls
    back to look, write, read back; a live holder is still refused and a dead one taken over."""
    import errno

    from movingmnist.io.remote import filesystem

    fs = filesystem(f"s3://{BUCKET}/x", s3["options"])[0]
    plain = fs.pipe_file

    def no_conditions(path, data, **kwargs):
        if kwargs.get("mode") == "create" or "IfMatch" in kwargs:
            raise OSError(errno.ENOSYS, "A header you provided implies functionality that is not implemented")
        return plain(path, data, **kwargs)

    monkeypatch.setattr(fs, "pipe_file", no_conditions)
    url = f"s3://{BUCKET}/plain.zarr"
    key = lock_path(url).removeprefix("s3://")
    with writer_lock(url, s3["options"]) as lock:
        assert not lock.conditional and json.loads(s3["fs"].cat(key))["run"] == lock.record["run"]
        with pytest.raises(WriterLockedError, match="is being written by"):
            mm.write_dataset(small_spec(), 0, 10, url, source="glyphs", chunk_size=5, progress=False,
                             storage_options=s3["options"])
    assert not s3["fs"].exists(key)
    stale = {"kind": LOCK_KIND, "pid": 1, "host": "elsewhere", "run": "r1", "started": 0.0, "heartbeat": 0.0}
    s3["fs"].pipe(key, json.dumps(stale).encode())
    summary = mm.write_dataset(small_spec(), 0, 10, url, source="glyphs", chunk_size=5, progress=False,
                               storage_options=s3["options"])
    assert summary.complete and "took over the writer lock" in summary.line()
