"""Derived seeds."""

import numpy as np

from ccdnb.seeds import derive_seed


def test_derived_seeds_are_reproducible_distinct_and_fit_in_63_bits():
    seeds = [derive_seed(5, i) for i in range(100)]
    assert seeds == [derive_seed(5, i) for i in range(100)]
    assert len(set(seeds)) == 100 and all(0 <= s < 2**63 for s in seeds)
    assert derive_seed(5, 1) != derive_seed(1, 5) != derive_seed(5, 1, 0)
    # the simulation's image seeds: the top 63 bits of SeedSequence([seed, index])'s first word
    state = np.random.SeedSequence([5, 1]).generate_state(1, np.uint64)[0]
    assert derive_seed(5, 1) == int(state) >> 1
