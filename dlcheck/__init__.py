"""dlcheck: a command-line babysitter for deep-learning training runs."""

__all__ = ["__version__"]

__version__ = "0.1.0"
