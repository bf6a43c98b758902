"""Worker pools started from user scripts: an unguarded script fails with one line naming the fix and leaves
nothing behind."""

from __future__ import annotations

import os
import subprocess
import textwrap

from _io_helpers import PYTHON, SMALL, subprocess_env


def _run_script(tmp_path, body: str) -> subprocess.CompletedProcess:
    script = tmp_path / "make_data.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.run([PYTHON, str(script)], env=subprocess_env(), capture_output=True, text=True, timeout=120)


def test_unguarded_script_with_workers_names_the_guard_and_leaves_nothing(tmp_path):
    out = tmp_path / "sub" / "toy.zarr"
    proc = _run_script(
        tmp_path,
        f"""
        import movingmnist as mm
        mm.write_dataset("srivastava", seed=0, num=6, path={str(out)!r}, source="glyphs", workers=2,
                         chunk_size=2, overrides={SMALL!r})
        print("finished")
        """,
    )
    assert proc.returncode != 0
    assert "finished" not in proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.startswith("movingmnist.")]
    assert len(lines) == 1, proc.stderr
    assert 'if __name__ == "__main__":' in lines[0] and "workers=1" in lines[0]
    # the workers exit quietly: no second traceback, no "already exists" from a worker re-running the call
    assert proc.stderr.count("Traceback") == 1, proc.stderr
    assert "already exists" not in proc.stderr and "worker process died" not in proc.stderr
    assert not out.exists()
    assert not out.parent.exists()  # the directory this run made for it too



def test_small_job_with_workers_runs_in_process_with_the_same_bytes(tmp_path, monkeypatch):
    """Below MOVINGMNIST_POOL_MIN_BYTES (default ~512 MiB raw) the pool costs more than it saves: the job runs here,
    the summary says so, and the bytes are those of the pool and of one worker."""
    import movingmnist as mm
    from _io_helpers import array_hashes

    kwargs = dict(seed=3, num=12, source="glyphs", chunk_size=3, overrides=SMALL, progress=False)
    monkeypatch.delenv("MOVINGMNIST_POOL_MIN_BYTES")
    small = mm.write_dataset("srivastava", path=tmp_path / "small.zarr", workers=2, **kwargs)
    assert small.workers == 1 and small.pids == {os.getpid()}
    assert "in this process, not 2 workers" in small.line()
    monkeypatch.setenv("MOVINGMNIST_POOL_MIN_BYTES", "0")
    pooled = mm.write_dataset("srivastava", path=tmp_path / "pool.zarr", workers=2, **kwargs)
    assert pooled.workers == 2 and os.getpid() not in pooled.pids and not pooled.note
    one = mm.write_dataset("srivastava", path=tmp_path / "one.zarr", workers=1, **kwargs)
    expected = array_hashes(tmp_path / "one.zarr")
    assert array_hashes(tmp_path / "small.zarr") == expected == array_hashes(tmp_path / "pool.zarr")
    assert not one.note


def test_pool_threshold_rejects_a_bad_environment_value(tmp_path, monkeypatch):
    import pytest

    import movingmnist as mm
    from movingmnist.errors import SpecError

    monkeypatch.setenv("MOVINGMNIST_POOL_MIN_BYTES", "lots")
    with pytest.raises(SpecError, match="MOVINGMNIST_POOL_MIN_BYTES='lots'"):
        mm.write_dataset("srivastava", num=4, path=tmp_path / "x.zarr", source="glyphs", workers=2, chunk_size=2,
                         overrides=SMALL)
    assert not (tmp_path / "x.zarr").exists()
