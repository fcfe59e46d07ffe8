"""Evaluation: pixel reports and metrics files (:mod:`.report`), event
efficiencies per object kind and significance (:mod:`.events`), the classical
seed-and-grow baseline (:mod:`.baseline`) and the detector-invariance test
(:mod:`.invariance`).

Import the submodules directly (``from ccdnb.evaluation import report``).
"""

__all__ = []
