"""The ``dlcheck`` command line: parse options, call the library, hand the result to a renderer.

One module per command group; importing this package registers them all on :data:`app`, in the order
``--help`` lists them. Heavy imports (torch, scikit-image, tensorboard) happen inside the commands, so
``dlcheck --help`` answers without loading them. Every :class:`~dlcheck.errors.DlcheckError` becomes a
short message and exit code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

__all__ = ["app", "main"]

from dlcheck.cli import checks, diagnose, keypoints, lr_find, recipe, sample, train  # noqa: F401  (registers the commands)
from dlcheck.cli._app import app, main
