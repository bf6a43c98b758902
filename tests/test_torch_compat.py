"""The origin projects' APIs (movingmnist.compat): their documented calls, shapes, dtypes and value ranges.

The shims are thin layers over the ``affine`` and ``segmentation`` presets.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import movingmnist as mm  # noqa: E402
from movingmnist.compat import segmentation as seg  # noqa: E402
from movingmnist.compat import torch_moving_mnist as tmm  # noqa: E402

torch.set_num_threads(1)
rng = np.random.default_rng(2)
IMAGES = (rng.random((90, 28, 28)) ** 4 * 255).astype(np.uint8)
LABELS = np.arange(90) % 10
SOURCE = (IMAGES, LABELS)
# What torchvision's MNIST dataset offers the origin's README (``MovingMNIST(mnist_dataset, ...)``).
MNIST_LIKE = SimpleNamespace(data=torch.from_numpy(IMAGES), targets=torch.from_numpy(LABELS))
README_AFFINE = dict(
    angle=(-20, 20),  # rotation in degrees (min and max values)
    translate=((-30, 30), (-30, 30)),  # translation in pixels x and y
    scale=(0.8, 1.3),  # scaling in percentage (1.0 = no scaling)
    shear=(-20, 20),  # deformation on the z-plane
)


LATER_AFFINE = SimpleNamespace(angle=(-4, 4), translate=((-5, 5), (-5, 5)), scale=(0.8, 1.2), shear=(-3, 3))


@pytest.fixture
def affine():
    return "affine@2"


@pytest.fixture
def segmentation():
    return "segmentation"


# -- torch_moving_mnist ---------------------------------------------------------------------------------------------
def test_readme_calls(affine, capsys):
    """The README's calls (only the import and the MNIST given changed) print the origin's stats line, word for word,
    and return its shapes; get_batch normalises with those statistics."""
    ds = tmm.MovingMNIST(MNIST_LIKE, affine_params=README_AFFINE, num_frames=10, num_digits=[1, 2, 3], img_size=64)
    assert capsys.readouterr().out == "New computed stats for MovingMNIST: ([0.07522265625], [0.17685937499999999])\n"
    assert ds.spec.preset == "affine@2" and ds.spec.motion.affine.rule == "schedule"
    sequence = ds[0]
    t = sequence
    assert type(t) is torch.Tensor and t.shape == torch.Size([10, 1, 64, 64]) and t.dtype == torch.uint8
    assert torch.equal(ds[0], sequence)  # index-addressable now
    b = ds.get_batch(bs=128)
    assert b.shape == torch.Size([128, 10, 1, 64, 64]) and b.dtype == torch.float32
    raw = b * 0.17685937499999999 + 0.07522265625
    assert float(raw.min()) >= -1e-5 and float(raw.max()) <= 1 + 1e-5 and float(raw.max()) > 0.5
    assert not torch.equal(ds.get_batch(4)[0], b[0])  # the cursor moves on


def test_defaults_shapes_concat_and_len(affine, capsys):
    ds = tmm.MovingMNIST(source=SOURCE)
    assert "New computed stats for MovingMNIST: ([0.0752" in capsys.readouterr().out  # normalize=True, 3 digits
    assert len(ds) == 10_000 and ds.pad == 18 and ds.num_digits == [3]
    assert ds.spec.objects.count == (3, 3) and ds.spec.motion.affine.angle == (-20.0, 20.0)
    assert ds[5].shape == (4, 1, 64, 64)
    frames = tmm.MovingMNIST(source=SOURCE, concat=False, num_frames=3, img_size=48)[5]
    assert isinstance(frames, list) and len(frames) == 3 and frames[0].shape == (1, 48, 48)
    assert ds.get_batch().shape == (32, 4, 1, 64, 64)
    for bad in ([0, 1], [], "2", [1.5]):
        with pytest.raises(mm.SpecError, match="num_digits"):
            tmm.MovingMNIST(source=SOURCE, num_digits=bad)


def test_num_digits_is_random_choice_of_the_list(affine):
    """As ``random.choice``: [2, 2, 3] draws 2 two times in three; [1, 3] never draws 2."""
    ds = tmm.MovingMNIST(source=SOURCE, num_digits=[2, 2, 3], normalize=False)
    assert ds.spec.objects.choices == (2, 2, 3)
    counts = mm.generate(ds.spec, num=3000, seed=0, source=SOURCE).occupied.sum(1)
    assert abs((counts == 2).mean() - 2 / 3) < 0.03 and set(counts) == {2, 3}
    gap = tmm.MovingMNIST(source=SOURCE, num_digits=[1, 3], normalize=False)
    assert set(mm.generate(gap.spec, num=500, seed=0, source=SOURCE).occupied.sum(1)) == {1, 3}
    assert tmm.MovingMNIST(source=SOURCE, num_digits=[1, 2], normalize=False).spec.objects.choices is None


def test_normalize_exact_and_origin(affine):
    exact = tmm.MovingMNIST(source=SOURCE, normalize_stats="exact", stats_samples=64)
    x = exact.get_batch(64)
    assert x.dtype == torch.float32
    # get_batch's first 64 sequences are the stats sample itself: mean 0, std 1 (float32 rounding aside)
    assert abs(float(x.double().mean())) < 1e-5 and abs(float(x.double().std(unbiased=False)) - 1) < 1e-5
    origin = tmm.MovingMNIST(source=SOURCE, num_digits=[1, 2])
    ratio = (28 / 64) ** 2 * 2
    assert origin.stats == pytest.approx((0.131 * ratio, 0.308 * ratio))
    plain = tmm.MovingMNIST(source=SOURCE, normalize=False)
    raw = plain._frames(0, 3)
    assert torch.allclose(origin.batch_tfms(raw), (raw.float() / 255 - 0.131 * ratio) / (0.308 * ratio))
    assert torch.equal(plain.get_batch(2), raw[:2].float() / 255)


def test_presets_of_both_generations(affine):
    later = tmm.MovingMNIST(source=SOURCE, preset="affine-compound", affine_params=LATER_AFFINE, num_digits=[1, 2],
                            normalize=False)
    assert later.spec.motion.affine.rule == "compose" and later.spec.motion.affine.angle == (-4.0, 4.0)
    assert tmm.MovingMNIST(source=SOURCE, preset="affine@1", normalize=False).spec.preset == "affine@1"
    with pytest.raises(mm.SpecError, match="preset"):
        tmm.MovingMNIST(source=SOURCE, preset="srivastava")


def test_save(affine, tmp_path):
    ds = tmm.MovingMNIST(source=SOURCE, num_frames=3, normalize=False)
    fname = ds.save(str(tmp_path / "mmnist.pt"), n_batches=2, bs=4)
    data = torch.load(fname)
    assert data.shape == (8, 3, 1, 64, 64) and data.dtype == torch.float32


def test_show_images(affine):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    ds = tmm.MovingMNIST(source=SOURCE, num_frames=3)
    fig = tmm.show_images(ds[0], figsize=(6, 2))
    assert len(fig.axes) == 3
    assert len(ds.show_images(1).axes) == 3


def test_affine_params_reach_the_spec():
    overrides = tmm.affine_overrides(README_AFFINE)
    assert overrides == {
        "motion.affine.angle": [-20.0, 20.0],
        "motion.affine.scale": [0.8, 1.3],
        "motion.affine.shear": [-20.0, 20.0],
        "motion.affine.translate": [[-30.0, 30.0], [-30.0, 30.0]],
    }
    assert tmm.affine_overrides(tmm.affine_params)["motion.affine.angle"] == [-20.0, 20.0]  # the namespace form
    assert tmm.affine_overrides(LATER_AFFINE)["motion.affine.angle"] == [-4.0, 4.0]
    with pytest.raises(mm.SpecError, match="affine_params.shear"):
        tmm.affine_overrides({"angle": (0, 1), "translate": ((0, 1), (0, 1)), "scale": (1, 1)})
    ds = tmm.MovingMNIST(source=SOURCE, affine_params=README_AFFINE)
    assert ds.spec.motion.affine.translate == ((-30.0, 30.0), (-30.0, 30.0))


# -- segmentation notebook ------------------------------------------------------------------------------------------
def test_generate_moving_mnist_notebook_call(segmentation):
    frame_size, num_frames, ignore_label = 64, 20, 10
    dat, dat_masks, dat_labels = seg.generate_moving_mnist(
        "val",
        shape=(frame_size, frame_size),
        ignore_label=ignore_label,
        num_frames=num_frames,
        num_videos=6,
        min_nums_per_image=2,
        max_nums_per_image=3,
        rotatehint=False,
        source=SOURCE,
    )
    assert dat.shape == (6, 20, 1, 64, 64) and dat.dtype == np.uint8
    assert dat_masks.shape == (6, 20, 1, 64, 64) and dat_masks.dtype == np.uint8
    assert dat_labels.shape == (6, 20, 3) and dat_labels.dtype == np.uint8
    assert set(np.unique(dat_masks)) <= set(range(10)) | {ignore_label}
    assert (dat_labels == dat_labels[:, :1]).all()  # per video, repeated over frames
    counts = (dat_labels[:, 0] != ignore_label).sum(axis=1)
    assert set(counts) <= {2, 3}
    for video in range(6):  # the mask only names digits of that video
        present = set(dat_labels[video, 0][dat_labels[video, 0] != ignore_label])
        assert set(np.unique(dat_masks[video])) <= present | {ignore_label}


def test_generate_moving_mnist_is_seeded(segmentation):
    a = seg.generate_moving_mnist(num_frames=5, num_videos=3, source=SOURCE, seed=4)
    b = seg.generate_moving_mnist(num_frames=5, num_videos=3, source=SOURCE, seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert a[0].shape == (3, 5, 1, 64, 64) and a[2].shape == (3, 5, 2)
    with pytest.raises(mm.SpecError):
        seg.generate_moving_mnist(min_nums_per_image=3, max_nums_per_image=2, source=SOURCE)


@pytest.mark.parametrize("filetype", ["npy", "h5"])
def test_save_layout(segmentation, tmp_path, filetype):
    dat, masks, labels = seg.generate_moving_mnist("test", num_frames=4, num_videos=2, source=SOURCE)
    written = seg.save(tmp_path / "data", "test", dat, masks, labels, filetype=filetype)
    if filetype == "npy":
        assert [p.name for p in written] == ["test_images.npy", "test_masks.npy", "test_labels.npy"]
        assert np.array_equal(np.load(written[1]), masks)
    else:
        h5py = pytest.importorskip("h5py")
        assert [p.name for p in written] == ["test.h5"]
        with h5py.File(written[0]) as f:
            assert set(f) == {"images", "masks", "labels"}
            assert np.array_equal(f["images"][()], dat) and np.array_equal(f["labels"][()], labels)


def test_rotatehint_sets_the_rotation_speed_from_the_label():
    _, _, labels = seg.generate_moving_mnist(num_frames=3, num_videos=4, rotatehint=True, source=SOURCE)
    assert labels.shape == (4, 3, 2)
    spec = mm.Spec.from_preset("segmentation", ["appearance.rotation.hint=true"])
    assert spec.appearance.rotation.hint


def test_segmentation_val_is_the_last_10000_images_of_arrays(segmentation):
    """As the notebook: val = the last 10,000 training images, also for arrays (the library's default for arrays is
    the last sixth)."""
    images = np.zeros((12_000, 28, 28), dtype=np.uint8)
    images[:, 10:18, 10:18] = 255
    labels = (np.arange(12_000) >= 2_000).astype(np.int64)  # 0 for the first 2,000 images, 1 for the last 10,000
    _, _, val = seg.generate_moving_mnist("val", num_frames=2, num_videos=40, source=(images, labels), seed=0)
    _, _, train = seg.generate_moving_mnist("train", num_frames=2, num_videos=40, source=(images, labels), seed=0)
    assert set(np.unique(val[:, 0])) <= {1, 255} and set(np.unique(train[:, 0])) <= {0, 255}
