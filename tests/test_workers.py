"""Worker pools started from user scripts: an unguarded script fails with one line naming the fix and leaves
nothing behind."""

from __future__ import annotations

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

