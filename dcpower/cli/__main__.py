"""``python -m dcpower.cli``: the same as the ``dcpower`` command."""

from dcpower.cli import main

if __name__ == "__main__":
    main()
