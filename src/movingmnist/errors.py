"""Exceptions raised by movingmnist. Each message names the field, the value and what is allowed."""

from __future__ import annotations


class MovingMNISTError(Exception):
    """Base class of every error this package raises on purpose."""


class SpecError(MovingMNISTError, ValueError):
    """A spec field has a value that is not allowed.

    Attributes:
        field: dotted name of the field, e.g. ``"motion.speed"``.
        value: the rejected value.
        allowed: human-readable description of what is allowed.
    """

    def __init__(self, field: str, value: object, allowed: str, hint: str | None = None):
        self.field = field
        self.value = value
        self.allowed = allowed
        message = f"{field}={value!r} is not allowed: {allowed}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)


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
