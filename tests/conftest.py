"""Shared test set-up: quiet TensorFlow, a non-interactive matplotlib backend, and the
hypothesis profiles of the property tests."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # the property tests skip themselves
    pass
else:
    # ``ccdnb`` (the default): derandomized, so that every run (and CI) tries the same
    # examples and a failure repeats; no example database in the checkout; no deadline,
    # since a first example pays for imports and model loading. Tests set max_examples
    # so that all of them together take a minute or two on 2 cores. ``thorough``: fresh
    # random examples (HYPOTHESIS_PROFILE=thorough; tests that read it try ten times as
    # many).
    _common = dict(deadline=None, database=None, print_blob=True,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    settings.register_profile("ccdnb", derandomize=True, **_common)
    settings.register_profile("thorough", **_common)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ccdnb"))
