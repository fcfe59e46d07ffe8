"""ccdnb: find defects and particle signals in CCD images with a U-Net.

Every pixel is classified as background (0), glowing (1), hot pixel (2) or
cluster (3) (see :mod:`ccdnb.classes`). The library simulates images with exact
truth, labels, augments, trains, evaluates and segments real FITS files.

The public API (see :mod:`ccdnb.api`)::

    import ccdnb
    mask = ccdnb.segment(image)                  # 2-D array, CCDData or image HDU -> uint8
    hdul = ccdnb.segment_fits("frame.fits.fz")   # the masks HDUList, in memory
    seg = ccdnb.Segmenter("default")             # load once, segment many
    summary = ccdnb.segment_files(files, "masks", workers=4)  # many files; dask optional
    report = ccdnb.monitor("run/", "report")     # a run: trends, defect map, outliers
    ccdnb.available_models(), ccdnb.model_card("default")

Bad input raises :class:`CcdnbInputError`, a :class:`ValueError`. Importing
ccdnb is cheap: Keras and TensorFlow load when a model is first needed.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "segment", "segment_fits", "segment_files", "monitor",
           "Segmenter", "available_models", "model_card", "CcdnbInputError"]

#: Public name -> module that defines it (imported on first use).
_LAZY = {
    "segment": "ccdnb.api",
    "segment_fits": "ccdnb.api",
    "segment_files": "ccdnb.predict.scaleout",
    "monitor": "ccdnb.monitoring",
    "Segmenter": "ccdnb.api",
    "available_models": "ccdnb.model",
    "model_card": "ccdnb.model",
    "CcdnbInputError": "ccdnb.errors",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ccdnb' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
