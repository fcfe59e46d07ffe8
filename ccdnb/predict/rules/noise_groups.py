"""No signal invented: a predicted group that holds no charge is background.

The network draws clusters and hot pixels from the shape of charge. On frames far
from its training it sometimes draws them where there is none: a group of a few
pixels whose summed charge is read noise. :func:`release_noise_groups` gives such
groups back to background. A group of ``n`` pixels of pure noise sums to a
significance of ``N(0, n)``; one is released when its sum is below
:data:`NOISE_GROUP_SIGMA` ``* sqrt(n)``, that is when its charge is within two
standard deviations of none. A real object the network finds carries far more:
the faintest it finds, 3-5 sigma at its peak, sum to 4 or more over their pixels.
"""

from __future__ import annotations

import numpy as np

from ...classes import CLUSTER, HOT_PIXEL
from ...normalize import input_significance
from ...objects.groups import release_pixels

__all__ = ["NOISE_GROUP_SIGMA", "release_noise_groups"]

#: A group whose summed significance is below this times the square root of its
#: pixel count holds no charge beyond doubt.
NOISE_GROUP_SIGMA = 2.0


def release_noise_groups(mask, normalised, classes=(CLUSTER, HOT_PIXEL),
                         sigma: float = NOISE_GROUP_SIGMA) -> int:
    """Give background to predicted groups whose charge is read noise.

    Parameters
    ----------
    mask : ndarray of uint8, shape (H, W)
        Class mask; changed in place.
    normalised : array_like, shape (H, W)
        The network's input for the same image (:func:`ccdnb.normalize.normalize_image`):
        ``asinh(z / ASINH_SOFTENING)`` of each pixel's significance ``z``.
    classes : sequence of int
        Classes whose 8-connected groups are tested.
    sigma : float
        A group of ``n`` pixels is released when its summed ``z`` is below
        ``sigma * sqrt(n)``.

    Returns
    -------
    int
        Pixels released to background.
    """
    normalised = np.asarray(normalised)

    def empty(rows, cols, group, n):
        z = input_significance(normalised[rows, cols])
        total = np.bincount(group, weights=z, minlength=n)
        size = np.bincount(group, minlength=n)
        return (total < sigma * np.sqrt(size))[group]

    return release_pixels(mask, classes, empty)
