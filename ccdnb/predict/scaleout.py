"""Segment many FITS files: in this process, or spread over a dask.distributed cluster.

:func:`segment_files` writes ``out_dir/<stem>.masks.fits`` for every input with
:func:`ccdnb.predict.predict_file` (the code behind ``ccdnb predict``) and
returns a :class:`RunSummary`: the files written, the files that failed with a
one-line reason each, and timings. Three ways to run:

- serially in this process (``client=None, workers=None``): the model is loaded
  once, then every file is segmented in turn;
- ``workers=N``: a :class:`distributed.LocalCluster` of N worker processes,
  one task at a time each, TensorFlow given ``cores // N`` threads per worker
  (set before TensorFlow starts in the worker);
- ``client=``: an existing cluster (a ``LocalCluster``, a dask-jobqueue
  ``SLURMCluster``/``PBSCluster``/``HTCondorCluster``, a scheduler address).
  The input files and ``out_dir`` must be visible to the workers (a shared
  file system); paths are sent as absolute paths. A worker running k tasks
  at once on c cores gives TensorFlow ``c // k`` threads, unless its
  environment sets ``TF_NUM_INTRAOP_THREADS``.

Every worker process loads the model once, the first time it needs it (and
before any file, on the workers present at the start), and keeps it in the
per-process cache of :func:`ccdnb.api.get_segmenter`: never once per file.
:func:`model_loads` counts those loads in a process.

One bad file never stops the others: its error becomes a failure of the
summary and the other files are written. ``predict_file`` writes through a
temporary name and renames, so a failed file leaves no partial output.

dask is imported only on the distributed paths; the serial path and
``ccdnb predict`` without ``--workers``/``--scheduler`` never import it.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import api
from ..errors import CcdnbInputError, one_line
from ..model import DEFAULT_MODEL_NAME
from .runtime import available_cores, tensorflow_threads  # noqa: F401  (re-exported)
from .tiling import DEFAULT_MARGIN

__all__ = ["segment_files", "process_files", "PredictTask", "RunSummary", "FileResult",
           "start_local_cluster", "tensorflow_threads", "model_loads"]

#: The options of :func:`ccdnb.predict.predict_file` that :func:`segment_files` passes on.
PREDICT_OPTIONS = ("probabilities", "catalog", "overwrite", "tile", "margin", "batch_size",
                   "defects", "gain", "skip_stages", "quality")

_LOCK = threading.Lock()
_LOADS: list = []  # seconds each model load took in this process
_DEFECT_MAPS: dict = {}  # (path, mtime, size) -> DefectMap, read once per process


@dataclass
class FileResult:
    """What became of one input file.

    Attributes
    ----------
    index : int
        Position of the file in the inputs.
    input : str
        The file as it was given.
    output : str or None
        The masks file written, None when the file failed.
    error : str or None
        One line naming the file and what went wrong, None on success.
    seconds : float
        Time spent on the file (reading, segmenting, writing), without model loading.
    pixels : int
        Image pixels segmented (all image HDUs), 0 for a failure.
    worker : str
        ``host:pid`` of the process that did it.
    skipped : bool
        True when its outputs were there already and the file was not redone
        (a rerun of :func:`ccdnb.monitor`).
    """

    index: int
    input: str
    output: str | None = None
    error: str | None = None
    seconds: float = 0.0
    pixels: int = 0
    worker: str = ""
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class RunSummary:
    """The outcome of :func:`segment_files`.

    Attributes
    ----------
    results : list of FileResult
        One per input, in input order.
    wall_s : float
        From the start (cluster start and model loading included) to the last file.
    model_load_s : dict
        Seconds each process (``host:pid``) took to load the model, for the
        processes that loaded it during this run (a warm cache loads nothing).
    n_workers : int
        Worker processes (1 for a serial run).
    distributed : bool
        True when the files went to dask workers.
    """

    results: list = field(default_factory=list)
    wall_s: float = 0.0
    model_load_s: dict = field(default_factory=dict)
    n_workers: int = 1
    distributed: bool = False

    @property
    def written(self) -> list:
        """Paths of the masks files written, in input order."""
        return [Path(r.output) for r in self.results if r.ok]

    @property
    def skipped(self) -> list:
        """Paths of the outputs found done and not redone, in input order."""
        return [Path(r.output) for r in self.results if r.ok and r.skipped]

    @property
    def failures(self) -> list:
        """``(file, reason)`` for every file that failed, in input order."""
        return [(r.input, r.error) for r in self.results if not r.ok]

    @property
    def ok(self) -> bool:
        """True when every file was written."""
        return not self.failures

    @property
    def megapixels(self) -> float:
        return sum(r.pixels for r in self.results) / 1e6

    @property
    def frames_per_minute(self) -> float:
        done = len(self.written) - len(self.skipped)
        return 60.0 * done / self.wall_s if self.wall_s > 0 else float("nan")

    @property
    def mpix_per_s(self) -> float:
        return self.megapixels / self.wall_s if self.wall_s > 0 else float("nan")

    def line(self) -> str:
        """The one-line summary: files written and failed, time, frames/min, Mpix/s."""
        n_failed = len(self.failures)
        n_skipped = len(self.skipped)
        text = f"{len(self.written) - n_skipped} written, {n_failed} failed"
        if n_skipped:
            text += f", {n_skipped} done before"
        if n_failed:
            names = [Path(name).name for name, _ in self.failures]
            shown = ", ".join(names[:5]) + (f" and {n_failed - 5} more" if n_failed > 5 else "")
            text += f" ({shown})"
        text += f"; {self.wall_s:.1f} s " + (
            f"on {self.n_workers} worker{'s' if self.n_workers != 1 else ''}"
            if self.distributed else "in one process")
        if self.written:
            text += f", {self.frames_per_minute:.1f} frames/min, {self.mpix_per_s:.2f} Mpix/s"
        return text

    def __str__(self) -> str:
        return self.line()


# ---------------------------------------------------------------- worker side

def _process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _auto_tf_threads():
    """TensorFlow threads for a worker of someone else's cluster: its cores over its task slots.

    None (TensorFlow decides) outside a dask worker, or when the worker's
    environment sets ``TF_NUM_INTRAOP_THREADS`` itself.
    """
    if "TF_NUM_INTRAOP_THREADS" in os.environ:
        return None
    try:
        from distributed import get_worker

        worker = get_worker()
        slots = worker.state.nthreads
    except (ImportError, ValueError, AttributeError):
        return None
    return max(1, available_cores() // max(1, int(slots)))


def _worker_segmenter(model, tf_threads=None, runtime="auto"):
    """The Segmenter of ``model`` in this process, loaded once.

    Returns ``(segmenter, seconds)``: ``seconds`` is the loading time when this
    call loaded it, else None (it was loaded already).
    """
    with _LOCK:  # threads of one process share one model and load it once
        if isinstance(model, api.Segmenter):
            return model, None
        if tf_threads == "auto":
            tf_threads = _auto_tf_threads()
        cached = {id(s) for s in api._CACHE.values()}
        start = time.perf_counter()
        segmenter = api.get_segmenter(model, runtime=runtime, threads=tf_threads)
        if id(segmenter) in cached:
            return segmenter, None
        seconds = time.perf_counter() - start
        _LOADS.append(seconds)
        return segmenter, seconds


def model_loads() -> int:
    """How many models this process has loaded for :func:`segment_files`."""
    return len(_LOADS)


def _preload(model, tf_threads=None, runtime="auto") -> tuple:
    """Load the model in a worker before any file; ``(process name, load seconds)``."""
    _, seconds = _worker_segmenter(model, tf_threads, runtime)
    return _process_name(), seconds


def _count_pixels(path) -> int:
    """Pixels of the 2-D image HDUs of a FITS file, from its headers."""
    try:
        from astropy.io import fits

        with fits.open(path, lazy_load_hdus=True) as hdul:
            return sum(int(h.header.get("NAXIS1", 0)) * int(h.header.get("NAXIS2", 0))
                       for h in hdul if h.is_image and h.header.get("NAXIS") == 2)
    except Exception:  # only for the rate shown; never a failure
        return 0


class PredictTask:
    """What :func:`segment_files` does with one file: ``ccdnb predict``'s masks file.

    A task is a picklable object (dask sends it to the workers) with
    ``needs_model`` (load a Segmenter first), ``outputs(in_path, out_dir)``
    (the files it writes, to find duplicates and finished files) and
    ``run(in_path, out_dir, segmenter, preread, options) -> Path`` (the main output; or
    a callable that finishes the file and returns it, run apart where it can be:
    :func:`_segment_one`). :mod:`ccdnb.monitoring` has its own.
    """

    needs_model = True

    def outputs(self, in_path, out_dir) -> list:
        from ..io.fits import masks_path

        return [masks_path(in_path, out_dir)]

    def read_input(self, in_path):
        """:func:`ccdnb.predict.read_input`, keeping dead amplifiers (masked, not segmented)."""
        from .files import read_input

        return read_input(in_path, keep_dead=True)

    def run(self, in_path, out_dir, segmenter, preread, options) -> Path:
        from .files import predict_file

        defects = options.get("defects")
        if isinstance(defects, (str, Path)):
            options = dict(options, defects=worker_defect_map(defects))
        return predict_file(in_path, out_dir, model=segmenter, preread=preread, **options)


def worker_defect_map(path):
    """The :class:`ccdnb.defects.DefectMap` in ``path``, read once per process and version."""
    from ..defects import DefectMap

    path = Path(path)
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    except OSError:
        return DefectMap.read(path)  # its one clear error
    with _LOCK:
        if key not in _DEFECT_MAPS:
            _DEFECT_MAPS.clear()
            _DEFECT_MAPS[key] = DefectMap.read(path)
        return _DEFECT_MAPS[key]


def _segment_one(index, in_path, shown, out_dir, shown_out_dir, model, options,
                 tf_threads=None, segmenter=None, preread=None, runtime="auto",
                 task=None, finisher=None):
    """Do ``task`` (default: segment) on one file; every error becomes the result's ``error``.

    ``preread`` is a future of :func:`ccdnb.predict.read_input` of ``in_path``
    (read while the previous file was segmented); its errors are this file's.
    A task's ``run`` may return, instead of its output, the step that finishes the
    file (a callable giving the output): with a ``finisher`` (an executor) that step
    runs there, while this thread goes on to the next file, and the result is a
    future of the :class:`FileResult`; without, it runs here.
    """
    task = task or PredictTask()
    result = FileResult(index=index, input=shown, worker=_process_name())
    start = time.perf_counter()

    def begin():
        nonlocal segmenter
        if segmenter is None and task.needs_model:
            segmenter, _ = _worker_segmenter(model, tf_threads, runtime)
        contents = preread.result() if preread is not None else None
        return task.run(in_path, out_dir, segmenter, contents, options)

    def end(out_path):
        if callable(out_path):  # the task's finishing step
            out_path = _attempt(result, in_path, shown, out_path)
        if result.error is None:
            result.output = str(Path(shown_out_dir) / Path(out_path).relative_to(out_dir))
            result.pixels = _count_pixels(in_path)
        result.seconds = time.perf_counter() - start
        return result

    out_path = _attempt(result, in_path, shown, begin)
    if callable(out_path) and finisher is not None and result.error is None:
        return finisher.submit(end, out_path)
    return end(out_path)


def _attempt(result, in_path, shown, step):
    """``step()``; an error becomes ``result.error`` (one line, the file as shown)."""
    try:
        return step()
    except CcdnbInputError as err:
        result.error = str(err).replace(str(in_path), shown)
    except Exception as err:  # one bad file never stops the others
        result.error = f"{shown}: {type(err).__name__}: {one_line(err)}"
    return None


# ---------------------------------------------------------------- client side

def start_local_cluster(workers: int, *, processes: bool = True, tf_threads: int | None = None):
    """A :class:`distributed.LocalCluster` of ``workers`` single-task workers for segmentation.

    Each worker runs one file at a time (``threads_per_worker=1``) and its
    TensorFlow gets ``tf_threads`` threads (default ``cores // workers``, at
    least 1), set in the worker's environment before TensorFlow starts there.
    With ``processes=False`` the workers are threads of this process (quick to
    start, for tests) and TensorFlow's threads are left as they are.

    Returns
    -------
    (cluster, tf_threads)
    """
    import logging

    from distributed import LocalCluster

    if not processes:  # threads of this process: its TensorFlow is not ours to configure
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=False,
                               dashboard_address=":0", silence_logs=logging.ERROR)
        return cluster, None
    tf_threads = tf_threads or max(1, available_cores() // workers)
    env = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_NUM_INTRAOP_THREADS": str(tf_threads),
           "TF_NUM_INTEROP_THREADS": str(min(2, tf_threads)),
           "OMP_NUM_THREADS": str(tf_threads)}
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, env=env,
                           dashboard_address=":0", silence_logs=logging.ERROR)
    return cluster, tf_threads


def _model_for_workers(model):
    """A model name or absolute path that a worker process can load."""
    if model is None:
        return DEFAULT_MODEL_NAME
    if hasattr(model, "segment_fits") and getattr(model, "path", None) is not None:
        return Path(model.path).absolute()  # a Segmenter loaded from a file
    if isinstance(model, Path):
        return model.absolute()
    if isinstance(model, str):
        from ..model import available_models

        return model if model in available_models() else Path(model).absolute()
    raise CcdnbInputError("a model held in memory cannot be sent to dask workers; "
                          "pass a shipped model name or the path of its .keras file")


def _import_distributed():
    try:
        import distributed
    except ModuleNotFoundError:
        raise CcdnbInputError("running on several workers needs dask.distributed: "
                              "pip install 'ccdnb[distributed]'") from None
    return distributed


def _progress_bar(enabled: bool, total: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="files", unit="file", file=sys.stderr, smoothing=0.1,
                disable=None if enabled else True)


def _check_options(options: dict, known=PREDICT_OPTIONS) -> dict:
    from .files import check_tiling
    from .pipeline import check_stage_names

    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(f"unexpected options {unknown}; known: {', '.join(known)}")
    check_tiling(options.get("tile"), options.get("margin", DEFAULT_MARGIN),
                 options.get("batch_size"))
    check_stage_names(options.get("skip_stages"))
    return dict(options)


def _duplicate_outputs(files, out_dir, task) -> dict:
    """index -> error for inputs whose output another, earlier input already claims."""
    claimed, errors = {}, {}
    for index, name in enumerate(files):
        target = task.outputs(name, out_dir)[0]
        if target in claimed:
            errors[index] = (f"{name}: same output {target} as {files[claimed[target]]}; "
                             f"rename one of them or use another --out-dir")
        else:
            claimed[target] = index
    return errors


def segment_files(files, out_dir, *, model=DEFAULT_MODEL_NAME, client=None,
                  workers: int | None = None, progress: bool = True, callback=None,
                  runtime: str = "auto", **options) -> RunSummary:
    """Segment many FITS files into ``out_dir/<stem>.masks.fits``, serially or on dask workers.

    Parameters
    ----------
    files : iterable of str or Path
        Input FITS files (see :func:`ccdnb.segment_fits`). On a cluster they
        must be readable by the workers under the same path.
    out_dir : str or Path
        Output directory, created if needed (and writable by the workers).
    model : str, Path or Segmenter
        A shipped model name or a ``.keras`` file; in a serial run also a
        loaded :class:`ccdnb.Segmenter` or Keras model. Each worker loads it
        once.
    client : distributed.Client, optional
        Run on this cluster (e.g. ``Client(SLURMCluster(...))``); not closed.
    workers : int, optional
        Start a local cluster of this many worker processes for the run and
        close it afterwards (see :func:`start_local_cluster`). With neither
        ``client`` nor ``workers`` the files are segmented in this process.
    progress : bool
        A progress bar on stderr (files done, Mpix/s, ETA) when it is a
        terminal or a notebook.
    callback : callable, optional
        Called in this process with each :class:`FileResult` as it completes.
    runtime : {"auto", "openvino", "openvino-bf16", "onnx", "keras"}
        The engine (see :class:`ccdnb.Segmenter`).
    **options
        ``probabilities``, ``catalog``, ``overwrite``, ``tile``, ``margin``,
        ``batch_size``, ``defects``, ``gain``, ``skip_stages``, ``quality``: as for
        :func:`ccdnb.predict.predict_file`
        (``defects``: a DefectMap, or on workers the path of a ``defects.fits``,
        read once per worker).

    Returns
    -------
    RunSummary
        ``.written`` (paths), ``.failures`` (file, reason), ``.ok``, timings
        (``wall_s``, ``model_load_s``, ``frames_per_minute``, ``mpix_per_s``);
        ``str(summary)`` is the one-line summary.

    Raises
    ------
    CcdnbInputError
        A bad tiling, an unusable model or output directory (before any file
        is written). A bad input file is never raised: it is a failure in the
        summary, and the other files are still written.

    Examples
    --------
    >>> summary = ccdnb.segment_files(files, "masks", workers=4)   # doctest: +SKIP
    >>> print(summary)                                              # doctest: +SKIP
    120 written, 0 failed; 95.2 s on 4 workers, 75.6 frames/min, 25.38 Mpix/s
    """
    options = _check_options(options)
    defects = options.get("defects")
    if defects is not None and not isinstance(defects, (str, Path)):
        if client is not None or workers is not None:
            raise CcdnbInputError("a defect map held in memory cannot be sent to dask workers; "
                                  "pass the path of its defects.fits")
    elif defects is not None:
        worker_defect_map(defects)  # a bad map fails here, before any output
    return process_files(files, out_dir, PredictTask(), model=model, client=client,
                         workers=workers, progress=progress, callback=callback, runtime=runtime,
                         **options)


def process_files(files, out_dir, task, *, model=DEFAULT_MODEL_NAME, client=None,
                  workers: int | None = None, progress: bool = True, callback=None,
                  runtime: str = "auto", skip_done: bool = False, **options) -> RunSummary:
    """Do ``task`` on every file, serially or on dask workers: :func:`segment_files`'s engine.

    Parameters
    ----------
    files, out_dir, model, client, workers, progress, callback, runtime
        As for :func:`segment_files`.
    task : PredictTask or alike
        What to do with one file (see :class:`PredictTask`).
    skip_done : bool
        A file whose outputs (``task.outputs``) all exist, none older than the
        file, is not redone: its result is ``skipped``, as written.
    **options
        Passed to ``task.run``.

    Returns
    -------
    RunSummary
    """
    from .files import ensure_output_dir

    start = time.perf_counter()
    files = [str(f) for f in files]
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise CcdnbInputError(f"workers {workers!r}: expected a positive integer")
    if client is not None and workers is not None:
        raise CcdnbInputError("give either client= or workers=, not both")
    duplicates = _duplicate_outputs(files, out_dir, task)
    summary = RunSummary(results=[None] * len(files))

    def record(result, bar):
        summary.results[result.index] = result
        bar.update(1)
        done = [r for r in summary.results if r is not None]
        rate = sum(r.pixels for r in done) / 1e6 / max(time.perf_counter() - start, 1e-9)
        n_failed = sum(not r.ok for r in done)
        bar.set_postfix_str(f"{rate:.2f} Mpix/s" + (f", {n_failed} failed" if n_failed else ""),
                            refresh=False)
        if callback is not None:
            callback(result)

    done_before = {}
    if skip_done:
        for index, name in enumerate(files):
            outputs = task.outputs(name, out_dir)
            if index not in duplicates and _done(name, outputs):
                done_before[index] = FileResult(index, name, output=str(outputs[0]),
                                                worker=_process_name(), skipped=True)
    todo = [i for i in range(len(files)) if i not in duplicates and i not in done_before]
    settled = {**duplicates, **done_before}
    if client is None and workers is None:
        segmenter = None
        if task.needs_model and todo:
            segmenter, seconds = _worker_segmenter(model, None, runtime)  # fails before output
            if seconds is not None:
                summary.model_load_s = {_process_name(): seconds}
        out_path = ensure_output_dir(out_dir)
        tile_bar = progress and len(files) == 1
        with _progress_bar(progress and len(files) > 1, len(files)) as bar:
            _record_settled(settled, files, lambda r: record(r, bar))
            _segment_serially(todo, files, out_path, out_dir, segmenter,
                              dict(options, progress=tile_bar), lambda r: record(r, bar), task)
    else:
        _run_distributed(summary, files, todo, settled, out_dir, model, options, client,
                         workers, progress, record, runtime, task)
    summary.wall_s = time.perf_counter() - start
    return summary


def _done(in_path, outputs) -> bool:
    """Every output exists and is not older than the input (a rewritten input is redone)."""
    try:
        made = os.stat(in_path).st_mtime_ns
        return all(os.stat(o).st_mtime_ns >= made for o in outputs)
    except OSError:
        return False


def _record_settled(settled, files, record):
    """Record the files decided before any work: duplicates (errors) and files done before."""
    for index, value in settled.items():
        if isinstance(value, FileResult):
            record(value)
        else:
            record(FileResult(index, files[index], error=value, worker=_process_name()))


def _segment_serially(todo, files, out_path, out_dir, segmenter, options, record, task):
    """Segment ``files[todo]`` in this process, reading each next file during the current one.

    The network runs with its own threads and releases the GIL, so one reader
    thread hides the FITS reading and checksum of every file but the first, and
    one finishing thread the finishing step of a task that has one (the monitor's
    statistics of the frame before; see :func:`_segment_one`). Results are recorded
    in file order, in this thread.
    """
    from concurrent.futures import Future, ThreadPoolExecutor

    from .files import read_input

    threads = int(getattr(task, "threads", 1) or 1)
    if threads > 1 and segmenter is None and len(todo) > 1:
        _process_in_threads(todo, files, out_path, out_dir, options, record, task, threads)
        return
    read = getattr(task, "read_input", read_input)  # a task may read its files its own way
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ccdnb-read") as reader, \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="ccdnb-finish") as finisher:
        upcoming = reader.submit(read, files[todo[0]]) if todo else None
        finishing = None  # the file before, finishing while this one is segmented
        for position, index in enumerate(todo):
            current = upcoming
            if position + 1 < len(todo):
                upcoming = reader.submit(read, files[todo[position + 1]])
            outcome = _segment_one(index, files[index], files[index], out_path, out_dir, None,
                                   options, segmenter=segmenter, preread=current, task=task,
                                   finisher=finisher)
            if finishing is not None:  # at most one file waits to finish
                record(finishing.result())
                finishing = None
            if isinstance(outcome, Future):
                finishing = outcome
            else:
                record(outcome)
        if finishing is not None:
            record(finishing.result())


def _process_in_threads(todo, files, out_path, out_dir, options, record, task, threads):
    """Do a task that needs no network (``task.threads > 1``) on ``threads`` files at once.

    Such work (the monitor's second pass: settling, quality mask, rate) is NumPy and
    SciPy on whole frames, which release the GIL for most of it; in one process it
    would leave every core but one idle. Where the task holds a ``pool`` of worker
    processes (:func:`forked_pool`), it runs there, free of the GIL; a file whose worker
    died is done again here. Results are recorded as files finish.
    """
    from concurrent.futures import ThreadPoolExecutor, as_completed

    def submit(executor, index):
        return executor.submit(_segment_one, index, files[index], files[index], out_path,
                               out_dir, None, options, task=task)

    workers = getattr(task, "pool", None)
    if workers is not None:
        futures = {submit(workers, index): index for index in todo}
        lost = []
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception:  # the worker process died (BrokenProcessPool): redone below
                lost.append(futures[future])
                continue
            record(result)  # _segment_one turns every error of the file into its result
        todo = sorted(lost)
        if not todo:
            return
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ccdnb-task") as pool:
        futures = [submit(pool, index) for index in todo]
        for future in as_completed(futures):
            record(future.result())  # _segment_one turns every error into its result


def _start_worker(parent: int, prepare) -> None:
    import ctypes
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    # a worker waits on a pipe it holds both ends of: it would outlive a parent killed
    # without cleanup (SIGKILL, SIGTERM) forever. Linux ends it with the parent.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # no prctl: the parent's shutdown still ends it
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)
    if prepare is not None:
        prepare()


#: Linux prctl option: the signal a process gets when its parent dies.
_PR_SET_PDEATHSIG = 1


def forked_pool(processes: int, prepare=None):
    """Worker processes forked from this process now, for work that needs no network (the
    monitor's second pass), or None where forking is not safe or brings nothing.

    Threads of one process share the GIL: on 2 cores the second pass ran 1.5 times faster
    on 2 threads, 1.9 times on 2 processes. A fork copies this process as it is, but only
    the thread that forks: a lock another thread holds at that moment (a notebook
    kernel's, a running network's) would never be released in the child. So the pool is
    made only on Linux, while this process runs a single thread, before any network is
    loaded; elsewhere (and with one core) None, and the work runs on threads. Shut it down when done
    (``pool.shutdown()``). ``prepare`` (a function of no argument: imports, say) runs in
    each worker as it starts, while this process goes on.
    """
    if processes < 2 or not sys.platform.startswith("linux") or threading.active_count() > 1:
        return None
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork"),
                               initializer=_start_worker, initargs=(os.getpid(), prepare))
    # the first task forks every worker now (a fork pool starts them all at once), while
    # this process has one thread; not waited for: the workers prepare meanwhile
    pool.submit(int)
    return pool


def _run_distributed(summary, files, todo, settled, out_dir, model, options, client,
                     workers, progress, record, runtime, task):
    from .files import ensure_output_dir

    distributed = _import_distributed()
    worker_model = _model_for_workers(model) if task.needs_model else None
    options = dict(options, progress=False)
    cluster, tf_threads = None, "auto"
    if client is None:
        cluster, tf_threads = start_local_cluster(workers)
        client = distributed.Client(cluster)
    try:
        addresses = list(client.scheduler_info().get("workers", {}))
        summary.n_workers, summary.distributed = max(1, len(addresses)), True
        loads = [client.submit(_preload, worker_model, tf_threads, runtime, workers=[a],
                               allow_other_workers=False, pure=False)
                 for a in (addresses if task.needs_model and todo else [])]
        for future in loads:  # a bad model fails here, before any output
            try:
                name, seconds = future.result()
            except CcdnbInputError:
                raise
            except Exception as err:
                raise CcdnbInputError(f"model {worker_model}: cannot load it on a worker "
                                      f"({type(err).__name__}: {one_line(err)})") from None
            if seconds is not None:
                summary.model_load_s[name] = seconds
        out_path = ensure_output_dir(out_dir).absolute()
        with _progress_bar(progress, len(files)) as bar:
            _record_settled(settled, files, lambda r: record(r, bar))
            futures = {}
            for index in todo:
                in_path = str(Path(files[index]).absolute())
                future = client.submit(_segment_one, index, in_path, files[index], out_path,
                                       str(out_dir), worker_model, options, tf_threads,
                                       runtime=runtime, task=task, pure=False)
                futures[future] = index
            for future in distributed.as_completed(futures):
                index = futures[future]
                try:
                    result = future.result()
                except Exception as err:  # the worker died (KilledWorker) or the task was lost
                    result = FileResult(index, files[index],
                                        error=f"{files[index]}: {type(err).__name__}: "
                                              f"{one_line(err)}")
                record(result, bar)
    finally:
        if cluster is not None:
            client.close()
            cluster.close()
