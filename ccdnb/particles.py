"""Moved to :mod:`ccdnb.objects.particles`; this name stays an alias of that module."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("ccdnb.objects.particles")
