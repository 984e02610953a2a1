"""``python -m trackkit`` runs the ``trackkit`` command line (same as the console script)."""

import sys

from trackkit.cli import main

if __name__ == "__main__":
    sys.exit(main())
