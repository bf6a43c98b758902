"""Caps on what outside input may make this package read or allocate, and the memory check before large buffers.

Image folders, IDX files and config files may come from anywhere: a few kilobytes on disk can claim gigabytes once
decoded. Each reader checks the size that a file's header or a spec promises against a cap *before* it decodes or
allocates anything, and refuses with the bytes (or pixels) that would be needed. Every cap is a named constant that
an environment variable raises (a whole number; ``0`` is not allowed):

=====================================  ==============================  =================================================
cap                                    default                         environment variable
=====================================  ==============================  =================================================
pixels of one image (``folder:``)      4096 x 4096 = 16.8 megapixels   ``MOVINGMNIST_MAX_IMAGE_PIXELS``
bytes of one IDX file, decompressed    2 GiB                           ``MOVINGMNIST_MAX_IDX_BYTES``
bytes of a config file                 1 MiB                           (none: a spec is a few hundred bytes)
memory one batch may take              this machine's memory           ``MOVINGMNIST_MAX_MEMORY``
=====================================  ==============================  =================================================
"""

from __future__ import annotations

import functools
import os
import sys

from .errors import SpecError, shown

#: Pixels of one source image (width x height), read from the image's header before it is decoded: a PNG of a few
#: kilobytes can hold 20000 x 20000 pixels (400 MB once decoded). ``$MOVINGMNIST_MAX_IMAGE_PIXELS`` raises it.
MAX_IMAGE_PIXELS = 4096 * 4096
IMAGE_PIXELS_ENV = "MOVINGMNIST_MAX_IMAGE_PIXELS"

#: Bytes of the data of one IDX file once decompressed (EMNIST's largest, byclass train images, is 547 MB),
#: checked from the header before the file is inflated. ``$MOVINGMNIST_MAX_IDX_BYTES`` raises it.
MAX_IDX_BYTES = 2 * 2**30
IDX_BYTES_ENV = "MOVINGMNIST_MAX_IDX_BYTES"

#: Bytes of a config file (a spec is a few hundred bytes): ``--config /dev/zero`` must not read forever.
MAX_CONFIG_BYTES = 2**20

#: Memory assumed where the operating system does not say how much there is.
DEFAULT_MEMORY_BYTES = 8 * 2**30
MEMORY_ENV = "MOVINGMNIST_MAX_MEMORY"


def cap(env: str, default: int) -> int:
    """The cap that environment variable ``env`` sets (a whole number >= 1), else ``default``."""
    value = os.environ.get(env)
    if value is None or not value.strip():
        return default
    text = value.strip().replace("_", "")
    if not text.isdigit() or int(text) < 1:
        raise SpecError(f"${env}", value, "a whole number >= 1")
    return int(text)


def image_pixel_cap() -> int:
    """:data:`MAX_IMAGE_PIXELS`, or ``$MOVINGMNIST_MAX_IMAGE_PIXELS``."""
    return cap(IMAGE_PIXELS_ENV, MAX_IMAGE_PIXELS)


def idx_byte_cap() -> int:
    """:data:`MAX_IDX_BYTES`, or ``$MOVINGMNIST_MAX_IDX_BYTES``."""
    return cap(IDX_BYTES_ENV, MAX_IDX_BYTES)


def memory_bytes() -> int:
    """Memory a batch may take: ``$MOVINGMNIST_MAX_MEMORY``, else the physical memory (or a container's cgroup
    limit, when lower), else :data:`DEFAULT_MEMORY_BYTES` where neither can be read."""
    return cap(MEMORY_ENV, 0) or _system_memory()


@functools.lru_cache(maxsize=1)
def _system_memory() -> int:
    found = []
    try:
        found.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):  # not on Windows
        pass
    if sys.platform.startswith("linux"):
        for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
            try:
                with open(path) as f:
                    text = f.read(64).strip()
            except OSError:
                continue
            if text.isdigit() and 0 < int(text) < 2**60:  # "max" or a huge number: no limit
                found.append(int(text))
    found = [n for n in found if n > 0]
    return min(found) if found else DEFAULT_MEMORY_BYTES


def human_bytes(nbytes: int) -> str:
    """``1234567`` -> ``"1.2 MB"`` (decimal units, up to EB)."""
    value = float(nbytes)
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} EB"


def check_memory(
    field: str, value: object, needed: int, what: str, lower: str, *, error: type[Exception] = SpecError
) -> None:
    """Refuse a buffer of ``needed`` bytes that this machine's memory cannot hold, blaming ``field=value``.

    Args:
        field, value: the argument or spec field blamed, and its value.
        needed: bytes the buffer would take.
        what: what needs them, e.g. ``"an output batch of 1,000 sequences x 5,000 bytes"``.
        lower: how to need less, e.g. ``"render fewer sequences per call"``.
        error: the class raised (SpecError, or another MovingMNISTError such as SourceError).
    """
    limit = memory_bytes()
    if needed <= limit:
        return
    message = (
        f"{field}={shown(value)} is not allowed: {what} needs {needed:,} bytes ({human_bytes(needed)}), more than "
        f"the {limit:,} bytes ({human_bytes(limit)}) of memory here (${MEMORY_ENV} sets that limit); {lower}"
    )
    if error is SpecError:
        raise SpecError(field, value, what, message=message)
    raise error(message)
