"""Names of a package that load from its submodules on first use (PEP 562).

The subpackages of ccdnb import their submodules only when a name is asked for, so
that ``ccdnb predict`` and ``ccdnb --help`` never pay for what they do not use.
"""

from __future__ import annotations

import importlib
import sys

__all__ = ["lazy_names"]


def lazy_names(package: str, sources: dict | None = None, submodules=()):
    """The module ``__getattr__`` and ``__dir__`` of ``package``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    sources : dict, optional
        Public name -> the submodule (relative to ``package``) that defines it.
    submodules : sequence of str
        Submodules given as attributes of the package, imported on first use.

    Returns
    -------
    tuple of callable
        ``(__getattr__, __dir__)``, to assign at the package's top level.
    """
    sources = dict(sources or {})
    submodules = tuple(submodules)

    def __getattr__(name):
        if name in sources:
            return getattr(importlib.import_module(f".{sources[name]}", package), name)
        if name in submodules:
            return importlib.import_module(f".{name}", package)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(sources) | set(submodules))

    return __getattr__, __dir__
