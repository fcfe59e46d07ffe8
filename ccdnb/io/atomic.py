"""Atomic file writing: outputs appear complete or not at all.

Every writer in ccdnb writes to a temporary name in the destination folder and
renames it over the final name (:func:`os.replace`, atomic on one file system)
only when writing succeeded; on any failure the temporary file is removed. A
crash or a full disk therefore never leaves a half-written masks file, model,
card or statistics file behind.

:func:`atomic_outputs` handles several related files at once (a masks file and
its CSV catalog appear together); :func:`atomic_path` is the one-file case,
:func:`write_text_atomic` writes a text file and :func:`write_json_atomic` a
JSON file. :func:`jsonable` turns numpy values into plain Python (the one JSON
sanitiser: metadata of simulated images, model cards, metrics).

:func:`redirect_stderr_fd` points file descriptor 2 at a file for a while.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["atomic_outputs", "atomic_path", "write_text_atomic", "jsonable", "write_json_atomic",
           "redirect_stderr_fd"]


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_outputs(*final_paths):
    """Yield temporary paths beside ``final_paths``; rename them all over the finals on success.

    Parameters
    ----------
    *final_paths : str or Path
        Where the outputs must appear. Their folders must exist.

    Yields
    ------
    list of Path
        One temporary path per final path, in the same folder (an empty file
        the caller overwrites). A temporary name ends in ``.tmp``; writers that
        pick a format from the suffix must be told the format.

    Notes
    -----
    On any exception the temporary files are removed and nothing appears at
    the final paths. The renamed files get ordinary permissions (``0666`` less
    the umask), not the ``0600`` of :func:`tempfile.mkstemp`.
    """
    final_paths = [Path(p) for p in final_paths]
    tmp_paths = []
    try:
        for final_path in final_paths:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{final_path.name}.", suffix=".tmp",
                                            dir=final_path.parent)
            os.close(fd)
            tmp_paths.append(Path(tmp_name))
        yield tmp_paths
        mode = 0o666 & ~_current_umask()
        for tmp_path, final_path in zip(tmp_paths, final_paths):
            os.chmod(tmp_path, mode)
            os.replace(tmp_path, final_path)
    finally:
        for tmp_path in tmp_paths:
            tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(final_path, *, suffix: str = ".tmp", make_parents: bool = False):
    """Yield one temporary path beside ``final_path``; rename it over ``final_path`` on success.

    Parameters
    ----------
    final_path : str or Path
    suffix : str
        Suffix of the temporary name, for writers that choose a format from it
        (Keras needs ``.keras``).
    make_parents : bool
        Create the destination folder first.

    Yields
    ------
    Path
        The temporary path; it does not exist yet (writers that refuse to
        overwrite are fine).
    """
    final_path = Path(final_path)
    if make_parents:
        final_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final_path.name}.", suffix=suffix,
                                    dir=final_path.parent)
    os.close(fd)
    tmp_path = Path(tmp_name)
    tmp_path.unlink()
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_current_umask())
        os.replace(tmp_path, final_path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_text_atomic(path, text: str, *, make_parents: bool = True) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8); return ``path`` as a Path."""
    path = Path(path)
    with atomic_path(path, make_parents=make_parents) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def jsonable(value):
    """``value`` with plain Python types throughout, ready for strict JSON.

    Dicts (keys as strings), lists and tuples are converted recursively; numpy
    arrays become lists, numpy scalars Python scalars, and NaN or infinite
    floats ``None`` (JSON has no NaN).
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy arrays, scalars
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json_atomic(path, value, *, make_parents: bool = True, **dumps_options) -> Path:
    """Write :func:`jsonable` of ``value`` as strict JSON (indent 2) atomically; return the path.

    ``dumps_options`` go to :func:`json.dumps` (e.g. ``sort_keys=True``).
    """
    text = json.dumps(jsonable(value), indent=2, allow_nan=False, **dumps_options) + "\n"
    return write_text_atomic(path, text, make_parents=make_parents)


@contextlib.contextmanager
def redirect_stderr_fd(file):
    """Point file descriptor 2 (inherited by child processes) at ``file`` for a while.

    C++ libraries and subprocesses write there directly, past ``sys.stderr``
    (TensorFlow's start-up notes, the notebook kernels of ``ccdnb reproduce``).
    """
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(file.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
