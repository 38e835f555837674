"""`python -m prefloop` = the `prefloop` console script."""

import sys

from prefloop.cli import main

if __name__ == "__main__":
    sys.exit(main())
