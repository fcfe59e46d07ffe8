"""Data-quality monitoring of a run of frames: :func:`monitor` (``ccdnb monitor``).

A run knows more than a frame. For every frame and amplifier the monitor
measures pedestal, read noise, the single-electron rate and its slope along
the readout, the share of each class, hot pixels and columns, glow, clusters
and their energy (:mod:`.frame`); it flags the frames out of line with the
run (:mod:`.outliers`), builds the run's defect map (:mod:`ccdnb.defects`) and
writes tables, figures and an HTML report (:mod:`.report`). :mod:`.run` ties
the steps together on :mod:`ccdnb.scaleout`'s many-file engine.

Runs from archives are not clean: a file is read so that a dead amplifier is a
finding, not an error (:mod:`.reading`); every column of the run table has one
type, NaN or empty with the reason where a figure is unknown (:mod:`.table`);
and what the run held that the monitor worked around (missing keywords, dead
or missing amplifiers, mixed types, raw skipper files, several geometries,
files that failed) is said once per kind (:mod:`.notes`).
"""

from .run import MonitorReport, collect_files, monitor

__all__ = ["monitor", "MonitorReport", "collect_files"]
