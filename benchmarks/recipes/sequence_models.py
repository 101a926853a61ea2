"""A user's recurrent model for ``benchmarks/lr_problems.py``: a GRU over (N, T, F) sequences, named by
``model.factory`` (the benchmark copies this file next to the recipes it writes)."""

from torch import nn


class LastStepGRU(nn.Module):
    """The GRU's last hidden state into a linear layer."""

    def __init__(self, features: int, hidden: int, outputs: int) -> None:
        super().__init__()
        self.gru = nn.GRU(features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, outputs)

    def forward(self, inputs):  # type: ignore[no-untyped-def]  # (N, T, F)
        _, last = self.gru(inputs)  # (1, N, hidden)
        return self.head(last[0])  # (N, outputs)


def make_gru(features: int = 4, hidden: int = 32, outputs: int = 3) -> nn.Module:
    return LastStepGRU(features, hidden, outputs)
