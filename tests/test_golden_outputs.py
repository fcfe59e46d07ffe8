"""What ``ccdnb predict`` writes does not change unless a change means it to.

tests/data/make_golden.py wrote the masks, probabilities, catalogs and DS9 regions of five
inputs (three real files, a simulated skipper frame with a dense single-electron field and
a simulated DAMIC-like frame). On a CPU with the same numeric instruction-set flags every
byte must come out again; on another CPU the network's last bits differ, so there the masks
must agree but for a handful of pixels and the catalogs keep their cluster counts.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from golden import INPUTS, cpu_flags, golden_record, load_record

#: On another instruction set: at most this share of a mask's pixels may change class.
OTHER_CPU_MASK_SHARE = 1e-3
NUMBER = re.compile(r"-?\d+\.\d+(?:e-?\d+)?")


@pytest.fixture(scope="module")
def golden():
    return load_record()


def _numbers(text):
    return np.array([float(x) for x in NUMBER.findall(text)])


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_predict_writes_what_the_golden_holds(name, golden, tmp_path):
    meta, masks = golden
    expected = meta["inputs"][name]
    got = golden_record(INPUTS[name], tmp_dir=tmp_path)
    same_cpu = cpu_flags() == meta["cpu_flags"]
    keys = {key for (input_name, key) in masks if input_name == name}
    assert set(got["masks"]) == keys
    for key in keys:
        want, have = masks[(name, key)], got["masks"][key]
        assert have.shape == want.shape
        changed = np.count_nonzero(have != want)
        if same_cpu:
            assert changed == 0, f"{name} {key}: {changed} pixels changed class"
        else:
            assert changed <= OTHER_CPU_MASK_SHARE * want.size + 1, (name, key, changed)
    if same_cpu:
        differ = sorted(part for part, digest in expected["digests"].items()
                        if not part.startswith("region:") and got["digests"].get(part) != digest)
        assert not differ, f"{name}: outputs changed: {differ}"
    else:
        assert got["catalog"].count("\n") == pytest.approx(expected["catalog"].count("\n"), abs=2)
    # DS9 texts: the same regions; angles of axis-aligned shapes may print as 0 or 1e-27
    assert sorted(got["regions"]) == sorted(expected["regions"])
    for file_name, text in expected["regions"].items():
        if same_cpu:
            want, have = _numbers(text), _numbers(got["regions"][file_name])
            assert have.shape == want.shape
            np.testing.assert_allclose(have, want, rtol=1e-6, atol=1e-6)
