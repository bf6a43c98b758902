"""Every docstring example of the package runs as a doctest.

The modules are discovered from the source tree with ``pkgutil`` (not listed by hand), so a new example runs
without registering it. Packages are walked without importing them, so the modules of a package whose optional
dependency is missing are not silently left out: each is skipped with the reason. ``__main__`` runs the command line
when imported; it is only checked to hold no example.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import movingmnist as mm

ROOT = Path(mm.__file__).resolve().parent
PROMPT = re.compile(r"^\s*>>>(?: |$)", re.MULTILINE)


def _modules() -> list[str]:
    names = ["movingmnist"]

    def walk(path: Path, prefix: str) -> None:
        for info in pkgutil.iter_modules([str(path)], prefix):
            names.append(info.name)
            if info.ispkg:
                walk(path / info.name.rpartition(".")[2], info.name + ".")

    walk(ROOT, "movingmnist.")
    return names


def _source(name: str) -> str:
    parts = name.split(".")[1:]
    path = ROOT.joinpath(*parts)
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    return path.read_text()


MODULES = _modules()


def test_every_module_is_found():
    on_disk = {
        ".".join(("movingmnist", *p.relative_to(ROOT).with_suffix("").parts)).removesuffix(".__init__")
        for p in ROOT.rglob("*.py")
    }
    assert on_disk == set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    prompts = len(PROMPT.findall(_source(name)))
    if name.endswith(".__main__"):
        assert prompts == 0, f"{name} runs the command line on import, so its examples would never run"
        return
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        optional = isinstance(exc, mm.MissingDependencyError) or not (exc.name or "movingmnist").startswith(
            "movingmnist"
        )
        if optional:
            pytest.skip(f"{name} needs an optional dependency that is not installed: {exc}")
        raise
    tests = doctest.DocTestFinder().find(module, name)
    found = sum(len(test.examples) for test in tests)
    # Every '>>>' of the source is an example that doctest finds (none is in a place it does not look).
    assert found == prompts, f"{name}: {prompts} '>>>' lines in the source, {found} examples found"
    if not found:
        return
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    for test in tests:
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
    assert runner.tries > 0, f"{name}: every example is skipped"
