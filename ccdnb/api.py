"""The public Python API: segment an image or a FITS file in one call.

>>> import ccdnb
>>> mask = ccdnb.segment(image)                      # doctest: +SKIP
>>> masks = ccdnb.segment_fits("frame.fits.fz")      # doctest: +SKIP
>>> summary = ccdnb.segment_files(files, "masks", workers=4)  # doctest: +SKIP

:class:`Segmenter` holds one loaded model and segments many images with it;
:func:`segment` and :func:`segment_fits` keep one Segmenter per model file in
a small cache, so calling them in a loop loads the model once. Models are
addressed by the name of a model shipped with ccdnb (:func:`available_models`,
``"default"``) or by the path of a ``.keras`` file.

Everything goes through :func:`ccdnb.predict.predict_image` (an array to a
mask) and :func:`ccdnb.predict.predict_fits` (a file to the masks HDUList), the
code behind ``ccdnb predict``, so the three doors (Python, the command line and
the notebooks) give the same masks.

This is the single-image layer: it builds on :mod:`ccdnb.predict` and
:mod:`ccdnb.predict.runtime` below it and never imports the many-file layer above it
(:func:`ccdnb.segment_files` in :mod:`ccdnb.predict.scaleout`, :func:`ccdnb.monitor`
in :mod:`ccdnb.monitoring`), which use the Segmenter cache here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import CcdnbInputError
from .model import DEFAULT_MODEL_NAME, available_models, model_card, resolve_model_path
from .predict.tiling import DEFAULT_MARGIN

__all__ = ["Segmenter", "segment", "segment_fits", "available_models", "model_card",
           "get_segmenter", "as_image", "model_or_default"]

#: At most this many models stay loaded in the cache of :func:`get_segmenter`.
CACHE_SIZE = 4
_CACHE: dict = {}


def as_image(image) -> np.ndarray:
    """The pixels of a 2-D image as float32 ADU, as ``ccdnb.io.fits.read_fits_images`` reads them.

    Parameters
    ----------
    image : array_like, astropy.nddata.CCDData or astropy.io.fits image HDU
        A 2-D array of numbers (NaN/inf allowed); a CCDData's ``data`` (its
        mask and uncertainty are not used); an HDU's scaled data (BZERO/BSCALE
        applied, compressed HDUs decompressed).

    Returns
    -------
    ndarray, shape (H, W), float32

    Raises
    ------
    CcdnbInputError
        A file name, an HDUList, an HDU without data, data that is not 2-D or
        not numeric, an empty image or one without a finite pixel.
    """
    if isinstance(image, (str, Path)):
        raise CcdnbInputError(f"{image}: segment() takes an image array; "
                              f"use ccdnb.segment_fits(path) for a FITS file")
    kind = type(image).__name__
    if kind == "HDUList":
        raise CcdnbInputError("segment() takes one image; use ccdnb.segment_fits(hdulist) "
                              "for an HDUList, or pass one of its HDUs")
    if not isinstance(image, np.ndarray) and hasattr(image, "data"):
        data = image.data  # CCDData, NDData, PrimaryHDU, ImageHDU, CompImageHDU
        if data is None:
            raise CcdnbInputError(f"{kind} holds no image data")
        image = data
    if isinstance(image, np.ma.MaskedArray):
        image = image.data
    try:
        pixels = np.asarray(image)
    except Exception as err:  # ragged lists and the like
        raise CcdnbInputError(f"cannot read a {kind} as an image ({err})") from None
    if pixels.dtype.kind not in "biuf":
        raise CcdnbInputError(f"expected an image of real numbers, got dtype {pixels.dtype}")
    if pixels.ndim != 2:
        raise CcdnbInputError(f"expected a 2-D image, got an array of shape {pixels.shape}"
                              + ("; segment each plane of a cube" if pixels.ndim == 3 else ""))
    if pixels.size == 0:
        raise CcdnbInputError(f"expected a non-empty 2-D image, got shape {pixels.shape}")
    pixels = pixels.astype(np.float32, copy=False)  # never written to: no copy needed
    if not np.isfinite(pixels).any():
        raise CcdnbInputError("the image has no finite pixel (all NaN/inf)")
    return pixels


class Segmenter:
    """One loaded model, used for many images.

    Parameters
    ----------
    model : str, Path or keras.Model
        A shipped model name (:func:`available_models`; default ``"default"``),
        the path of a ``.keras`` file (its ``<name>.card.json`` is read when
        present), or an already loaded Keras model.
    model_id : str, optional
        Recorded in masks headers (``CCDNBMID``); by default the card's id or
        the file's SHA-256.
    runtime : {"auto", "openvino", "openvino-bf16", "onnx", "keras"}
        The engine for a model file (:func:`ccdnb.predict.runtime.load_predictor`): by
        default OpenVINO (or ONNX Runtime without it) when a matching ONNX
        export lies beside the model (the shipped models have one), Keras otherwise.
    threads : int, optional
        Threads of the engine; default: every core this process may use.
    defects : ccdnb.defects.DefectMap or path of a defects.fits, optional
        A run's defect map (``ccdnb monitor``): every mask is settled with it
        (:func:`ccdnb.defects.settle_with_defects`): a bright pixel on a known
        defect is a hot pixel, a one- or two-pixel hot pixel off every defect a
        cluster.

    Attributes
    ----------
    model : keras.Model, ccdnb.predict.runtime.OpenVinoModel or ccdnb.predict.runtime.OnnxModel
        What runs the network (anything with ``predict_on_batch``).
    runtime : str
        ``"openvino"``, ``"openvino-bf16"``, ``"onnxruntime"`` or ``"keras"``.
    name : str
        The shipped model's name, or the model file's name.
    path : Path or None
        The ``.keras`` file (None for a model passed already loaded).
    card : dict
        The model card (empty when the model has none).
    model_id : str
    defects : ccdnb.defects.DefectMap or None

    Examples
    --------
    >>> seg = ccdnb.Segmenter()                      # doctest: +SKIP
    >>> masks = [seg.segment(im) for im in images]   # doctest: +SKIP
    """

    def __init__(self, model=DEFAULT_MODEL_NAME, *, model_id: str | None = None,
                 runtime: str = "auto", threads: int | None = None, defects=None):
        from .defects import as_defect_map
        from .predict.runtime import open_model

        self.defects = as_defect_map(defects)
        if model is None:
            model = DEFAULT_MODEL_NAME
        if isinstance(model, (str, Path)):
            opened = open_model(model, runtime, threads=threads, model_id=model_id)
            self.model, self.card, self.path = opened.predictor, opened.card, opened.path
            self.name, self.model_file = opened.name, opened.model_file
            self.model_id = opened.model_id
        elif hasattr(model, "predict_on_batch"):
            self.model, self.card, self.path = model, {}, None
            self.name = self.model_file = str(getattr(model, "name", "model"))
            self.model_id = model_id or "unknown"
        else:
            raise CcdnbInputError(f"model {model!r}: expected a shipped model name "
                                  f"({', '.join(available_models()) or 'none shipped'}), "
                                  f"a .keras file or a Keras model")

        # the frozen engines name themselves; anything else is a Keras model
        self.runtime = getattr(self.model, "runtime", "keras")

    def __repr__(self) -> str:
        return f"Segmenter({self.name!r}, id={self.model_id!r}, runtime={self.runtime!r})"

    def segment(self, image, *, probabilities: bool = False, tile: int | None = None,
                margin: int = DEFAULT_MARGIN, batch_size: int | None = None,
                amplifier: str | None = None, skip_stages=()):
        """Segment one image; see :func:`ccdnb.segment`.

        ``amplifier`` names the image's amplifier in the defect map (needed only
        when the map holds several).
        """
        from .predict import check_stage_names, check_tiling, predict_image

        check_tiling(tile, margin, batch_size)
        skip_stages = check_stage_names(skip_stages)
        pixels = as_image(image)
        known = None
        if self.defects is not None:  # checked before the work
            known = self.defects.for_image(amplifier, pixels.shape)
        return predict_image(self.model, pixels, tile=tile, margin=margin,
                             batch_size=batch_size, probabilities=probabilities,
                             skip_stages=skip_stages, defects=known)

    def segment_fits(self, source, *, probabilities: bool = False, catalog: bool = False,
                     tile: int | None = None, margin: int = DEFAULT_MARGIN,
                     batch_size: int | None = None, progress: bool = False,
                     gain: float | None = None, skip_stages=()):
        """Segment every image HDU of a file or HDUList; see :func:`ccdnb.segment_fits`."""
        from .predict import predict_fits

        return predict_fits(self.model, _fits_source(source), model_name=self.model_file,
                            model_id=self.model_id, probabilities=probabilities,
                            catalog=catalog, tile=tile, margin=margin, batch_size=batch_size,
                            progress=progress, defects=self.defects, gain=gain,
                            skip_stages=skip_stages)


def _fits_source(source):
    """A path or an HDUList for :func:`ccdnb.io.fits.read_fits_images`; a lone HDU is wrapped."""
    if isinstance(source, (str, Path)) or type(source).__name__ == "HDUList":
        return source
    from astropy.io import fits

    if isinstance(source, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)):
        if isinstance(source, fits.PrimaryHDU):
            return fits.HDUList([source])
        return fits.HDUList([fits.PrimaryHDU(), source])
    raise CcdnbInputError(f"segment_fits() takes a FITS file path or an HDUList, "
                          f"got {type(source).__name__}; use ccdnb.segment() for an array")


def get_segmenter(model=DEFAULT_MODEL_NAME, *, runtime: str = "auto",
                  threads: int | None = None) -> Segmenter:
    """A :class:`Segmenter` for ``model``, loaded once and then reused.

    ``model`` is a Segmenter (returned as it is), a Keras model (wrapped, not
    cached), or a shipped name or ``.keras`` path: those are cached by file,
    modification time and size (and ``runtime``, ``threads``), so a retrained
    file is loaded afresh.
    """
    if isinstance(model, Segmenter):
        return model
    if model is None:
        model = DEFAULT_MODEL_NAME
    if not isinstance(model, (str, Path)):
        return Segmenter(model)
    path = resolve_model_path(model)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, str(model), runtime, threads)
    if key not in _CACHE:
        while len(_CACHE) >= CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = Segmenter(model, runtime=runtime, threads=threads)
    return _CACHE[key]


def segment(image, model=DEFAULT_MODEL_NAME, *, probabilities: bool = False,
            tile: int | None = None, margin: int = DEFAULT_MARGIN, batch_size: int | None = None,
            skip_stages=()):
    """Classify every pixel of a CCD image: background, glowing, hot pixel or cluster.

    Parameters
    ----------
    image : array_like, astropy.nddata.CCDData or astropy.io.fits image HDU
        Raw ADU as the detector wrote them, any size, any pedestal, gain and
        noise; NaN/inf pixels are allowed (their class is background).
    model : str, Path, keras.Model or Segmenter
        A shipped model name (``"default"``, see :func:`available_models`),
        a ``.keras`` file, a loaded model or a :class:`Segmenter`. Names and
        files are loaded once and cached.
    probabilities : bool
        Also return the class probabilities.
    tile, margin : int
        Overlapping tiles of ``tile`` pixels, ``margin`` pixels of each side
        discarded on stitching (see :mod:`ccdnb.predict.tiling`); ``tile=None`` (the
        default, as in ``ccdnb predict``) sizes the tiles to the image.
    batch_size : int or None
        Tiles per model call; memory grows with it. None (the default): about
        1.2 Mpix per call (:func:`ccdnb.predict.tiling.auto_batch_size`).
    skip_stages : sequence of str
        Stages of the pipeline to leave out (:data:`ccdnb.predict.STAGES`);
        ``ccdnb.predict.RULES`` gives the bare network's mask.

    Returns
    -------
    mask : ndarray, shape (H, W), uint8
        0 background, 1 glowing, 2 hot pixel, 3 cluster (:mod:`ccdnb.classes`).
    probs : ndarray, shape (H, W, 4), float32
        Only with ``probabilities=True``, as ``(mask, probs)``.

    Raises
    ------
    CcdnbInputError
        (a ValueError) An image that is not 2-D numbers, an unknown model, a
        bad tiling.

    Examples
    --------
    >>> mask = ccdnb.segment(image)                     # doctest: +SKIP
    >>> clusters = mask == 3                            # doctest: +SKIP
    """
    return get_segmenter(model).segment(image, probabilities=probabilities, tile=tile,
                                        margin=margin, batch_size=batch_size,
                                        skip_stages=skip_stages)


def segment_fits(source, model=DEFAULT_MODEL_NAME, *, probabilities: bool = False,
                 catalog: bool = False, tile: int | None = None, margin: int = DEFAULT_MARGIN,
                 batch_size: int | None = None, progress: bool = False,
                 gain: float | None = None, skip_stages=()):
    """Segment every image HDU of a FITS file or HDUList; return the masks HDUList in memory.

    The result is what ``ccdnb predict`` writes to ``<stem>.masks.fits``: one
    HDU per input HDU with the same EXTNAME (uint8 masks for images, empty
    placeholders for tables), the input header plus class names, model,
    ccdnb version and provenance (input file and SHA-256, tile, margin, and
    each image's pedestal ``CCDNBPED`` and read noise ``CCDNBRN``, with HISTORY
    lines); see :mod:`ccdnb.io.fits`.

    Parameters
    ----------
    source : str, Path, astropy.io.fits.HDUList or image HDU
        A FITS file (``.fits``, fpack ``.fz``, ...) or FITS data in memory.
    model : str, Path, keras.Model or Segmenter
        As for :func:`segment`.
    probabilities : bool
        Append one ``<EXTNAME>_PROB`` (4, H, W) float32 cube per image.
    catalog : bool
        Append the cluster catalog as a ``CATALOG`` table (:mod:`ccdnb.catalog`).
    tile, margin, batch_size : int or None
        As for :func:`segment`.
    progress : bool
        A progress bar over the tiles on stderr.
    gain : float, optional
        ADU per electron of every image, for the catalog; measured from each
        image when None (:mod:`ccdnb.calibration`).
    skip_stages : sequence of str
        Stages of the pipeline to leave out (:data:`ccdnb.predict.STAGES`), each
        recorded in the masks header.

    Returns
    -------
    astropy.io.fits.HDUList

    Raises
    ------
    CcdnbInputError
        (a ValueError) A missing, truncated or corrupt file, no 2-D image, an
        unknown model, a bad tiling.
    """
    return get_segmenter(model).segment_fits(source, probabilities=probabilities,
                                             catalog=catalog, tile=tile, margin=margin,
                                             batch_size=batch_size, progress=progress, gain=gain,
                                             skip_stages=skip_stages)


def model_or_default(path, default: str = DEFAULT_MODEL_NAME):
    """``path`` when it is an existing model file, else the shipped model name ``default``.

    Notebook 06 segments with the model its run trained (``run_dir/model/model.keras``)
    and falls back on the shipped model when that run trained none.

    Returns
    -------
    Path or str
    """
    if path and Path(path).is_file():
        return Path(path)
    return default
