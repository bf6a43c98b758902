"""MOTChallenge ground truth: one folder per sequence with its frames, ``gt/gt.txt`` and ``seqinfo.ini``.

    OUT/seq-000000/img1/000001.png ...   frames, 1-based
    OUT/seq-000000/gt/gt.txt             frame,id,bb_left,bb_top,bb_width,bb_height,conf,class,visibility
    OUT/seq-000000/seqinfo.ini           name, imDir, frameRate, seqLength, imWidth, imHeight, imExt
    OUT/seqmap.txt                       "name" then one sequence per line (TrackEval's seqmap)

Everything is 1-based as in MOTChallenge: frames, ids (id = object slot + 1), the class (digit class + 1) and the
pixel coordinates of the box (``bb_left = x0 + 1`` for a box whose leftmost pixel column is ``x0``, counted from 0;
motmetrics' loader subtracts the 1 again). conf is 1 (a row to evaluate). A row is written for each frame where
the object is visible (its visible box exists): absent slots and frames where an object is hidden or off the
canvas have none.
"""

from __future__ import annotations

import os

import numpy as np

from ..batch import Batch
from .base import IMAGES, Exporter, Option, positive_int
from .images import write_pngs

BOX_KINDS = ("modal", "amodal")


def gt_rows(
    labels: np.ndarray,
    present: np.ndarray,
    visible_boxes: np.ndarray,
    boxes: np.ndarray | None = None,
    visibility: np.ndarray | None = None,
) -> np.ndarray:
    """The ``gt.txt`` rows of one sequence, sorted by frame then id.

    Args:
        labels: ``(K,)`` class of each slot. present: ``(T, K)`` bool, the object is in the scene.
        visible_boxes: ``(T, K, 4)`` modal boxes x0, y0, x1, y1 (NaN where the object is not visible): they say
            which frames get a row.
        boxes: ``(T, K, 4)`` the boxes to write (default: ``visible_boxes``; amodal boxes for MOT-style full
            extents).
        visibility: ``(T, K)`` fraction of the object visible (default: -1, unknown).

    Returns:
        ``(n, 9)`` float64: frame, id, bb_left, bb_top (1-based: x0 + 1, y0 + 1), bb_width, bb_height, conf,
        class, visibility.
    """
    boxes = visible_boxes if boxes is None else boxes
    seen = present & np.isfinite(visible_boxes).all(-1) & np.isfinite(boxes).all(-1)
    t, k = np.nonzero(seen)
    b = boxes[t, k].astype(np.float64)
    rows = np.empty((len(t), 9), dtype=np.float64)
    rows[:, 0] = t + 1
    rows[:, 1] = k + 1
    rows[:, 2:4] = b[:, :2] + 1
    rows[:, 4:6] = b[:, 2:] - b[:, :2]
    rows[:, 6] = 1
    rows[:, 7] = labels[k].astype(np.int64) + 1
    rows[:, 8] = -1 if visibility is None else visibility[t, k]
    return rows


def gt_text(rows: np.ndarray) -> str:
    """``gt.txt`` content of :func:`gt_rows` (integers where they are, 7 significant digits else)."""
    return "".join(
        f"{int(f)},{int(i)},{x:.7g},{y:.7g},{w:.7g},{h:.7g},{int(c)},{int(cls)},{v:.6g}\n"
        for f, i, x, y, w, h, c, cls, v in rows.tolist()
    )


def seqinfo(name: str, length: int, width: int, height: int, fps: int, ext: str = ".png") -> str:
    """``seqinfo.ini`` of one sequence."""
    return (
        f"[Sequence]\nname={name}\nimDir=img1\nframeRate={fps}\nseqLength={length}\nimWidth={width}\n"
        f"imHeight={height}\nimExt={ext}\n"
    )


class MotExporter(Exporter):
    name = "mot"
    options = {
        "boxes": Option("modal", "'modal' (the visible box) or 'amodal' (the whole glyph, hidden parts included)",
                        lambda v: v in BOX_KINDS),
        "fps": Option(10, "an integer >= 1 (frameRate of seqinfo.ini)", positive_int),
        "images": IMAGES,
    }

    @classmethod
    def required(cls, options):
        return ("labels", "present", "boxes") + (("amodal_boxes",) if options["boxes"] == "amodal" else ())

    def __init__(self, root, job, **options):
        super().__init__(root, job, **options)
        self.seqmap = open(os.path.join(root, "seqmap.txt"), "w")
        self.seqmap.write("name\n")

    def write(self, batch: Batch) -> None:
        job, amodal = self.job, self.opts["boxes"] == "amodal"
        frame_names = [f"{t + 1:06d}.png" for t in range(job.t)]
        for i, index in enumerate(batch.index.tolist()):
            name = job.sequence_name(index)
            folder = os.path.join(self.root, name)
            os.makedirs(os.path.join(folder, "gt"))
            if self.opts["images"]:
                write_pngs(batch.frames[i], os.path.join(folder, "img1"), frame_names)
            rows = gt_rows(
                batch.labels[i], batch.present[i], batch.boxes[i], batch.amodal_boxes[i] if amodal else None,
                None if batch.visibility is None else batch.visibility[i],
            )
            with open(os.path.join(folder, "gt", "gt.txt"), "w") as f:
                f.write(gt_text(rows))
            with open(os.path.join(folder, "seqinfo.ini"), "w") as f:
                f.write(seqinfo(name, job.t, job.w, job.h, self.opts["fps"]))
            self.seqmap.write(name + "\n")

    def finish(self) -> None:
        self.seqmap.close()

    def __exit__(self, exc_type, *rest):
        if exc_type is not None:
            self.seqmap.close()
        super().__exit__(exc_type, *rest)
