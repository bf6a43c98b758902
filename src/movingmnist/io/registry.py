"""The writer registry: format name -> writer class, filled by :func:`register_writer`.

Writers register themselves when their module is imported (the built-in ones are imported by the first lookup,
see :mod:`movingmnist.io.writers`)::

    @register_writer
    class MyWriter(Writer):
        format = "mine"

This module imports no writer, so that the writers can import it.
"""

from __future__ import annotations

from .base import Writer

#: Registered writers by format name, in registration order.
WRITERS: dict[str, type[Writer]] = {}


def register_writer(cls: type[Writer]) -> type[Writer]:
    """Class decorator: make ``cls`` available under ``cls.format``."""
    WRITERS[cls.format] = cls
    return cls
