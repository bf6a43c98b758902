"""YouTube-VIS style JSON: one video per sequence, one annotation per object with per-frame masks and boxes.

    OUT/instances.json                     info, videos, annotations, categories
    OUT/frames/seq-000000/00000.png ...    frames, 0-based (file_names of each video, relative to OUT/frames)

Each annotation lists, for every frame of its video, the object's visible mask as COCO RLE (``segmentations``),
its box ``[x, y, width, height]`` in pixel edges (``bboxes``) and its pixel count (``areas``): ``null`` where the
object is not visible in that frame. ``amodal_bboxes`` (the whole glyph's box, hidden or off-canvas parts
included) are added when the data has amodal boxes, ``amodal_segmentations`` and ``amodal_areas`` when it stores
amodal masks, ``visibilities`` (fraction of the ink visible) when it has visibility. ``category_id`` is the class
+ 1 (see ``_coco``). Objects that are never visible in a sequence, and absent slots, have no annotation.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..batch import Batch
from . import _coco
from .base import IMAGES, Exporter, Job
from .images import write_pngs

FRAMES = "frames"
JSON_NAME = "instances.json"


def frame_names(name: str, t: int) -> list[str]:
    """File names of a video's frames relative to ``OUT/frames``: ``seq-000017/00000.png`` .."""
    return [f"{name}/{i:05d}.png" for i in range(t)]


def vis_records(batch: Batch, job: Job, first_video: int, first_annotation: int) -> tuple[list, list]:
    """The videos and annotations of ``batch`` (pure: no file is touched).

    Args:
        batch: sequences with labels, present, boxes and instance masks.
        job: shapes and names of the export.
        first_video, first_annotation: the ids of this batch's first video and first annotation (1-based, running
            over the whole export).

    Returns:
        ``(videos, annotations)``: lists of JSON-able dicts.
    """
    seen, pixels = _coco.visible(batch)
    where = np.full(seen.shape, -1, dtype=np.int64)
    where[seen] = np.arange(int(seen.sum()))
    rles = _coco.visible_rles(batch, seen)
    boxes = _coco.xywh(batch.boxes).tolist()
    amodal = amodal_ok = None
    if batch.amodal_boxes is not None:
        amodal = _coco.xywh(batch.amodal_boxes).tolist()
        amodal_ok = (np.isfinite(batch.amodal_boxes).all(-1) & batch.present).tolist()
    amodal_at = amodal_rles = amodal_px = None
    if batch.amodal_masks is not None:
        has = batch.present & batch.amodal_masks.any(axis=(-2, -1))
        amodal_at = np.full(has.shape, -1, dtype=np.int64)
        amodal_at[has] = np.arange(int(has.sum()))
        amodal_rles = _coco.amodal_rles(batch, has)
        amodal_px = batch.amodal_masks[has].sum(axis=(-2, -1)).tolist()
    visibility = batch.visibility.tolist() if batch.visibility is not None else None
    area = pixels.tolist()
    videos, annotations = [], []
    t_all = range(job.t)
    for i, index in enumerate(batch.index.tolist()):
        name = job.sequence_name(index)
        vid = first_video + i
        videos.append({"id": vid, "name": name, "width": job.w, "height": job.h, "length": job.t,
                       "file_names": frame_names(name, job.t), "sequence_index": index})
        for k in np.nonzero(seen[i].any(axis=0))[0].tolist():
            at = where[i, :, k].tolist()
            ann: dict[str, Any] = {
                "id": first_annotation + len(annotations), "video_id": vid,
                "category_id": int(batch.labels[i, k]) + 1, "iscrowd": 0, "width": job.w, "height": job.h,
                "length": 1,
                "segmentations": [rles[a] if a >= 0 else None for a in at],
                "bboxes": [boxes[i][t][k] if at[t] >= 0 else None for t in t_all],
                "areas": [area[i][t][k] if at[t] >= 0 else None for t in t_all],
            }
            if amodal is not None:
                ann["amodal_bboxes"] = [amodal[i][t][k] if amodal_ok[i][t][k] else None for t in t_all]
            if amodal_at is not None:
                got = amodal_at[i, :, k].tolist()
                ann["amodal_segmentations"] = [amodal_rles[a] if a >= 0 else None for a in got]
                ann["amodal_areas"] = [amodal_px[a] if a >= 0 else None for a in got]
            if visibility is not None:
                ann["visibilities"] = [visibility[i][t][k] if at[t] >= 0 else 0.0 for t in t_all]
            annotations.append(ann)
    return videos, annotations


class CocoVisExporter(Exporter):
    name = "coco-vis"
    options = {"images": IMAGES}

    @classmethod
    def required(cls, options):
        return ("labels", "present", "boxes", "instance")

    def __init__(self, root, job, **options):
        super().__init__(root, job, **options)
        self.json = _coco.JsonArrays(root, ("videos", "annotations"))

    def write(self, batch: Batch) -> None:
        videos, annotations = vis_records(batch, self.job, self.json.counts["videos"] + 1,
                                          self.json.counts["annotations"] + 1)
        if self.opts["images"]:
            for i, video in enumerate(videos):
                write_pngs(batch.frames[i], os.path.join(self.root, FRAMES, video["name"]),
                           [n.split("/")[1] for n in video["file_names"]])
        self.json.add("videos", videos)
        self.json.add("annotations", annotations)

    def finish(self) -> None:
        self.json.finish(os.path.join(self.root, JSON_NAME), {"info": _coco.info(self.job.provenance)},
                         {"categories": _coco.categories(self.job.class_names)})

    def __exit__(self, exc_type, *rest):
        if exc_type is not None:
            self.json.close()
        super().__exit__(exc_type, *rest)
