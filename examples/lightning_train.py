"""Train a tiny next-frame predictor on Moving MNIST with Lightning, offline (the built-in glyph digits).

    python examples/lightning_train.py [--epochs 2] [--workers 2] [--num-train 512]

Needs the lightning extra (``pip install "movingmnist[lightning]"``). Each epoch trains on new sequences (epoch e
renders sequences e * num_train .. (e + 1) * num_train - 1); validation and test are the same sequences every time,
and no split shares a sequence or a digit image with another. Under a minute on two CPU cores.
"""

from __future__ import annotations

import argparse

import lightning.pytorch as pl
import torch

import movingmnist as mm
import movingmnist.torch as mmt
from movingmnist.lightning import MovingMNISTDataModule

#: 10 frames of 48x48 with two digits: small enough for a CPU, still Moving MNIST.
SPEC = mm.Spec.from_preset("srivastava", ["frames=10", "canvas.height=48", "canvas.width=48"])


class NextFrame(pl.LightningModule):
    """Predicts frame t + 1 from frame t with two 3x3 convolutions (normalised frames in, normalised frames out)."""

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 1, 3, padding=1)
        )
        self.lr = lr

    def loss(self, frames: torch.Tensor) -> torch.Tensor:
        """Mean squared error of the prediction of every next frame; ``frames`` is ``(B, T, 1, H, W)``."""
        past, future = frames[:, :-1].flatten(0, 1), frames[:, 1:].flatten(0, 1)
        return torch.nn.functional.mse_loss(self.net(past), future)

    @staticmethod
    def loss_of_copy(frames: torch.Tensor) -> torch.Tensor:
        """The same loss for the prediction "frame t + 1 = frame t"."""
        return torch.nn.functional.mse_loss(frames[:, :-1], frames[:, 1:])

    def training_step(self, frames: torch.Tensor, batch_idx: int) -> torch.Tensor:
        loss = self.loss(frames)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def validation_step(self, frames: torch.Tensor, batch_idx: int) -> None:
        self.log("val_loss", self.loss(frames), prog_bar=True)

    def test_step(self, frames: torch.Tensor, batch_idx: int) -> None:
        self.log("test_loss", self.loss(frames))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def main(epochs: int = 2, workers: int = 2, num_train: int = 512, batch_size: int = 32) -> dict[str, float]:
    """Fit for ``epochs`` and return the test metrics."""
    stats = mmt.dataset_stats(SPEC, seed=0, num_samples=256, source="glyphs")
    dm = MovingMNISTDataModule(
        SPEC,
        num_train=num_train,
        num_val=128,
        num_test=128,
        batch_size=batch_size,
        num_workers=workers,
        seed=0,
        source="glyphs",
        returns="frames",  # the frames tensor alone: annotations are not even rendered
        transform=stats.normalize(),  # (frames / 255 - mean) / std, float32
    )
    trainer = pl.Trainer(
        max_epochs=epochs, accelerator="auto", devices=1, logger=False, enable_checkpointing=False, log_every_n_steps=4
    )
    model = NextFrame()
    trainer.fit(model, datamodule=dm)
    (metrics,) = trainer.test(model, datamodule=dm)
    # The loss to beat: predicting that nothing moves (frame t + 1 = frame t).
    metrics["copy_loss"] = float(torch.stack([model.loss_of_copy(f) for f in dm.test_dataloader()]).mean())
    print(f"{dm!r}\ntest_loss {metrics['test_loss']:.4f}, copying the last frame {metrics['copy_loss']:.4f}")
    return metrics


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--num-train", type=int, default=512, help="training sequences per epoch")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    main(args.epochs, args.workers, args.num_train, args.batch_size)
