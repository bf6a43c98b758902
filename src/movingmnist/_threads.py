"""One BLAS thread inside generation.

The renderers call BLAS only for small matrix products (boxes, poses); with the default BLAS thread pool those cost
more in thread hand-offs than they compute, and a single-process run was measured 2-3x slower on a 2-core machine.
Generation therefore runs under a limit of one BLAS thread (threadpoolctl), lifted again when the call returns, so
a user's own numpy work keeps its threads.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import Any

_local = threading.local()
_controller: Any = None
_modules_seen = 0  # len(sys.modules) when the controller looked for BLAS libraries


def _get_controller() -> Any:
    """threadpoolctl's view of the loaded BLAS libraries, looked up again (~5 ms) only after new imports (which may
    have loaded another BLAS: torch, scipy)."""
    global _controller, _modules_seen
    if _controller is None or len(sys.modules) != _modules_seen:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
        _modules_seen = len(sys.modules)
    return _controller


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with one BLAS thread (~50 us; nested uses pay nothing)."""
    if getattr(_local, "active", False):
        yield
        return
    _local.active = True
    try:
        with _get_controller().limit(limits=1, user_api="blas"):
            yield
    finally:
        _local.active = False

