"""COCO detection JSON with one image per frame, linked into videos and tracks.

    OUT/instances.json                     info, videos, images, annotations, categories
    OUT/frames/seq-000000/00000.png ...    frames, 0-based (file_name of each image, relative to OUT/frames)

Images carry ``video_id`` and ``frame_id`` (0-based frame number; ``videos`` lists ``id`` and ``name``, as
mmtracking's CocoVID expects). One annotation per visible object and frame: ``bbox`` ``[x, y, width, height]`` of
the visible part in pixel edges, ``area`` (visible pixels; the box area without instance masks), ``category_id``
(class + 1), ``iscrowd`` 0, ``track_id`` (``(video_id - 1) * K + slot + 1``: unique in the export, the same in
every frame of the object), ``visibility``, ``amodal_bbox`` when the data has amodal boxes, ``segmentation`` (the
visible mask as COCO RLE) with instance masks, and the glyph centre as one keypoint ``keypoints: [cx, cy, v]``,
``num_keypoints: 1`` with ``v = 2`` when the centre lies on the canvas and ``v = 1`` (labelled, not visible) when
it lies outside. Frames where an object is hidden or off the canvas have no annotation of it.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..batch import Batch
from . import _coco
from .base import IMAGES, Exporter, Job
from .coco_vis import FRAMES, JSON_NAME, frame_names
from .images import write_pngs


def det_records(
    batch: Batch, job: Job, first_video: int, first_image: int, first_annotation: int
) -> tuple[list, list, list]:
    """The videos, images and annotations of ``batch`` (pure: no file is touched).

    Args:
        batch: sequences with labels, present and boxes (instance masks, centres, visibility and amodal boxes
            are used when there).
        job: shapes and names of the export.
        first_video, first_image, first_annotation: ids of this batch's first video, image and annotation
            (1-based, running over the whole export); image ids are ``first_image + i * T + t``.

    Returns:
        ``(videos, images, annotations)``: lists of JSON-able dicts.
    """
    seen, pixels = _coco.visible(batch)
    b, t, k = np.nonzero(seen)
    boxes = _coco.xywh(batch.boxes[b, t, k])
    area = pixels[b, t, k] if pixels is not None else boxes[:, 2] * boxes[:, 3]
    columns: dict[str, list] = {
        "id": (first_annotation + np.arange(len(b))).tolist(),
        "image_id": (first_image + b * job.t + t).tolist(),
        "category_id": (batch.labels[b, k].astype(np.int64) + 1).tolist(),
        "bbox": boxes.tolist(),
        "area": area.tolist(),
        "iscrowd": [0] * len(b),
        "track_id": ((first_video - 1 + b) * job.k + k + 1).tolist(),
    }
    if batch.visibility is not None:
        columns["visibility"] = batch.visibility[b, t, k].tolist()
    if batch.amodal_boxes is not None:
        columns["amodal_bbox"] = _coco.xywh(batch.amodal_boxes[b, t, k]).tolist()
    if batch.instance is not None:
        columns["segmentation"] = _coco.visible_rles(batch, seen)
    if batch.centers is not None:
        c = batch.centers[b, t, k].astype(np.float64)
        inside = (c[:, 0] >= 0) & (c[:, 0] < job.w) & (c[:, 1] >= 0) & (c[:, 1] < job.h)
        columns["keypoints"] = np.column_stack([c, np.where(inside, 2.0, 1.0)]).tolist()
        columns["num_keypoints"] = [1] * len(b)
    keys = list(columns)
    annotations = [dict(zip(keys, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    for ann in annotations:
        if "keypoints" in ann:
            ann["keypoints"][2] = int(ann["keypoints"][2])
    videos: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    for i, index in enumerate(batch.index.tolist()):
        name = job.sequence_name(index)
        vid = first_video + i
        videos.append({"id": vid, "name": name, "sequence_index": index})
        images.extend(
            {"id": first_image + i * job.t + f, "file_name": file_name, "width": job.w, "height": job.h,
             "video_id": vid, "frame_id": f}
            for f, file_name in enumerate(frame_names(name, job.t))
        )
    return videos, images, annotations


class CocoDetExporter(Exporter):
    name = "coco-det"
    options = {"images": IMAGES}

    @classmethod
    def required(cls, options):
        return ("labels", "present", "boxes")

    def __init__(self, root, job, **options):
        super().__init__(root, job, **options)
        self.json = _coco.JsonArrays(root, ("videos", "images", "annotations"))

    def write(self, batch: Batch) -> None:
        counts = self.json.counts
        videos, images, annotations = det_records(
            batch, self.job, counts["videos"] + 1, counts["images"] + 1, counts["annotations"] + 1
        )
        if self.opts["images"]:
            for i, video in enumerate(videos):
                names = [image["file_name"].split("/")[1] for image in images[i * self.job.t : (i + 1) * self.job.t]]
                write_pngs(batch.frames[i], os.path.join(self.root, FRAMES, video["name"]), names)
        for key, records in (("videos", videos), ("images", images), ("annotations", annotations)):
            self.json.add(key, records)

    def finish(self) -> None:
        keypoints = "centers" in self.job.arrays
        self.json.finish(os.path.join(self.root, JSON_NAME), {"info": _coco.info(self.job.provenance)},
                         {"categories": _coco.categories(self.job.class_names, keypoints=keypoints)})

    def __exit__(self, exc_type, *rest):
        if exc_type is not None:
            self.json.close()
        super().__exit__(exc_type, *rest)
