"""Exceptions raised by movingmnist. Each message names the field, the value and what is allowed."""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Iterable

#: Values shown in messages are cut to about this many characters: a huge value (a YAML alias bomb, a big
#: array) must never be turned into its full repr just to report it.
MAX_SHOWN = 80

_repr = reprlib.Repr()
_repr.maxstring = MAX_SHOWN
_repr.maxother = MAX_SHOWN
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 6
_repr.maxlevel = 3


def shown(value: object) -> str:
    """A repr of ``value`` cut to about :data:`MAX_SHOWN` characters (reprlib also limits depth and length, so
    the cost stays small however large the value is)."""
    text = _repr.repr(value)
    return text if len(text) <= MAX_SHOWN + 20 else text[:MAX_SHOWN] + "..."


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``choices`` to ``word``, or ``""`` when none is close."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_int(
    field: str, value: object, low: int, high: int | None = None, allowed: str | None = None
) -> int:
    """``value`` as an int when it is an integer (Python or numpy, not a bool) in ``[low, high]``; else a
    SpecError naming ``field``, the value and ``allowed`` (default: the range)."""
    import numbers

    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        number = int(value)
        if number >= low and (high is None or number <= high):
            return number
    raise SpecError(
        field, value, allowed or (f"an integer in [{low}, {high}]" if high is not None else f"an integer >= {low}")
    )


class MovingMNISTError(Exception):
    """Base class of every error this package raises on purpose."""


class SpecError(MovingMNISTError, ValueError):
    """A spec field has a value that is not allowed.

    Attributes:
        field: dotted name of the field, e.g. ``"motion.speed"``.
        value: the rejected value.
        allowed: human-readable description of what is allowed.
    """

    def __init__(
        self, field: str, value: object, allowed: str, hint: str | None = None, *, message: str | None = None
    ):
        self.field = field
        self.value = value
        self.allowed = allowed
        if message is None:
            message = f"{field}={shown(value)} is not allowed: {allowed}"
            if hint:
                message += f" ({hint})"
        super().__init__(message)

    @classmethod
    def unknown(cls, field: str, kind: str, known: Iterable[str]) -> SpecError:
        """``field`` names no ``kind`` ("field", "section"): the message says so, suggests the closest known
        name and lists them all."""
        known = list(known)
        # Compare the last parts only: a shared "motion." prefix would make every motion field look close.
        last = {name.rsplit(".", 1)[-1]: name for name in known}
        close = difflib.get_close_matches(field.rsplit(".", 1)[-1], list(last), n=1, cutoff=0.6)
        hint = f" (did you mean {last[close[0]]}?)" if close else ""
        message = f"{field} is not a {kind}{hint}; known {kind}s: {', '.join(known) or '(none)'}"
        return cls(field, None, f"one of {', '.join(known)}", message=message)


class SourceError(MovingMNISTError, ValueError):
    """A glyph source could not be loaded (unknown name, bad split, missing or corrupt files)."""


class DownloadError(SourceError):
    """Every mirror of a file failed. The message is short (what failed, how many attempts, the fixes); ``detail``
    lists every URL tried with its error and where to put each file by hand (the CLI prints it with ``--verbose``)."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail or message


class DatasetError(MovingMNISTError, ValueError):
    """A dataset on disk is missing, incomplete, corrupt, or does not match what was asked."""


class KeyTypeError(MovingMNISTError, TypeError):
    """An index or key of a kind that is not allowed (``dataset[1.5]``); a TypeError, as Python's own are."""


class RowIndexError(MovingMNISTError, IndexError):
    """A row beyond the end of a dataset or batch; an IndexError, as Python's own are (iteration stops on it)."""


class ExportError(SpecError):
    """An export was asked with an argument that is not allowed (format, option, rows, output path); ``field``,
    ``value`` and ``allowed`` as for :class:`SpecError`."""


class MissingDependencyError(MovingMNISTError, ImportError):
    """An optional dependency is not installed; the message names the pip extra that provides it."""


def require(module: str, extra: str, feature: str):
    """Import an optional dependency lazily, or raise an error naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{feature} needs the optional dependency '{module}', which is not installed: "
            f'pip install "movingmnist[{extra}]"'
        ) from exc
