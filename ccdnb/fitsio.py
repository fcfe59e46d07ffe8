"""Moved to :mod:`ccdnb.io.fits`; this name stays an alias of that module."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("ccdnb.io.fits")
