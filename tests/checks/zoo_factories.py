"""Planted bugs for the checklist: data and model factories a recipe names (``module:function``).

This file is copied next to each zoo recipe under a fresh module name (see ``conftest.py``), the way a user's
own factories sit next to their recipe. Every factory is ordinary user code with one mistake in it.
"""

import torch
from torch import nn

# ------------------------------------------------------------------------------------------------- data


def blobs(
    samples=480,
    features=12,
    classes=4,
    seed=0,
    scale=1.0,
    offset=0.0,
    nan_rows=0,
    label_equal_to_classes=0,
    duplicate_val=0,
    majority_share=None,
    binary=False,
    regression=False,
    target_scale=1.0,
    constant_inputs=False,
    conflicting=0,
    label_offset=0,
):
    """Gaussian clusters, one per class, split 80/20; options plant data bugs."""
    generator = torch.Generator().manual_seed(seed)
    centers = 2.0 * torch.randn(classes, features, generator=generator)
    if majority_share is None:
        labels = torch.arange(samples) % classes
    else:  # class 0 takes majority_share of the samples, the rest share what is left
        majority = int(majority_share * samples)
        labels = torch.cat(
            [torch.zeros(majority, dtype=torch.long), 1 + torch.arange(samples - majority) % (classes - 1)]
        )
        labels = labels[torch.randperm(samples, generator=generator)]
    inputs = centers[labels] + torch.randn(samples, features, generator=generator)
    inputs = inputs * scale + offset
    if nan_rows:
        inputs[:nan_rows, 0] = float("nan")
    if constant_inputs:  # a loader that returns the first sample every time
        inputs = inputs[:1].expand_as(inputs).clone()
    if conflicting:  # the same input recorded twice, with two labels
        labels = labels.clone()
        inputs[1 : 2 * conflicting : 2] = inputs[0 : 2 * conflicting : 2]
        labels[1 : 2 * conflicting : 2] = (labels[0 : 2 * conflicting : 2] + 1) % classes
    labels = labels + label_offset
    if label_equal_to_classes:
        labels = labels.clone()
        labels[:label_equal_to_classes] = classes  # one past the last class: the classic off-by-one
    targets = labels
    if binary:
        targets = labels % 2  # integer 0/1 labels
    if regression:
        weights = torch.randn(features, generator=generator)
        targets = target_scale * (inputs @ weights / features**0.5)[:, None]
    split = int(0.8 * samples)
    train = (inputs[:split], targets[:split])
    val_inputs, val_targets = inputs[split:].clone(), targets[split:].clone()
    if duplicate_val:  # the validation split re-uses training samples
        val_inputs[:duplicate_val] = inputs[:duplicate_val]
        val_targets[:duplicate_val] = targets[:duplicate_val]
    return train, (val_inputs, val_targets)


def raw_images(samples=400, classes=4, seed=0):
    """8x8 one-channel images with pixel values 0..255, never scaled."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(samples) % classes
    templates = torch.rand(classes, 1, 8, 8, generator=generator)
    images = (templates[labels] + 0.3 * torch.rand(samples, 1, 8, 8, generator=generator)).clamp(0, 1) * 255
    images = images.round()
    split = int(0.8 * samples)
    return (images[:split], labels[:split]), (images[split:], labels[split:])


class BlobDataset(torch.utils.data.Dataset):
    """A map-style Dataset yielding (input, label) one at a time, as a user's own Dataset would."""

    def __init__(self, inputs, labels):
        self.inputs, self.labels = inputs, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return self.inputs[index], int(self.labels[index])


def blob_datasets(**options):
    (train_inputs, train_labels), (val_inputs, val_labels) = blobs(**options)
    return BlobDataset(train_inputs, train_labels), BlobDataset(val_inputs, val_labels)


# ----------------------------------------------------------------------------------------------- models


def mlp(features=12, classes=4, hidden=64, depth=1, activation="relu", out=None):
    layers, width = [], features
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.ReLU() if activation == "relu" else nn.Tanh()]
        width = hidden
    layers.append(nn.Linear(width, classes if out is None else out))
    return nn.Sequential(*layers)


def softmax_at_the_end(features=12, classes=4):
    return nn.Sequential(nn.Linear(features, 64), nn.ReLU(), nn.Linear(64, classes), nn.Softmax(dim=1))


def sigmoid_at_the_end(features=12):
    return nn.Sequential(nn.Linear(features, 64), nn.ReLU(), nn.Linear(64, 1), nn.Sigmoid())


def relu_at_the_end(features=12, classes=4):
    return nn.Sequential(nn.Linear(features, 64), nn.ReLU(), nn.Linear(64, classes), nn.ReLU())


def last_layer_times(features=12, classes=4, factor=50.0, out=None):
    model = mlp(features, classes, out=out)
    with torch.no_grad():
        model[-1].weight.mul_(factor)
    return model


class DetachedBranch(nn.Module):
    """A skip branch whose output is detached: its layer never learns."""

    def __init__(self, features=12, classes=4):
        super().__init__()
        self.main = nn.Sequential(nn.Linear(features, 64), nn.ReLU(), nn.Linear(64, classes))
        self.side = nn.Linear(features, classes)

    def forward(self, inputs):
        return self.main(inputs) + self.side(inputs).detach()


class NoGradEncoder(nn.Module):
    """An encoder run under torch.no_grad() by mistake (meant to be fine-tuned): frozen without saying so."""

    def __init__(self, features=12, classes=4):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(features, 64), nn.ReLU())
        self.head = nn.Linear(64, classes)

    def forward(self, inputs):
        with torch.no_grad():
            hidden = self.encoder(inputs)
        return self.head(hidden)


class UnusedLayer(nn.Module):
    """A projection built in __init__ and forgotten in forward()."""

    def __init__(self, features=12, classes=4):
        super().__init__()
        self.hidden = nn.Linear(features, 64)
        self.projection = nn.Linear(64, 64)
        self.out = nn.Linear(64, classes)

    def forward(self, inputs):
        return self.out(torch.relu(self.hidden(inputs)))


def frozen_on_purpose(features=12, classes=4):
    """A fixed random feature layer (requires_grad=False) and a trained head: intended, must pass."""
    model = mlp(features, classes, hidden=128)
    for parameter in model[0].parameters():
        parameter.requires_grad_(False)
    return model


class BatchMixer(nn.Module):
    """Hidden features reshaped with the batch and feature axes confused (view instead of transpose)."""

    def __init__(self, features=12, classes=4, hidden=64):
        super().__init__()
        self.hidden, self.out = nn.Linear(features, hidden), nn.Linear(hidden, classes)

    def forward(self, inputs):
        hidden = torch.relu(self.hidden(inputs))  # (B, H)
        mixed = hidden.t().reshape(hidden.shape[0], -1)  # meant as a no-op "reshape back", mixes samples
        return self.out(mixed)


def batchnorm_mlp(features=12, classes=4):
    """BatchNorm mixes samples in training mode, legitimately: must pass (eval mode is probed)."""
    return nn.Sequential(nn.Linear(features, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, classes))


def dead_relus(features=12, classes=4, bias=-100.0, share=1.0):
    model = mlp(features, classes, hidden=64)
    with torch.no_grad():
        units = int(share * 64)
        model[0].bias[:units] = bias
    return model


def saturated_tanh(features=12, classes=4, factor=10.0):
    model = mlp(features, classes, hidden=64, depth=2, activation="tanh")
    with torch.no_grad():
        for layer in (model[0], model[2]):
            layer.weight.mul_(factor)
    return model


def growing_gain(features=12, classes=4, depth=8, gain=3.0):
    """Each hidden layer initialised with 3x the He gain: the scale compounds with depth."""
    model = mlp(features, classes, hidden=64, depth=depth)
    with torch.no_grad():
        for layer in model[:-1]:
            if isinstance(layer, nn.Linear):
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                layer.weight.mul_(gain)
                layer.bias.zero_()
    return model


def zero_init(features=12, classes=4):
    model = mlp(features, classes, hidden=64)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
    return model


class DropoutInEval(nn.Module):
    """F.dropout with training=True: stays on after model.eval()."""

    def __init__(self, features=12, classes=4):
        super().__init__()
        self.hidden, self.out = nn.Linear(features, 64), nn.Linear(64, classes)

    def forward(self, inputs):
        return self.out(nn.functional.dropout(torch.relu(self.hidden(inputs)), 0.3, training=True))


class UnusedDropout(nn.Module):
    """Dropout created in __init__ but never called in forward()."""

    def __init__(self, features=12, classes=4, rate=0.5):
        super().__init__()
        self.hidden = nn.Linear(features, 128)
        self.dropout = nn.Dropout(rate)
        self.out = nn.Linear(128, classes)

    def forward(self, inputs):
        return self.out(torch.relu(self.hidden(inputs)))


class UsedDropout(UnusedDropout):
    def forward(self, inputs):
        return self.out(self.dropout(torch.relu(self.hidden(inputs))))
