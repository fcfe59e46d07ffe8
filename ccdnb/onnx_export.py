"""Moved to :mod:`ccdnb.predict.onnx_export`; this name stays an alias of that module."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("ccdnb.predict.onnx_export")
