"""Seeds: every random step of ccdnb takes one, and derived seeds come from one function."""

from __future__ import annotations

import numpy as np

__all__ = ["derive_seed"]


def derive_seed(*keys) -> int:
    """An independent seed derived from integer ``keys`` (e.g. ``(seed, index)``).

    Made with :class:`numpy.random.SeedSequence` from the keys, so that items
    of a collection (the images of a dataset, the batches of an epoch) draw
    independent streams; fits in 63 bits (FITS headers, JSON). The same keys
    always give the same seed.
    """
    state = np.random.SeedSequence([int(k) for k in keys]).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))
