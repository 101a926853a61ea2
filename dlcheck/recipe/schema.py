"""The recipe schema: pydantic v2 models, strict, ``extra="forbid"`` at every level.

Every field carries a description so ``dlcheck recipe schema`` documents itself. Only shape and range
rules that concern one section live here; rules that tie sections together (a plateau schedule needs a
logged monitor, fp16 needs a GPU, ...) live in :mod:`dlcheck.recipe.rules` so that all of them are
reported at once with the recipe's line numbers.
"""

from __future__ import annotations

__all__ = [
    "ACTIVATION_TYPES",
    "FILE_SOURCES",
    "LAYER_TYPES",
    "SYNTHETIC_SOURCES",
    "TOKENIZERS",
    "AugmentConfig",
    "CheckpointConfig",
    "DataConfig",
    "EarlyStoppingConfig",
    "GradientClipConfig",
    "InitConfig",
    "LayerSpec",
    "LoggingConfig",
    "ModelConfig",
    "MonitorConfig",
    "OptimizerConfig",
    "Recipe",
    "RegularizationConfig",
    "ScheduleConfig",
    "TrainConfig",
    "WarmupConfig",
]

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from dlcheck.recipe._schema_base import NonNegativeFloat, PositiveFloat, PositiveInt, Probability, _Strict
from dlcheck.recipe.schema_layers import ACTIVATION_TYPES, LAYER_TYPES, LayerSpec

# ----------------------------------------------------------------------------------------------- data

SYNTHETIC_SOURCES = ("spirals", "blobs", "moons", "xor", "shapes")
FILE_SOURCES = ("npz", "pt", "csv", "image_folder")
TOKENIZERS = ("characters", "bytes")  # built-in; anything else is a 'module:callable' of the user's
DataSource = Literal["digits", "spirals", "blobs", "moons", "xor", "shapes", "npz", "pt", "csv", "image_folder", "text"]


class AugmentConfig(_Strict):
    """Training-time augmentation, applied per batch on the training device (images only)."""

    flip: Literal["horizontal", "vertical", "both"] | None = Field(
        None, description="Random flips, each with probability 0.5."
    )
    crop_padding: Annotated[int, Field(ge=0)] = Field(
        0, description="Random crop of the original size from the image zero-padded by this many pixels."
    )
    translate: Annotated[int, Field(ge=0)] = Field(
        0, description="Random shift of up to this many pixels in each direction (zero fill)."
    )
    noise_std: NonNegativeFloat = Field(0.0, description="Standard deviation of additive Gaussian noise.")
    cutout: Annotated[int, Field(ge=0)] = Field(
        0, description="Side in pixels of one square zeroed at a random position (DeVries & Taylor 2017)."
    )


class DataConfig(_Strict):
    """Where the data comes from and how it is split, normalised, augmented and batched."""

    source: DataSource | None = Field(None, description="A built-in or file data source.")
    factory: str | None = Field(
        None, description="'module:callable' returning (train, val); the module is found next to the recipe first."
    )
    args: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments for `factory`.")
    path: str | None = Field(
        None,
        description="File or folder for npz/pt/csv/image_folder/text (relative to the recipe); text: default the "
        "bundled public-domain novel.",
    )
    # synthetic sources
    samples: PositiveInt | None = Field(None, description="Number of samples of a synthetic source.")
    noise: NonNegativeFloat | None = Field(None, description="Noise level of a synthetic source.")
    classes: Annotated[int, Field(ge=2)] | None = Field(None, description="Number of classes of a synthetic source.")
    image_size: Annotated[int, Field(ge=4)] | None = Field(
        None, description="Side in pixels of `shapes` images; image_folder images are resized to it."
    )
    # file sources
    features: list[str] | None = Field(None, description="csv: feature columns (default: all but `target`).")
    target: str | None = Field(None, description="csv: label column (default: the last); npz/pt: key of the labels.")
    inputs: str | None = Field(None, description="npz/pt: key of the inputs (default: 'x', 'inputs' or 'data').")
    grayscale: bool = Field(False, description="image_folder: read images as one channel.")
    # token sequences
    tokenizer: str | None = Field(
        None,
        description="text: `characters` (default), `bytes`, or 'module:callable' returning a tokenizer with "
        "encode(text) -> ids and decode(ids) -> text; the module is found next to the recipe first.",
    )
    tokenizer_args: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments for `tokenizer`.")
    context_length: PositiveInt | None = Field(
        None, description="text: tokens per window (T); each window's targets are the T tokens one step later."
    )
    window_stride: PositiveInt | None = Field(
        None, description="text: tokens between the starts of two windows (default: context_length, no overlap)."
    )
    ignore_index: int | None = Field(
        None,
        description="Token sequences: target id left out of the loss and the accuracy (padding), as in "
        "torch's cross_entropy.",
    )
    # split, normalisation, batching
    val_fraction: Probability = Field(
        0.2, description="Fraction held out for validation (seeded, stratified; text: the last tokens, one block)."
    )
    stratify: bool = Field(True, description="Keep class proportions equal in both splits.")
    normalize: Literal["auto", "none"] = Field(
        "auto", description="`auto`: standardise with train-split statistics (per channel for images)."
    )
    augment: AugmentConfig | None = Field(None, description="Training-time augmentation.")
    loader: Literal["auto", "tensor", "dataloader"] = Field(
        "auto",
        description="`auto` slices in-memory tensors on the device (TensorBatcher) and uses a DataLoader otherwise.",
    )
    num_workers: Annotated[int, Field(ge=0)] = Field(0, description="DataLoader worker processes.")

    @model_validator(mode="after")
    def _one_origin(self) -> DataConfig:
        if (self.source is None) == (self.factory is None):
            raise ValueError(
                "give exactly one of `source` (a built-in or file source) or `factory` ('module:callable')"
            )
        return self


# ---------------------------------------------------------------------------------------------- model


class InitConfig(_Strict):
    """Initialisation of linear and convolution layers (norm layers keep weight 1, bias 0)."""

    weight: Literal[
        "default", "kaiming_normal", "kaiming_uniform", "xavier_normal", "xavier_uniform", "orthogonal", "normal"
    ] = Field("kaiming_normal", description="Scheme; kaiming and orthogonal gains follow the next activation.")
    std: PositiveFloat = Field(0.02, description="Standard deviation for `normal`.")
    bias: Literal["default", "zeros", "constant"] = "zeros"
    bias_value: float = Field(0.0, description="Value for `bias: constant`.")


class ModelConfig(_Strict):
    """Either a list of layers (shapes inferred from the data) or a factory returning an nn.Module."""

    layers: list[LayerSpec] | None = Field(None, min_length=1, description="Layers applied in order.")
    factory: str | None = Field(None, description="'module:callable' returning a torch.nn.Module.")
    args: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments for `factory`.")
    init: InitConfig | None = Field(
        None,
        description="Initialisation; a scheme name is short for {weight: NAME}. Default: kaiming_normal for layers.",
    )

    @model_validator(mode="before")
    @classmethod
    def _init_shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("init"), str):
            value = {**value, "init": {"weight": value["init"]}}
        return value

    @model_validator(mode="after")
    def _one_origin(self) -> ModelConfig:
        if (self.layers is None) == (self.factory is None):
            raise ValueError("give exactly one of `layers` (a list) or `factory` ('module:callable')")
        if self.factory is None and self.args:
            raise ValueError("`args` is only used with `factory`")
        return self


# ------------------------------------------------------------------------------------------- training

NoDecay = Literal["bias", "norm"]
_NO_DECAY_DEFAULT: tuple[NoDecay, ...] = ("bias", "norm")
OptimizerName = Literal["sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "nadam", "radam", "adamax"]


class OptimizerConfig(_Strict):
    """The optimiser. `lr` is for the global `train.batch_size`."""

    name: OptimizerName = "adam"
    lr: PositiveFloat = Field(1.0e-3, description="Learning rate (peak rate when a schedule is used).")
    momentum: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(0.0, description="sgd and rmsprop only.")
    nesterov: bool = Field(False, description="sgd only; needs momentum > 0.")
    betas: list[Annotated[float, Field(ge=0.0, lt=1.0)]] | None = Field(
        None, min_length=2, max_length=2, description="Adam-family (beta1, beta2)."
    )
    eps: PositiveFloat | None = None
    weight_decay: NonNegativeFloat = Field(0.0, description="Decoupled for adamw, L2 otherwise.")
    no_decay: list[NoDecay] = Field(
        default_factory=lambda: list(_NO_DECAY_DEFAULT), description="Parameters excluded from weight decay."
    )


class WarmupConfig(_Strict):
    """Linear warm-up from `start_factor * lr` to `lr`."""

    steps: PositiveInt | None = Field(None, description="Warm-up length in optimiser steps.")
    epochs: PositiveInt | None = Field(None, description="Warm-up length in epochs.")
    start_factor: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1

    @model_validator(mode="after")
    def _one_length(self) -> WarmupConfig:
        if (self.steps is None) == (self.epochs is None):
            raise ValueError("give exactly one of `steps` or `epochs`")
        return self


class ScheduleConfig(_Strict):
    """Learning-rate schedule; every one but one_cycle accepts a warm-up."""

    name: Literal[
        "constant", "step", "multistep", "exponential", "inverse_time", "cosine", "one_cycle", "reduce_on_plateau"
    ] = "constant"
    interval: Literal["step", "epoch"] = Field("epoch", description="Update the rate every optimiser step or epoch.")
    step_size: PositiveInt | None = Field(None, description="step: intervals between decays.")
    milestones: list[PositiveInt] | None = Field(None, description="multistep: intervals at which to decay.")
    gamma: Annotated[float, Field(gt=0.0, le=1.0)] = Field(0.1, description="step/multistep/exponential factor.")
    decay_rate: PositiveFloat = Field(1.0, description="inverse_time: lr / (1 + decay_rate * t).")
    min_lr: NonNegativeFloat = Field(0.0, description="cosine/plateau floor.")
    restart_period: PositiveInt | None = Field(None, description="cosine: first restart after this many intervals.")
    restart_multiplier: PositiveInt = Field(1, description="cosine: each period is this many times the last.")
    max_lr: PositiveFloat | None = Field(None, description="one_cycle: peak rate (default: optimizer.lr).")
    pct_start: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(0.3, description="one_cycle: fraction rising.")
    monitor: str = Field("val/loss", description="reduce_on_plateau: metric watched.")
    mode: Literal["min", "max"] = "min"
    factor: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(0.1, description="reduce_on_plateau: multiplier.")
    patience: Annotated[int, Field(ge=0)] = Field(5, description="reduce_on_plateau: epochs without improvement.")
    warmup: WarmupConfig | None = None


class RegularizationConfig(_Strict):
    """Penalties and constraints beyond weight decay (which lives in `optimizer`) and dropout (a layer)."""

    l1: NonNegativeFloat = Field(0.0, description="L1 penalty coefficient on weights (not biases or norms).")
    max_norm: PositiveFloat | None = Field(None, description="Renormalise each unit's incoming weights after a step.")
    label_smoothing: Probability = Field(0.0, description="cross_entropy only.")


class EarlyStoppingConfig(_Strict):
    """Stop when `monitor` has not improved by `min_delta` for `patience` epochs."""

    monitor: str = "val/loss"
    mode: Literal["auto", "min", "max"] = Field("auto", description="`auto`: max for accuracy, min otherwise.")
    patience: PositiveInt = 5
    min_delta: NonNegativeFloat = 0.0
    restore_best: bool = Field(True, description="Load the best weights when training ends.")


class GradientClipConfig(_Strict):
    max_norm: PositiveFloat | None = Field(None, description="Clip the global gradient norm.")
    max_value: PositiveFloat | None = Field(None, description="Clip each gradient element to [-v, v].")

    @model_validator(mode="after")
    def _one_kind(self) -> GradientClipConfig:
        if (self.max_norm is None) == (self.max_value is None):
            raise ValueError("give exactly one of `max_norm` or `max_value`")
        return self


class TrainConfig(_Strict):
    epochs: PositiveInt = 10
    batch_size: PositiveInt = Field(32, description="Global batch size (over all processes and accumulation).")
    gradient_accumulation: PositiveInt = Field(1, description="Micro-batches per optimiser step.")
    gradient_clip: GradientClipConfig | None = None
    precision: Literal["fp32", "bf16-mixed", "fp16-mixed"] = "fp32"
    compile: bool = Field(False, description="torch.compile the model.")
    channels_last: bool = Field(
        False, description="Image models: NHWC memory layout for weights and inputs (faster convolutions on GPUs)."
    )
    sync_batchnorm: bool = Field(
        False, description="Under torchrun on GPUs: batch-norm statistics over the global batch, not each process's."
    )
    deterministic: bool = Field(
        False, description="Deterministic kernels (slower); otherwise cuDNN benchmarks and picks the fastest."
    )
    max_steps: PositiveInt | None = Field(None, description="Stop after this many optimiser steps.")


class CheckpointConfig(_Strict):
    every_epochs: PositiveInt = 1
    keep_last: PositiveInt = 2
    save_best: bool = True


class LoggingConfig(_Strict):
    directory: str = Field("runs", description="Runs are written under this folder (relative to the working dir).")
    tensorboard: bool = True
    every_steps: PositiveInt = Field(10, description="Training scalars are logged every this many steps.")


class MonitorConfig(_Strict):
    """Live curve diagnosis during training, judged at each logging window (no extra host sync)."""

    enabled: bool = Field(True, description="Watch the training loss for spikes and divergence.")
    stop_on_divergence: bool = Field(True, description="Stop the run (status `diverged`) when the loss diverges.")
    record_spikes: bool = Field(True, description="Append each spike's batch sample indices to spikes.jsonl.")


Loss = Literal["cross_entropy", "bce_with_logits", "mse", "l1", "huber"]


class Recipe(_Strict):
    """A dlcheck recipe (version 1)."""

    version: Literal[1] = 1
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")] = Field(
        "run",
        description="letters, digits, '.', '_' or '-', starting with a letter or digit (it names the run directory)",
    )
    seed: Annotated[int, Field(ge=0)] = 0
    data: DataConfig
    model: ModelConfig
    loss: Loss = "cross_entropy"
    optimizer: OptimizerConfig = Field(default_factory=lambda: OptimizerConfig())
    schedule: ScheduleConfig = Field(default_factory=lambda: ScheduleConfig())
    regularization: RegularizationConfig = Field(default_factory=lambda: RegularizationConfig())
    early_stopping: EarlyStoppingConfig | None = None
    train: TrainConfig = Field(default_factory=lambda: TrainConfig())
    device: Annotated[str, Field(pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$")] = Field(
        "auto", description="auto | cpu | cuda | cuda:N | mps"
    )
    checkpoint: CheckpointConfig = Field(default_factory=lambda: CheckpointConfig())
    logging: LoggingConfig = Field(default_factory=lambda: LoggingConfig())
    monitor: MonitorConfig = Field(default_factory=lambda: MonitorConfig())
