"""What a run held that the monitor had to work around, one note per kind of problem.

Archives are not simulations: frames lack EXPTIME, DATE-OBS or GAIN, an
amplifier dies or is missing from some files, integer and float files are
mixed, raw skipper files sit among averaged ones, a run holds frames of
several geometries, files are cut short. The monitor goes on through all of
it; :func:`run_notes` says what it found and what it did about it, so that a
reader of the report knows which figures are missing and why. ``ccdnb
monitor`` prints each note on stderr; ``report.html`` lists them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["RunNote", "run_notes"]

#: At most this many file names are written out in a note.
SHOWN = 5


@dataclass
class RunNote:
    """One kind of problem of a run: ``kind`` (a short key), ``text`` (one line), ``files``."""

    kind: str
    text: str
    files: list = field(default_factory=list)

    def __str__(self) -> str:
        return self.text


def _names(files) -> str:
    names = [Path(f).name for f in files]
    shown = ", ".join(names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def _per_file(rows) -> dict:
    frames: dict = {}
    for row in rows:
        frames.setdefault(row["file"], []).append(row)
    return frames


def _is_float_type(name: str) -> bool:
    return name.startswith("float")


def _failed(failures, n_files):
    if failures:
        yield RunNote("failed", f"{len(failures)} of {n_files} files failed and are left out "
                      f"of the report: {_names([f for f, _ in failures])}",
                      [f for f, _ in failures])


def _time(frames):
    untimed = [f for f, rows in frames.items() if not rows[0].get("time")]
    if untimed:
        missing = [f for f, rows in frames.items() if not rows[0].get("date_obs")]
        why = (f"no DATE-OBS on {len(missing)} of {len(frames)} frames ({_names(missing)})"
               if missing else "a DATE-OBS that is not an ISO time")
        yield RunNote("time", f"{why}: frames in file order, trends against the frame "
                      f"number, no hours", missing or untimed)


def _exposure(frames):
    missing = [f for f, rows in frames.items()
               if any(r.get("exposure_method", "header") != "header" for r in rows)]
    if missing:
        yield RunNote("exposure", f"no usable EXPTIME on {len(missing)} of {len(frames)} "
                      f"frames ({_names(missing)}): their clusters per hour are NaN", missing)


def _gain_known(row) -> bool:
    gain = row.get("gain_adu_per_e")
    return gain is not None and gain == gain  # NaN is unknown


def _gain(rows):
    live = [r for r in rows if not str(r.get("status", "ok")).startswith("dead")]
    unknown = [r for r in live if not _gain_known(r)]
    if not unknown:
        return
    files = list(dict.fromkeys(r["file"] for r in unknown))
    if len(unknown) == len(live):
        yield RunNote("gain", "no gain on any frame (no GAIN keyword, no resolved single "
                      "electrons, no --gain): electrons, rates in e- and energies in keV are "
                      "NaN; figures in ADU are kept", files)
        return
    by_amp: dict = {}
    for row in live:
        known, total = by_amp.get(row["amplifier"], (0, 0))
        by_amp[row["amplifier"]] = (known + _gain_known(row), total + 1)
    amps = "; ".join(f"{amp} {known} of {total}" for amp, (known, total) in by_amp.items()
                     if known < total)
    yield RunNote("gain", f"gain known on some frames only ({amps}): the others' rates in e- "
                  f"and energies in keV are NaN ({_names(files)})", files)


def _dead(frames):
    dead_frames = [f for f, rows in frames.items()
                   if all(str(r.get("status", "")).startswith("dead") for r in rows)]
    if dead_frames:
        yield RunNote("dead frame", f"{_count(len(dead_frames), 'frame')} without a finite "
                      f"pixel (all NaN/inf): {_names(dead_frames)}; no figures, flagged as "
                      f"outliers", dead_frames)
    for kind in ("dead", "constant"):
        hit = [(f, r["amplifier"]) for f, rows in frames.items() if f not in dead_frames
               for r in rows if str(r.get("status", "")).startswith(kind)]
        if hit:
            what = ("no finite pixel: no figures" if kind == "dead"
                    else "every pixel on one level: no read noise, no charge to measure")
            listed = ", ".join(f"{Path(f).name} {a}" for f, a in hit[:SHOWN])
            more = f" and {len(hit) - SHOWN} more" if len(hit) > SHOWN else ""
            yield RunNote(f"{kind} amplifier", f"{_count(len(hit), kind + ' amplifier')} "
                          f"({what}; flagged as outliers): {listed}{more}",
                          list(dict.fromkeys(f for f, _ in hit)))


def _missing_amplifiers(frames):
    amps = {}
    for f, rows in frames.items():
        for r in rows:
            amps.setdefault(r.get("extname") or r["amplifier"], set()).add(f)
    lacking = {}
    for amp, having in amps.items():
        for f in frames:
            if f not in having:
                lacking.setdefault(f, []).append(amp)
    if lacking:
        parts = "; ".join(f"{Path(f).name} lacks {', '.join(a)}"
                          for f, a in list(lacking.items())[:SHOWN])
        more = f" and {len(lacking) - SHOWN} more files" if len(lacking) > SHOWN else ""
        yield RunNote("missing amplifier", f"{_count(len(lacking), 'file')} lacking an "
                      f"amplifier that other files have ({parts}{more}): those amplifiers' "
                      f"trends skip them", list(lacking))


def _input_types(frames):
    types: dict = {}
    for f, rows in frames.items():
        for r in rows:
            if r.get("input_type"):
                types.setdefault(r["input_type"], set()).add(f)
    kinds = {_is_float_type(t) for t in types}
    if len(kinds) > 1:
        listing = ", ".join(f"{t} on {len(fs)}" for t, fs in sorted(types.items()))
        integer = [f for t, fs in types.items() if not _is_float_type(t) for f in fs]
        yield RunNote("input types", f"integer and float frames mixed ({listing} frames): "
                      f"all read as float32 ADU with BZERO/BSCALE applied",
                      list(dict.fromkeys(integer)))


def _raw_skipper(frames):
    raw = {f: max(int(r.get("samples_averaged", 1)) for r in rows)
           for f, rows in frames.items()}
    averaged = [f for f, n in raw.items() if n > 1]
    if averaged:
        samples = sorted({raw[f] for f in averaged})
        yield RunNote("raw skipper", f"{_count(len(averaged), 'raw skipper file')} (NSAMP "
                      f"{', '.join(map(str, samples))} samples per pixel) among "
                      f"{len(frames) - len(averaged)} averaged ones: their samples were averaged "
                      f"first, so their read noise is that of the average "
                      f"({_names(averaged)})", averaged)


def _geometries(rows):
    shapes: dict = {}
    for r in rows:
        label = r.get("extname") or r["amplifier"]
        shapes.setdefault(label, {}).setdefault((r["height"], r["width"]), set()).add(r["file"])
    several = {label: by for label, by in shapes.items() if len(by) > 1}
    if several:
        parts = "; ".join(
            f"{label} in {len(by)} shapes (" + ", ".join(
                f"{h}x{w} on {len(fs)} frames" for (h, w), fs in sorted(by.items())) + ")"
            for label, by in several.items())
        yield RunNote("geometry", f"frames of several geometries: {parts}. An amplifier is its "
                      f"EXTNAME and its shape: each shape has its own trend line and defect map "
                      f"('<EXTNAME> <H>x<W>')")


def _short_run(frames, min_frames):
    n = len(frames)
    if 0 < n < max(3, min_frames):
        yield RunNote("short run", f"{'a single frame' if n == 1 else f'only {n} frames'}: "
                      f"no frame is compared with the run (outliers need 3 frames per "
                      f"amplifier) and the defect map needs a pixel bright in {min_frames} "
                      f"frames, so it flags nothing")


def run_notes(rows, failures=(), *, n_files=None, min_frames: int = 3) -> list:
    """What the run held that the monitor worked around.

    Parameters
    ----------
    rows : list of dict
        The run table (:func:`ccdnb.monitoring.monitor`'s ``rows``).
    failures : list of (file, reason)
        The files that could not be read.
    n_files : int, optional
        Files given (default: the frames plus the failures).
    min_frames : int
        The defect map's minimum number of frames.

    Returns
    -------
    list of RunNote
        In a fixed order of kinds: ``failed``, ``time``, ``exposure``, ``gain``,
        ``dead frame``, ``dead amplifier``, ``constant amplifier``, ``missing
        amplifier``, ``input types``, ``raw skipper``, ``geometry``, ``short run``.
        Empty for a clean run.
    """
    frames = _per_file(rows)
    n_files = len(frames) + len(failures) if n_files is None else n_files
    notes = list(_failed(list(failures), n_files))
    for check in (_time(frames), _exposure(frames), _gain(rows), _dead(frames),
                  _missing_amplifiers(frames), _input_types(frames), _raw_skipper(frames),
                  _geometries(rows), _short_run(frames, min_frames)):
        notes.extend(check)
    return notes
