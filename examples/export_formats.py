"""Write a small dataset and export it to every exchange format, then read each export back with its consumer's
library where that library is installed (motmetrics, pycocotools, datasets, webdataset).

    python examples/export_formats.py [OUT_DIR]

OUT_DIR defaults to ``exports/``; the dataset is 32 srivastava sequences of the built-in glyphs with amodal masks
(no download).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys

import numpy as np

import movingmnist as mm


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def main(root: str) -> None:
    os.makedirs(root, exist_ok=True)
    data = os.path.join(root, "small.zarr")
    mm.write_dataset("srivastava", seed=0, num=32, path=data, source="glyphs", overwrite=True, progress=False,
                     overrides=["annotations.amodal_masks=true"])
    ds = mm.open(data)
    formats = ["mot", "coco-vis", "coco-det", "webdataset"] + (["hf"] if have("datasets") else [])
    for fmt in formats:
        options = {"shard_size": 16} if fmt in ("hf", "webdataset") else {}
        summary = mm.export(ds, to=fmt, out=os.path.join(root, fmt), overwrite=True, **options)
        print(summary.line())

    if have("motmetrics"):
        import motmetrics

        gt = motmetrics.io.loadtxt(os.path.join(root, "mot", "seq-000000", "gt", "gt.txt"), fmt="mot15-2D")
        print(f"mot: sequence 0 has {len(gt)} ground-truth rows over {gt.index.get_level_values(0).nunique()} frames")

    if have("pycocotools"):
        from pycocotools import mask as coco_mask
        from pycocotools.coco import COCO

        vis = json.load(open(os.path.join(root, "coco-vis", "instances.json")))
        ann = vis["annotations"][0]
        i = vis["videos"][ann["video_id"] - 1]["sequence_index"]
        t = next(t for t, s in enumerate(ann["segmentations"]) if s is not None)
        decoded = coco_mask.decode(ann["segmentations"][t]).astype(bool)
        k = int(np.bincount(ds[i]["instance"][t][decoded]).argmax()) - 1  # the slot whose pixels these are
        same = np.array_equal(decoded, ds[i]["instance"][t] == k + 1)
        print(f"coco-vis: the first mask of sequence {i} decodes to slot {k}'s instance mask: {same}")
        det = COCO(os.path.join(root, "coco-det", "instances.json"))
        print(f"coco-det: {len(det.getImgIds())} images, {len(det.getAnnIds())} annotations")

    if have("datasets"):
        import datasets

        hf = datasets.load_from_disk(os.path.join(root, "hf"))
        same = np.array_equal(hf.with_format("numpy")[0:4]["frames"].astype(np.uint8), ds[0:4].frames)
        print(f"hf: {len(hf)} rows, frames equal to the dataset's: {same}")

    if have("webdataset"):
        import webdataset as wds

        samples = list(wds.WebDataset(os.path.join(root, "webdataset", "shard-{000000..000001}.tar"),
                                      shardshuffle=False).decode())
        same = all(np.array_equal(s["frames.npy"], ds[int(s["__key__"])]["frames"]) for s in samples)
        print(f"webdataset: {len(samples)} samples, frames equal to the dataset's: {same}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "exports")
