"""Exchange formats: sequences of a dataset written for other tools (docs/export.md).

    mm.export("train.zarr", to="mot", out="train-mot")              # MOTChallenge folders
    mm.export(ds, to="coco-vis", out="vis", rows=range(100))          # YouTube-VIS JSON + PNG frames
    mm.export(batch, to="webdataset", out="shards", shard_size=500)   # tar shards of .npy arrays

Formats: ``mot``, ``coco-vis``, ``coco-det``, ``hf`` (needs ``pip install "movingmnist[export]"``) and
``webdataset``. Each lives in its own module: pure functions turn a Batch into records, a small exporter class
writes them.
"""

from .base import FORMATS, Exporter, Job, Option
from .run import ExportSummary, export, is_export

__all__ = ["FORMATS", "ExportSummary", "Exporter", "Job", "Option", "export", "is_export"]
