"""``python -m harness.cli``: the same as the ``edge-harness`` command."""

from harness.cli import main

if __name__ == "__main__":
    main()
