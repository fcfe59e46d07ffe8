"""Experiments of notebook 05: class-balanced resampling."""

import numpy as np

from ccdnb.classes import CLUSTER


def test_balanced_resampling_moves_class_shares_toward_equal():
    from ccdnb.reproduce.experiments import balanced_indices, class_frequencies

    labels = np.zeros((20, 8, 8), dtype=np.uint8)
    labels[:2, :2, :2] = CLUSTER            # two images hold the only clusters
    chosen = balanced_indices(labels, seed=1)
    assert chosen.shape == (20,)
    assert np.array_equal(chosen, balanced_indices(labels, seed=1))
    assert class_frequencies(labels[chosen])[CLUSTER] > 3 * class_frequencies(labels)[CLUSTER]
