"""One frame of a run: its quality figures per amplifier, and the task that makes them.

:func:`amplifier_statistics` measures one amplifier's image and mask: pedestal
and read noise from the zero-charge peak (:func:`ccdnb.normalize.estimate_background`),
the single-electron rate and its slope along the readout, the share of each
class, hot pixels and columns, glow area, clusters, their rate and summed energy.

:class:`MonitorTask` is what :func:`ccdnb.scaleout.process_files` does with each
file of a run, in this process or on a dask worker: segment it (or read the
masks ``ccdnb predict`` wrote), write ``REPORT/masks/<stem>.masks.fits``, and
write ``REPORT/frames/<stem>.npz`` with the statistics and the frame's bright
and glowing pixels (packed bits) for the run's defect map. Both are written
atomically; the ``.npz`` last, so a frame whose ``.npz`` exists is done.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..classes import BACKGROUND, CLUSTER, GLOWING, HOT_PIXEL, label_groups
from ..errors import CcdnbInputError, one_line
from .reading import finite_number as _number
from .reading import input_type

__all__ = ["MonitorTask", "amplifier_statistics", "dead_amplifier_statistics", "input_type",
           "samples_averaged", "skipper_gain", "frame_path", "masks_dir", "write_frame",
           "read_frame", "EV_PER_PAIR", "RESOLVING_NOISE_E"]

#: Energy to make one electron-hole pair in silicon (eV).
EV_PER_PAIR = 3.77
#: Background pixels above this significance take no part in the single-electron rate
#: (the network's signal floor keeps 5 sigma and more out of the background anyway).
RATE_MAX_SIGMA = 5.0
#: A column is a hot column when at least this share of its rows is hot pixel.
HOT_COLUMN_SHARE = 0.5
#: Header keywords of the time, the exposure and the gain (ADU per electron).
DATE_KEYS = ("DATE-OBS", "DATE_OBS", "DATE-BEG")
EXPOSURE_KEYS = ("EXPTIME", "EXPOSURE", "EXPTIME_S")
GAIN_KEYS = ("GAIN",)


def _header_value(headers, keys):
    for header in headers:
        if header is None:
            continue
        for key in keys:
            if key in header and header[key] not in (None, ""):
                return header[key]
    return None


#: Read noise (electrons) at or below which a frame resolves single electrons.
RESOLVING_NOISE_E = 0.35


def skipper_gain(image, background=None):
    """The gain (ADU/e-) fitted from the single-electron peaks
    (:func:`ccdnb.calibration.fit_skipper_gain`) when the frame resolves electrons, else None."""
    import warnings

    try:
        from ..calibration import fit_skipper_gain
    except ImportError:  # an installation without the calibration module
        return None
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            fitted = fit_skipper_gain(image, background)
    except (ValueError, FloatingPointError, np.linalg.LinAlgError):  # no peaks to fit
        return None
    gain = getattr(fitted, "gain", None)
    return float(gain) if gain is not None and np.isfinite(gain) and gain > 0 else None


def _rate_profile(residual, mask, noise):
    """Per-row mean charge (ADU) of the background pixels and their counts."""
    usable = (mask == BACKGROUND) & np.isfinite(residual) & (residual < RATE_MAX_SIGMA * noise)
    counts = usable.sum(axis=1)
    sums = np.where(usable, residual, 0.0).sum(axis=1, dtype=np.float64)
    return sums, counts


def _exposure(headers) -> tuple:
    """``(exposure_s, exposure_method)``: NaN and the reason when the headers give none."""
    value = _header_value(headers, EXPOSURE_KEYS)
    if value is None:
        return np.nan, f"none (no {', '.join(EXPOSURE_KEYS)} keyword)"
    number = _number(value)
    if number is None or number < 0:
        return np.nan, f"none (exposure {value!r} is not a number >= 0)"
    return number, "header"


def _header_gain(gain, headers) -> tuple:
    """``(gain or None, where it came from or why there is none)``."""
    if gain is not None:
        return float(gain), "gain option"
    value = _header_value(headers, GAIN_KEYS)
    if value is None:
        return None, "no GAIN keyword"
    number = _number(value)
    if number is None or not number > 0:
        return None, f"GAIN {value!r} is not a positive number"
    return number, "GAIN header"


def samples_averaged(header) -> int:
    """Samples per pixel ccdnb averaged on reading (a raw skipper file), else 1."""
    from ..skipper_raw import AVERAGED_KEYWORD

    value = _number(header.get(AVERAGED_KEYWORD)) if header is not None else None
    return int(value) if value is not None and value >= 1 else 1


def _status(image, nonfinite) -> str:
    """``ok``, or what is wrong with the amplifier as a whole (the monitor's report lists it)."""
    if nonfinite == image.size:
        return "dead (no finite pixel)"
    low, high = np.nanmin(image), np.nanmax(image)
    if low == high:
        return f"constant (every finite pixel {float(low):.6g} ADU)"
    return "ok"


def _frame_keys(headers, image_header, height, width) -> dict:
    """The figures of a frame that come from its headers and its shape."""
    exposure_s, exposure_method = _exposure(headers)
    date = _header_value(headers, DATE_KEYS)
    return {"input_type": input_type(image_header),
            "samples_averaged": samples_averaged(image_header),
            "date_obs": str(date).strip() if date is not None else "",
            "exposure_s": exposure_s, "exposure_method": exposure_method,
            "height": int(height), "width": int(width)}


def dead_amplifier_statistics(shape, *, header=None, primary_header=None) -> dict:
    """:func:`amplifier_statistics` of an amplifier without a finite pixel: nothing measured.

    Every figure is NaN, every count of labelled pixels 0 (nothing was
    segmented), ``status`` and the ``*_method`` columns say why.
    """
    height, width = shape
    why = "none (no finite pixel)"
    row = {"status": "dead (no finite pixel)"}
    row.update(_frame_keys((header, primary_header), header, height, width))
    row.update({
        "pedestal_adu": np.nan, "read_noise_adu": np.nan, "background_method": why,
        "gain_adu_per_e": np.nan, "gain_method": why,
        "dark_adu": np.nan, "rate_e_per_pix": np.nan, "rate_slope_per_krow": np.nan,
        "rate_method": why,
        "share_background": np.nan, "share_glowing": np.nan, "share_hot": np.nan,
        "share_cluster": np.nan,
        "hot_pixels": 0, "hot_columns": 0, "glow_pixels": 0, "clusters": 0,
        "clusters_per_mpix": np.nan, "clusters_per_mpix_hour": np.nan,
        "cluster_charge_adu": np.nan, "cluster_energy_kev": np.nan,
        "nonfinite": int(height * width)})
    return row


def amplifier_statistics(image, mask, background, *, header=None, primary_header=None,
                         gain=None) -> dict:
    """The quality figures of one amplifier of one frame.

    Parameters
    ----------
    image : ndarray (H, W)
        Raw ADU.
    mask : ndarray (H, W) uint8
        Its classes.
    background : ccdnb.normalize.Background
        Its pedestal per row and read noise.
    header, primary_header : astropy.io.fits.Header, optional
        Read for ``DATE-OBS``, ``EXPTIME`` and ``GAIN`` (ADU per electron, as
        the simulator and the DAMIC-M files write it), ``BITPIX``/``BZERO``
        (``input_type``) and ccdnb's ``SKPAVG`` (``samples_averaged``).
    gain : float, optional
        ADU per electron; overrides the header.

    Returns
    -------
    dict
        Every value typed (:data:`ccdnb.monitoring.table.COLUMNS`): a number
        that cannot be measured is NaN, with the reason in its ``*_method``.
        ``status`` (``ok``, or ``constant (...)``), ``input_type``,
        ``samples_averaged``, ``date_obs`` ("" without one), ``exposure_s`` and
        ``exposure_method``, ``height``, ``width``, ``pedestal_adu`` (median
        over rows), ``read_noise_adu``, ``background_method``,
        ``gain_adu_per_e`` and ``gain_method``, ``dark_adu`` (mean charge of the
        background pixels above the pedestal), ``rate_e_per_pix`` and
        ``rate_slope_per_krow`` (its change per 1000 rows along the readout, a
        linear fit of the per-row rate), ``rate_method``, ``share_*`` (each
        class), ``hot_pixels``, ``hot_columns``, ``glow_pixels``, ``clusters``,
        ``clusters_per_mpix``, ``clusters_per_mpix_hour`` (NaN without the
        exposure), ``cluster_charge_adu``, ``cluster_energy_kev`` (NaN without
        a gain), ``nonfinite``.
    """
    image = np.asarray(image, np.float32)
    mask = np.asarray(mask)
    height, width = image.shape
    pedestal, noise = background
    pedestal = np.asarray(pedestal, np.float64)
    noise = float(noise)
    headers = (header, primary_header)
    n_nonfinite = int(image.size - np.count_nonzero(np.isfinite(image)))
    if n_nonfinite == image.size:
        return dead_amplifier_statistics(image.shape, header=header,
                                         primary_header=primary_header)
    residual = image - pedestal[:, None].astype(np.float32)
    level = float(np.nanmedian(pedestal)) if np.isfinite(pedestal).any() else np.nan
    status = _status(image, n_nonfinite)
    background_known = np.isfinite(level) and np.isfinite(noise) and noise > 0
    why_not = "no zero-charge peak"
    if status != "ok":  # one level: a pedestal, but no noise and no charge to measure
        level, background_known = float(np.nanmedian(image)), False
        why_not = "constant amplifier: no spread"
    background_method = "zero-charge peak" if background_known else f"none ({why_not})"

    known, source = _header_gain(gain, headers)
    # the peak fit only where electrons can be resolved: a known gain that says the
    # noise is below RESOLVING_NOISE_E electrons, or no gain known at all
    fitted = None
    if background_known and (known is None or noise / known <= RESOLVING_NOISE_E):
        fitted = skipper_gain(image, background)
    if fitted is not None:
        gain_value, gain_method = fitted, "skipper gain fit (single-electron peaks)"
        method = "electron counting (skipper gain fit)"
    elif known is not None:
        gain_value, gain_method, method = known, source, f"mean charge / {source}"
    else:
        gain_value = None
        gain_method = f"none ({source}; the frame resolves no single electrons)"
        method = "none (no gain)"

    if fitted is not None:  # electrons resolved: count them
        charge = np.rint(residual / fitted) * fitted
        sums, counts = _rate_profile(charge, mask, noise)
    else:
        sums, counts = _rate_profile(residual, mask, noise)
    n_used = int(counts.sum()) if background_known else 0
    dark_adu = float(sums.sum() / n_used) if n_used else np.nan
    if not background_known:
        method = f"none ({why_not})"
    elif not n_used:
        method = "none (no background pixel to measure)"
    rows = np.flatnonzero(counts > 0)
    slope_adu = np.nan
    if rows.size >= 3 and n_used:
        per_row = sums[rows] / counts[rows]
        with np.errstate(all="ignore"):
            try:
                slope_adu = float(np.polyfit(rows, per_row, 1,
                                             w=np.sqrt(counts[rows]))[0]) * 1000.0
            except (np.linalg.LinAlgError, ValueError):
                slope_adu = np.nan
    to_e = (lambda v: v / gain_value) if gain_value else (lambda v: np.nan)

    n_pixels = mask.size
    shares = np.bincount(mask.ravel(), minlength=4)[:4] / n_pixels
    hot = mask == HOT_PIXEL
    clusters = mask == CLUSTER
    _, n_clusters = label_groups(clusters)
    charge_adu = float(np.nansum(residual[clusters]))
    row = {"status": status}
    row.update(_frame_keys(headers, header, height, width))
    exposure_s = row["exposure_s"]
    mpix = n_pixels / 1e6
    row.update({
        "pedestal_adu": level,
        "read_noise_adu": noise if background_known else np.nan,
        "background_method": background_method,
        "gain_adu_per_e": float(gain_value) if gain_value else np.nan,
        "gain_method": gain_method,
        "dark_adu": dark_adu,
        "rate_e_per_pix": float(to_e(dark_adu)),
        "rate_slope_per_krow": float(to_e(slope_adu)),
        "rate_method": method,
        "share_background": float(shares[BACKGROUND]),
        "share_glowing": float(shares[GLOWING]),
        "share_hot": float(shares[HOT_PIXEL]),
        "share_cluster": float(shares[CLUSTER]),
        "hot_pixels": int(hot.sum()),
        "hot_columns": int((hot.mean(axis=0) >= HOT_COLUMN_SHARE).sum()),
        "glow_pixels": int(shares[GLOWING] * n_pixels + 0.5),
        "clusters": int(n_clusters),
        "clusters_per_mpix": n_clusters / mpix,
        "clusters_per_mpix_hour": (n_clusters / mpix / (exposure_s / 3600.0)
                                   if exposure_s > 0 else np.nan),
        "cluster_charge_adu": charge_adu,
        "cluster_energy_kev": float(to_e(charge_adu)) * EV_PER_PAIR / 1000.0,
        "nonfinite": n_nonfinite,
    })
    return row


def frame_path(in_path, report_dir) -> Path:
    """``REPORT/frames/<stem>.npz``: a frame's statistics and bright/glowing pixels."""
    from ..fitsio import output_stem

    return Path(report_dir) / "frames" / f"{output_stem(in_path)}.npz"


def masks_dir(report_dir) -> Path:
    return Path(report_dir) / "masks"


def write_frame(path, rows: list, bright: dict, glowing: dict) -> Path:
    """Write a frame's ``.npz`` atomically: statistics rows (JSON), packed pixel maps.

    ``bright`` and ``glowing`` map an amplifier to its pixels; a row whose
    amplifier has none (a dead one) gets no maps.
    """
    from ..io_utils import atomic_path, jsonable

    arrays = {"rows": np.array(json.dumps(jsonable(rows)))}
    for n, row in enumerate(rows):
        amp = row["amplifier"]
        if amp in bright:
            arrays[f"bright_{n}"] = np.packbits(bright[amp])
            arrays[f"glowing_{n}"] = np.packbits(glowing[amp])
            arrays[f"shape_{n}"] = np.array(bright[amp].shape)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)
    return path


def read_frame(path, *, pixels: bool = False):
    """A frame's ``.npz``: its rows, and with ``pixels`` ``{amp: (bright, glowing)}`` too.

    The rows are typed (:func:`ccdnb.monitoring.table.typed_row`): JSON has no
    NaN, so an unknown number comes back as NaN, not None.
    """
    from .table import typed_row

    with np.load(path, allow_pickle=False) as data:
        rows = [typed_row(row) for row in json.loads(str(data["rows"]))]
        if not pixels:
            return rows
        maps = {}
        for n, row in enumerate(rows):
            if f"shape_{n}" not in data:
                continue  # a dead amplifier: nothing segmented
            shape = tuple(data[f"shape_{n}"])
            size = shape[0] * shape[1]
            maps[row["amplifier"]] = (
                np.unpackbits(data[f"bright_{n}"], count=size).reshape(shape).astype(bool),
                np.unpackbits(data[f"glowing_{n}"], count=size).reshape(shape).astype(bool))
        return rows, maps


def _read_masks(in_path, source_dir, contents):
    """The masks ``ccdnb predict`` wrote for ``in_path`` in ``source_dir``, by HDU index."""
    from astropy.io import fits

    from ..fitsio import masks_path

    path = masks_path(in_path, source_dir)
    if not path.is_file():
        raise CcdnbInputError(f"{in_path}: no masks file {path} (run ccdnb predict first, "
                              f"or leave out --masks to segment)")
    try:
        with fits.open(path) as hdul:
            masks = {}
            for image in contents.images:
                data = hdul[image.index].data
                if data is None or data.shape != image.data.shape:
                    raise CcdnbInputError(f"{path}: HDU {image.index} does not hold the "
                                          f"{image.label} mask of {in_path}")
                masks[image.index] = np.asarray(data, np.uint8)
    except CcdnbInputError:
        raise
    except Exception as err:
        raise CcdnbInputError(f"{path}: cannot read the masks ({one_line(err)})") from None
    return masks


class MonitorTask:
    """What :func:`ccdnb.monitor` does with one file (see the module docstring).

    Parameters
    ----------
    source_masks : str or Path, optional
        Read the masks ``ccdnb predict`` wrote there instead of segmenting.
    gain : float, optional
        ADU per electron for every amplifier (else the ``GAIN`` header).
    defects : str or Path, optional
        Settle the masks with this ``defects.fits`` and rewrite them (the
        second pass of ``--rewrite-masks``; needs the masks in ``REPORT/masks``
        or ``source_masks``).
    bright_sigma : float
        Significance of a bright pixel (:func:`ccdnb.defects.bright_pixels`).
    """

    def __init__(self, source_masks=None, gain=None, defects=None, bright_sigma: float = 3.0):
        self.source_masks = None if source_masks is None else Path(source_masks).absolute()
        self.gain = gain
        self.defects = None if defects is None else Path(defects).absolute()
        self.bright_sigma = bright_sigma
        self.needs_model = source_masks is None and defects is None

    def outputs(self, in_path, out_dir) -> list:
        return [frame_path(in_path, out_dir)]

    def read_input(self, in_path):
        """Read ``in_path`` for :meth:`run` (:func:`ccdnb.monitoring.reading.read_run_frame`);
        :func:`ccdnb.scaleout.process_files` calls it ahead, while the frame before is done."""
        from .reading import read_run_frame

        return read_run_frame(in_path)

    def run(self, in_path, out_dir, segmenter, preread, options) -> Path:
        from ..defects import bright_pixels, settle_with_defects
        from ..fitsio import masks_path, write_hdulist
        from ..io_utils import atomic_path
        from ..normalize import estimate_background
        from ..predict import segment_to_file
        from .reading import RunFrame, read_run_frame

        frame = preread if isinstance(preread, RunFrame) else read_run_frame(in_path)
        contents, masks, backgrounds = frame.contents, {}, {}
        if contents is None:
            pass  # every amplifier dead: nothing to segment, no masks file
        elif self.needs_model:
            _, segmented = segment_to_file(in_path, masks_dir(out_dir), model=segmenter,
                                           preread=frame.preread, overwrite=True, **options)
            contents, masks, backgrounds = (segmented.contents, segmented.masks,
                                            segmented.backgrounds)
        else:
            own = masks_dir(out_dir)
            source = self.source_masks or own
            if self.defects is not None and masks_path(in_path, own).is_file():
                source = own  # a rerun of the second pass settles what it wrote
            masks = _read_masks(in_path, source, contents)
            backgrounds = {image.index: estimate_background(image.data)
                           for image in contents.images}
            if self.defects is not None:
                from ..scaleout import worker_defect_map

                defect_map = worker_defect_map(self.defects)
                for image in contents.images:
                    known = defect_map.for_image(_map_label(defect_map, image, contents),
                                                 image.data.shape)
                    masks[image.index] = settle_with_defects(masks[image.index], known)
                _rewrite_masks(in_path, source, masks_dir(out_dir), masks, write_hdulist,
                               atomic_path)

        primary = (contents.hdus[0].header if contents is not None and contents.hdus
                   else frame.primary_header)
        rows, bright, glowing = [], {}, {}
        for image in contents.images if contents is not None else ():
            mask, background = masks[image.index], backgrounds[image.index]
            row = {"file": str(in_path), "amplifier": image.label, "extname": image.label,
                   "hdu": image.index}
            row.update(amplifier_statistics(image.data, mask, background, header=image.header,
                                            primary_header=primary, gain=self.gain))
            row["input_type"] = frame.input_types.get(image.index, row["input_type"])
            rows.append(row)
            bright[image.label] = bright_pixels(mask, image.data, background,
                                                sigma=self.bright_sigma)
            glowing[image.label] = mask == GLOWING
        for amp in frame.dead:
            row = {"file": str(in_path), "amplifier": amp.label, "extname": amp.label,
                   "hdu": amp.index}
            row.update(dead_amplifier_statistics(amp.shape, header=amp.header,
                                                 primary_header=primary))
            row["input_type"] = frame.input_types.get(amp.index, row["input_type"])
            rows.append(row)
        rows.sort(key=lambda r: r["hdu"])
        return write_frame(frame_path(in_path, out_dir), rows, bright, glowing)


def _map_label(defect_map, image, contents):
    """The label to look ``image`` up by in ``defect_map`` (None: the map's only amplifier)."""
    if defect_map.key_for(image.label, image.data.shape) is not None:
        return image.label
    return None if len(contents.images) == 1 else image.label


def _rewrite_masks(in_path, source, target_dir, masks, write_hdulist, atomic_path):
    """Write the settled masks into ``target_dir`` with the headers of the masks in ``source``."""
    from astropy.io import fits

    from ..fitsio import masks_path

    target = masks_path(in_path, target_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    with fits.open(masks_path(in_path, source)) as hdul:
        hdus = []
        for index, hdu in enumerate(hdul):
            copy = hdu.copy()
            if index in masks:
                copy.data = masks[index]
                copy.header["CCDNBDEF"] = (True, "settled with a run defect map (ccdnb.defects)")
            hdus.append(copy)
        with atomic_path(target, suffix=".fits") as tmp:
            write_hdulist(fits.HDUList(hdus), tmp)
