"""The scripts of ``benchmarks/`` loaded as modules, for their tests."""

import importlib.util
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_benchmark(name, register=False):
    """Import ``benchmarks/<name>.py`` as module ``name``.

    ``register`` puts it in ``sys.modules`` (dataclasses look their module up
    there); the caller then removes it.
    """
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    if register:
        sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
