"""Exchange formats (docs/export.md): every export is read back with the library its consumers use and compared
with the dataset: motmetrics scores MOTChallenge ground truth against itself and against a perturbed copy,
pycocotools decodes every mask pixel for pixel and COCOeval scores gt against gt, ``datasets.load_from_disk`` and
a ``webdataset`` DataLoader with two workers give back the arrays. Also the CLI, the options, the errors, and that
an interrupted export leaves nothing behind."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import movingmnist as mm
from _io_helpers import SMALL
from movingmnist.cli import main
from movingmnist.exchange import rle

#: Digits that wrap around a 40x40 canvas with `over` compositing: objects hidden in some frames and seen again,
#: occlusion, amodal masks.
WRAP = [*SMALL, "motion.model=free", "motion.wrap=true", "motion.speed=6..9", "motion.speed_unit=px",
        "compositing=over", "objects.count=2..3", "annotations.amodal_masks=true"]
NUM = 12
# Warnings of the checking libraries under NumPy 2 / pandas 3 (motmetrics 1.4.0 is the latest release)
pytestmark = [pytest.mark.filterwarnings("ignore:Operation with tuple is deprecated"),
              pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("export") / "wrap.zarr"
    mm.write_dataset("srivastava", seed=3, num=NUM, path=str(path), source="glyphs", overrides=WRAP,
                     progress=False)
    return path


@pytest.fixture
def small_blocks(monkeypatch):
    """Batches of 5 sequences: ids, shards and JSON arrays must continue across batches."""
    from movingmnist.exchange import run

    monkeypatch.setattr(run, "BLOCK", 5)


@pytest.fixture(scope="module")
def batch(data) -> mm.Batch:
    with mm.open(data) as ds:
        b = ds[:]
    visible = b.present & np.isfinite(b.boxes).all(-1)
    hidden = b.present & ~visible
    assert hidden.any() and visible.any(), "the fixture must have objects hidden in some frames"
    return b


def visible_slots(b: mm.Batch) -> np.ndarray:
    return b.present & np.isfinite(b.boxes).all(-1)


def read_png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


# -- RLE -----------------------------------------------------------------------------------------------------------
def test_rle_strings_are_those_of_pycocotools(batch):
    """Our vectorised encoder gives pycocotools' compressed strings byte for byte: random masks of every density,
    empty and full masks, single pixels in the corners, a 1x1 mask, and every visible instance mask."""
    mask = pytest.importorskip("pycocotools.mask")
    rng = np.random.default_rng(0)
    cases = [rng.random((4, 7, 9)) < p for p in (0.0, 0.05, 0.5, 0.95, 1.0)]
    corners = np.zeros((4, 5, 6), dtype=bool)
    corners[0, 0, 0] = corners[1, -1, -1] = corners[2, 0, -1] = corners[3, -1, 0] = True
    cases += [corners, np.ones((1, 1, 1), bool), np.zeros((1, 1, 1), bool), rng.random((2, 300, 200)) < 0.001]
    b, t, k = np.nonzero(visible_slots(batch))
    cases.append(batch.instance[b, t] == (k + 1)[:, None, None])
    for masks in cases:
        ours = rle.encode(masks)
        theirs = mask.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))
        assert [r["counts"] for r in ours] == [r["counts"].decode() for r in theirs]
        assert all(r["size"] == list(masks.shape[1:]) for r in ours)


# -- MOTChallenge --------------------------------------------------------------------------------------------------
def _iou_distances(a: np.ndarray, b: np.ndarray, limit: float = 0.5) -> np.ndarray:
    """1 - IoU of boxes x, y, w, h (NaN beyond ``limit``): motmetrics' own iou_matrix calls np.asfarray, which
    NumPy 2 removed, so the accumulator is fed here."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, :2] + a[:, None, 2:], b[None, :, :2] + b[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(-1)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    d = 1 - inter / union
    d[d > limit] = np.nan
    return d


def _mot_scores(gt, hyp) -> dict:
    motmetrics = pytest.importorskip("motmetrics")
    acc = motmetrics.MOTAccumulator(auto_id=False)
    cols = ["X", "Y", "Width", "Height"]
    frames = sorted(set(gt.index.get_level_values(0)) | set(hyp.index.get_level_values(0)))
    for f in frames:
        g = gt.loc[[f]] if f in gt.index.get_level_values(0) else gt.iloc[:0]
        h = hyp.loc[[f]] if f in hyp.index.get_level_values(0) else hyp.iloc[:0]
        acc.update(g.index.get_level_values(1).tolist(), h.index.get_level_values(1).tolist(),
                   _iou_distances(g[cols].values, h[cols].values), frameid=f)
    names = ["mota", "idf1", "num_switches", "num_misses", "num_false_positives", "num_objects"]
    row = motmetrics.metrics.create().compute(acc, metrics=names, name="seq")
    return {n: row[n].iloc[0] for n in names}


def test_mot_ground_truth_scores_perfectly_against_itself(data, batch, tmp_path, small_blocks):
    """Every sequence's gt.txt, read by motmetrics, scores MOTA 1 and IDF1 1 against itself; it has one row per
    frame where an object is visible (1-based frames and ids, class + 1, the dataset's boxes and visibility),
    seqinfo.ini describes the sequence and img1/ holds the frames byte for byte."""
    motmetrics = pytest.importorskip("motmetrics")
    out = tmp_path / "mot"
    mm.export(data, to="mot", out=out, fps=25)
    seen = visible_slots(batch)
    names = (out / "seqmap.txt").read_text().split()
    assert names == ["name"] + [f"seq-{i:06d}" for i in range(NUM)]
    for i in range(NUM):
        folder = out / f"seq-{i:06d}"
        gt = motmetrics.io.loadtxt(str(folder / "gt" / "gt.txt"), fmt="mot15-2D", min_confidence=1)
        scores = _mot_scores(gt, gt)
        assert scores["mota"] == 1 and scores["idf1"] == 1 and scores["num_switches"] == 0
        assert scores["num_objects"] == seen[i].sum() == len(gt)
        rows = np.loadtxt(folder / "gt" / "gt.txt", delimiter=",", ndmin=2)
        t, k = rows[:, 0].astype(int) - 1, rows[:, 1].astype(int) - 1
        assert seen[i, t, k].all()
        box = batch.boxes[i, t, k]
        np.testing.assert_allclose(rows[:, 2:6], np.c_[box[:, :2] + 1, box[:, 2:] - box[:, :2]], atol=1e-4)
        np.testing.assert_allclose(gt[["X", "Y"]].values, box[:, :2])  # motmetrics reads 1-based corners
        np.testing.assert_array_equal(rows[:, 7], batch.labels[i, k] + 1)
        np.testing.assert_allclose(rows[:, 8], batch.visibility[i, t, k], atol=1e-5)
        info = dict(line.split("=", 1) for line in (folder / "seqinfo.ini").read_text().splitlines()[1:])
        assert info == {"name": f"seq-{i:06d}", "imDir": "img1", "frameRate": "25", "seqLength": "8",
                        "imWidth": "40", "imHeight": "40", "imExt": ".png"}
        for f in range(8):
            np.testing.assert_array_equal(read_png(folder / "img1" / f"{f + 1:06d}.png"), batch.frames[i, f, 0])


def test_mot_perturbed_copy_gives_the_expected_errors(data, batch, tmp_path):
    """Against a copy with two ids swapped from one frame on (where their boxes do not overlap) and three rows
    dropped, motmetrics counts exactly 2 identity switches and 3 misses, and MOTA = 1 - 5 / objects."""
    motmetrics = pytest.importorskip("motmetrics")
    out = tmp_path / "mot"
    mm.export(data, to="mot", out=out, images=False)
    assert not (out / "seq-000000" / "img1").exists()
    seen = visible_slots(batch)
    found = None
    for i in range(NUM):  # two objects visible at frame f >= 1 and in the frame before, not overlapping at f
        for f in range(1, 8):
            both = np.nonzero(seen[i, f] & seen[i, f - 1])[0]
            if len(both) >= 2:
                a, b = batch.boxes[i, f, both[0]], batch.boxes[i, f, both[1]]
                if a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]:
                    found = (i, f, both[0] + 1, both[1] + 1)
                    break
        if found:
            break
    assert found, "the fixture must have two separate objects in some frame"
    i, f, id1, id2 = found
    gt = motmetrics.io.loadtxt(str(out / f"seq-{i:06d}" / "gt" / "gt.txt"), fmt="mot15-2D", min_confidence=1)
    hyp = gt.reset_index()
    later = hyp["FrameId"] > f
    swap = {id1: id2, id2: id1}
    hyp.loc[later, "Id"] = hyp.loc[later, "Id"].map(lambda v: swap.get(v, v))
    # three rows away from the swap frame (f + 1, 1-based) and the one before it: misses that add no switch
    others = hyp.index[(hyp["FrameId"] < f) | (hyp["FrameId"] > f + 1)][-3:]
    assert len(others) == 3
    hyp = hyp.drop(others).set_index(["FrameId", "Id"])
    scores = _mot_scores(gt, hyp)
    assert scores["num_switches"] == 2
    assert scores["num_misses"] == 3
    assert scores["num_false_positives"] == 0
    assert scores["mota"] == pytest.approx(1 - 5 / scores["num_objects"])


def test_mot_amodal_boxes(data, batch, tmp_path):
    """boxes="amodal" writes the whole glyph's box, in the same frames as the visible boxes."""
    out = tmp_path / "mot"
    mm.export(data, to="mot", out=out, boxes="amodal", images=False, rows=[4])
    rows = np.loadtxt(out / "seq-000004" / "gt" / "gt.txt", delimiter=",", ndmin=2)
    t, k = rows[:, 0].astype(int) - 1, rows[:, 1].astype(int) - 1
    box = batch.amodal_boxes[4, t, k]
    np.testing.assert_allclose(rows[:, 2:6], np.c_[box[:, :2] + 1, box[:, 2:] - box[:, :2]], atol=1e-4)
    assert len(rows) == visible_slots(batch)[4].sum()


# -- COCO ----------------------------------------------------------------------------------------------------------
def test_coco_vis_masks_boxes_and_areas_match_the_dataset(data, batch, tmp_path, small_blocks):
    """Every per-frame mask decodes (pycocotools) to the dataset's instance mask pixel for pixel, null exactly
    where the object is hidden; boxes equal the dataset's and pycocotools' box of the mask, areas its pixel
    count; amodal masks decode to the stored amodal masks; categories are class + 1 named "0".."9"; the frames
    listed in file_names are the frames."""
    mask = pytest.importorskip("pycocotools.mask")
    out = tmp_path / "vis"
    mm.export(data, to="coco-vis", out=out)
    doc = json.loads((out / "instances.json").read_text())
    assert [c["id"] for c in doc["categories"]] == list(range(1, 11))
    assert [c["name"] for c in doc["categories"]] == [str(c) for c in range(10)]
    assert doc["info"]["movingmnist"]["format"] == "coco-vis"
    assert len(doc["videos"]) == NUM
    seen = visible_slots(batch)
    objects = {(i, k) for i in range(NUM) for k in range(batch.labels.shape[1]) if seen[i, :, k].any()}
    assert len(doc["annotations"]) == len(objects) and len({a["id"] for a in doc["annotations"]}) == len(objects)
    decoded = 0
    for ann in doc["annotations"]:
        video = doc["videos"][ann["video_id"] - 1]
        i = video["sequence_index"]
        matches = [k for k in range(batch.labels.shape[1]) if (i, k) in objects
                   and [s is not None for s in ann["segmentations"]] == seen[i, :, k].tolist()]
        k = next(k for k in matches if ann["category_id"] == batch.labels[i, k] + 1)
        for t, rle_ in enumerate(ann["segmentations"]):
            if rle_ is None:
                assert ann["bboxes"][t] is None and ann["areas"][t] is None
                continue
            m = mask.decode(rle_)
            np.testing.assert_array_equal(m, batch.instance[i, t] == k + 1)
            x0, y0, x1, y1 = batch.boxes[i, t, k]
            assert ann["bboxes"][t] == pytest.approx([x0, y0, x1 - x0, y1 - y0])
            assert ann["bboxes"][t] == pytest.approx(mask.toBbox(rle_).tolist())
            assert ann["areas"][t] == int(mask.area(rle_)) == m.sum()
            decoded += 1
        for t, rle_ in enumerate(ann["amodal_segmentations"]):
            expected = batch.amodal_masks[i, t, k]
            if rle_ is None:
                assert not expected.any()
            else:
                np.testing.assert_array_equal(mask.decode(rle_).astype(bool), expected)
                assert ann["amodal_areas"][t] == expected.sum()
        assert ann["visibilities"] == pytest.approx(np.where(seen[i, :, k], batch.visibility[i, :, k], 0))
    assert decoded == seen.sum()
    for name in doc["videos"][3]["file_names"][:3]:
        t = int(name.split("/")[1].split(".")[0])
        np.testing.assert_array_equal(read_png(out / "frames" / name), batch.frames[3, t, 0])


def test_coco_det_scores_ap_1_against_itself(data, batch, tmp_path, small_blocks):
    """pycocotools loads the detection JSON; COCOeval of gt against gt gives AP 1.0 for boxes, masks and the
    centre keypoint. Images are the frames (video_id, 0-based frame_id); a track_id keeps one class and one slot
    across its frames; one annotation per visible object and frame."""
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    out = tmp_path / "det"
    mm.export(data, to="coco-det", out=out, images=False)
    assert not (out / "frames").exists()
    gt = COCO(str(out / "instances.json"))
    assert len(gt.getImgIds()) == NUM * 8
    assert len(gt.getAnnIds()) == visible_slots(batch).sum()
    image = gt.loadImgs([8 * 5 + 3 + 1])[0]
    assert (image["video_id"], image["frame_id"], image["file_name"]) == (6, 3, "seq-000005/00003.png")
    tracks: dict[int, set] = {}
    for ann in gt.dataset["annotations"]:
        tracks.setdefault(ann["track_id"], set()).add(ann["category_id"])
        assert ann["num_keypoints"] == 1 and ann["keypoints"][2] in (1, 2)
    assert all(len(c) == 1 for c in tracks.values())
    results = [{k: v for k, v in a.items() if k != "id"} | {"score": 1.0} for a in gt.dataset["annotations"]]
    for kind in ("bbox", "segm", "keypoints"):
        evaluation = COCOeval(gt, gt.loadRes(results), kind)
        if kind == "keypoints":
            evaluation.params.kpt_oks_sigmas = np.array([0.05])
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
        assert evaluation.stats[0] == pytest.approx(1.0), kind


# -- Hugging Face datasets and WebDataset ----------------------------------------------------------------------------
def test_hf_load_from_disk_gives_back_every_array(data, batch, tmp_path, small_blocks):
    """datasets.load_from_disk reads the export: one row per sequence, every array equal to ours with its dtype
    and shape in the features, the provenance JSON in info.description, shard_size sequences per shard."""
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "hf"
    mm.export(data, to="hf", out=out, shard_size=4)  # shards across batches of 5
    assert sorted(p.name for p in out.glob("*.arrow")) == [f"data-0000{i}-of-00003.arrow" for i in range(3)]
    assert [len(datasets.Dataset.from_file(str(p))) for p in sorted(out.glob("*.arrow"))] == [4, 4, 4]
    loaded = datasets.load_from_disk(str(out))
    assert len(loaded) == NUM
    provenance = json.loads(loaded.info.description)
    assert provenance["format"] == "hf" and provenance["metadata"]["seed"] == 3
    rows = loaded.with_format("numpy")[:]
    np.testing.assert_array_equal(rows["index"], batch.index)
    for name, array in batch.arrays().items():
        feature = loaded.features[name]
        dtype = feature.dtype if hasattr(feature, "shape") else feature.feature.dtype
        assert dtype == str(array.dtype), name
        got = np.asarray(rows[name]).astype(array.dtype)
        np.testing.assert_array_equal(got, array, err_msg=name)


def test_webdataset_dataloader_reads_back_every_sequence(data, batch, tmp_path, small_blocks):
    """webdataset.WebDataset over the shards, in a torch DataLoader with 2 workers, yields every sequence once
    with every array equal to ours and its meta.json."""
    wds = pytest.importorskip("webdataset")
    torch = pytest.importorskip("torch")
    out = tmp_path / "wds"
    mm.export(data, to="webdataset", out=out, shard_size=4)  # shards across batches of 5
    urls = sorted(str(p) for p in out.glob("shard-*.tar"))
    assert [Path(u).name for u in urls] == ["shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]
    loader = torch.utils.data.DataLoader(wds.WebDataset(urls, shardshuffle=False).decode(), batch_size=None,
                                         num_workers=2)
    samples = list(loader)
    keys = [int(s["__key__"]) for s in samples]
    assert sorted(keys) == list(range(NUM))
    for sample in samples:
        i = int(sample["__key__"])
        assert sample["meta.json"]["index"] == i and sample["meta.json"]["seed"] == 3
        for name, array in batch.arrays().items():
            got = sample[f"{name}.npy"]
            got = got.numpy() if hasattr(got, "numpy") else np.asarray(got)
            assert got.dtype == array.dtype, name
            np.testing.assert_array_equal(got, array[i], err_msg=name)


def test_webdataset_bytes_are_repeatable(data, tmp_path):
    """The same export twice gives the same shard bytes (fixed member metadata)."""
    for name in ("a", "b"):
        mm.export(data, to="webdataset", out=tmp_path / name, rows="0:3")
    assert (tmp_path / "a" / "shard-000000.tar").read_bytes() == (tmp_path / "b" / "shard-000000.tar").read_bytes()


def test_a_batch_exports_with_its_sequence_indices(tmp_path):
    """A Batch from mm.generate exports as well; sequences are named by their index (start=100 -> seq-000100)."""
    b = mm.generate("srivastava", num=3, seed=0, source="glyphs", start=100, overrides=SMALL)
    summary = mm.export(b, to="mot", out=tmp_path / "mot", images=False)
    assert summary.num == 3 and "exported 3 sequences as mot" in summary.line()
    assert sorted(p.name for p in (tmp_path / "mot").iterdir() if p.is_dir()) == [
        "seq-000100", "seq-000101", "seq-000102"]
    marker = json.loads((tmp_path / "mot" / "movingmnist.json").read_text())
    assert marker["kind"] == "movingmnist-export" and marker["indices"] == [[100, 103]]


# -- CLI, options and errors -----------------------------------------------------------------------------------------
def test_cli_export(data, tmp_path, capsys):
    """`movingmnist export DATASET OUT --to FORMAT`: writes, refuses an existing OUT (exit 2, one line), replaces it
    with --overwrite, and --rows / --start --num pick the sequences."""
    out = tmp_path / "mot"
    assert main(["export", str(data), str(out), "--to", "mot", "--rows", "2,5", "--no-images", "--quiet"]) == 0
    assert "exported 2 sequences as mot" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["seq-000002", "seq-000005"]
    assert main(["export", str(data), str(out), "--to", "mot", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "out=" in err and "--overwrite" in err
    argv = ["export", str(data), str(out), "--to", "coco-det", "--start", "3", "--num", "2", "--overwrite", "--quiet"]
    assert main(argv) == 0
    doc = json.loads((out / "instances.json").read_text())
    assert [v["sequence_index"] for v in doc["videos"]] == [3, 4]
    assert not (out / "seq-000002").exists()
    assert main(["export", str(data), str(tmp_path / "x"), "--to", "mots"]) == 2
    assert "invalid choice: 'mots'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"to": "mots"}, "to='mots' is not allowed: one of 'mot', 'coco-vis', 'coco-det', 'hf', 'webdataset' "
                         "(did you mean 'mot'?)"),
        ({"to": "mot", "shard_size": 5}, "shard_size=5 is not an option of the mot format; its options: boxes, "
                                         "fps, images"),
        ({"to": "webdataset", "shard_sise": 5}, "(did you mean 'shard_size'?)"),
        ({"to": "mot", "boxes": "full"}, "boxes='full' is not allowed: 'modal' (the visible box) or 'amodal'"),
        ({"to": "hf", "shard_size": 0}, "shard_size=0 is not allowed: an integer >= 1"),
        ({"to": "coco-det", "images": "no"}, "images='no' is not allowed: True or False"),
        ({"to": "mot", "start": 12}, "start=12 is not allowed: a row in 0..11 (the data has 12 sequences)"),
        ({"to": "mot", "start": 10, "num": 3}, "num=3 is not allowed: 1..2 (the data has 12 sequences from row 10)"),
        ({"to": "mot", "num": 0}, "num=0 is not allowed: 1..12"),
        ({"to": "mot", "rows": [1, 1]}, "rows=[1, 1] is not allowed: distinct rows"),
        ({"to": "mot", "rows": [3, 12]}, "rows=12 is not allowed: rows in 0..11"),
        ({"to": "mot", "rows": "2:x"}, "rows='2:x' is not allowed: START:STOP[:STEP] or a comma list"),
        ({"to": "mot", "rows": [1], "start": 0}, "rows, or start and num, not both"),
        ({"to": "mot", "rows": "5:5"}, "at least one row"),
    ],
)
def test_bad_arguments_name_the_field_value_and_allowed(data, tmp_path, kwargs, message):
    with pytest.raises(mm.ExportError) as info:
        mm.export(data, out=tmp_path / "out", **kwargs)
    assert message in str(info.value)
    assert not (tmp_path / "out").exists()


def test_output_paths_are_checked(data, tmp_path):
    """An existing OUT is refused without overwrite; overwrite replaces an earlier export or an empty directory but
    never anything else (left untouched); OUT inside the dataset, or containing it, is refused."""
    out = tmp_path / "out"
    mm.export(data, to="webdataset", out=out, rows=[0])
    with pytest.raises(mm.ExportError, match="a path that does not exist yet"):
        mm.export(data, to="webdataset", out=out, rows=[1])
    mm.export(data, to="mot", out=out, rows=[1], overwrite=True, images=False)
    assert (out / "seq-000001").is_dir() and not list(out.glob("*.tar"))
    (tmp_path / "empty").mkdir()
    mm.export(data, to="mot", out=tmp_path / "empty", rows=[1], overwrite=True, images=False)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(mm.ExportError, match="is something else and is left untouched"):
        mm.export(data, to="mot", out=mine, overwrite=True)
    assert (mine / "notes.txt").read_text() == "keep me"
    for bad in (data / "inside", data, data.parent):
        with pytest.raises(mm.ExportError, match="outside the dataset"):
            mm.export(data, to="mot", out=bad, overwrite=True)
    with pytest.raises(mm.ExportError, match="in an existing directory"):
        mm.export(data, to="mot", out=tmp_path / "no" / "such" / "dir")


def test_missing_arrays_name_the_annotation_to_switch_on(tmp_path):
    path = tmp_path / "bare.zarr"
    mm.write_dataset("srivastava", seed=0, num=2, path=str(path), source="glyphs", progress=False,
                     overrides=[*SMALL, "annotations.instance=false"])
    with pytest.raises(mm.ExportError, match=r"to='coco-vis' needs the arrays instance, .*annotations.instance=true"):
        mm.export(path, to="coco-vis", out=tmp_path / "vis")
    mm.export(path, to="coco-det", out=tmp_path / "det", images=False, progress=np.bool_(False))  # masks optional
    doc = json.loads((tmp_path / "det" / "instances.json").read_text())
    assert "segmentation" not in doc["annotations"][0]
    box = doc["annotations"][0]["bbox"]
    assert doc["annotations"][0]["area"] == box[2] * box[3]
    classic = tmp_path / "classic.npy"
    mm.write_dataset("srivastava", seed=0, num=2, path=str(classic), source="glyphs", progress=False, overrides=SMALL)
    with pytest.raises(mm.ExportError, match=r"needs the arrays labels, present, boxes.*classic .npy holds frames"):
        mm.export(classic, to="mot", out=tmp_path / "mot")
    mm.export(classic, to="webdataset", out=tmp_path / "wds", shard_size=np.int64(1))  # frames only: fine
    assert json.loads((tmp_path / "wds" / "movingmnist.json").read_text())["options"] == {"shard_size": 1}


def test_missing_dependency_names_the_extra(data, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets -> ImportError
    with pytest.raises(mm.MissingDependencyError, match=r'pip install "movingmnist\[export\]"'):
        mm.export(data, to="hf", out=tmp_path / "hf")
    assert os.listdir(tmp_path) == []


def test_an_interrupted_export_leaves_nothing(data, tmp_path, monkeypatch):
    """A failure half-way (here the second batch) removes the staging directory: nothing at OUT, nothing beside
    it; the staging directory of a killed export (its process gone) is removed by the next export."""
    from movingmnist.exchange import mot, run

    monkeypatch.setattr(run, "BLOCK", 4)
    calls = []
    original = mot.MotExporter.write

    def failing(self, b):
        calls.append(len(b))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        original(self, b)

    monkeypatch.setattr(mot.MotExporter, "write", failing)
    with pytest.raises(OSError, match="No space"):
        mm.export(data, to="mot", out=tmp_path / "mot", images=False)
    assert os.listdir(tmp_path) == []
    monkeypatch.setattr(mot.MotExporter, "write", original)
    stale = tmp_path / ".mot.export-999999999-deadbeef.tmp"  # no such process
    (stale / "seq-000000").mkdir(parents=True)
    mm.export(data, to="mot", out=tmp_path / "mot", images=False)
    assert sorted(os.listdir(tmp_path)) == ["mot"]
