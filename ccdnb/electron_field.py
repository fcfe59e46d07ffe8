"""Moved to :mod:`ccdnb.skipper.field`; this name stays an alias of that module."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("ccdnb.skipper.field")
