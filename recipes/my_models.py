"""A user's own model, used by ``recipes/custom_model.yaml`` through ``model.factory``."""

from torch import nn


def make_net(hidden: int = 64, classes: int = 10) -> nn.Module:
    """A two-layer MLP for (1, 8, 8) digit images."""
    return nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.GELU(), nn.Linear(hidden, classes))
