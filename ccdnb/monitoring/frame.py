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
atomically; the ``.npz`` last, so a frame whose ``.npz`` exists is done. The
second pass writes the frame's rows measured again, on the settled masks, to
``REPORT/frames/<stem>.settled.json`` (the ``.npz`` keeps the frame's own: a rerun
finds the outliers and the defect map on the same rows as the first run).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..classes import BACKGROUND, CLUSTER, GLOWING, HOT_PIXEL
from ..errors import CcdnbInputError, one_line
from ..objects.groups import flat_groups
from .reading import finite_number as _number
from .reading import input_type

__all__ = ["MonitorTask", "amplifier_statistics", "dead_amplifier_statistics", "input_type",
           "samples_averaged", "frame_path", "settled_path", "masks_dir", "write_frame",
           "read_frame", "frame_exposure", "settled_statistics", "AmplifierInputs",
           "EV_PER_PAIR", "NOT_YET_MEASURED", "SECOND_PASS_THREADS",
           "second_pass_workers"]

#: Energy to make one electron-hole pair in silicon (eV).
EV_PER_PAIR = 3.77
#: Background pixels above this significance take no part in ``dark_adu``
#: (the network's signal floor keeps 5 sigma and more out of the background anyway).
RATE_MAX_SIGMA = 5.0
#: ``rate_method`` of a row of the first pass: the rate is measured once the run's defect
#: map exists (:class:`MonitorTask`, second pass).
NOT_YET_MEASURED = "measured in the second pass, with the run's defect map"
#: Frames the second pass works on at once in one process (threads; at most the cores):
#: it needs no network, and its NumPy/SciPy work releases the GIL for most of the time.
SECOND_PASS_THREADS = 4
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


def _rate_profile(residual, mask, noise):
    """Per-row summed charge (ADU) of the background pixels below RATE_MAX_SIGMA, and their
    counts (``dark_adu``)."""
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
    from ..skipper.raw import AVERAGED_KEYWORD

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
    from .exposure import no_rate_columns, readout_time

    height, width = shape
    why = "none (no finite pixel)"
    row = {"status": "dead (no finite pixel)"}
    row.update(_frame_keys((header, primary_header), header, height, width))
    row.update({
        "pedestal_adu": np.nan, "read_noise_adu": np.nan, "background_method": why,
        "gain_adu_per_e": np.nan, "gain_method": why, "dark_adu": np.nan,
        "share_background": np.nan, "share_glowing": np.nan, "share_hot": np.nan,
        "share_cluster": np.nan,
        "hot_pixels": 0, "hot_columns": 0, "glow_pixels": 0, "clusters": 0,
        "clusters_single_frame": 0, "masks_method": why,
        "clusters_per_mpix": np.nan, "clusters_per_mpix_hour": np.nan,
        "cluster_charge_adu": np.nan, "cluster_energy_kev": np.nan,
        "nonfinite": int(height * width)})
    row.update(no_rate_columns("no finite pixel",
                               readout_s=readout_time((header, primary_header))))
    return row


def _gain(field, known, source) -> tuple:
    """``(gain or None, gain_method)``: the single-electron field's, else the known one."""
    if field is not None:
        return float(field.gain), "electron comb (single-electron field)"
    if known is not None:
        return known, source
    return None, f"none ({source}; the frame resolves no single electrons)"


def amplifier_statistics(image, mask, background, *, header=None, primary_header=None,
                         gain=None, field=None, masks_method="the frame's own") -> dict:
    """The quality figures of one amplifier of one frame (its clean exposure aside).

    Parameters
    ----------
    image : ndarray (H, W)
        Raw ADU.
    mask : ndarray (H, W) uint8
        Its classes.
    background : ccdnb.normalize.Background
        Its pedestal per row and read noise.
    header, primary_header : astropy.io.fits.Header, optional
        Read for ``DATE-OBS``, ``EXPTIME``, ``GAIN`` (ADU per electron, as the
        simulator and the DAMIC-M files write it) and a readout time
        (:data:`ccdnb.monitoring.exposure.READOUT_KEYS`), ``BITPIX``/``BZERO``
        (``input_type``) and ccdnb's ``SKPAVG`` (``samples_averaged``).
    gain : float, optional
        ADU per electron; overrides the header.
    field : ccdnb.skipper.field.ElectronField, optional
        The single-electron field prediction measured: its gain (from the comb of
        electron peaks) comes before any other.
    masks_method : str
        What ``mask`` is (``masks_method`` column): the frame's own, or settled by the
        run's defect map.

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
        background pixels below 5 sigma above the row pedestal, ADU: a charge
        indicator without a gain, not the single-electron rate), ``share_*``
        (each class), ``hot_pixels``, ``hot_columns``, ``glow_pixels``,
        ``clusters`` (8-connected cluster groups), ``masks_method``,
        ``clusters_per_mpix``, ``clusters_per_mpix_hour`` (NaN without the
        exposure), ``cluster_charge_adu``, ``cluster_energy_kev`` (NaN without
        a gain), ``nonfinite``; and the rate columns
        (:data:`ccdnb.monitoring.exposure.RATE_COLUMNS`) NaN, ``rate_method``
        saying they come in the second pass (:class:`MonitorTask`).
    """
    from .exposure import no_rate_columns, readout_time

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
    gain_value, gain_method = _gain(field, *_header_gain(gain, headers))

    sums, counts = _rate_profile(residual, mask, noise)
    n_used = int(counts.sum()) if background_known else 0
    dark_adu = float(sums.sum() / n_used) if n_used else np.nan

    n_pixels = mask.size
    shares = np.bincount(mask.ravel(), minlength=4)[:4] / n_pixels
    row = {"status": status}
    row.update(_frame_keys(headers, header, height, width))
    row.update({
        "pedestal_adu": level,
        "read_noise_adu": noise if background_known else np.nan,
        "background_method": background_method,
        "gain_adu_per_e": float(gain_value) if gain_value else np.nan,
        "gain_method": gain_method,
        "dark_adu": dark_adu,
        "share_background": float(shares[BACKGROUND]),
        "share_glowing": float(shares[GLOWING]),
        "glow_pixels": int(shares[GLOWING] * n_pixels + 0.5),
        "nonfinite": n_nonfinite,
    })
    row.update(_hot_and_cluster_figures(image, pedestal, mask, exposure_s=row["exposure_s"],
                                        gain=row["gain_adu_per_e"], masks_method=masks_method))
    row["clusters_single_frame"] = row["clusters"]
    if not background_known:
        rate = no_rate_columns(why_not, readout_s=readout_time(headers))
    else:
        rate = no_rate_columns(NOT_YET_MEASURED, readout_s=readout_time(headers))
    row.update(rate)
    return row


def _hot_and_cluster_figures(image, pedestal, mask, *, exposure_s, gain, masks_method) -> dict:
    """The figures of ``mask``'s hot-pixel and cluster pixels: those settling with a defect
    map changes (it moves pixels between the two classes only). Found among those pixels
    alone (a small share of a frame), by flat index."""
    height, width = mask.shape
    kind = np.ascontiguousarray(mask).reshape(-1)
    index = np.flatnonzero((kind == HOT_PIXEL) | (kind == CLUSTER))
    is_hot = kind[index] == HOT_PIXEL
    hot, cluster = index[is_hot], index[~is_hot]
    n_clusters = flat_groups(cluster, width)[1] if cluster.size else 0
    rows = cluster // width
    residual = (np.asarray(image, np.float32).reshape(-1)[cluster]
                - np.asarray(pedestal, np.float64).astype(np.float32)[rows])
    charge_adu = float(np.nansum(residual))
    per_column = np.bincount(hot % width, minlength=width) / height
    mpix = mask.size / 1e6
    return {
        "share_hot": float(hot.size / mask.size),
        "share_cluster": float(cluster.size / mask.size),
        "hot_pixels": int(hot.size),
        "hot_columns": int((per_column >= HOT_COLUMN_SHARE).sum()),
        "clusters": int(n_clusters),
        "masks_method": masks_method,
        "clusters_per_mpix": n_clusters / mpix,
        "clusters_per_mpix_hour": (n_clusters / mpix / (exposure_s / 3600.0)
                                   if exposure_s > 0 else np.nan),
        "cluster_charge_adu": charge_adu,
        "cluster_energy_kev": (charge_adu / gain * EV_PER_PAIR / 1000.0
                               if np.isfinite(gain) and gain > 0 else np.nan),
    }


def settled_statistics(row, image, settled, pedestal, masks_method) -> dict:
    """A first pass's row (:func:`amplifier_statistics`) measured again on the frame's
    classes settled with the run's defect map.

    Settling moves pixels between hot pixel and cluster only
    (:func:`ccdnb.defects.settle_with_defects`): the figures of those two classes are
    measured again (``share_hot``, ``share_cluster``, ``hot_pixels``, ``hot_columns``,
    ``clusters`` and their rates, charge and energy), ``masks_method`` says how the
    mask was settled; every other figure is the row's. ``clusters_single_frame`` keeps
    the frame's own count.
    """
    new = dict(row)
    new.update(_hot_and_cluster_figures(image, pedestal, np.asarray(settled),
                                        exposure_s=row["exposure_s"],
                                        gain=row["gain_adu_per_e"], masks_method=masks_method))
    new["clusters_single_frame"] = row.get("clusters_single_frame", row["clusters"])
    return new


def frame_path(in_path, report_dir) -> Path:
    """``REPORT/frames/<stem>.npz``: a frame's statistics and bright/glowing pixels."""
    from ..io.fits import output_stem

    return Path(report_dir) / "frames" / f"{output_stem(in_path)}.npz"


def settled_path(frame_file) -> Path:
    """``REPORT/frames/<stem>.settled.json`` beside a frame's ``.npz`` (:func:`frame_path`):
    its rows as the second pass measured them."""
    frame_file = Path(frame_file)
    return frame_file.with_name(f"{frame_file.stem}.settled.json")


def masks_dir(report_dir) -> Path:
    return Path(report_dir) / "masks"


@dataclass
class AmplifierInputs:
    """What the second pass needs of one amplifier besides its image (kept in the ``.npz``)."""

    classes: np.ndarray
    """uint8 (H, W): the frame's own classes (never settled)."""
    background: object
    """:class:`ccdnb.normalize.Background`."""
    field: object = None
    """:class:`ccdnb.skipper.field.ElectronField`, or None where none was measured."""


#: zlib level of the ``.npz`` files: masks and packed bits compress about as well at 1 as at
#: numpy's default (6), in a third of the time (the second pass rewrites every frame's file).
NPZ_COMPRESSLEVEL = 1


def _save_npz(path, arrays) -> Path:
    """Write ``arrays`` as an ``.npz`` (what :func:`numpy.load` reads) atomically."""
    import zipfile

    from ..io.atomic import atomic_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".npz") as tmp, zipfile.ZipFile(
            tmp, "w", compression=zipfile.ZIP_DEFLATED,
            compresslevel=NPZ_COMPRESSLEVEL) as archive:
        for name, value in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)
    return path


def _rows_array(rows) -> np.ndarray:
    from ..io.atomic import jsonable

    return np.array(json.dumps(jsonable(rows)))


def write_frame(path, rows: list, bright: dict, glowing: dict, inputs: dict | None = None) -> Path:
    """Write a frame's ``.npz`` atomically: statistics rows (JSON), packed pixel maps.

    ``bright`` and ``glowing`` map an amplifier to its pixels; a row whose
    amplifier has none (a dead one) gets no maps. ``inputs`` maps an amplifier to
    its :class:`AmplifierInputs` (the second pass's).
    """
    Path(settled_path(path)).unlink(missing_ok=True)  # the rows of an earlier second pass
    arrays = {"rows": _rows_array(rows)}
    for n, row in enumerate(rows):
        amp = row["amplifier"]
        if amp in bright:
            arrays[f"bright_{n}"] = np.packbits(bright[amp])
            arrays[f"glowing_{n}"] = np.packbits(glowing[amp])
            arrays[f"shape_{n}"] = np.array(bright[amp].shape)
        if inputs and amp in inputs:
            given = inputs[amp]
            arrays[f"classes_{n}"] = np.asarray(given.classes, np.uint8)
            arrays[f"pedestal_{n}"] = np.asarray(given.background.pedestal, np.float64)
            arrays[f"noise_{n}"] = np.array(float(given.background.noise))
            if given.field is not None:
                f = given.field
                arrays[f"field_{n}"] = np.array([f.gain, f.offset, f.noise_e], np.float64)
                arrays[f"field_rate_{n}"] = np.asarray(f.rate, np.float64)
    return _save_npz(path, arrays)


def _inputs(data, n) -> AmplifierInputs | None:
    """Row ``n``'s :class:`AmplifierInputs` from a loaded ``.npz`` (None: an older report)."""
    from ..normalize import Background
    from ..skipper.field import ElectronField

    if f"classes_{n}" not in data:
        return None
    field = None
    if f"field_{n}" in data:
        gain, offset, noise_e = (float(v) for v in data[f"field_{n}"])
        field = ElectronField(gain=gain, offset=offset, noise_e=noise_e,
                              rate=np.asarray(data[f"field_rate_{n}"], np.float64))
    return AmplifierInputs(classes=np.asarray(data[f"classes_{n}"]),
                           background=Background(np.asarray(data[f"pedestal_{n}"]),
                                                 float(data[f"noise_{n}"])),
                           field=field)


def read_frame(path, *, pixels: bool = False, inputs: bool = False, settled: bool = False):
    """A frame's ``.npz``: its rows; with ``pixels`` also ``{amp: (bright, glowing)}``; with
    ``inputs`` also ``{amp: AmplifierInputs}`` (amplifiers of an older report lack them).

    The rows are the frame's own (first pass); with ``settled``, those the second pass
    measured on the settled masks (:func:`settled_path`) where it has run. They are typed
    (:func:`ccdnb.monitoring.table.typed_row`): JSON has no NaN, so an unknown number
    comes back as NaN, not None.
    """
    from .table import typed_row

    second = settled_path(path)
    with np.load(path, allow_pickle=False) as data:
        text = second.read_text() if settled and second.is_file() else str(data["rows"])
        rows = [typed_row(row) for row in json.loads(text)]
        if not pixels and not inputs:
            return rows
        maps, given = {}, {}
        for n, row in enumerate(rows):
            if f"shape_{n}" not in data:
                continue  # a dead amplifier: nothing segmented
            if pixels:
                shape = tuple(data[f"shape_{n}"])
                size = shape[0] * shape[1]
                maps[row["amplifier"]] = (
                    np.unpackbits(data[f"bright_{n}"], count=size).reshape(shape).astype(bool),
                    np.unpackbits(data[f"glowing_{n}"], count=size).reshape(shape).astype(bool))
            if inputs:
                found = _inputs(data, n)
                if found is not None:
                    given[row["amplifier"]] = found
        out = (rows,) + ((maps,) if pixels else ()) + ((given,) if inputs else ())
        return out


def _write_settled(path, rows) -> Path:
    """Write a frame's rows of the second pass beside its ``.npz`` (atomically; the
    ``.npz``, its arrays compressed, is not written again)."""
    from ..io.atomic import write_text_atomic

    return write_text_atomic(settled_path(path), str(_rows_array(rows)))


def _read_masks(in_path, source_dir, contents):
    """The masks ``ccdnb predict`` wrote for ``in_path`` in ``source_dir``, by HDU index."""
    from astropy.io import fits

    from ..io.fits import masks_path

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


def _measured_inputs(contents, masks) -> dict:
    """HDU index -> :class:`AmplifierInputs` of masks read from disk: the background and the
    single-electron field measured as ``ccdnb predict`` measures them."""
    from ..normalize import estimate_background
    from ..skipper.field import measure_electron_field

    out = {}
    for image in contents.images:
        background = estimate_background(image.data, bias_columns=image.bias_columns)
        out[image.index] = AmplifierInputs(masks[image.index], background,
                                           measure_electron_field(image.data, background))
    return out


def second_pass_workers() -> int:
    """Frames the second pass does at once in one process: :data:`SECOND_PASS_THREADS`, at
    most the machine's cores."""
    return min(SECOND_PASS_THREADS, os.cpu_count() or 1)


class MonitorTask:
    """What :func:`ccdnb.monitor` does with one file (see the module docstring).

    Parameters
    ----------
    source_masks : str or Path, optional
        Read the masks ``ccdnb predict`` wrote there instead of segmenting.
    gain : float, optional
        ADU per electron for every amplifier (else the ``GAIN`` header).
    defects : str or Path, optional
        The run's ``defects.fits``: the second pass (settle, quality mask, rate; no
        network). Without it, the first pass.
    bright_sigma : float
        Significance of a bright pixel (:func:`ccdnb.defects.bright_pixels`).
    rewrite_masks : bool
        In the second pass, write the settled masks to ``REPORT/masks``
        (``--rewrite-masks``).
    quality : dict, optional
        Options of the quality mask (:class:`ccdnb.objects.quality_mask.MaskParameters`).

    Attributes
    ----------
    threads : int
        Files :func:`ccdnb.predict.scaleout.process_files` may do at once in one process:
        up to :data:`SECOND_PASS_THREADS` in the second pass, else 1.
    pool : concurrent.futures.Executor or None
        Worker processes the second pass runs on instead of threads
        (:func:`ccdnb.predict.scaleout.forked_pool`).
    """

    def __init__(self, source_masks=None, gain=None, defects=None, bright_sigma: float = 3.0,
                 rewrite_masks: bool = False, quality=None):
        self.source_masks = None if source_masks is None else Path(source_masks).absolute()
        self.gain = gain
        self.defects = None if defects is None else Path(defects).absolute()
        self.bright_sigma = bright_sigma
        self.rewrite_masks = bool(rewrite_masks)
        self.quality = dict(quality or {})
        self.needs_model = source_masks is None and defects is None
        # the second pass runs on several frames at once (process_files, without workers)
        self.threads = second_pass_workers() if defects is not None else 1
        # worker processes for the second pass (ccdnb.predict.scaleout.forked_pool), set by
        # ccdnb.monitor; never sent to them
        self.pool = None

    def __getstate__(self):
        return {**self.__dict__, "pool": None}

    def outputs(self, in_path, out_dir) -> list:
        path = frame_path(in_path, out_dir)
        return [settled_path(path) if self.defects is not None else path]

    def read_input(self, in_path):
        """Read ``in_path`` for :meth:`run` (:func:`ccdnb.monitoring.reading.read_run_frame`);
        :func:`ccdnb.scaleout.process_files` calls it ahead, while the frame before is done."""
        from .reading import read_run_frame

        return read_run_frame(in_path, provenance=self.defects is None)

    def run(self, in_path, out_dir, segmenter, preread, options):
        """The second pass's ``.settled.json``; in the first pass, the step that writes the
        ``.npz`` (the masks are written when this returns)."""
        from .reading import RunFrame, read_run_frame

        frame = (preread if isinstance(preread, RunFrame)
                 else read_run_frame(in_path, provenance=self.defects is None))
        if self.defects is not None:
            return self._second_pass(in_path, out_dir, frame)
        return self._first_pass(in_path, out_dir, frame, segmenter, options)

    def _first_pass(self, in_path, out_dir, frame, segmenter, options):
        """Segment the frame (or read its masks); return the step that measures it and
        writes its ``.npz`` (:func:`ccdnb.scaleout.process_files` runs that step while the
        network works on the next frame)."""
        from ..predict import segment_to_file

        contents, inputs = frame.contents, {}
        if contents is None:
            pass  # every amplifier dead: nothing to segment, no masks file
        elif self.needs_model:
            _, segmented = segment_to_file(in_path, masks_dir(out_dir), model=segmenter,
                                           preread=frame.preread, overwrite=True, **options)
            contents = segmented.contents
            inputs = {image.index: AmplifierInputs(segmented.masks[image.index],
                                                   segmented.backgrounds[image.index],
                                                   segmented.fields.get(image.index))
                      for image in contents.images}
        else:
            inputs = _measured_inputs(contents, _read_masks(in_path, self.source_masks,
                                                            contents))
        return lambda: self._measure_frame(in_path, out_dir, frame, contents, inputs)

    def _measure_frame(self, in_path, out_dir, frame, contents, inputs) -> Path:
        """The first pass's figures of a segmented frame, written to its ``.npz``."""
        from ..defects import bright_pixels

        primary = _primary_header(frame, contents)
        rows, bright, glowing, kept = [], {}, {}, {}
        for image in contents.images if contents is not None else ():
            given = inputs[image.index]
            row = {"file": str(in_path), "amplifier": image.label, "extname": image.label,
                   "hdu": image.index}
            row.update(amplifier_statistics(image.data, given.classes, given.background,
                                            header=image.header, primary_header=primary,
                                            gain=self.gain, field=given.field))
            row["input_type"] = frame.input_types.get(image.index, row["input_type"])
            rows.append(row)
            bright[image.label] = bright_pixels(given.classes, image.data, given.background,
                                                sigma=self.bright_sigma, field=given.field)
            glowing[image.label] = given.classes == GLOWING
            kept[image.label] = given
        rows.extend(_dead_rows(in_path, frame, primary))
        rows.sort(key=lambda r: r["hdu"])
        return write_frame(frame_path(in_path, out_dir), rows, bright, glowing, kept)

    def _second_pass(self, in_path, out_dir, frame) -> Path:
        from ..predict.scaleout import worker_defect_map
        from .exposure import rate_columns

        path = frame_path(in_path, out_dir)
        rows, stored, images = _second_pass_inputs(in_path, out_dir, frame, self.source_masks)
        defect_map = worker_defect_map(self.defects)
        primary = _primary_header(frame, frame.contents)
        settled, out = {}, []
        for row in rows:
            image, given = images.get(row["hdu"]), stored.get(row["amplifier"])
            if image is None or given is None or not _measurable(row):
                out.append(row)  # dead, constant or without a zero-charge peak: as it was
                continue
            known, how = _known_defects(defect_map, image, frame.contents)
            exposure = _clean_exposure(image, given, self.gain, primary, known, self.quality)
            if _first_pass_columns() <= set(row):
                new = settled_statistics(row, image.data, exposure.mask,
                                         given.background.pedestal, how)
            else:  # a row of an older report, without some columns: measured whole again
                new = dict(row)
                new.update(amplifier_statistics(image.data, exposure.mask, given.background,
                                                header=image.header, primary_header=primary,
                                                gain=self.gain, field=given.field,
                                                masks_method=how))
                new["input_type"] = row["input_type"]
                new["clusters_single_frame"] = row.get("clusters_single_frame",
                                                       row["clusters"])
            new.update(rate_columns(exposure.rate, exposure_s=new["exposure_s"],
                                    readout_s=new["readout_s"]))
            out.append(new)
            settled[image.index] = exposure.mask
        if self.rewrite_masks and settled:
            from ..io.atomic import atomic_path
            from ..io.fits import masks_path, write_hdulist

            own = masks_dir(out_dir)
            source = own if masks_path(in_path, own).is_file() else self.source_masks
            _rewrite_masks(in_path, source, own, settled, write_hdulist, atomic_path)
        return _write_settled(path, out)


def _first_pass_columns() -> set:
    """The columns of a row of the first pass (:func:`amplifier_statistics`)."""
    return set(dead_amplifier_statistics((1, 1)))


def _measurable(row) -> bool:
    """Whether a first-pass row has a rate to measure: a live amplifier with a background."""
    return (row.get("status", "ok") in ("ok", "")
            and np.isfinite(row.get("read_noise_adu", np.nan)))


def _second_pass_inputs(in_path, out_dir, frame, source_masks) -> tuple:
    """``(rows, {amp: AmplifierInputs}, {hdu: image})`` of a monitored frame; an amplifier
    of an older report (no inputs kept) gets its masks from disk, measured again."""
    from ..io.fits import masks_path

    path = frame_path(in_path, out_dir)
    if not path.is_file():
        raise CcdnbInputError(f"{in_path}: not monitored yet (no {path})")
    rows, stored = read_frame(path, inputs=True)
    contents = frame.contents
    images = {image.index: image for image in contents.images} if contents else {}
    missing = [images[r["hdu"]] for r in rows
               if r["amplifier"] not in stored and r["hdu"] in images]
    if missing:
        own = masks_dir(out_dir)
        source = own if masks_path(in_path, own).is_file() or source_masks is None \
            else source_masks
        measured = _measured_inputs(contents, _read_masks(in_path, source, contents))
        stored.update({image.label: measured[image.index] for image in missing})
    return rows, stored, images


def _clean_exposure(image, given: AmplifierInputs, gain, primary, known, quality):
    """:func:`ccdnb.monitoring.exposure.clean_exposure` of one amplifier of a run's frame."""
    from ..predict.files import quality_options_for
    from .exposure import clean_exposure

    known_gain, _ = _header_gain(gain, (image.header, primary))
    return clean_exposure(image.data, given.classes, given.background, field=given.field,
                          gain=known_gain, defects=known, bias_columns=image.bias_columns,
                          options=quality_options_for(image, quality))


def frame_exposure(in_path, report_dir, amplifier: str | None = None, *, gain=None,
                   quality=None):
    """One amplifier's clean exposure as ``ccdnb monitor`` measured it (notebook 07).

    Parameters
    ----------
    in_path : str or Path
        A frame of the run.
    report_dir : str or Path
        The monitor's report folder (its ``frames/`` and ``defects.fits``).
    amplifier : str, optional
        The amplifier's label (EXTNAME); the frame's first live one when None.
    gain, quality : optional
        As given to :func:`ccdnb.monitor`.

    Returns
    -------
    ccdnb.monitoring.exposure.CleanExposure
        The settled classes, the quality bit mask and the single-electron rate.

    Raises
    ------
    CcdnbInputError
        The frame is not in the report, or has no such live amplifier.
    """
    from ..defects import DefectMap
    from .reading import read_run_frame

    frame = read_run_frame(in_path)
    rows, stored, images = _second_pass_inputs(in_path, report_dir, frame, None)
    row = next((r for r in rows if r["amplifier"] in stored and r["hdu"] in images
                and (amplifier is None or r["amplifier"] == amplifier)), None)
    if row is None:
        raise CcdnbInputError(f"{in_path}: no live amplifier {amplifier or ''} in the report "
                              f"{report_dir}".replace("  ", " "))
    image = images[row["hdu"]]
    defect_map = DefectMap.read(Path(report_dir) / "defects.fits")
    known, _ = _known_defects(defect_map, image, frame.contents)
    return _clean_exposure(image, stored[row["amplifier"]], gain,
                           _primary_header(frame, frame.contents), known, quality)


def _known_defects(defect_map, image, contents) -> tuple:
    """``(hot defects or None, masks_method)`` of ``image`` in the run's ``defect_map``."""
    if defect_map.n_frames < defect_map.min_frames:
        return None, (f"the frame's own (a defect map needs {defect_map.min_frames} frames; "
                      f"it has {defect_map.n_frames})")
    try:
        known = defect_map.for_image(_map_label(defect_map, image, contents), image.data.shape)
    except CcdnbInputError as err:
        return None, f"the frame's own ({one_line(err)})"
    return known, f"settled by the run's defect map ({defect_map.n_frames} frames)"


def _primary_header(frame, contents):
    return (contents.hdus[0].header if contents is not None and contents.hdus
            else frame.primary_header)


def _dead_rows(in_path, frame, primary) -> list:
    rows = []
    for amp in frame.dead:
        row = {"file": str(in_path), "amplifier": amp.label, "extname": amp.label,
               "hdu": amp.index}
        row.update(dead_amplifier_statistics(amp.shape, header=amp.header,
                                             primary_header=primary))
        row["input_type"] = frame.input_types.get(amp.index, row["input_type"])
        rows.append(row)
    return rows


def _map_label(defect_map, image, contents):
    """The label to look ``image`` up by in ``defect_map`` (None: the map's only amplifier)."""
    if defect_map.key_for(image.label, image.data.shape) is not None:
        return image.label
    return None if len(contents.images) == 1 else image.label


def _rewrite_masks(in_path, source, target_dir, masks, write_hdulist, atomic_path):
    """Write the settled masks into ``target_dir`` with the headers of the masks in ``source``."""
    from astropy.io import fits

    from ..io.fits import masks_path

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
