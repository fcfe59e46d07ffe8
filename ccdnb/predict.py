"""Segment whole detector images and FITS files with a trained U-Net.

:func:`predict_image` normalises a whole image once (:func:`ccdnb.normalize.normalize_image`,
the preprocessing shared with training), then predicts overlapping tiles in
batches and keeps only their centres (:mod:`ccdnb.tiling`): memory is bounded
by one batch of tiles plus the image-sized outputs, and the result does not
depend on where tile borders fall.

:func:`predict_file` is what ``ccdnb predict`` and notebook 06 call: it reads
every image HDU of a FITS file (:mod:`ccdnb.fitsio`), segments each one and
writes ``<stem>.masks.fits`` (optionally with probabilities and a cluster
catalog, :mod:`ccdnb.catalog`) atomically into an output directory.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np

from .classes import BACKGROUND, N_CLASSES
from .errors import CcdnbInputError
from .fitsio import (atomic_outputs, build_masks_hdulist, masks_path, one_line, output_stem,
                     read_fits_images, write_hdulist)
from .tiling import TileGrid, iter_tile_batches, stitch

#: The pretrained model shipped inside the package.
DEFAULT_MODEL = Path(__file__).parent / "models" / "default.keras"
#: Card keys, in order of preference, that identify a model.
MODEL_ID_KEYS = ("id", "model_id", "sha256", "hash")


def load_model_file(path):
    """Load a Keras model and its card for prediction.

    Parameters
    ----------
    path : str or Path
        A ``.keras`` file; its card (``<name>.card.json``) is read when present.

    Returns
    -------
    model : keras.Model
    card : dict
        The model card (empty when the model has none).

    Raises
    ------
    CcdnbInputError
        When the file is missing or is not a loadable Keras model.
    """
    path = Path(path)
    if not path.is_file():
        raise CcdnbInputError(f"{path}: model file not found")
    from .model import load_model

    try:
        model, card = load_model(path)
    except CcdnbInputError:
        raise
    except Exception as err:  # zip, HDF5, JSON and Keras errors alike
        raise CcdnbInputError(f"{path}: cannot load the model ({one_line(err)})") from None
    return model, dict(card or {})


def load_default_model():
    """Load the pretrained model shipped with ccdnb (``ccdnb/models/default.keras``).

    Returns
    -------
    model : keras.Model
    card : dict

    Raises
    ------
    CcdnbInputError
        When this installation ships no default model.
    """
    if not DEFAULT_MODEL.is_file():
        raise CcdnbInputError(
            f"{DEFAULT_MODEL}: no default model is shipped with this installation; "
            f"pass --model PATH (a .keras file from `ccdnb train` or notebook 04)")
    return load_model_file(DEFAULT_MODEL)


def model_identity(path, card: dict) -> tuple[str, str]:
    """Return ``(name, id)`` recorded in the masks header for a model file.

    The id is the card's ``id`` (or ``model_id``, ``sha256``, ``hash``); without
    one, ``sha256:`` and the first 16 hex digits of the file's SHA-256.
    """
    path = Path(path)
    for key in MODEL_ID_KEYS:
        if card.get(key):
            return path.name, str(card[key])
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return path.name, f"sha256:{digest}"


def _predict_batch(model, tiles: np.ndarray, batch_size: int) -> np.ndarray:
    """Class probabilities (B, T, T, 4) of a batch of normalised tiles (B, T, T)."""
    count = len(tiles)
    if count < batch_size:  # one input shape for every call: no retracing
        tiles = np.concatenate([tiles, np.zeros((batch_size - count,) + tiles.shape[1:],
                                                tiles.dtype)])
    out = np.asarray(model.predict_on_batch(tiles[..., None]), dtype=np.float32)
    if out.ndim != 4 or out.shape[-1] != N_CLASSES:
        raise CcdnbInputError(
            f"the model gives outputs of shape {out.shape[1:]}; expected (H, W, {N_CLASSES})")
    return out[:count]


def predict_image(model, image, *, tile: int = 256, margin: int = 32, batch_size: int = 8,
                  probabilities: bool = False, progress=None):
    """Segment a whole image with overlapping tiles.

    Parameters
    ----------
    model : keras.Model
        Input (B, H, W, 1) normalised image, output (B, H, W, 4) class probabilities.
    image : array_like, shape (H, W)
        Raw ADU, any size; NaN/inf pixels allowed (their class is background).
    tile : int
        Side of the square tiles fed to the model (a multiple of ``2**depth``
        of the U-Net).
    margin : int
        Pixels discarded on each side of a tile when stitching; keep it above
        the model's receptive-field radius so no seam appears.
    batch_size : int
        Tiles per model call; memory grows with it.
    probabilities : bool
        Also return the stitched class probabilities.
    progress : callable, optional
        Called as ``progress(tiles_done, tiles_total)`` after every batch.

    Returns
    -------
    mask : ndarray, shape (H, W), uint8
        Class per pixel (0 background, 1 glowing, 2 hot pixel, 3 cluster).
    probs : ndarray, shape (H, W, 4), float32
        Only with ``probabilities=True``: ``(mask, probs)`` is returned.
    """
    from .normalize import normalize_image

    image = np.asarray(image)
    if image.ndim != 2 or image.size == 0:
        raise CcdnbInputError(f"expected a non-empty 2-D image, got shape {image.shape}")
    grid = TileGrid.for_image(image.shape, tile, margin)
    padded = grid.pad(normalize_image(image))
    mask = np.zeros(image.shape, dtype=np.uint8)
    probs = np.zeros(image.shape + (N_CLASSES,), dtype=np.float32) if probabilities else None
    done = 0
    for origins, tiles in iter_tile_batches(padded, grid, batch_size):
        try:
            out = _predict_batch(model, tiles, batch_size)
        except CcdnbInputError:
            raise
        except Exception as err:
            if done:  # the model did work on earlier batches: not a shape problem
                raise
            raise CcdnbInputError(
                f"the model cannot segment {tile}x{tile} tiles ({one_line(err)}); "
                f"use a tile size that is a multiple of the U-Net's 2**depth") from None
        stitch(mask, grid, origins, np.argmax(out, axis=-1).astype(np.uint8))
        if probs is not None:
            stitch(probs, grid, origins, out)
        done += len(origins)
        if progress is not None:
            progress(done, len(grid))
    nonfinite = ~np.isfinite(image)
    if nonfinite.any():  # no measurement there: background, with certainty
        mask[nonfinite] = BACKGROUND
        if probs is not None:
            probs[nonfinite] = np.eye(N_CLASSES, dtype=np.float32)[BACKGROUND]
    return (mask, probs) if probabilities else mask


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


def predict_file(in_path, out_dir, *, model=None, model_name=None, model_id=None,
                 probabilities: bool = False, catalog: bool = False, overwrite: bool = False,
                 tile: int = 256, margin: int = 32, batch_size: int = 8,
                 progress: bool = True) -> Path:
    """Segment every image HDU of a FITS file and write ``out_dir/<stem>.masks.fits``.

    Parameters
    ----------
    in_path : str or Path
        The input FITS file (see :func:`ccdnb.fitsio.read_fits_images`); never modified.
    out_dir : str or Path
        Output directory, created if needed.
    model : keras.Model, str or Path, optional
        A loaded model, a ``.keras`` file, or None for the shipped default model.
    model_name, model_id : str, optional
        Recorded in the headers (``CCDNBMOD``, ``CCDNBMID``); derived from the
        file and its card when ``model`` is a path or None.
    probabilities : bool
        Add one ``<EXTNAME>_PROB`` cube (4, H, W) float32 per image.
    catalog : bool
        Add the cluster catalog (:mod:`ccdnb.catalog`) as a ``CATALOG`` table in
        the masks file and as ``out_dir/<stem>.catalog.csv``.
    overwrite : bool
        Replace existing outputs; without it an existing output is an error.
    tile, margin, batch_size : int
        Tiling (see :func:`predict_image`).
    progress : bool
        Show a tqdm bar over the tiles on stderr when it is a terminal.

    Returns
    -------
    Path
        The masks file. The layout mirrors the input's HDUs (see :mod:`ccdnb.fitsio`).

    Raises
    ------
    CcdnbInputError
        Bad input file, existing output without ``overwrite``, unusable model
        or unwritable output directory: nothing is written then.
    """
    out_path = masks_path(in_path, out_dir)
    targets = [out_path] + ([catalog_path(in_path, out_dir)] if catalog else [])
    if not overwrite:
        for target in targets:
            if target.exists():
                raise CcdnbInputError(
                    f"{in_path}: output {target} exists; pass --overwrite to replace it")
    contents = read_fits_images(in_path)
    if model is None or isinstance(model, (str, Path)):
        model_path = DEFAULT_MODEL if model is None else Path(model)
        model, card = load_default_model() if model is None else load_model_file(model_path)
        derived_name, derived_id = model_identity(model_path, card)
        model_name, model_id = model_name or derived_name, model_id or derived_id
    model_name = model_name or getattr(model, "name", None)

    total = sum(len(TileGrid.for_image(image.data.shape, tile, margin))
                for image in contents.images)
    masks, probs = {}, {}
    with _tile_progress(progress, Path(in_path).name, total) as bar:
        for image in contents.images:
            start = bar.n
            result = predict_image(model, image.data, tile=tile, margin=margin,
                                   batch_size=batch_size, probabilities=probabilities,
                                   progress=lambda done, _total: bar.update(start + done - bar.n))
            masks[image.index], probs[image.index] = result if probabilities else (result, None)

    table = None
    if catalog:
        from .catalog import build_catalog

        table = build_catalog(contents.images, masks)
    hdulist = build_masks_hdulist(contents, masks, model_name=model_name, model_id=model_id,
                                  probabilities=probs if probabilities else None, catalog=table)
    ensure_output_dir(out_dir)
    try:
        with atomic_outputs(*targets) as tmp_paths:
            write_hdulist(hdulist, tmp_paths[0])
            if table is not None:
                table.write(tmp_paths[1], format="ascii.csv", overwrite=True)
    except OSError as err:
        raise CcdnbInputError(
            f"{in_path}: cannot write {out_path} ({err.strerror or one_line(err)})") from None
    return out_path
