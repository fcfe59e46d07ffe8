"""Segment FITS files: every image HDU through the pipeline, the masks file written atomically.

:func:`predict_fits` reads every image HDU of a FITS file or an HDUList
(:mod:`ccdnb.io.fits`), segments each one with :func:`ccdnb.predict.pipeline.predict_image`
(the stage list) and returns the masks HDUList in memory (optionally with probabilities
and a cluster catalog, :mod:`ccdnb.catalog`, and always with the provenance of every mask
and the log of every stage). A dead amplifier's image (no finite pixel, or one value
everywhere: :attr:`ccdnb.io.fits.FitsImage.dead`) is not run through the pipeline: its
mask is all background, its probabilities background 1, its quality mask all
``NONFINITE``, its rate not measured, and it gives no catalog row
(:func:`dead_products`). :func:`predict_file` writes exactly that HDUList to
``<stem>.masks.fits`` atomically, so the file and the in-memory result cannot differ. The
public API (:func:`ccdnb.segment`, :func:`ccdnb.segment_fits`, :class:`ccdnb.Segmenter`)
and ``ccdnb predict`` are thin callers of these functions.

Layers: this module builds only on those below it (:mod:`ccdnb.predict.runtime`,
normalisation, tiling, :mod:`ccdnb.io.fits`, :mod:`ccdnb.defects`); the public
single-image API (:mod:`ccdnb.api`) builds on it, and the many-file layer
(:mod:`ccdnb.predict.scaleout`, :mod:`ccdnb.monitoring`) on the API. Nothing imports upwards.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CcdnbInputError, one_line
from ..io.atomic import atomic_outputs
from ..io.fits import (
    Provenance,
    build_masks_hdulist,
    file_sha256,
    masks_path,
    output_stem,
    read_fits_images,
    write_hdulist,
)
from ..model import DEFAULT_MODEL_NAME
from .pipeline import check_stage_names, predict_image, tile_for
from .tiling import DEFAULT_MARGIN, TileGrid

__all__ = ["SegmentedFile", "quality_options_for", "dead_products", "segment_contents",
           "predict_fits", "predict_file", "segment_to_file", "read_input", "catalog_path",
           "ensure_output_dir", "check_tiling", "seam_shares"]


def catalog_path(in_path, out_dir) -> Path:
    """Return ``out_dir/<stem>.catalog.csv``, the CSV cluster catalog of ``in_path``."""
    return Path(out_dir) / f"{output_stem(in_path)}.catalog.csv"


def ensure_output_dir(out_dir) -> Path:
    """Create ``out_dir`` (and parents) if needed; raise CcdnbInputError when impossible."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CcdnbInputError(
            f"{out_dir}: cannot create the output directory ({err.strerror or one_line(err)})"
        ) from None
    if not out_dir.is_dir():
        raise CcdnbInputError(f"{out_dir}: output directory is not a directory")
    return out_dir


def _tile_progress(enabled, label: str, total: int):
    """A tqdm bar over tiles on stderr (silent when stderr is not a terminal)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=label, unit="tile", leave=False, file=sys.stderr,
                disable=None if enabled else True)


def check_tiling(tile: int | None, margin: int, batch_size: int | None) -> None:
    """Reject a tiling that cannot work before any image is read.

    Raises
    ------
    CcdnbInputError
        ``tile`` not above ``2 * margin``, a negative margin, or ``batch_size`` < 1
        (None for ``tile`` or ``batch_size``: chosen per image, always valid).
    """
    for name, value in (("tile", tile), ("margin", margin), ("batch_size", batch_size)):
        if name in ("tile", "batch_size") and value is None:  # chosen per image
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise CcdnbInputError(f"{name} {value!r}: expected an integer")
    if batch_size is not None and batch_size < 1:
        raise CcdnbInputError(f"batch size must be at least 1, got {batch_size}")
    TileGrid.for_image((1, 1), tile, margin)  # None: the smallest tile the margin allows


@dataclass
class SegmentedFile:
    """One file segmented: the masks HDUList and what the monitor reuses of the work.

    Attributes
    ----------
    hdulist : astropy.io.fits.HDUList
        What ``<stem>.masks.fits`` holds.
    catalog : astropy.table.Table or None
    contents : ccdnb.io.fits.FitsContents
        The input as read.
    masks, backgrounds : dict
        HDU index -> uint8 mask, and -> :class:`ccdnb.normalize.Background`.
    fields : dict
        HDU index -> :class:`ccdnb.electron_field.ElectronField` or None.
    stage_logs : dict
        HDU index -> ``[(stage name, mask pixels changed or None when skipped), ...]``.
    quality, rates : dict
        HDU index -> uint16 quality bit mask, and -> single-electron rate
        (:class:`ccdnb.skipper.electron_rate.ElectronRate`), where asked for.
    """

    hdulist: object
    catalog: object
    contents: object
    masks: dict
    backgrounds: dict
    fields: dict = field(default_factory=dict)
    stage_logs: dict = field(default_factory=dict)
    quality: dict = field(default_factory=dict)
    rates: dict = field(default_factory=dict)


def quality_options_for(image, options) -> dict:
    """The quality options of one image: ``options``, with the readout side taken from the
    header's ``READEDGE`` (the amplifier's side, as ccdnb's simulator and DAMIC-like headers
    write it) unless given."""
    out = dict(options or {})
    edge = str(image.header.get("READEDGE", "")).strip().lower() if image.header else ""
    if "readout_side" not in out and edge in ("left", "right"):
        out["readout_side"] = edge
    return out


def dead_products(image, *, probabilities: bool = False, quality=None):
    """What a dead amplifier's image gives in place of the pipeline's products.

    Nothing of a dead amplifier (:attr:`ccdnb.io.fits.FitsImage.dead`) can be measured,
    so nothing is made up: the mask is all background (the class of non-finite pixels,
    as the ``nonfinite`` stage gives), the probabilities background 1, every pixel of
    the quality mask carries the ``NONFINITE`` bit (unusable) and the rate is NaN with
    the reason.

    Parameters
    ----------
    image : ccdnb.io.fits.FitsImage
    probabilities : bool
        Return the probabilities.
    quality : dict, optional
        The quality options (:func:`quality_options_for`); None: no quality mask and no rate.

    Returns
    -------
    tuple
        ``(mask, probabilities or None, (quality mask, parameters, with_charge) or None,
        rate or None)``.
    """
    from ..background.core import image_columns
    from ..classes import BACKGROUND, N_CLASSES
    from ..objects.quality_mask import QUALITY_BITS, MaskParameters
    from ..skipper.electron_rate import ElectronRate

    shape = image.data.shape
    mask = np.full(shape, BACKGROUND, dtype=np.uint8)
    probs = None
    if probabilities:
        probs = np.broadcast_to(np.eye(N_CLASSES, dtype=np.float32)[BACKGROUND],
                                (*shape, N_CLASSES))
    if quality is None:
        return mask, probs, None, None
    unusable = next(b.bit for b in QUALITY_BITS if b.name == "NONFINITE")
    bits = np.full(shape, 1 << unusable, dtype=np.uint16)
    parameters = MaskParameters.of(**quality_options_for(image, quality))
    area = int(np.count_nonzero(image_columns(shape[1], image.bias_columns))) * shape[0]
    rate = ElectronRate(rate=float("nan"), error=float("nan"),
                        method=f"not measured: dead amplifier ({image.dead})",
                        clean_pixels=0, image_pixels=area)
    return mask, probs, (bits, parameters, False), rate


def segment_contents(model, contents, *, model_name=None, model_id=None, input_sha256=None,
                     probabilities: bool = False, catalog: bool = False,
                     tile: int | None = None, margin: int = DEFAULT_MARGIN,
                     batch_size: int | None = None,
                     progress: bool = False, defects=None, gain: float | None = None,
                     skip_stages=(), quality=None) -> SegmentedFile:
    """Segment every image of ``contents`` (:func:`ccdnb.io.fits.read_fits_images`).

    ``defects`` (a :class:`ccdnb.defects.DefectMap`) settles each image's mask
    with its amplifier's known defects (the pipeline's ``defect_map`` stage);
    ``skip_stages`` leaves stages of the pipeline out (:data:`ccdnb.predict.pipeline.STAGES`);
    ``quality`` (a dict of options, ``{}`` for the defaults) adds each image's quality bit
    mask as an HDU and the single-electron rate on its clean pixels to its header, which
    ``catalog`` does too (:func:`quality_options_for`);
    ``gain`` (ADU per electron) is the catalog's for every image instead of the one
    measured from it (:func:`ccdnb.catalog.build_catalog`).
    A dead amplifier's image is not segmented (:func:`dead_products`).
    """
    from ..background import estimate_background

    live = [image for image in contents.images if not image.dead]
    if tile is None and live:  # one tile size per file, sized to its largest image
        tile = tile_for(model, max((image.data.shape for image in live),
                                   key=lambda shape: shape[0] * shape[1]), margin)
    known = {}
    if defects is not None:  # checked before any work
        for image in live:
            # a file of one image fits a map of one amplifier whatever their names
            lone = len(live) == 1 and image.label not in defects.hot_share
            known[image.index] = defects.for_image(None if lone else image.label,
                                                   image.data.shape)
    total = sum(len(TileGrid.for_image(image.data.shape, tile, margin)) for image in live)
    masks, probs, backgrounds, stage_logs, fields = {}, {}, {}, {}, {}
    qualities, rates = {}, {}
    wants_rate = quality is not None or catalog
    label = Path(str(contents.path)).name
    with _tile_progress(progress, label, total) as bar:
        for image in contents.images:
            if image.dead:
                masks[image.index], probs[image.index], dead_quality, dead_rate = dead_products(
                    image, probabilities=probabilities,
                    quality=(quality or {}) if wants_rate else None)
                if dead_quality is not None:
                    qualities[image.index], rates[image.index] = dead_quality, dead_rate
                continue
            start = bar.n
            backgrounds[image.index] = estimate_background(image.data,
                                                           bias_columns=image.bias_columns)
            state = predict_image(model, image.data, tile=tile, margin=margin,
                                  batch_size=batch_size, probabilities=probabilities,
                                  background=backgrounds[image.index],
                                  progress=lambda done, _total, start=start: bar.update(
                                      start + done - bar.n),
                                  skip_stages=skip_stages, defects=known.get(image.index),
                                  quality=quality_options_for(image, quality) if wants_rate
                                  else None, bias_columns=image.bias_columns, gain=gain,
                                  return_state=True)
            masks[image.index], probs[image.index] = state.mask, state.probabilities
            stage_logs[image.index], fields[image.index] = state.log, state.field
            if state.quality is not None:
                qualities[image.index] = (state.quality, state.quality_parameters,
                                          state.quality_with_charge)
                rates[image.index] = state.rate

    table, calibrations = None, {}
    if catalog:
        from ..objects.catalog import build_catalog

        table = build_catalog(live, masks, backgrounds=backgrounds, gain=gain,
                              calibrations=calibrations)
    from .runtime import engine_of, factors_of

    engine, precision = engine_of(model)
    provenance = Provenance.measure(contents, tile=tile, margin=margin, sha256=input_sha256,
                                    backgrounds=backgrounds, stage_logs=stage_logs,
                                    engine=engine, precision=precision,
                                    class_factors=factors_of(model))
    hdulist = build_masks_hdulist(contents, masks, model_name=model_name, model_id=model_id,
                                  probabilities=probs if probabilities else None, catalog=table,
                                  provenance=provenance,
                                  quality=qualities if quality is not None else None,
                                  rates=rates)
    if calibrations:  # the gain behind the catalog's electrons and keV
        from ..objects.catalog import annotate_headers

        annotate_headers(hdulist, calibrations)
    if defects is not None:
        for image in live:
            hdulist[image.index].header["CCDNBDEF"] = (
                True, "settled with a run defect map (ccdnb.defects)")
    return SegmentedFile(hdulist=hdulist, catalog=table, contents=contents, masks=masks,
                         backgrounds=backgrounds, fields=fields, stage_logs=stage_logs,
                         quality={k: v[0] for k, v in qualities.items()}, rates=rates)


def predict_fits(model, source, *, model_name=None, model_id=None, probabilities: bool = False,
                 catalog: bool = False, tile: int | None = None, margin: int = DEFAULT_MARGIN,
                 batch_size: int | None = None, progress: bool = False, defects=None,
                 gain: float | None = None, skip_stages=(), quality=None):
    """Segment every image HDU of a FITS file or HDUList; return the masks HDUList in memory.

    Parameters
    ----------
    model : keras.Model
        A loaded model (see :class:`ccdnb.Segmenter` for models by name or path).
    source : str, Path or astropy.io.fits.HDUList
        The input (see :func:`ccdnb.io.fits.read_fits_images`); never modified.
    model_name, model_id : str, optional
        Recorded in the headers (``CCDNBMOD``, ``CCDNBMID``); ``model_name``
        defaults to the Keras model's name.
    probabilities : bool
        Add one ``<EXTNAME>_PROB`` cube (4, H, W) float32 per image.
    catalog : bool
        Add the cluster catalog (:mod:`ccdnb.catalog`) as a ``CATALOG`` table.
    tile : int or None
        Tile side; None: sized to the file's largest image and the engine (:func:`tile_for`).
    margin : int
    batch_size : int or None
        Tiling (see :func:`predict_image`).
    progress : bool
        Show a tqdm bar over the tiles on stderr when it is a terminal.
    defects : ccdnb.defects.DefectMap or path, optional
        A run's defect map (``ccdnb monitor``'s ``defects.fits``): bright pixels
        on known defects are hot pixels, one- or two-pixel hot pixels off every
        defect are clusters (:func:`ccdnb.defects.settle_with_defects`).
    gain : float, optional
        ADU per electron of every image, for the catalog; measured from each
        image when None (:mod:`ccdnb.calibration`).
    skip_stages : sequence of str
        Stages of the pipeline to leave out (:data:`ccdnb.predict.pipeline.STAGES`;
        ``ccdnb predict --skip-stage``).
    quality : dict, optional
        Add each image's quality bit mask as a ``<EXTNAME>_QUALITY`` HDU, with these
        options of :func:`ccdnb.objects.quality_mask.quality_mask` (``{}``: the defaults;
        ``ccdnb predict --quality``), and its single-electron rate to the mask header.

    Returns
    -------
    astropy.io.fits.HDUList
        The layout and headers of ``<stem>.masks.fits`` (:mod:`ccdnb.io.fits`),
        provenance included: input name and SHA-256 (a file only), tile,
        margin, and each image's pedestal and read noise.

    Raises
    ------
    CcdnbInputError
        Bad input or tiling.
    """
    return _predict_fits(model, source, model_name=model_name, model_id=model_id,
                         probabilities=probabilities, catalog=catalog, tile=tile,
                         margin=margin, batch_size=batch_size, progress=progress,
                         defects=defects, gain=gain, skip_stages=skip_stages,
                         quality=quality).hdulist


def read_input(source, *, keep_dead: bool = False) -> tuple:
    """Read a FITS file or HDUList for segmentation: ``(contents, sha256)``.

    ``contents`` is :func:`ccdnb.io.fits.read_fits_images`'s; ``sha256`` the
    file's checksum for the provenance (None for an HDUList). Separate from the
    segmentation so that a many-file run can read the next file while the
    network works on this one (:func:`ccdnb.predict.scaleout.segment_files`).
    ``keep_dead`` keeps dead amplifiers' images, marked, instead of refusing the
    file (``ccdnb predict``; the monitor reads with the default and handles them).
    """
    from astropy.io import fits

    contents = read_fits_images(source, keep_dead=keep_dead)
    return contents, (None if isinstance(source, fits.HDUList) else file_sha256(source))


def _predict_fits(model, source, *, model_name, model_id, probabilities, catalog, tile,
                  margin, batch_size, progress, preread=None, defects=None,
                  gain=None, skip_stages=(), quality=None) -> SegmentedFile:
    from ..defects import as_defect_map

    check_tiling(tile, margin, batch_size)
    skip_stages = check_stage_names(skip_stages)
    if quality is not None:  # a bad option: one error before any work
        from ..objects.quality_mask import MaskParameters

        MaskParameters.of(**quality)
    defects = as_defect_map(defects)
    contents, sha256 = preread if preread is not None else read_input(source, keep_dead=True)
    return segment_contents(model, contents, model_name=model_name or getattr(model, "name", None),
                            model_id=model_id, input_sha256=sha256,
                            probabilities=probabilities, catalog=catalog, tile=tile,
                            margin=margin, batch_size=batch_size, progress=progress,
                            defects=defects, gain=gain, skip_stages=skip_stages,
                            quality=quality)


def _loaded(model, model_name, model_id):
    """``(predictor, model_name, model_id)`` for predict_file's ``model`` argument.

    A name or path is loaded with :func:`ccdnb.predict.runtime.open_model` (no cache:
    callers that segment many files pass a loaded model or a Segmenter).
    """
    if model is None or isinstance(model, (str, Path)):
        from .runtime import open_model

        opened = open_model(DEFAULT_MODEL_NAME if model is None else model)
        return opened.predictor, model_name or opened.name, model_id or opened.model_id
    if hasattr(model, "segment_fits"):  # a ccdnb.Segmenter
        return model.model, model_name or model.name, model_id or model.model_id
    return model, model_name, model_id


def _defects_of(model, defects):
    """``defects``, else the defect map a Segmenter holds."""
    return defects if defects is not None else getattr(model, "defects", None)


def predict_file(in_path, out_dir, *, model=None, model_name=None, model_id=None,
                 probabilities: bool = False, catalog: bool = False, overwrite: bool = False,
                 tile: int | None = None, margin: int = DEFAULT_MARGIN,
                 batch_size: int | None = None, progress: bool = True, preread=None, defects=None,
                 gain: float | None = None, skip_stages=(), quality=None) -> Path:
    """Segment every image HDU of a FITS file and write ``out_dir/<stem>.masks.fits``.

    What is written is :func:`predict_fits`'s HDUList, byte for byte what
    :func:`ccdnb.segment_fits` returns for the same file and options.

    Parameters
    ----------
    in_path : str or Path
        The input FITS file (see :func:`ccdnb.io.fits.read_fits_images`); never modified.
    out_dir : str or Path
        Output directory, created if needed.
    model : keras.Model, ccdnb.Segmenter, str or Path, optional
        A loaded model, a Segmenter, a shipped model name or a ``.keras`` file,
        or None for the shipped default model.
    model_name, model_id : str, optional
        Recorded in the headers (``CCDNBMOD``, ``CCDNBMID``); derived from the
        file and its card when ``model`` is not a loaded Keras model.
    probabilities : bool
        Add one ``<EXTNAME>_PROB`` cube (4, H, W) float32 per image.
    catalog : bool
        Add the cluster catalog (:mod:`ccdnb.catalog`) as a ``CATALOG`` table in
        the masks file and as ``out_dir/<stem>.catalog.csv``, a DS9 region file
        per image, ``out_dir/<stem>.<EXTNAME>.reg`` (:mod:`ccdnb.objects.ds9`), and the
        gain of each image in its masks header (``CCDNBGN``, ``CCDNBGNE``, ``CCDNBGM``).
    overwrite : bool
        Replace existing outputs; without it an existing output is an error.
    tile : int or None
        Tile side; None: sized to the file's largest image and the engine (:func:`tile_for`).
    margin : int
    batch_size : int or None
        Tiling (see :func:`predict_image`).
    progress : bool
        Show a tqdm bar over the tiles on stderr when it is a terminal.
    preread : tuple, optional
        :func:`read_input` of ``in_path``, when the caller read it already.
    defects : ccdnb.defects.DefectMap or path, optional
        Settle the masks with a run's defect map (see :func:`predict_fits`).
    gain : float, optional
        ADU per electron of every image, for the catalog (``--gain``); measured
        from each image when None (:mod:`ccdnb.calibration`).
    skip_stages : sequence of str
        Stages of the pipeline to leave out (``--skip-stage``).
    quality : dict, optional
        Add the quality bit masks (``--quality``; see :func:`predict_fits`).

    Returns
    -------
    Path
        The masks file. The layout mirrors the input's HDUs (see :mod:`ccdnb.io.fits`).

    Raises
    ------
    CcdnbInputError
        Bad input file, existing output without ``overwrite``, unusable model
        or unwritable output directory: nothing is written then.
    """
    return segment_to_file(in_path, out_dir, model=model, model_name=model_name,
                           model_id=model_id, probabilities=probabilities, catalog=catalog,
                           overwrite=overwrite, tile=tile, margin=margin, batch_size=batch_size,
                           progress=progress, preread=preread, defects=defects, gain=gain,
                           skip_stages=skip_stages, quality=quality)[0]


def segment_to_file(in_path, out_dir, *, model=None, model_name=None, model_id=None,
                    probabilities: bool = False, catalog: bool = False, overwrite: bool = False,
                    tile: int | None = None, margin: int = DEFAULT_MARGIN,
                    batch_size: int | None = None, progress: bool = True, preread=None,
                    defects=None, gain: float | None = None, skip_stages=(),
                    quality=None) -> tuple:
    """:func:`predict_file`, returning ``(masks path, SegmentedFile)``: the work stays usable."""
    out_path = masks_path(in_path, out_dir)
    targets = [out_path] + ([catalog_path(in_path, out_dir)] if catalog else [])
    if not overwrite:
        for target in targets:
            if target.exists():
                raise CcdnbInputError(
                    f"{in_path}: output {target} exists; pass --overwrite to replace it")
    defects = _defects_of(model, defects)
    model, model_name, model_id = _loaded(model, model_name, model_id)
    segmented = _predict_fits(
        model, in_path, model_name=model_name, model_id=model_id, probabilities=probabilities,
        catalog=catalog, tile=tile, margin=margin, batch_size=batch_size, progress=progress,
        preread=preread, defects=defects, gain=gain, skip_stages=skip_stages, quality=quality)
    regions = {}
    if segmented.catalog is not None:  # a DS9 region file per image (ccdnb.objects.ds9)
        from ..objects.ds9 import region_path, region_texts

        for label, text in region_texts(segmented.contents.images, segmented.catalog).items():
            regions[region_path(in_path, out_dir, label)] = text
        for target in regions if not overwrite else ():
            if target.exists():
                raise CcdnbInputError(
                    f"{in_path}: output {target} exists; pass --overwrite to replace it")
    ensure_output_dir(out_dir)
    try:
        with atomic_outputs(*targets, *regions) as tmp_paths:
            write_hdulist(segmented.hdulist, tmp_paths[0])
            if segmented.catalog is not None:
                segmented.catalog.write(tmp_paths[1], format="ascii.csv", overwrite=True)
            for tmp_path, text in zip(tmp_paths[len(targets):], regions.values()):
                tmp_path.write_text(text)
    except OSError as err:
        raise CcdnbInputError(
            f"{in_path}: cannot write {out_path} ({err.strerror or one_line(err)})") from None
    return out_path, segmented


def seam_shares(label, cls, *, tile: int) -> dict:
    """Share of a class beside tile borders against its share everywhere, per axis.

    A seam left by tiling shows as an excess of a class (the thesis saw false
    glowing lines) in the rows or columns on either side of a tile border,
    every ``tile`` pixels.

    Parameters
    ----------
    label : ndarray, shape (H, W)
        Class mask.
    cls : int or str
        Class id or name (``"glowing"``).
    tile : int
        Tile side: borders lie at multiples of it.

    Returns
    -------
    dict
        ``{"columns": (beside, everywhere), "rows": (beside, everywhere)}``:
        fractions (0..1) of the pixels in the columns (rows) at either side of
        a border, and in all columns (rows); ``beside`` is NaN when the image
        holds no border along that axis.
    """
    from ..classes import class_id

    hits = np.asarray(label) == class_id(cls)
    shares = {}
    for name, axis in (("columns", 0), ("rows", 1)):
        profile = hits.mean(axis=axis)
        borders = np.arange(tile, profile.size, tile)
        near = np.concatenate([borders - 1, borders])
        beside = float(profile[near].mean()) if near.size else float("nan")
        shares[name] = (beside, float(profile.mean()))
    return shares
