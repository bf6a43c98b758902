"""The file format of glyphs@3's shape model (``shapes3.json``, written by ``benchmarks/fit_glyph_shapes.py``).

Per ``(digit, allograph)``: the number of MNIST's test digits fitted with that allograph (its weight), the mean of
their control points in a unit-high box ``(m, 2)``, and the principal modes around it ``(K, m, 2)``, each already
scaled by its standard deviation (``K`` is 0 where too few digits were fitted). Numbers are written to 4 decimals
and read back as the same float64 values on every platform (decimal to binary is correctly rounded).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources

import numpy as np

__all__ = ["ShapeTable", "load_shapes3", "read_shapes", "shapes_text"]

#: ``{(digit, allograph): (count, mean (m, 2), modes (K, m, 2))}``
ShapeTable = dict[tuple[int, int], tuple[int, np.ndarray, np.ndarray]]


def read_shapes(text: str) -> ShapeTable:
    """The table of a shape-model file's text."""
    table: ShapeTable = {}
    for entry in json.loads(text)["allographs"]:
        mean = np.array(entry["mean"], np.float64).reshape(-1, 2)
        modes = np.array(entry["modes"], np.float64).reshape(-1, *mean.shape)
        table[(entry["digit"], entry["allograph"])] = (entry["digits"], mean, modes)
    return table


def shapes_text(table: Mapping[tuple[int, int], tuple[int, np.ndarray, np.ndarray]], about: str) -> str:
    """A shape-model file for ``table``, one allograph per line, numbers rounded to 4 decimals; ``about`` says how
    it was made."""

    def rounded(values: np.ndarray) -> list:
        return np.vectorize(lambda v: float(f"{v:.4f}"), otypes=[object])(values).tolist() if values.size else []

    lines = [
        json.dumps({"digit": d, "allograph": k, "digits": int(count), "mean": rounded(mean), "modes": rounded(modes)})
        for (d, k), (count, mean, modes) in sorted(table.items())
    ]
    return '{"about": ' + json.dumps(about) + ',\n"allographs": [\n' + ",\n".join(lines) + "\n]}\n"


def load_shapes3() -> ShapeTable:
    """glyphs@3's shape model, the package's ``shapes3.json``."""
    return read_shapes(resources.files(__package__).joinpath("shapes3.json").read_text())
