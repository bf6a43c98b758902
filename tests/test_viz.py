"""Acceptance tests of movingmnist.viz and the preview / stats subcommands (issue 6)."""

from __future__ import annotations

import argparse
import base64
import io
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

import movingmnist as mm
from _banks import HAVE_MNIST_TEST, MNIST_DIR
from movingmnist import viz, viz_cli
from movingmnist.errors import MissingDependencyError
from movingmnist.viz import _draw

M, G = 4, 2  # outer margin and gap between tiles of a grid


# -- data --------------------------------------------------------------------------------------------------------------
def _digit_images() -> tuple[np.ndarray, np.ndarray]:
    """40 digit-like 28x28 glyphs (the digit drawn with Pillow's font, 4 sizes each) and their labels."""
    images, labels = [], []
    for size in (18, 20, 22, 24):
        font = _draw.font(size)
        for d in range(10):
            im = Image.new("L", (28, 28), 0)
            ImageDraw.Draw(im).text((14, 14), str(d), fill=255, font=font, anchor="mm")
            images.append(np.asarray(im))
            labels.append(d)
    return np.stack(images), np.array(labels, dtype=np.int64)


@pytest.fixture(scope="module")
def bank():
    return _digit_images()


@pytest.fixture(scope="module")
def batch(bank):
    return mm.generate("srivastava", num=4, seed=1, source=bank, frames=6)


@pytest.fixture(scope="module")
def single(bank):
    """One object per sequence: its box and trail are never hidden by another's."""
    return mm.generate("srivastava", num=3, seed=2, source=bank, frames=5, objects__count=1)


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


@pytest.fixture(scope="module")
def idx_source(bank, tmp_path_factory) -> str:
    """The synthetic glyphs as an ``idx:DIR`` source with train and test files (offline CLI tests)."""
    root = tmp_path_factory.mktemp("idx")
    images, labels = bank
    for stem in ("train", "t10k"):
        _write_idx(root / f"{stem}-images-idx3-ubyte", images)
        _write_idx(root / f"{stem}-labels-idx1-ubyte", labels)
    return f"idx:{root}"


class FakeDataset:
    """A dataset as ``movingmnist.open`` gives one: ``len()`` and slices that are Batches; records reads."""

    def __init__(self, batch: mm.Batch, length: int | None = None):
        self.batch = batch
        self.length = len(batch) if length is None else length
        self.reads: list[tuple[int, int]] = []
        self.metadata = {"source": {"class_names": [f"c{i}" for i in range(10)]},
                         "spec": {"annotations": {"ignore_label": 255}}}

    def __len__(self):
        return self.length

    def __getitem__(self, item):
        start, stop, _ = item.indices(self.length)
        self.reads.append((start, stop))
        positions = np.arange(start, stop) % len(self.batch)
        return viz._select.take(self.batch, positions)


def _tile(scale: int, frame: np.ndarray) -> np.ndarray:
    """A (C, H, W) frame upscaled to (H*s, W*s, 3)."""
    rgb = np.broadcast_to(np.moveaxis(frame, 0, -1), (*frame.shape[1:], 3))
    return np.repeat(np.repeat(rgb, scale, 0), scale, 1)


def _grid_origin(b: int, f: int, th: int, tw: int, sub: int = 1) -> tuple[int, int]:
    """Top-left of frame tile (b, f) of a grid drawn with captions=False."""
    return M + b * sub * (th + G), M + f * (tw + G)


# -- grids -------------------------------------------------------------------------------------------------------------
def test_grid_png_round_trip_and_tiles_are_the_frames(batch, tmp_path):
    s = 2
    path = viz.save(batch, tmp_path / "grid.png", scale=s, captions=False, legend=False)
    image = np.asarray(Image.open(path).convert("RGB"))
    b, t, _, h, w = batch.frames.shape
    assert image.shape == (2 * M + b * (h * s + G) - G, 2 * M + t * (w * s + G) - G, 3)
    assert image.shape == viz.grid_array(batch, scale=s, captions=False, legend=False).shape
    for i, f in [(0, 0), (1, 3), (3, 5)]:
        y, x = _grid_origin(i, f, h * s, w * s)
        np.testing.assert_array_equal(image[y : y + h * s, x : x + w * s], _tile(s, batch.frames[i, f]))


def test_grid_selects_rows_and_frames_and_keeps_orientation(batch):
    # An asymmetric frame (ink only in the top-left quadrant) must stay there: no transposition or flip.
    frames = np.zeros((2, 3, 1, 8, 12), dtype=np.uint8)
    frames[1, 2, 0, 0:2, 0:5] = 200
    image = viz.grid_array(frames, rows=[1], frames=[2], scale=1, captions=False, legend=False)
    assert image.shape == (2 * M + 8, 2 * M + 12, 3)
    np.testing.assert_array_equal(image[M : M + 8, M : M + 12, 0], frames[1, 2, 0])
    assert viz.grid(batch, rows=2, frames=3, scale=1).size[0] < viz.grid(batch, frames=6, scale=1).size[0]
    assert viz.grid(batch, rows="1:3", frames=slice(0, 4, 2)).size == viz.grid(batch, rows=[1, 2], frames=[0, 2]).size


def test_grid_of_colour_frames(batch):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(2, 3, 3, 10, 12), dtype=np.uint8)
    image = viz.grid_array(frames, scale=3, captions=False, legend=False)
    for i, f in [(0, 0), (1, 2)]:
        y, x = _grid_origin(i, f, 30, 36)
        np.testing.assert_array_equal(image[y : y + 30, x : x + 36], _tile(3, frames[i, f]))
    floats = viz.grid_array(frames.astype(np.float32) / 255, scale=1, captions=False, legend=False)
    assert np.abs(floats.astype(int) - viz.grid_array(frames, scale=1, captions=False, legend=False)).max() <= 1


def test_semantic_mask_colours_follow_the_legend(batch):
    s = 1
    image = viz.grid_array(batch, masks="semantic", scale=s, captions=False)
    b, t, _, h, w = batch.frames.shape
    seen = set()
    for i in range(b):
        for f in (0, t - 1):
            y, x = _grid_origin(i, f, h, w, sub=2)
            mask_tile = image[y + h + G : y + 2 * h + G, x : x + w]
            sem = batch.semantic[i, f]
            for c in np.unique(sem):
                colour = (0, 0, 0) if c == 255 else viz.color(int(c))
                assert (mask_tile[sem == c] == colour).all(), (i, f, c)
                seen.add(int(c))
    # The legend below the tiles holds a swatch of every class shown, in the same colour.
    legend = image[_grid_origin(b, 0, h, w, sub=2)[0] :]
    legend_colours = {tuple(p) for p in legend.reshape(-1, 3)}
    for c in seen - {255}:
        assert viz.color(c) in legend_colours
    assert (0, 0, 0) in legend_colours  # the ignore swatch
    assert viz.PALETTE[0] == "#e6194b" and viz.color(0) == (0xE6, 0x19, 0x4B)


def test_instance_masks_use_slot_colours(batch):
    image = viz.grid_array(batch, rows=[2], frames=[4], masks="instance", scale=1, captions=False, legend=False)
    h, w = batch.frames.shape[-2:]
    tile = image[M + h + G : M + 2 * h + G, M : M + w]
    inst = batch.instance[2, 4]
    assert (tile[inst == 0] == 0).all()
    for k in range(batch.labels.shape[1]):
        assert (tile[inst == k + 1] == viz.color(k)).all()


def test_ignore_label_and_class_names_from_dataset_metadata(batch):
    ds = FakeDataset(batch)
    image = viz.grid_array(ds, rows=1, frames=1, masks="semantic", scale=1)
    assert image.ndim == 3
    shown = viz._render._gather(viz._select.open_source(ds), 1, 1, viz._options.Options.make(),
                                lambda b, f: (0, "", ""))
    assert shown.class_names[3] == "c3" and shown.ignore_label == 255


def test_boxes_drawn_where_the_annotations_say(single):
    s = 2
    image = viz.grid_array(single, boxes=True, scale=s, captions=False, legend=False)
    _, t, _, h, w = single.frames.shape
    colour = np.array(viz.color(0))
    checked = 0
    for i in range(len(single)):
        for f in range(t):
            box = single.boxes[i, f, 0]
            if not np.isfinite(box).all():
                continue
            oy, ox = _grid_origin(i, f, h * s, w * s)
            x0, y0, x1, y1 = (int(v) * s for v in box)
            # Corners and the middle of each edge (the slot tag sits above the top edge, so skip the top row).
            for y, x in [(y1 - 1, x0), (y1 - 1, x1 - 1), ((y0 + y1) // 2, x0), ((y0 + y1) // 2, x1 - 1),
                         (y1 - 1, (x0 + x1) // 2)]:
                assert (image[oy + y, ox + x] == colour).all(), (i, f, y, x)
            # Inside the outline there is no box colour on the row below the top edge's middle.
            if x0 - 1 >= 0:
                assert not (image[oy + (y0 + y1) // 2, ox + x0 - 1] == colour).all()
            checked += 1
    assert checked >= 10


def test_trails_end_at_the_current_centre(single):
    s = 2
    image = viz.grid_array(single, trails=True, scale=s, captions=False, legend=False)
    _, t, _, h, w = single.frames.shape
    for i in range(len(single)):
        for f in range(t):
            cx, cy = single.centers[i, f, 0]
            oy, ox = _grid_origin(i, f, h * s, w * s)
            y, x = int(np.floor(cy * s)), int(np.floor(cx * s))
            if 0 <= y < h * s and 0 <= x < w * s:
                assert tuple(image[oy + y, ox + x]) == viz.color(0)


def test_grid_accepts_datasets_and_reads_only_what_it_shows(batch):
    ds = FakeDataset(batch, length=1000)
    image = viz.grid_array(ds, rows=[5, 6, 7, 900], frames=2, scale=1)
    assert image.ndim == 3
    assert ds.reads == [(0, 1), (5, 8), (900, 901)]  # the probe, then runs of consecutive positions


# -- large inputs ------------------------------------------------------------------------------------------------------
def test_large_inputs_are_refused_before_reading(batch):
    ds = FakeDataset(batch, length=100_000)
    with pytest.raises(viz.TooLargeError) as err:
        viz.grid(ds)
    message = str(err.value)
    assert "100000 sequences" in message and "megapixels" in message and "limit" in message
    assert "rows=16" in message and "--num 16" in message
    assert ds.reads == [(0, 1)]
    with pytest.raises(viz.TooLargeError, match="animation of 100000 sequences"):
        viz.save_gif(ds, "never.gif")
    with pytest.raises(viz.TooLargeError):
        viz.grid(batch, max_pixels=1000)
    assert viz.grid(batch, rows=1, frames=1, scale=1).size[0] > 0


# -- animations --------------------------------------------------------------------------------------------------------
def test_gif_round_trip_frames_size_and_palette(batch, tmp_path):
    path = viz.save_gif(batch, tmp_path / "a.gif", fps=10, scale=2, masks="semantic", boxes=True, trails=True)
    expected = viz.animation_array(batch, scale=2, masks="semantic", boxes=True, trails=True)
    gif = Image.open(path)
    assert gif.n_frames == batch.frames.shape[1] == len(expected)
    assert gif.size == (expected.shape[2], expected.shape[1])
    assert gif.mode == "P" and gif.info["duration"] == 100 and gif.info["loop"] == 0
    palette = np.asarray(gif.getpalette()[: 3 * 256]).reshape(-1, 3)
    palette_set = {tuple(p) for p in palette}
    for c in np.unique(batch.semantic):
        if c != 255:
            assert viz.color(int(c)) in palette_set
    for t in (0, len(expected) - 1):
        gif.seek(t)
        frame = np.asarray(gif.convert("RGB")).astype(int)
        want = expected[t].astype(int)
        grey = (want[..., 0] == want[..., 1]) & (want[..., 1] == want[..., 2])
        assert np.abs(frame - want)[grey].max() <= 1  # grey ramp of 256 - n levels
        palette_pixels = np.isin(want @ [65536, 256, 1], palette @ [65536, 256, 1])
        np.testing.assert_array_equal(frame[palette_pixels], want[palette_pixels])  # mask/box colours exact


def test_gif_tiles_and_colour_frames(tmp_path):
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, size=(5, 4, 3, 16, 16), dtype=np.uint8)
    path = viz.save_gif(frames, tmp_path / "c.gif", tile=(2, 3), scale=1, fps=5)
    gif = Image.open(path)
    assert gif.n_frames == 4
    one = viz.animation_array(frames, indices=[0], scale=1, captions=False, legend=False)
    six = viz.animation_array(frames, tile=(2, 3), scale=1, captions=False, legend=False)
    assert six.shape[1] > one.shape[1] and six.shape[2] > 2 * one.shape[2]
    np.testing.assert_array_equal(six[2, 6 : 6 + 16, 6 : 6 + 16], np.moveaxis(frames[0, 2], 0, -1))
    with pytest.raises(ValueError, match="holds 4 sequences"):
        viz.animation_array(frames, tile=(2, 2), indices=5)


def test_mp4_round_trip(batch, tmp_path):
    ffmpeg = pytest.importorskip("imageio_ffmpeg")
    path = viz.save(batch, tmp_path / "a.mp4", indices=2, fps=6, scale=1)
    expected = viz.animation_array(batch, indices=2, scale=1)
    reader = ffmpeg.read_frames(str(path))
    meta = reader.__next__()
    frames = list(reader)
    assert len(frames) == len(expected)
    w, h = meta["size"]
    assert (w % 16, h % 16) == (0, 0) and w - 16 < expected.shape[2] <= w and h - 16 < expected.shape[1] <= h
    assert meta["fps"] == pytest.approx(6)


def test_save_dispatches_by_suffix(batch, tmp_path):
    assert Image.open(viz.save(batch, tmp_path / "x.png", fps=3, tile=(1, 1))).format == "PNG"
    assert Image.open(viz.save(batch, tmp_path / "x.gif", indices=1)).format == "GIF"
    with pytest.raises(ValueError, match=r"\.png, \.gif, \.mp4"):
        viz.save(batch, tmp_path / "x.jpg")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"masks": "depth"}, "masks='depth'"),
        ({"scale": 0}, "scale=0"),
        ({"trails": -1}, "trails=-1"),
        ({"rows": [99]}, "out of range"),
        ({"frames": "a:b"}, "START:STOP"),
    ],
)
def test_bad_options_name_the_value(batch, kwargs, match):
    with pytest.raises((ValueError, IndexError), match=match):
        viz.grid(batch, **kwargs)


def test_masks_that_were_not_generated_are_reported(bank):
    b = mm.generate("srivastava", num=1, seed=0, source=bank, frames=2, annotations__semantic=False)
    with pytest.raises(ValueError, match="annotations.semantic"):
        viz.grid(b, masks="semantic")


# -- optional dependencies, notebooks ----------------------------------------------------------------------------------
def test_missing_extras_raise_an_error_naming_the_extra(batch, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    with pytest.raises(MissingDependencyError, match=r'movingmnist\[viz\]') as err:
        viz.save_mp4(batch, tmp_path / "a.mp4")
    assert "imageio_ffmpeg" in str(err.value)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependencyError, match=r'movingmnist\[viz\]'):
        viz.show(batch)
    with pytest.raises(MissingDependencyError, match=r'movingmnist\[viz\]'):
        viz.plot_stats(viz.compute_stats(batch))
    viz.save_gif(batch, tmp_path / "still.gif", indices=1)  # Pillow is always there


def test_show_and_animate(batch, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    fig = viz.show(batch, rows=2, frames=3, masks="semantic", dpi=100)
    h, w = viz.grid_array(batch, rows=2, frames=3, masks="semantic").shape[:2]
    assert tuple(np.round(fig.get_size_inches() * 100).astype(int)) == (w, h)
    html = viz.animate(batch, indices=2, fps=4)
    text = html._repr_html_() if hasattr(html, "_repr_html_") else html.data
    assert text.startswith('<img src="data:image/gif;base64,')
    payload = base64.b64decode(text.split(",", 1)[1].split('"')[0])
    assert Image.open(io.BytesIO(payload)).n_frames == batch.frames.shape[1]
    monkeypatch.setitem(sys.modules, "IPython", None)
    monkeypatch.setitem(sys.modules, "IPython.display", None)
    fallback = viz.animate(batch, indices=1)
    assert isinstance(fallback, viz.GifAnimation) and fallback._repr_html_().startswith("<img")


# -- statistics --------------------------------------------------------------------------------------------------------
def test_stats_numbers(bank):
    b = mm.generate("srivastava", num=6, seed=0, source=bank, frames=4, objects__count="1..3")
    stats = viz.compute_stats(b, chunk=4)
    k = b.occupied.shape[1]
    assert stats.num == 6 and stats.frames == 4
    assert stats.objects.sum() == 6 and len(stats.objects) == k + 1
    assert stats.label_counts.sum() == b.occupied.sum()
    np.testing.assert_allclose(stats.mean_intensity, b.frames.mean(axis=(0, 2, 3, 4)))
    speeds = np.hypot(*np.moveaxis(b.velocities, -1, 0))[b.present]
    np.testing.assert_allclose(np.sort(stats.speeds), np.sort(speeds), rtol=1e-6)
    assert stats.visibility.shape == stats.speeds.shape
    assert 0 <= stats.summary()["occluded (visible < 99%)"] <= 1


# -- CLI ---------------------------------------------------------------------------------------------------------------
def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="movingmnist")
    viz_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_preview_preset_formats(idx_source, tmp_path, capsys):
    common = ["preview", "--preset", "srivastava", "--source", idx_source, "--split", "test", "--set", "frames=4"]
    assert _cli([*common, "--num", "3", "--masks", "semantic", "--boxes", "--out", str(tmp_path / "p.png")]) == 0
    png = Image.open(tmp_path / "p.png")
    assert png.format == "PNG" and png.size[0] > 4 * 128
    assert _cli([*common, "--num", "4", "--tile", "1x4", "--trails", "--fps", "5", "--scale", "1",
                 "--out", str(tmp_path / "p.gif")]) == 0
    gif = Image.open(tmp_path / "p.gif")
    assert gif.n_frames == 4 and gif.size[0] > 4 * 64 > gif.size[1]
    assert _cli([*common, "--indices", "10:12", "--frames", "2", "--out", str(tmp_path / "q.gif")]) == 0
    assert Image.open(tmp_path / "q.gif").n_frames == 2
    assert "wrote" in capsys.readouterr().out


def test_cli_preview_errors_are_one_line(idx_source, tmp_path, capsys):
    base = ["preview", "--preset", "srivastava", "--source", idx_source, "--split", "test"]
    assert _cli([*base, "--num", "100000", "--out", str(tmp_path / "big.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "megapixels" in err and "--num 16" in err
    assert not (tmp_path / "big.png").exists()
    assert _cli([*base, "--out", str(tmp_path / "x.jpg")]) == 2
    assert ".png, .gif or .mp4" in capsys.readouterr().err
    assert _cli(["preview", "--out", str(tmp_path / "x.png")]) == 2
    assert "either a dataset path or --preset" in capsys.readouterr().err


def test_cli_preview_and_stats_of_a_dataset_on_disk(idx_source, tmp_path, capsys):
    path = tmp_path / "data.zarr"
    mm.write_dataset("srivastava", seed=0, num=12, path=path, source=idx_source, split="test", progress=False,
                     overrides=["frames=5"])
    written = mm.open(path)
    assert _cli(["preview", str(path), "--indices", "3:7", "--masks", "semantic", "--boxes",
                 "--out", str(tmp_path / "d.png")]) == 0
    expected = viz.grid(written[3:7], masks="semantic", boxes=True)
    assert Image.open(tmp_path / "d.png").size == expected.size
    assert np.array_equal(np.asarray(Image.open(tmp_path / "d.png").convert("RGB")),
                          np.asarray(expected.convert("RGB")))
    assert _cli(["preview", str(path), "--num", "4", "--out", str(tmp_path / "d.gif")]) == 0
    assert Image.open(tmp_path / "d.gif").n_frames == 5
    pytest.importorskip("matplotlib")
    assert _cli(["stats", str(path), "--out", str(tmp_path / "s.png")]) == 0
    assert "12 sequences" in capsys.readouterr().out
    # --source/--set/--split configure the preset compared with the dataset
    assert _cli(["stats", str(path), "--compare", "srivastava", "--source", idx_source, "--split", "test",
                 "--num", "6", "--set", "frames=5", "--out", str(tmp_path / "c.png")]) == 0
    assert "srivastava: 6 sequences" in capsys.readouterr().out
    assert _cli(["stats", str(path), "--source", idx_source, "--out", str(tmp_path / "e.png")]) == 2
    assert "apply to presets" in capsys.readouterr().err


def test_cli_stats(idx_source, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "stats.png"
    argv = ["stats", "srivastava", "--source", idx_source, "--split", "test", "--num", "8", "--set", "frames=4",
            "--compare", "stochastic", "--out", str(out)]
    assert _cli(argv) == 0
    assert Image.open(out).size[0] > 600
    assert "srivastava: 8 sequences, stochastic: 8 sequences" in capsys.readouterr().out
    assert _cli(["stats", "no-such-preset", "--out", str(out)]) == 2
    assert "neither an existing path nor a preset" in capsys.readouterr().err


# -- import cost, speed ------------------------------------------------------------------------------------------------
def test_import_movingmnist_does_not_import_viz():
    code = ("import sys, movingmnist as mm; assert 'movingmnist.viz' not in sys.modules; "
            "assert 'matplotlib' not in sys.modules; mm.viz.grid; assert 'movingmnist.viz' in sys.modules; "
            "assert 'matplotlib' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": str(Path(mm.__file__).parents[1])})


@pytest.mark.skipif(not HAVE_MNIST_TEST, reason=f"real MNIST test files not found at {MNIST_DIR}")
def test_preview_of_64_sequences_as_gif(tmp_path):
    """Correctness of the 64-sequence preview; its speed is measured by benchmarks/bench_viz.py."""
    b = mm.generate("srivastava", num=64, seed=0, source=f"idx:{MNIST_DIR}", split="test")
    viz.save_gif(b, tmp_path / "p.gif")
    assert Image.open(tmp_path / "p.gif").n_frames == 20
