"""The reproduction: the papermill runner of the six notebooks (:mod:`.runner`),
its profiles (:mod:`.profiles`), the experiments notebook 05 can run
(:mod:`.experiments`) and the run directory the notebooks share (:mod:`.rundir`).
"""

__all__ = []
