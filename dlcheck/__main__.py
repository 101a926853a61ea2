"""``python -m dlcheck`` (and ``torchrun -m dlcheck``) runs the command line."""

from dlcheck.cli import main

if __name__ == "__main__":
    main()
