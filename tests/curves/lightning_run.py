"""A small real Lightning run (CSVLogger and TensorBoardLogger) on the bundled digits."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from dlcheck.data.digits import load_digits


def train_with_lightning(directory: Path, *, epochs: int = 8, lr: float = 1e-3) -> None:
    import pytorch_lightning as lightning
    from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

    images, targets, _ = load_digits()
    inputs = torch.tensor(images.reshape(len(images), -1) / 16.0, dtype=torch.float32)
    labels = torch.tensor(targets)
    order = torch.randperm(len(inputs), generator=torch.Generator().manual_seed(0))
    inputs, labels = inputs[order], labels[order]
    validation = torch.utils.data.TensorDataset(inputs[:360], labels[:360])
    training = torch.utils.data.TensorDataset(inputs[360:], labels[360:])

    class Classifier(lightning.LightningModule):
        def __init__(self, lr: float, num_classes: int = 10) -> None:
            super().__init__()
            self.save_hyperparameters()  # hparams.yaml: where diagnose finds num_classes
            self.net = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, num_classes))

        def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> torch.Tensor:
            outputs = self.net(batch[0])
            loss = torch.nn.functional.cross_entropy(outputs, batch[1])
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            self.log("train_acc", (outputs.argmax(1) == batch[1]).float().mean(), on_step=False, on_epoch=True)
            return loss

        def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> None:
            outputs = self.net(batch[0])
            self.log("val_loss", torch.nn.functional.cross_entropy(outputs, batch[1]))
            self.log("val_acc", (outputs.argmax(1) == batch[1]).float().mean())

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Lightning's advice about workers and logging intervals
            lightning.seed_everything(0, verbose=False)
            trainer = lightning.Trainer(
                max_epochs=epochs,
                logger=[CSVLogger(directory, name="csv"), TensorBoardLogger(directory, name="tensorboard")],
                enable_progress_bar=False,
                enable_model_summary=False,
                enable_checkpointing=False,
                log_every_n_steps=10,
                accelerator="cpu",
            )
            trainer.fit(
                Classifier(lr),
                torch.utils.data.DataLoader(training, batch_size=32, shuffle=True),
                torch.utils.data.DataLoader(validation, batch_size=360),
            )
    finally:
        torch.set_num_threads(threads)
