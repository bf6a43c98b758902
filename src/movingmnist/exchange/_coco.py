"""What the two COCO formats share: categories, visible masks as RLE, and a JSON file written as it streams.

Category ids are the class ids + 1 (``category_id = 1`` for digit 0), named by the class (``"0"`` .. ``"9"``):
COCO tools and VIS/MOT trackers built on them (detectron2, mmdetection, the YouTube-VIS API) treat id 0 as
background or reserve it, so the ids are 1-based as in COCO itself.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

import numpy as np

from ..batch import Batch
from . import rle

#: Compact JSON that refuses NaN and infinity (they are not JSON): a NaN reaching a record is a bug, not data.
encode_json = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def categories(class_names: list[str], keypoints: bool = False) -> list[dict[str, Any]]:
    """COCO categories: id = class + 1, name = the class name; with the one centre keypoint when asked."""
    cats = []
    for c, name in enumerate(class_names):
        cat: dict[str, Any] = {"id": c + 1, "name": str(name), "supercategory": "glyph"}
        if keypoints:
            cat.update(keypoints=["centre"], skeleton=[])
        cats.append(cat)
    return cats


def info(provenance: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": "movingmnist export",
        "version": provenance.get("version"),
        "date_created": provenance.get("created"),
        "movingmnist": provenance,
    }


def areas(instance: np.ndarray, k: int) -> np.ndarray:
    """Visible pixels of each object: ``(B, T, H, W)`` instance masks -> ``(B, T, K)`` int64 (slot k is value k+1)."""
    out = np.empty((*instance.shape[:2], k), dtype=np.int64)
    for slot in range(k):
        out[..., slot] = np.count_nonzero(instance == slot + 1, axis=(-2, -1))
    return out


def visible(batch: Batch) -> tuple[np.ndarray, np.ndarray | None]:
    """Where each object is visible, ``(B, T, K)`` bool (present, a visible box, and pixels in the instance mask
    when the batch has one), and the visible pixel counts ``(B, T, K)`` (None without instance masks)."""
    seen = batch.present & np.isfinite(batch.boxes).all(-1)
    pixels = None
    if batch.instance is not None:
        pixels = areas(batch.instance, batch.labels.shape[1])
        seen &= pixels > 0
    return seen, pixels


def visible_rles(batch: Batch, seen: np.ndarray) -> list[dict]:
    """COCO RLE of the instance mask of each visible object, in the order of ``np.nonzero(seen)``."""
    b, t, k = np.nonzero(seen)
    return rle.encode(batch.instance[b, t] == (k + 1)[:, None, None].astype(batch.instance.dtype))


def amodal_rles(batch: Batch, where: np.ndarray) -> list[dict]:
    """COCO RLE of the amodal mask at each ``(b, t, k)`` of ``np.nonzero(where)``."""
    return rle.encode(batch.amodal_masks[where])


def xywh(boxes: np.ndarray) -> np.ndarray:
    """``(..., 4)`` x0, y0, x1, y1 -> COCO x, y, width, height (float64)."""
    boxes = boxes.astype(np.float64)
    return np.concatenate([boxes[..., :2], boxes[..., 2:] - boxes[..., :2]], axis=-1)


class JsonArrays:
    """A JSON object with some long arrays, written while records arrive: each array's records go to a part file
    in the staging directory, and :meth:`finish` joins them into the final file. Memory stays bounded by a
    batch, whatever the number of sequences."""

    def __init__(self, root: str, keys: tuple[str, ...]) -> None:
        self.root = root
        self.keys = keys
        self.parts = {key: open(os.path.join(root, f".{key}.part"), "w") for key in keys}
        self.counts = dict.fromkeys(keys, 0)

    def add(self, key: str, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        text = ",".join(encode_json(r) for r in records)
        self.parts[key].write(("," if self.counts[key] else "") + text)
        self.counts[key] += len(records)

    def finish(self, path: str, head: dict[str, Any], tail: dict[str, Any]) -> None:
        """Write ``{**head, <the arrays>, **tail}`` to ``path`` and remove the part files."""
        self.close()
        with open(path, "w") as out:
            items = [f"{encode_json(k)}:{encode_json(v)}" for k, v in head.items()]
            out.write("{" + ",".join(items))
            for i, key in enumerate(self.keys):
                out.write(("," if items or i else "") + f"{encode_json(key)}:[")
                with open(os.path.join(self.root, f".{key}.part")) as part:
                    shutil.copyfileobj(part, out, 1 << 20)
                out.write("]")
            for k, v in tail.items():
                out.write(f",{encode_json(k)}:{encode_json(v)}")
            out.write("}")
        for key in self.keys:
            os.remove(os.path.join(self.root, f".{key}.part"))

    def close(self) -> None:
        for f in self.parts.values():
            f.close()
