"""``ccdnb.monitor``: a run of frames into trends, a defect map, outliers and an HTML report.

The steps, each on the scale-out of :mod:`ccdnb.scaleout` (this process, local
worker processes or a dask cluster; a progress bar; one bad file costs only
itself; every output written atomically; a rerun into the same report
skips the frames that are done):

1. every frame is segmented (or its ``ccdnb predict`` masks are read) and
   measured (:class:`ccdnb.monitoring.frame.MonitorTask`);
2. the per-frame rows make the run table, ordered by ``DATE-OBS`` (else
   file order), and the frames out of line on their own masks are flagged
   (:func:`ccdnb.monitoring.outliers.find_outliers`);
3. the frames that are not flagged make the defect map (:mod:`ccdnb.defects`);
4. every frame's masks are settled with that map, its quality mask made and
   the single-electron rate measured on the clean pixels, and the frame
   measured again on the settled masks (a second pass over the files, no
   network; :mod:`ccdnb.monitoring.exposure`); with ``rewrite_masks`` the
   settled masks are written to ``masks/``;
5. the frames out of line are flagged again on these figures, and the
   tables, figures and ``report.html`` are written.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CcdnbInputError
from ..model import DEFAULT_MODEL_NAME

__all__ = ["monitor", "MonitorReport", "collect_files", "FITS_PATTERNS"]

#: File names a folder of frames is searched for.
FITS_PATTERNS = ("*.fits", "*.fit", "*.fts", "*.fits.fz", "*.fit.fz", "*.fz")


@dataclass
class MonitorReport:
    """What :func:`monitor` made.

    Attributes
    ----------
    report_dir : Path
    rows : list of dict
        The run table: one row per frame and amplifier (``frames.csv``).
    outliers : list of dict
        Flagged frames and amplifiers with their reasons (``outliers.csv``).
    defect_map : ccdnb.defects.DefectMap
    summary : ccdnb.scaleout.RunSummary
        The files done, skipped (done before) and failed.
    notes : list of ccdnb.monitoring.notes.RunNote
        What the run held that the monitor worked around (frames without
        EXPTIME, dead amplifiers, several geometries, files that failed...),
        one per kind (:func:`ccdnb.monitoring.notes.run_notes`).
    paths : dict
        ``table``, ``table_fits``, ``outliers``, ``defects``, ``html``, ``trends``,
        ``defect_plot``, ``masks`` (the folder of masks files).
    """

    report_dir: Path
    rows: list
    outliers: list
    defect_map: object
    summary: object
    paths: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    def line(self) -> str:
        frames = len({r["file"] for r in self.rows})
        flagged = len({o["frame"] for o in self.outliers})
        defects = sum(int(self.defect_map.hot(a).sum()) for a in self.defect_map.amplifiers)
        noted = f"; {len(self.notes)} notes on what the run holds" if self.notes else ""
        return (f"{frames} frames monitored ({self.summary.line()}); {flagged} flagged as "
                f"outliers; {defects} defect pixels{noted}; report {self.paths.get('html')}")

    def __str__(self) -> str:
        return self.line()


def collect_files(inputs) -> list:
    """The FITS files of ``inputs``: files as given, folders searched (sorted by name)."""
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    files = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted({p for pattern in FITS_PATTERNS for p in path.glob(pattern)
                            if not p.name.endswith(".masks.fits")})
            if not found:
                raise CcdnbInputError(f"{path}: no FITS files in this folder")
            files.extend(str(p) for p in found)
        else:
            files.append(str(item))
    if not files:
        raise CcdnbInputError("no input files")
    return list(dict.fromkeys(files))


def _parse_time(text):
    if not text:
        return None
    try:
        moment = _dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.timezone.utc)


def _order_rows(rows) -> list:
    """Number the frames by time (``DATE-OBS``) when every one has it, else by file order."""
    files = list(dict.fromkeys(r["file"] for r in rows))
    moments = {}
    for row in rows:
        moments.setdefault(row["file"], _parse_time(row.get("date_obs")))
    timed = bool(files) and all(moments[f] is not None for f in files)
    if timed:
        files.sort(key=lambda f: moments[f])
        start = moments[files[0]]
        method = "DATE-OBS"
    else:
        untimed = sum(moments[f] is None for f in files)
        method = f"file order (no usable DATE-OBS on {untimed} of {len(files)} frames)"
    index = {f: i for i, f in enumerate(files)}
    for row in rows:
        row["frame"] = index[row["file"]]
        row["time"] = moments[row["file"]].isoformat() if timed else ""
        row["time_h"] = ((moments[row["file"]] - start).total_seconds() / 3600.0
                         if timed else np.nan)
        row["time_method"] = method
    return sorted(rows, key=lambda r: (r["frame"], r["hdu"]))


def _name_geometries(rows) -> list:
    """An amplifier is its label and its shape: where a run holds one label in several
    shapes, each shape is an amplifier of its own (:func:`ccdnb.defects.geometry_key`)."""
    from ..defects import geometry_key

    shapes: dict = {}
    for row in rows:
        row.setdefault("extname", row["amplifier"])  # a frame written before the column
        shapes.setdefault(row["extname"], set()).add((row["height"], row["width"]))
    for row in rows:
        if len(shapes[row["extname"]]) > 1:
            row["amplifier"] = geometry_key(row["extname"], (row["height"], row["width"]))
    return rows


def _read_rows(summary, report_dir, files, settled: bool = False) -> list:
    """The run table's rows of the files done: the frames' own, or with ``settled`` those of
    the second pass."""
    from .frame import frame_path, read_frame

    rows = []
    for name, result in zip(files, summary.results):
        if result is not None and result.ok:
            for row in read_frame(frame_path(name, report_dir), settled=settled):
                row["file"] = name
                rows.append(row)
    return _order_rows(_name_geometries(rows))


def _defect_map(rows, outliers, report_dir, min_share, min_frames):
    """The defect map of the frames not flagged (all frames of an amplifier when all are)."""
    from ..defects import DefectAccumulator
    from .frame import frame_path, read_frame

    flagged = {(o["file"], o["amplifier"]) for o in outliers}
    amplifier = {(r["file"], r["extname"]): r["amplifier"] for r in rows}
    good_amps = {r["amplifier"] for r in rows if (r["file"], r["amplifier"]) not in flagged}
    accumulator = DefectAccumulator(min_share, min_frames)
    for name in dict.fromkeys(r["file"] for r in rows):
        _, maps = read_frame(frame_path(name, report_dir), pixels=True)
        for label, (bright, glowing) in maps.items():
            amp = amplifier.get((name, label))
            if amp is None:
                continue
            if (name, amp) in flagged and amp in good_amps:
                continue  # a bad frame says nothing about the sensor's defects
            accumulator.add(amp, bright, glowing)
    return accumulator.result()


def _write_tables(report_dir, rows, outliers) -> dict:
    from astropy.table import Table

    from ..io.atomic import atomic_path
    from .table import frame_table, write_frame_table

    paths = {"table": report_dir / "frames.csv", "table_fits": report_dir / "frames.fits",
             "outliers": report_dir / "outliers.csv"}
    write_frame_table(frame_table(rows), paths["table"], paths["table_fits"])
    names = ["frame", "file", "amplifier", "time", "reason"]
    out = Table(rows=[[o[c] for c in names] for o in outliers], names=names) if outliers \
        else Table(names=names, dtype=[int, str, str, str, str])
    with atomic_path(paths["outliers"], suffix=".csv") as tmp:
        out.write(tmp, format="ascii.csv", overwrite=True)
    return paths


def _clean_temporaries(report_dir) -> None:
    """Remove temporary files a killed worker left (``.<name>.<random>.tmp``)."""
    for folder in (report_dir, report_dir / "frames", report_dir / "masks"):
        if folder.is_dir():
            for stale in folder.glob(".*.tmp"):
                stale.unlink(missing_ok=True)


def _draw_defect_map(warm_up, defect_map, report_dir):
    """``defects.png`` drawn on a thread of its own (after the report's warm-up): a future
    of its path."""
    from concurrent.futures import ThreadPoolExecutor

    from .report import plot_defect_map

    def draw():
        for thread in warm_up:
            thread.join()
        return plot_defect_map(defect_map, report_dir / "defects.png")

    drawer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ccdnb-report")
    try:
        return drawer.submit(draw)
    finally:
        drawer.shutdown(wait=False)  # the drawing goes on; its future holds the result


def _import_second_pass() -> None:
    """Import what the second pass runs: in its worker processes as they start, while this
    one loads the network."""
    import astropy.io.fits  # noqa: F401
    import scipy.ndimage  # noqa: F401
    import scipy.special  # noqa: F401

    from ..objects import quality_mask  # noqa: F401
    from ..predict import pipeline  # noqa: F401
    from ..skipper import electron_rate  # noqa: F401
    from .exposure import clean_exposure  # noqa: F401


def monitor(inputs, out_dir, *, model=DEFAULT_MODEL_NAME, masks=None, gain=None,
            rewrite_masks: bool = False, workers: int | None = None, client=None,
            progress: bool = True, callback=None, runtime: str = "auto",
            min_share: float | None = None, min_frames: int | None = None,
            sigmas: float | None = None, tile: int | None = None, margin: int = 32,
            batch_size: int | None = None, quality: dict | None = None) -> MonitorReport:
    """Monitor a run: per-frame figures, trends, a defect map, outliers and an HTML report.

    Parameters
    ----------
    inputs : str, Path or list of them
        FITS files, or folders of them (all ``*.fits``, ``*.fz`` ... inside).
    out_dir : str or Path
        The report folder, created if needed. It receives ``frames.csv`` and
        ``frames.fits`` (the run table), ``outliers.csv``, ``defects.fits``,
        ``trends.png``, ``defects.png``, ``report.html``, and ``masks/`` and
        ``frames/`` (per frame: masks file, statistics). Rerun into the same
        folder, only the frames not done yet are segmented.
    model : str or Path
        The model (see :class:`ccdnb.Segmenter`).
    masks : str or Path, optional
        A folder where ``ccdnb predict`` wrote the frames' masks: read them
        instead of segmenting.
    gain : float, optional
        ADU per electron where a frame resolves no single electrons (else the
        ``GAIN`` header); a frame that resolves them takes the gain of its
        single-electron field (the comb of electron peaks).
    rewrite_masks : bool
        Write every frame's masks settled with the run's defect map to
        ``masks/`` (the table is measured on the settled masks either way).
    workers : int, optional
        Local worker processes; ``client``: a dask cluster. Default: this process.
    progress : bool
        Progress bars on stderr.
    callback : callable, optional
        Called with each :class:`ccdnb.scaleout.FileResult` of the first pass.
    runtime : str
        The engine (see :class:`ccdnb.Segmenter`).
    min_share, min_frames : float, int, optional
        A pixel is a defect when bright in this share of the frames and in at least
        this many (default :data:`ccdnb.defects.DEFAULT_MIN_SHARE`, ``DEFAULT_MIN_FRAMES``).
    sigmas : float, optional
        Outlier threshold in robust standard deviations (default
        :data:`ccdnb.monitoring.outliers.DEFAULT_SIGMAS`).
    tile, margin, batch_size : int, optional
        Tiling, as for ``ccdnb predict``.
    quality : dict, optional
        Options of the quality mask whose clean pixels the single-electron rate is
        measured on (:class:`ccdnb.objects.quality_mask.MaskParameters`; default
        its defaults).

    Returns
    -------
    MonitorReport

    Raises
    ------
    CcdnbInputError
        No input file, an unusable report folder, model or masks folder. A bad
        frame is never raised: it is a failure in ``report.summary``.

    Examples
    --------
    >>> report = ccdnb.monitor("run/", "report", workers=2)   # doctest: +SKIP
    >>> print(report)                                          # doctest: +SKIP
    """
    from ..defects import DEFAULT_MIN_FRAMES, DEFAULT_MIN_SHARE
    from ..predict import check_tiling, ensure_output_dir
    from ..predict.scaleout import (
        _import_distributed,
        forked_pool,
        process_files,
        start_local_cluster,
    )
    from .frame import MonitorTask, masks_dir, second_pass_workers
    from .notes import run_notes
    from .outliers import DEFAULT_SIGMAS, find_outliers
    from .report import plot_defect_map, plot_trends, warm_up_report, write_html

    check_tiling(tile, margin, batch_size)
    if quality is not None:  # a bad option: one error before any work
        from ..objects.quality_mask import MaskParameters

        MaskParameters.of(**quality)
    files = collect_files(inputs)
    if masks is not None and not Path(masks).is_dir():
        raise CcdnbInputError(f"--masks {masks}: not a folder")
    if gain is not None and not gain > 0:
        raise CcdnbInputError(f"gain {gain!r}: must be positive")
    if client is not None and workers is not None:
        raise CcdnbInputError("give either client= or workers=, not both")
    report_dir = ensure_output_dir(out_dir)
    _clean_temporaries(report_dir)
    min_share = DEFAULT_MIN_SHARE if min_share is None else float(min_share)
    min_frames = DEFAULT_MIN_FRAMES if min_frames is None else int(min_frames)
    sigmas = DEFAULT_SIGMAS if sigmas is None else float(sigmas)

    warm_up = []

    def first_pass_done(result):
        # the report's imports, once the network runs (it leaves CPU idle then), unless the
        # second pass runs on worker processes: imports hold the GIL, which the first pass's
        # own Python needs (0.5-1.2 s more on 50 frames), and this process idles then
        if not warm_up and pool is None:
            warm_up.append(warm_up_report())
        if callback is not None:
            callback(result)

    cluster = own_client = pool = defect_plot = None
    if workers is not None:  # one cluster for both passes
        cluster, _ = start_local_cluster(workers)
        client = own_client = _import_distributed().Client(cluster)
    elif client is None:  # the second pass's processes, forked before the network loads
        pool = forked_pool(second_pass_workers(), _import_second_pass)
    try:
        summary = process_files(files, report_dir, MonitorTask(masks, gain, quality=quality),
                                model=model, client=client, progress=progress,
                                callback=first_pass_done, runtime=runtime, skip_done=True,
                                tile=tile, margin=margin, batch_size=batch_size)
        rows = _read_rows(summary, report_dir, files)
        # the frames out of line on their own masks stay out of the defect map
        defect_map = _defect_map(rows, find_outliers(rows, sigmas=sigmas), report_dir,
                                 min_share, min_frames)
        paths = {"defects": defect_map.write(report_dir / "defects.fits"),
                 "masks": masks_dir(report_dir)}
        if rows:  # the second pass: settle, quality mask, rate (always redone: the map moves)
            done = sorted({r["file"] for r in rows}, key=files.index)
            second = MonitorTask(masks, gain, paths["defects"], rewrite_masks=rewrite_masks,
                                 quality=quality)
            second.pool = pool
            if pool is not None:  # this process only waits for the workers: draw meanwhile
                if not warm_up:
                    warm_up.append(warm_up_report())
                defect_plot = _draw_defect_map(warm_up, defect_map, report_dir)
            settle = process_files(done, report_dir, second, client=client, progress=progress,
                                   runtime=runtime)
            for name, error in settle.failures:
                summary.results[files.index(name)].error = error
            rows = _read_rows(summary, report_dir, files, settled=True)
        outliers = find_outliers(rows, sigmas=sigmas)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if own_client is not None:
            own_client.close()
            cluster.close()
    _clean_temporaries(report_dir)
    notes = run_notes(rows, summary.failures, n_files=len(files), min_frames=min_frames)
    for thread in warm_up:
        thread.join()
    paths.update(_write_tables(report_dir, rows, outliers))
    paths["trends"] = plot_trends(rows, outliers, report_dir / "trends.png")
    paths["defect_plot"] = (defect_plot.result() if defect_plot is not None else
                            plot_defect_map(defect_map, report_dir / "defects.png"))
    paths["html"] = write_html(report_dir, rows, outliers, defect_map,
                               failures=summary.failures, notes=notes)
    return MonitorReport(report_dir=report_dir, rows=rows, outliers=outliers,
                         defect_map=defect_map, summary=summary, paths=paths, notes=notes)
