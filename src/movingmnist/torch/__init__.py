"""PyTorch integration: batches on any device, datasets for DataLoader, exact normalisation.

Needs the ``torch`` extra (``pip install "movingmnist[torch]"``; torchvision is not used)::

    import movingmnist.torch as mmt
    batch = mmt.get_batch("srivastava", 256, device="cuda")          # dict of tensors on the GPU
    ds = mmt.MovingMNISTDataset("srivastava", num=10_000, seed=0)     # item i = sequence i
    stats = mmt.dataset_stats("srivastava", seed=0, num_samples=1024)
    norm = stats.normalize()
"""

from ..errors import require

require("torch", "torch", "movingmnist.torch")

from ._render import get_batch  # noqa: E402
from .datasets import (  # noqa: E402
    MovingMNISTDataset,
    MovingMNISTFileDataset,
    MovingMNISTIterableDataset,
    shard_info,
)
from .generator import TorchGenerator, unsupported_reason  # noqa: E402
from .stats import DatasetStats, Normalize, dataset_stats  # noqa: E402

__all__ = [
    "DatasetStats",
    "MovingMNISTDataset",
    "MovingMNISTFileDataset",
    "MovingMNISTIterableDataset",
    "Normalize",
    "TorchGenerator",
    "dataset_stats",
    "get_batch",
    "shard_info",
    "unsupported_reason",
]
