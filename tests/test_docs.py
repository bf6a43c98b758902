"""Every Python block of README.md and docs/*.md runs, offline, so that no documented example can rot.

The blocks of one file run in order in one namespace (later blocks use names from earlier ones), in a scratch
directory, with an empty cache and an unreachable mirror: a block that would download fails here. A block right
after an HTML comment ``<!-- not run: reason -->`` (an excerpt of library code) is skipped, and so is a block that
imports lightning where the optional ``lightning`` extra is not installed.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(<!-- not run: [^>]*-->\s*)?```python\n(.*?)```", re.S)


def python_blocks(path: Path) -> list[tuple[int, str, bool]]:
    """``(line, code, runs)`` of each Python block of ``path``."""
    text = path.read_text()
    return [
        (text.count("\n", 0, m.start(2)) + 1, m.group(2), m.group(1) is None) for m in BLOCK.finditer(text)
    ]


@pytest.mark.parametrize("path", [p for p in DOCS if python_blocks(p)], ids=lambda p: p.name)
def test_doc_blocks_run(path, tmp_path, monkeypatch):
    if "torch" in path.read_text():
        pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MOVINGMNIST_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MOVINGMNIST_MIRRORS", "http://127.0.0.1:9/")  # nothing listens on the discard port
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": "__main__"}
    for line, code, runs in python_blocks(path):
        if not runs or ("import lightning" in code and importlib.util.find_spec("lightning") is None):
            continue
        try:
            exec(compile(code, f"{path.name}:{line}", "exec"), namespace)
        except Exception as exc:
            pytest.fail(f"the block at {path.name} line {line} failed: {type(exc).__name__}: {exc}")


def test_every_doc_block_is_collected():
    """The collector sees the blocks (a changed fence style would silently test nothing)."""
    blocks = [b for p in DOCS for b in python_blocks(p)]
    assert len(blocks) >= 15 and sum(runs for _, _, runs in blocks) >= 13
