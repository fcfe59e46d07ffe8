"""Run the numbered notebooks headless with papermill (``ccdnb reproduce``).

Each notebook gets ``run_dir``, ``figures_dir``, ``profile`` and its entry of
:data:`ccdnb.reproduce.profiles.PROFILES`; executed copies land in ``run_dir/notebooks``,
never over the sources. A run that succeeds writes ``figures_dir/manifest.json``
(:mod:`ccdnb.reproduce.manifest`: commit, machine, versions, a hash of every
output, times per notebook).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from ..errors import CcdnbInputError
from ..io.atomic import redirect_stderr_fd, write_json_atomic
from .manifest import provenance, write_manifest
from .profiles import NOTEBOOKS, notebook_parameters

__all__ = ["REPO_ROOT", "NotebookFailure", "NotebookRun", "select_notebooks",
           "default_figures_dir", "run_pipeline"]

#: The repository root when ccdnb is installed from a checkout (``pip install -e .``).
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class NotebookFailure(Exception):
    """A notebook raised: which notebook, which cell, and the error."""

    notebook: str
    cell_index: int
    cell_source: str
    error: str
    executed_path: Path

    def __str__(self) -> str:
        first_line = next((ln for ln in self.cell_source.splitlines() if ln.strip()), "")
        return (f"{self.notebook} failed in cell {self.cell_index} ({first_line.strip()!r}): "
                f"{self.error} (executed notebook: {self.executed_path})")


@dataclass
class NotebookRun:
    """One executed notebook and how long it took."""

    notebook: str
    seconds: float
    executed_path: Path


def select_notebooks(only: str | Iterable[str] | None) -> list[str]:
    """Return the notebooks to run, in order, from a selection like ``"04,05"``.

    Parameters
    ----------
    only : str or iterable of str or None
        Notebook numbers (``"04"``) or names (``"04_train"``); ``None`` selects all.

    Returns
    -------
    list of str
    """
    if only is None:
        return list(NOTEBOOKS)
    wanted = [w.strip() for w in (only.split(",") if isinstance(only, str) else only)]
    wanted = [w for w in wanted if w]
    chosen = []
    for w in wanted:
        matches = [nb for nb in NOTEBOOKS if nb == w or nb.split("_", 1)[0] == w.zfill(2)]
        if not matches:
            raise CcdnbInputError(f"--only: no notebook {w!r}; choose from {', '.join(NOTEBOOKS)}")
        chosen.extend(m for m in matches if m not in chosen)
    return [nb for nb in NOTEBOOKS if nb in chosen]


def _cell_of_failure(executed_path: Path, err) -> tuple[int, str]:
    """Locate the failing cell in the *source* numbering (papermill injects one cell)."""
    cell_index, source = err.cell_index, err.source
    try:
        cells = json.loads(executed_path.read_text())["cells"]
        injected = [i for i, c in enumerate(cells)
                    if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
        if injected and cell_index > injected[0]:
            cell_index -= 1
    except (OSError, ValueError, KeyError):
        pass
    return cell_index, source


def default_figures_dir(profile: str) -> Path:
    """``<repo>/figures/<profile>``: each profile keeps its own committed figures."""
    return REPO_ROOT / "figures" / profile


def run_pipeline(profile: str, *, run_dir: str | Path | None = None,
                 figures_dir: str | Path | None = None, only=None,
                 notebooks_dir: str | Path | None = None,
                 log: Callable[[str], None] = print) -> list[NotebookRun]:
    """Execute the notebooks in order with papermill.

    Parameters
    ----------
    profile : str
        ``smoke``, ``quick`` or ``thesis`` (see :mod:`ccdnb.reproduce.profiles`).
    run_dir : path, optional
        Where notebooks exchange data and executed copies land; default
        ``<repo>/runs/<profile>``.
    figures_dir : path, optional
        Where figures and reports go; default ``<repo>/figures/<profile>``, so a
        fast profile never overwrites the figures of a slower one.
    only : str or list of str, optional
        Run only these notebooks (``"04,05"``); they read what earlier ones left in ``run_dir``.
    notebooks_dir : path, optional
        The source notebooks; default ``<repo>/notebooks``.
    log : callable
        Receives one line per notebook with its elapsed time.

    Returns
    -------
    list of NotebookRun
        Also written, with the hashes of the outputs, to ``figures_dir/manifest.json``.

    Raises
    ------
    NotebookFailure
        When a notebook raises; names the notebook and the failing cell.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    notebooks_dir = Path(notebooks_dir) if notebooks_dir else REPO_ROOT / "notebooks"
    if not notebooks_dir.is_dir():
        raise CcdnbInputError(f"{notebooks_dir}: notebooks folder not found "
                              "(ccdnb reproduce runs from a checkout of the repository)")
    run_dir = Path(run_dir) if run_dir else REPO_ROOT / "runs" / profile
    figures_dir = Path(figures_dir) if figures_dir else default_figures_dir(profile)
    run_dir, figures_dir = run_dir.resolve(), figures_dir.resolve()
    executed_dir = run_dir / "notebooks"
    executed_dir.mkdir(parents=True, exist_ok=True)
    figures_dir.mkdir(parents=True, exist_ok=True)
    made_by = provenance(profile, REPO_ROOT)  # before the run: its outputs must not count as edits

    runs = []
    for name in select_notebooks(only):
        source = notebooks_dir / f"{name}.ipynb"
        if not source.is_file():
            raise CcdnbInputError(f"{source}: notebook not found")
        params = dict(run_dir=str(run_dir), figures_dir=str(figures_dir), profile=profile,
                      **notebook_parameters(profile, name))
        executed = executed_dir / f"{name}.ipynb"
        start = time.perf_counter()
        try:
            # Kernels write TensorFlow's start-up notes and Jupyter's warnings to the
            # inherited stderr; keep them in the run directory, not among our lines.
            with open(run_dir / "kernels.log", "ab") as kernel_log, redirect_stderr_fd(kernel_log):
                papermill.execute_notebook(str(source), str(executed), parameters=params,
                                           cwd=str(notebooks_dir), kernel_name="python3",
                                           progress_bar=False, log_output=False)
        except PapermillExecutionError as err:
            index, cell_source = _cell_of_failure(executed, err)
            log(f"{name:<20} FAILED after {time.perf_counter() - start:7.1f} s")
            raise NotebookFailure(name, index, cell_source, f"{err.ename}: {err.evalue}",
                                  executed) from None
        seconds = time.perf_counter() - start
        log(f"{name:<20} {seconds:7.1f} s")
        runs.append(NotebookRun(name, seconds, executed))
    _record_timings(run_dir, profile, runs)
    write_manifest(figures_dir, made_by, {r.notebook: r.seconds for r in runs})
    return runs


def _record_timings(run_dir: Path, profile: str, runs: list[NotebookRun]) -> None:
    """Keep the elapsed times in ``run_dir/timings.json`` (the README quotes them)."""
    path = run_dir / "timings.json"
    try:
        timings = json.loads(path.read_text())
    except (OSError, ValueError):
        timings = {}
    timings["profile"] = profile
    timings.setdefault("seconds", {}).update({r.notebook: round(r.seconds, 1) for r in runs})
    write_json_atomic(path, timings)
