"""Real training runs, small enough for tests, and writers that log them the way other tools do.

``train_classifier`` trains a small MLP with a plain PyTorch loop and records the loss of every
optimiser step and the epoch-level train/validation metrics; pathologies are planted through its
options (learning rate, label shuffling, sorted data order, a corrupt batch, a metric bug, a tiny
training subset). The writers then log one such run as Hugging Face, Keras, Lightning or a plain loop
would: TensorBoard event files, CSV and JSONL.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from dlcheck.data.digits import load_digits
from dlcheck.data.synthetic import make_points


@dataclass
class TrainingLog:
    """What a run logged: every step's batch loss, and one row of metrics per epoch."""

    step_losses: np.ndarray  # (steps,) loss of each optimiser step's batch, in order
    epochs: list[dict[str, float]] = field(default_factory=list)  # epoch (1-based), step, train_*, val_*
    steps_per_epoch: int = 0
    num_classes: int = 0
    val_size: int = 0
    learning_rates: np.ndarray | None = None


def _dataset(name: str, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    if name == "digits":
        images, targets, _ = load_digits()
        inputs = images.reshape(len(images), -1) / 16.0
        return inputs.astype(np.float32), targets, 10
    classes = 2 if name == "moons" else 3
    points = make_points(name, samples=1500, classes=None if name == "moons" else classes, noise=0.2, seed=seed)
    return points[0].astype(np.float32).reshape(1500, -1), points[1].astype(np.int64), classes


def train_classifier(
    *,
    dataset: str = "digits",
    hidden: tuple[int, ...] = (64,),
    optimizer: str = "adam",
    lr: float = 1e-3,
    momentum: float = 0.0,
    batch_size: int = 32,
    epochs: int = 10,
    shuffle: bool = True,
    sort_by_class: bool = False,
    shuffle_labels: bool = False,
    train_subset: int | None = None,
    corrupt_step: int | None = None,
    accuracy_bug: bool = False,
    weight_decay: float = 0.0,
    schedule: str | None = None,
    seed: int = 0,
) -> TrainingLog:
    """Train an MLP classifier and record its curves (see the module notes for the planted bugs)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: threads only contend with the other processes on the machine
    try:
        return _train(**{key: value for key, value in locals().items() if key != "threads"})
    finally:
        torch.set_num_threads(threads)


def _train(
    *,
    dataset: str,
    hidden: tuple[int, ...],
    optimizer: str,
    lr: float,
    momentum: float,
    batch_size: int,
    epochs: int,
    shuffle: bool,
    sort_by_class: bool,
    shuffle_labels: bool,
    train_subset: int | None,
    corrupt_step: int | None,
    accuracy_bug: bool,
    weight_decay: float,
    schedule: str | None,
    seed: int,
) -> TrainingLog:
    inputs, targets, classes = _dataset(dataset, seed)
    generator = np.random.default_rng(seed)
    order = generator.permutation(len(inputs))
    inputs, targets = inputs[order], targets[order]
    val_count = len(inputs) // 5
    val_x, val_y = torch.from_numpy(inputs[:val_count]), torch.from_numpy(targets[:val_count])
    train_x, train_y = inputs[val_count:], targets[val_count:].copy()
    if train_subset is not None:
        train_x, train_y = train_x[:train_subset], train_y[:train_subset]
    if shuffle_labels:
        train_y = generator.permutation(train_y)
        val_y = torch.from_numpy(generator.permutation(val_y.numpy()))
    if sort_by_class:
        by_class = np.argsort(train_y, kind="stable")
        train_x, train_y = train_x[by_class], train_y[by_class]
    mean, std = train_x.mean(0), train_x.std(0)
    std[std < 1e-3] = 1.0  # pixels constant in the training split: leave them unscaled
    train_tensor = torch.from_numpy((train_x - mean) / std)
    val_x = (val_x - torch.from_numpy(mean)) / torch.from_numpy(std)
    labels = torch.from_numpy(train_y)
    torch.manual_seed(seed)
    layers: list[torch.nn.Module] = []
    width = train_tensor.shape[1]
    for size in hidden:
        layers += [torch.nn.Linear(width, size), torch.nn.ReLU()]
        width = size
    layers.append(torch.nn.Linear(width, classes))
    model = torch.nn.Sequential(*layers)
    if optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    count = len(train_tensor)
    steps_per_epoch = math.ceil(count / batch_size)
    total = steps_per_epoch * epochs
    scheduler = None
    if schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(opt, total)
    elif schedule == "one_cycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total)
    loss_function = torch.nn.CrossEntropyLoss()
    torch_generator = torch.Generator().manual_seed(seed)
    step_losses: list[float] = []
    learning_rates: list[float] = []
    rows: list[dict[str, float]] = []
    step = 0
    for epoch in range(epochs):
        permutation = torch.randperm(count, generator=torch_generator) if shuffle else torch.arange(count)
        model.train()
        loss_sum = correct = seen = 0.0
        for start in range(0, count, batch_size):
            index = permutation[start : start + batch_size]
            batch_x, batch_y = train_tensor[index], labels[index]
            if corrupt_step is not None and step == corrupt_step:  # a corrupt batch: garbage inputs
                batch_x = 20.0 * torch.randn(batch_x.shape, generator=torch.Generator().manual_seed(seed))
            outputs = model(batch_x)
            loss = loss_function(outputs, batch_y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            learning_rates.append(opt.param_groups[0]["lr"])
            if scheduler is not None:
                scheduler.step()
            step += 1
            value = float(loss.detach())
            step_losses.append(value)
            loss_sum += value * len(index)
            correct += float((outputs.argmax(1) == batch_y).sum())
            seen += len(index)
        model.eval()
        with torch.no_grad():
            outputs = model(val_x)
            val_loss = float(loss_function(outputs, val_y))
            hits = outputs.argmax(1) == val_y
            val_accuracy = float((~hits if accuracy_bug else hits).float().mean())
        train_accuracy = correct / seen
        rows.append(
            {
                "epoch": epoch + 1,
                "step": step,
                "train_loss": loss_sum / seen,
                "train_accuracy": 1.0 - train_accuracy if accuracy_bug else train_accuracy,
                "val_loss": val_loss,
                "val_accuracy": val_accuracy,
            }
        )
    return TrainingLog(np.array(step_losses), rows, steps_per_epoch, classes, val_count, np.array(learning_rates))


# ------------------------------------------------------------------------------------------------ writers


def _windows(log: TrainingLog, every: int) -> list[tuple[int, float]]:
    """(step, mean loss of the window ending there) every ``every`` steps, as Hugging Face logs it."""
    losses = log.step_losses
    return [(end, float(np.mean(losses[end - every : end]))) for end in range(every, losses.size + 1, every)]


def write_hf_tensorboard(log: TrainingLog, directory: Path, *, every: int = 10) -> Path:
    """Hugging Face Trainer tags: train/loss (window means), train/learning_rate, train/epoch, eval/*."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(directory))
    for step, loss in _windows(log, every):
        writer.add_scalar("train/loss", loss, step)
        writer.add_scalar("train/epoch", step / log.steps_per_epoch, step)
        if log.learning_rates is not None:
            writer.add_scalar("train/learning_rate", float(log.learning_rates[step - 1]), step)
    for row in log.epochs:
        writer.add_scalar("eval/loss", row["val_loss"], int(row["step"]))
        writer.add_scalar("eval/accuracy", row["val_accuracy"], int(row["step"]))
        writer.add_scalar("eval/runtime", 0.01, int(row["step"]))
    writer.add_scalar("train/train_loss", float(np.mean(log.step_losses)), int(log.epochs[-1]["step"]))
    writer.close()
    return directory


def keras_events(
    directory: Path, splits: dict[str, list[float]], *, accuracies: dict[str, list[float]] | None = None
) -> Path:
    """Event files as TF2 Keras writes them: ``train/`` and ``validation/`` folders, ``epoch_loss`` (and
    ``epoch_accuracy``) as scalar tensors of the ``scalars`` plugin, one event per epoch (step = epoch)."""
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    metadata = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    for split, losses in splits.items():
        writer = EventFileWriter(str(directory / split))
        for epoch, loss in enumerate(losses):
            values = []
            tags = [("epoch_loss", loss)]
            if accuracies is not None:
                tags.append(("epoch_accuracy", accuracies[split][epoch]))
            for tag, value in tags:
                tensor = tensor_pb2.TensorProto(
                    dtype=1, tensor_shape=tensor_shape_pb2.TensorShapeProto(), float_val=[value]
                )
                # Keras writes the plugin metadata with the first value of a tag only.
                values.append(
                    summary_pb2.Summary.Value(tag=tag, tensor=tensor, metadata=metadata if epoch == 0 else None)
                )
            writer.add_event(
                event_pb2.Event(step=epoch, wall_time=float(epoch), summary=summary_pb2.Summary(value=values))
            )
        writer.close()
    return directory


def write_keras_tensorboard(log: TrainingLog, directory: Path) -> Path:
    """Keras' layout: train/ and validation/ folders, epoch_loss and epoch_accuracy as scalar tensors."""
    return keras_events(
        directory,
        {"train": [row["train_loss"] for row in log.epochs], "validation": [row["val_loss"] for row in log.epochs]},
        accuracies={
            "train": [row["train_accuracy"] for row in log.epochs],
            "validation": [row["val_accuracy"] for row in log.epochs],
        },
    )


def write_lightning_csv(log: TrainingLog, path: Path, *, every: int = 5) -> Path:
    """Lightning's CSVLogger: sparse rows; train_loss_step every ``every`` steps, epoch metrics on their own rows."""
    header = ["epoch", "step", "train_acc_epoch", "train_loss_epoch", "train_loss_step", "val_acc", "val_loss"]
    rows: list[dict[str, object]] = []
    per_epoch = log.steps_per_epoch
    for index, loss in enumerate(log.step_losses):
        if (index + 1) % every == 0:
            rows.append({"epoch": index // per_epoch, "step": index, "train_loss_step": loss})
    for row in log.epochs:
        epoch, step = int(row["epoch"]) - 1, int(row["step"]) - 1
        rows.append({"epoch": epoch, "step": step, "val_acc": row["val_accuracy"], "val_loss": row["val_loss"]})
        rows.append(
            {
                "epoch": epoch,
                "step": step,
                "train_acc_epoch": row["train_accuracy"],
                "train_loss_epoch": row["train_loss"],
            }
        )
    rows.sort(key=lambda item: int(item["step"]))  # type: ignore[call-overload]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_keras_csv(log: TrainingLog, path: Path) -> Path:
    """Keras' CSVLogger: epoch,accuracy,loss,val_accuracy,val_loss (epochs from 0)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", "accuracy", "loss", "val_accuracy", "val_loss"])
        for row in log.epochs:
            writer.writerow(
                [int(row["epoch"]) - 1, row["train_accuracy"], row["train_loss"], row["val_accuracy"], row["val_loss"]]
            )
    return path


def write_jsonl(log: TrainingLog, path: Path, *, every: int = 1) -> Path:
    """A plain loop's JSONL: a record per logged step and per epoch; non-finite values as null."""

    def number(value: float) -> float | None:
        return value if math.isfinite(value) else None

    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    epoch_rows = {int(row["step"]): row for row in log.epochs}
    for step, loss in _windows(log, every):
        lines.append(json.dumps({"step": step, "train_loss": number(loss)}))
        if step in epoch_rows:
            row = epoch_rows[step]
            lines.append(
                json.dumps(
                    {"step": step, "val_loss": number(row["val_loss"]), "val_accuracy": number(row["val_accuracy"])}
                )
            )
    path.write_text("\n".join(lines) + "\n")
    return path
