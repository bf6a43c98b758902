"""dask.distributed: chunks run on a LocalCluster of 2 worker processes, which write zarr shards directly; the
result is byte-identical to the in-process run."""

from __future__ import annotations

import os

import pytest

import movingmnist as mm
from _io_helpers import SMALL, SRC, array_hashes, glyph_arrays, small_spec, write_idx_source
from movingmnist.cli import main

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", SRC)  # the worker processes import movingmnist from this checkout
        cluster = distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        )
        with cluster, distributed.Client(cluster) as c:
            yield c


def test_dask_identical_to_in_process(tmp_path, client):
    source = write_idx_source(tmp_path / "glyphs")
    local = str(tmp_path / "local.zarr")
    remote = str(tmp_path / "dask.zarr")
    mm.write_dataset(small_spec(), 5, 90, local, source=source, chunk_size=16, progress=False)
    summary = mm.write_dataset(small_spec(), 5, 90, remote, source=source, chunk_size=16, client=client,
                               progress=False)
    assert summary.complete and summary.workers == 2 and summary.written == 90
    assert array_hashes(remote) == array_hashes(local)
    assert summary.pids <= set(client.run(os.getpid).values()) and os.getpid() not in summary.pids


def test_dask_with_array_source(tmp_path, client):
    """An in-memory source is scattered to the workers once; the result is still identical."""
    arrays = glyph_arrays()
    local = str(tmp_path / "local.zarr")
    remote = str(tmp_path / "dask.zarr")
    mm.write_dataset(small_spec(), 2, 40, local, source=arrays, chunk_size=8, progress=False)
    mm.write_dataset(small_spec(), 2, 40, remote, source=arrays, chunk_size=8, client=client, progress=False)
    assert array_hashes(remote) == array_hashes(local)


def test_cli_scheduler_address(tmp_path, client, capsys):
    source = write_idx_source(tmp_path / "glyphs")
    sets = [x for s in SMALL for x in ("--set", s)]
    base = ["generate", "--preset", "srivastava", *sets, "--source", source, "--num", "48", "--chunk-size", "12",
            "--quiet"]
    address = client.scheduler.address
    assert main([*base, "--out", str(tmp_path / "a.zarr"), "--scheduler", address]) == 0
    assert "over 2 workers" in capsys.readouterr().out
    assert main([*base, "--out", str(tmp_path / "b.zarr")]) == 0
    assert array_hashes(tmp_path / "a.zarr") == array_hashes(tmp_path / "b.zarr")
    # one HDF5 file cannot take writes from workers on other machines
    assert main([*base, "--out", str(tmp_path / "c.h5"), "--scheduler", address]) == 2
    assert "zarr with a dask cluster" in capsys.readouterr().err
    assert not (tmp_path / "c.h5").exists()
