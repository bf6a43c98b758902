"""Scratch buffers reused across calls: writing into fresh memory is many times slower than into warm memory on
CPU, and allocating on an accelerator synchronises."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


class Workspace:
    """Named scratch arrays (numpy, or torch tensors on ``device``), each a prefix of the largest one asked for."""

    def __init__(self, device: Any = None) -> None:
        self.device = device
        self._buffers: dict[str, Any] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: Any, zero: bool = False) -> Any:
        """A ``shape`` array of ``dtype``; ``zero``: zero-filled when (re)allocated (callers keep the parts they rely
        on zero)."""
        shape = tuple(int(s) for s in shape)
        need = math.prod(shape)
        buf = self._buffers.get(name)
        if buf is None or buf.shape[0] < need or buf.dtype != dtype:
            if self.device is None:
                buf = (np.zeros if zero else np.empty)(max(need, 1), dtype=dtype)
            else:
                import torch

                buf = (torch.zeros if zero else torch.empty)(max(need, 1), dtype=dtype, device=self.device)
            self._buffers[name] = buf
        return buf[:need].reshape(shape)
