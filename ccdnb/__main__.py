"""``python -m ccdnb`` is the ``ccdnb`` command."""

import sys

from .cli import main

sys.exit(main())
