"""Simulation presets: named sets of drawing rules for every image parameter.

A preset maps parameter names to rules. A rule is either a plain value (used
as is; tuples are ranges that the object placement draws from per object) or
one of :class:`Uniform`, :class:`LogUniform`, :class:`Choice`,
:class:`Derived`, drawn once per image in the order of :data:`BASE`. Keyword
overrides of :func:`ccdnb.simulation.simulate_image` replace any rule with a
value or another rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import CcdnbInputError

__all__ = ["Uniform", "LogUniform", "Choice", "Derived", "BASE", "THESIS", "THESIS_BALANCED",
           "BALANCED", "CLUSTERS_ONLY", "mean_dark_rate", "RANDOM", "DAMIC", "FE55",
           "ISOLATED_HITS", "GLOW_EVENTS", "SKIPPER", "SKIPPER_DENSE", "DENSE", "PRESETS",
           "DESCRIPTIONS", "draw_parameters"]


@dataclass(frozen=True)
class Uniform:
    """A float drawn uniformly in [lo, hi)."""

    lo: float
    hi: float

    def draw(self, rng, drawn):
        return float(rng.uniform(self.lo, self.hi))


@dataclass(frozen=True)
class LogUniform:
    """A float whose logarithm is uniform in [log lo, log hi)."""

    lo: float
    hi: float

    def draw(self, rng, drawn):
        return float(math.exp(rng.uniform(math.log(self.lo), math.log(self.hi))))


@dataclass(frozen=True)
class Choice:
    """One of ``options``, with probabilities ``p`` (uniform when None)."""

    options: tuple
    p: tuple | None = None

    def draw(self, rng, drawn):
        value = self.options[rng.choice(len(self.options), p=self.p)]
        return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True)
class Derived:
    """A value computed from the generator and the parameters drawn before it."""

    function: Callable[[Any, dict], Any]

    def draw(self, rng, drawn):
        return self.function(rng, drawn)


def _is_rule(value):
    return isinstance(value, (Uniform, LogUniform, Choice, Derived))


#: Every parameter with its default rule, in drawing order (a Derived rule may
#: use any parameter above it). Counts (n_*): a float is the expected number per
#: 256x256 pixels (Poisson); an int is the exact number in the image.
BASE: dict[str, Any] = {
    "regime": "conventional",           # "conventional" or "skipper"
    "pedestal_adu": 1000.0,
    "gain_adu_per_e": 10.0,
    "read_noise_adu": 20.0,
    "dark_rise": 1.0,                   # single-electron rate at the end of the readout
                                        # over its rate at the start (1: flat)
    "dark_current_e": 0.0,              # mean electrons per pixel (dark current plus charge
                                        # collected during readout): background, any rate
    "readout_side": "left",             # column side of the amplifier: sets the readout order
    "prescan_columns": 0,               # columns read before the image's (amplifier side) and
    "overscan_columns": 0,              # after them: the row's baseline and noise, no charge
    "saturation_adu": 65535.0,
    "row_drift": False,                 # per-row pedestal drift (random walk over rows)
    "row_drift_adu": 0.0,               # its rms
    "defect_shot_noise": True,          # glow and hot-pixel charge is Poisson-fluctuated
    "layout": "anywhere",               # or "regions": glow | hot pixels | clusters by column
    "regions": ((0.0, 0.25), (0.3, 0.55), (0.6, 1.0)),  # column fractions of the three
    "glow_fraction": 0.5,               # probability that an image has glow
    "glow_kinds": ("band", "edge"),
    "glow_edges": ("left", "right", "top", "bottom"),
    "glow_level_adu": None,             # fixed glow amplitude; None: from glow_amplitude_sigma
    "glow_amplitude_sigma": (2.0, 100.0),   # log-uniform range, in read-noise sigma
    "glow_width_fraction": (0.05, 0.3),     # labelled width over the image extent
    "glow_offset_probability": 0.3,     # the glow starts some columns/rows in (prescan)
    "hot_level_adu": None,              # one level for every hot pixel; None: drawn each
    "hot_min_sigma": 3.0,               # hot amplitudes log-uniform from this to saturation
    "hot_distinct_columns": False,      # vertical defects never share a column
    "n_hot_pixels": 5.0,
    "n_hot_segments": 3.0,
    "n_hot_columns": 0.5,
    "n_hot_streaks": 0.5,
    "hot_segment_fraction": (0.02, 0.3),    # segment length over the image height
    "hot_streak_fraction": (0.02, 0.2),     # streak length over the image width
    "n_diffuse": 30.0,
    "n_worms": 3.0,
    "n_muons": 1.0,
    "n_alphas": 0.1,
    "diffuse_kev": (0.05, 20.0),        # log-uniform energy ranges
    "worm_kev": (5.0, 2000.0),          # electrons (Compton, beta): up to 2 MeV, where
                                        # most leave the 675 um of silicon
    "alpha_kev": (3000.0, 8000.0),
    "alpha_plasma_px": (1.5, 4.0),      # extra spread of the dense alpha charge cloud
    "cluster_max_adu": None,            # cap on a pixel's cluster signal
    "n_hits": 0.0,                      # isolated 1-2 pixel deposits (kind "hit")
    "hit_sigma": (10.0, 1000.0),        # their peak, log-uniform in read-noise sigma
    "n_xrays": 0.0,                     # Fe-55 X-rays, 5.9 / 6.49 keV (kind "xray")
    "xray_side": "back",                # illuminated side: "back" (most diffusion) or "front"
    "n_serial": 0.0,                    # serial-register hits, charge in one row (kind "serial")
    "serial_kev": (1.0, 100.0),         # log-uniform energy range
    "serial_length_px": (3.0, 50.0),    # uniform length range
    "n_lowe": 0.0,                      # low-energy point events (kind "lowe")
    "lowe_electrons": (2.0, 50.0),      # log-uniform charge range (electrons)
    "n_long_tracks": 0.0,               # long straight muon tracks at any angle (kind "track")
    "long_track_px": (50.0, 4096.0),    # log-uniform projected length, capped at the image side
    "events_on_defects": 0.0,           # share of clusters placed on glow or across hot lines
    "baseline_step_probability": 0.0,   # chance of a baseline step along the rows
    "baseline_step_sigma": (0.5, 3.0),  # its size range, in read-noise sigma (either sign)
    "baseline_step_decay_probability": 0.5,  # chance that the step decays back
    "baseline_step_decay_px": (5.0, 60.0),   # its decay length range (columns)
}

_ADC_RANGE = 65535.0

# The thesis's detector (its section 3.1): pedestal 8800 ADU, noise 60/sqrt(10)
# ADU, glow +1400-1500 ADU, hot lines +2200 ADU, clusters below the hot level.
_THESIS_DETECTOR = {
    "pedestal_adu": 8800.0,
    "gain_adu_per_e": 10.0,
    "read_noise_adu": 60.0 / math.sqrt(10.0),
    "defect_shot_noise": False,         # flat levels, as the thesis drew them
    "layout": "regions",
    "glow_kinds": ("band",),
    "glow_edges": ("left",),
    "glow_level_adu": Uniform(1400.0, 1500.0),
    "hot_level_adu": 2200.0,
    "hot_distinct_columns": True,
    "n_hot_pixels": 0.0,
    "n_alphas": 0.0,
    "diffuse_kev": (0.05, 10.0),
    "worm_kev": (5.0, 300.0),           # the thesis's worms: short electron tracks
    # Cluster pixels stay below the hot level so that intensity thresholds are exact.
    "cluster_max_adu": Derived(lambda rng, p: None if p["hot_level_adu"] is None
                               else p["hot_level_adu"] - 2.0 * p["read_noise_adu"]),
}

#: The thesis's test layout at its Table 1 density (92.1 / 6.8 / 0.4 / 0.7 % of
#: pixels): glow on the left in 60 % of images, sometimes after a prescan; thin
#: vertical and horizontal hot lines and sparse clusters on the right.
THESIS = {
    **_THESIS_DETECTOR,
    "regions": ((0.0, 0.3), (0.32, 1.0), (0.32, 1.0)),
    "glow_fraction": 0.6,
    "glow_width_fraction": (20 / 256, 40 / 256),
    "glow_offset_probability": 0.3,
    "n_hot_segments": Uniform(1.5, 4.5),
    "n_hot_columns": 0.0,
    "n_hot_streaks": Uniform(1.0, 3.0),
    "hot_segment_fraction": (0.05, 0.4),
    "hot_streak_fraction": (0.05, 0.3),
    "n_diffuse": Uniform(15.0, 40.0),
    "n_worms": Uniform(0.5, 2.0),
    "n_muons": 0.3,
}

#: The thesis's balanced training layout (41 / 25 / 21 / 13 %, its section
#: 4.1.5): glow | hot lines | clusters side by side, every class large.
THESIS_BALANCED = {
    **_THESIS_DETECTOR,
    "regions": ((0.0, 0.4), (0.4, 0.7), (0.7, 1.0)),
    "glow_fraction": 0.8,
    "glow_width_fraction": (0.25, 0.38),
    "glow_offset_probability": 0.3,
    "n_hot_segments": Uniform(20.0, 30.0),
    "n_hot_columns": Uniform(36.0, 48.0),
    "n_hot_streaks": Uniform(10.0, 20.0),
    "hot_segment_fraction": (0.1, 0.6),
    "hot_streak_fraction": (0.05, 0.3),
    "n_diffuse": Uniform(600.0, 900.0),
    "n_worms": Uniform(15.0, 25.0),
    "n_muons": Uniform(1.0, 3.0),
}

_CCD_NOISE = {
    "pedestal_adu": Uniform(1000.0, 12000.0),
    "gain_adu_per_e": Uniform(5.0, 12.0),
    "read_noise_adu": Derived(lambda rng, p: p["gain_adu_per_e"] * rng.uniform(1.5, 2.5)),
    "dark_current_e": LogUniform(1e-3, 5e-2),
}

BALANCED = {
    **_CCD_NOISE,
    "layout": "regions",
    "regions": ((0.0, 1 / 3), (1 / 3, 2 / 3), (2 / 3, 1.0)),
    "glow_fraction": 1.0,
    "glow_edges": ("left",),
    "glow_amplitude_sigma": (5.0, 100.0),
    "glow_width_fraction": (0.15, 0.25),
    "glow_offset_probability": 0.0,
    "n_hot_pixels": Uniform(20.0, 40.0),
    "n_hot_segments": Uniform(20.0, 40.0),
    "n_hot_columns": Uniform(15.0, 25.0),
    "n_hot_streaks": Uniform(3.0, 8.0),
    "hot_segment_fraction": (0.1, 0.6),
    "n_diffuse": Uniform(600.0, 900.0),
    "n_worms": Uniform(10.0, 20.0),
    "n_muons": Uniform(1.0, 3.0),
    "n_alphas": 0.3,
}

CLUSTERS_ONLY = {
    **_CCD_NOISE,
    "glow_fraction": 0.0,
    "n_hot_pixels": 0.0,
    "n_hot_segments": 0.0,
    "n_hot_columns": 0.0,
    "n_hot_streaks": 0.0,
    "n_diffuse": Uniform(50.0, 300.0),
    "n_worms": Uniform(3.0, 15.0),
    "n_muons": Uniform(0.5, 3.0),
    "n_alphas": 0.3,
}


def _random_gain(rng, p):
    return (LogUniform(0.5, 5.0).draw(rng, p) if p["regime"] == "skipper"
            else LogUniform(1.0, 200.0).draw(rng, p))


def _random_noise(rng, p):
    if p["regime"] == "skipper":  # 0.1-0.3 e- after many non-destructive samples
        return p["gain_adu_per_e"] * rng.uniform(0.1, 0.3)
    # keep at least 0.1 e- of noise: below that a conventional CCD does not go
    return LogUniform(max(0.2, 0.1 * p["gain_adu_per_e"]), 60.0).draw(rng, p)


def _random_dark(rng, p):
    if p["regime"] == "skipper":
        return _skipper_dense_dark(rng, p)
    return LogUniform(1e-4, 0.5).draw(rng, p)


def mean_dark_rate(end_rate, rise):
    """Mean single-electron rate of a field rising linearly along the readout.

    Parameters
    ----------
    end_rate : float
        Electrons per pixel at the end of the readout.
    rise : float
        End rate over start rate (>= 1).
    """
    return float(end_rate) * (1.0 + float(rise)) / (2.0 * float(rise))


def _skipper_dense_dark(rng, p):
    """A real skipper frame's single-electron field: 1e-4 to 3 e-/pixel at the end of the
    readout, rising along it by ``dark_rise``. Half the frames draw the end rate
    log-uniformly over the whole range, half uniformly in 0.3-3 e-/pixel: the dense fields
    of real DAMIC-M images (0.5 to 1.7 e-/pixel on average), which a log-uniform draw alone
    would leave to one frame in five."""
    end = (LogUniform(1e-4, 3.0) if rng.random() < 0.5 else Uniform(0.3, 3.0)).draw(rng, p)
    return mean_dark_rate(end, p["dark_rise"])


def _skipper_rise(rng, p):  # up to 5 times from start to end of the readout
    return float(rng.uniform(1.0, 5.0)) if p["regime"] == "skipper" else 1.0


RANDOM = {
    "regime": Choice(("skipper", "conventional"), (0.25, 0.75)),
    "pedestal_adu": Uniform(-1000.0, 30000.0),
    "gain_adu_per_e": Derived(_random_gain),
    "read_noise_adu": Derived(_random_noise),
    "dark_rise": Derived(_skipper_rise),
    "dark_current_e": Derived(_random_dark),
    "readout_side": Derived(lambda rng, p: str(rng.choice(("left", "right")))
                            if p["regime"] == "skipper" else "left"),
    "saturation_adu": Derived(lambda rng, p: p["pedestal_adu"]
                              + rng.uniform(0.3, 1.0) * _ADC_RANGE),
    "row_drift": Choice((True, False)),
    "row_drift_adu": Derived(lambda rng, p: p["read_noise_adu"] * rng.uniform(0.5, 5.0)
                             if p["row_drift"] else 0.0),
    "glow_amplitude_sigma": (1.0, 200.0),
    "glow_width_fraction": (0.03, 0.5),
    "n_hot_pixels": Uniform(0.0, 30.0),
    "n_hot_segments": Uniform(0.0, 8.0),
    "n_hot_columns": Uniform(0.0, 3.0),
    "n_hot_streaks": Uniform(0.0, 3.0),
    "n_diffuse": Uniform(0.0, 300.0),
    "n_worms": Uniform(0.0, 15.0),
    "n_muons": Uniform(0.0, 4.0),
    "n_alphas": Uniform(0.0, 0.5),
    "glow_kinds": ("band", "edge", "corner"),
    "n_hits": Uniform(0.0, 20.0),
    "n_xrays": Uniform(0.0, 20.0),
    "xray_side": Choice(("back", "front")),
    "n_serial": Uniform(0.0, 1.0),
    "n_lowe": Derived(lambda rng, p: rng.uniform(0.0, 150.0 if p["regime"] == "skipper" else 10.0)),
    "n_long_tracks": Uniform(0.0, 1.0),
    # a third of the images has clusters on glow and hot lines on purpose
    "events_on_defects": Derived(lambda rng, p: rng.uniform(0.2, 0.7) if rng.random() < 1 / 3
                                 else 0.0),
    "baseline_step_probability": 0.2,
}

DAMIC = {
    "pedestal_adu": Uniform(2000.0, 20000.0),
    "gain_adu_per_e": Uniform(5.0, 12.0),
    "read_noise_adu": Derived(lambda rng, p: p["gain_adu_per_e"] * rng.uniform(1.5, 2.2)),
    "dark_current_e": LogUniform(1e-3, 2e-2),
    "row_drift": True,
    "row_drift_adu": Derived(lambda rng, p: 0.5 * p["read_noise_adu"]),
    "glow_fraction": 1.0,
    "glow_kinds": ("edge",),
    "glow_edges": ("left",),            # the readout edge; simulate_frame sets it per amplifier
    "glow_amplitude_sigma": (3.0, 50.0),
    "glow_width_fraction": (0.01, 0.05),
    "glow_offset_probability": 0.5,
    "n_hot_pixels": 0.5,
    "n_hot_segments": 0.2,
    "n_hot_columns": 0.02,
    "n_hot_streaks": 0.02,
    "n_diffuse": 2.0,
    "n_worms": 0.5,
    "n_muons": 0.2,
    "n_alphas": 0.01,
}

#: A few of the usual background objects, DAMIC-like (for presets built around one kind).
_FEW_OBJECTS = {
    "glow_fraction": 0.3,
    "glow_kinds": ("band", "edge", "corner"),
    "glow_amplitude_sigma": (2.0, 50.0),
    "glow_width_fraction": (0.03, 0.15),
    "n_hot_pixels": 2.0,
    "n_hot_segments": 0.5,
    "n_hot_columns": 0.1,
    "n_hot_streaks": 0.1,
    "n_diffuse": 5.0,
    "n_worms": 0.5,
    "n_muons": 0.3,
    "n_alphas": 0.0,
}

FE55 = {
    **_CCD_NOISE,
    **_FEW_OBJECTS,
    "n_xrays": Uniform(20.0, 120.0),
    "xray_side": Choice(("back", "front")),
}

ISOLATED_HITS = {
    **_CCD_NOISE,
    **_FEW_OBJECTS,
    "glow_fraction": 0.5,
    "n_hot_pixels": Uniform(3.0, 15.0),   # single bright pixels to tell apart from hits
    "n_hot_segments": 1.0,
    "n_hits": Uniform(20.0, 60.0),
}

GLOW_EVENTS = {
    **_CCD_NOISE,
    "glow_fraction": 1.0,
    "glow_kinds": ("band", "edge", "corner"),
    "glow_amplitude_sigma": (3.0, 200.0),
    "glow_width_fraction": (0.15, 0.4),
    "n_hot_pixels": 3.0,
    "n_hot_segments": Uniform(1.0, 4.0),
    "n_hot_columns": Uniform(1.0, 4.0),
    "n_hot_streaks": 0.5,
    "n_diffuse": Uniform(20.0, 80.0),
    "diffuse_kev": (0.1, 60.0),         # bright ones too
    "n_worms": Uniform(2.0, 8.0),
    "n_muons": Uniform(0.5, 2.0),
    "n_alphas": 0.2,
    "n_xrays": Uniform(5.0, 30.0),
    "xray_side": Choice(("back", "front")),
    "n_hits": Uniform(2.0, 10.0),
    "n_long_tracks": 0.5,
    "events_on_defects": Uniform(0.5, 0.7),
}


def _skipper_noise(rng, p):  # 0.15-2 electrons, never below 0.2 ADU
    return max(p["gain_adu_per_e"] * float(LogUniform(0.15, 2.0).draw(rng, p)), 0.2)


SKIPPER = {
    "regime": "skipper",
    "pedestal_adu": Uniform(-500.0, 20000.0),
    "gain_adu_per_e": LogUniform(1.0, 200.0),
    "read_noise_adu": Derived(_skipper_noise),
    "dark_current_e": LogUniform(1e-3, 0.2),
    "saturation_adu": Derived(lambda rng, p: p["pedestal_adu"] + 2000.0 * p["gain_adu_per_e"]),
    "row_drift": Choice((True, False), (0.3, 0.7)),
    "row_drift_adu": Derived(lambda rng, p: p["read_noise_adu"] * rng.uniform(0.2, 2.0)
                             if p["row_drift"] else 0.0),
    "glow_fraction": 0.3,
    "glow_kinds": ("edge", "corner"),
    "glow_amplitude_sigma": (2.0, 50.0),
    "glow_width_fraction": (0.02, 0.1),
    "n_hot_pixels": 2.0,
    "n_hot_segments": 0.3,
    "n_hot_columns": 0.1,
    "n_hot_streaks": 0.1,
    "n_diffuse": 2.0,
    "n_worms": 0.3,
    "n_muons": 0.2,
    "n_alphas": 0.0,
    "n_lowe": Uniform(30.0, 150.0),
    "n_serial": 0.5,
    "serial_kev": (0.05, 5.0),
    "baseline_step_probability": 0.3,
}

#: A real skipper frame as DAMIC-M reads it (one amplifier): electron-resolving noise
#: (0.1-0.3 e-), gain 0.5-5 ADU/e-, a single-electron field (dark current and charge
#: collected during readout: background) of up to 3 e-/pixel at the end of the readout,
#: rising along it up to 5 times; over it clusters from 2 electrons to 20 keV, serial-
#: register hits, hot columns and amplifier glow at one corner of the amplifier's side.
SKIPPER_DENSE = {
    "regime": "skipper",
    "pedestal_adu": Uniform(-500.0, 20000.0),
    "gain_adu_per_e": LogUniform(0.5, 5.0),
    "read_noise_adu": Derived(lambda rng, p: p["gain_adu_per_e"] * rng.uniform(0.1, 0.3)),
    "dark_rise": Uniform(1.0, 5.0),
    "dark_current_e": Derived(_skipper_dense_dark),
    "readout_side": Choice(("left", "right")),
    "saturation_adu": Derived(lambda rng, p: p["pedestal_adu"] + 20000.0 * p["gain_adu_per_e"]),
    "row_drift": Choice((True, False), (0.3, 0.7)),
    "row_drift_adu": Derived(lambda rng, p: p["read_noise_adu"] * rng.uniform(0.1, 1.0)
                             if p["row_drift"] else 0.0),
    "glow_fraction": 0.4,
    "glow_kinds": ("corner",),
    "glow_edges": Derived(lambda rng, p: (p["readout_side"],)),
    "glow_amplitude_sigma": (5.0, 100.0),
    "glow_width_fraction": (0.03, 0.2),
    # a hot pixel holds at least 2 electrons
    "hot_min_sigma": Derived(lambda rng, p: 2.0 * p["gain_adu_per_e"] / p["read_noise_adu"]),
    "n_hot_pixels": 1.0,
    "n_hot_segments": 0.3,
    "n_hot_columns": Uniform(0.0, 1.5),
    "n_hot_streaks": 0.05,
    "n_diffuse": Uniform(2.0, 12.0),
    "n_worms": 0.5,
    "n_muons": 0.3,
    "n_alphas": 0.0,
    "n_xrays": Uniform(0.0, 3.0),
    "n_lowe": Uniform(10.0, 60.0),
    "lowe_electrons": (2.0, 50.0),
    "n_serial": 0.5,
    "serial_kev": (0.05, 5.0),
    "baseline_step_probability": 0.1,
}

DENSE = {
    **_CCD_NOISE,
    "glow_fraction": 0.5,
    "glow_kinds": ("band", "edge", "corner"),
    "glow_amplitude_sigma": (2.0, 50.0),
    "glow_width_fraction": (0.03, 0.2),
    # One occupancy drawn per image (30-70 % of pixels) sets every cluster count.
    "n_diffuse": Uniform(650.0, 2700.0),
    "n_worms": Derived(lambda rng, p: 0.1 * p["n_diffuse"]),
    "n_muons": Derived(lambda rng, p: 0.025 * p["n_diffuse"]),
    "n_alphas": Derived(lambda rng, p: 0.001 * p["n_diffuse"]),
    "n_xrays": Derived(lambda rng, p: 0.05 * p["n_diffuse"]),
    "n_hits": Derived(lambda rng, p: 0.05 * p["n_diffuse"]),
    "n_long_tracks": Uniform(0.0, 3.0),
}

#: Preset name -> drawing rules (on top of :data:`BASE`).
PRESETS: dict[str, dict[str, Any]] = {
    "thesis": THESIS,
    "thesis-balanced": THESIS_BALANCED,
    "balanced": BALANCED,
    "clusters-only": CLUSTERS_ONLY,
    "damic": DAMIC,
    "random": RANDOM,
    "fe55": FE55,
    "isolated-hits": ISOLATED_HITS,
    "glow-events": GLOW_EVENTS,
    "skipper": SKIPPER,
    "skipper-dense": SKIPPER_DENSE,
    "dense": DENSE,
}

#: Preset name -> one line for ``ccdnb simulate --help``.
DESCRIPTIONS: dict[str, str] = {
    "thesis": "the thesis's test layout at its Table 1 density (92.1/6.8/0.4/0.7 %): glow left "
              "in 60 % of images, hot lines at +2200 ADU, pedestal 8800, noise 60/sqrt(10) ADU",
    "thesis-balanced": "the thesis's balanced training layout (41/25/21/13 %), same detector",
    "balanced": "glow | hot pixels | clusters side by side at CCD-like noise, "
                "classes of similar size",
    "clusters-only": "clusters only (diffuse, worm, muon, alpha) at CCD-like noise",
    "damic": "one sparse DAMIC-like amplifier image: edge glow at the readout side, row drift",
    "random": "every parameter and object kind at random rates, skipper regime included "
              "(the broad training preset)",
    "fe55": "Fe-55 calibration frames: 5.9/6.49 keV X-rays from the back or front, "
            "a few other objects",
    "isolated-hits": "isolated 1-2 pixel hits of 10-1000 sigma beside hot pixels and glow",
    "glow-events": "band, edge and corner glow and hot columns with clusters, tracks and "
                   "X-rays on top of them",
    "skipper": "skipper CCD: 0.15-2 e- noise, 2-50 e- events, dark current, row drift, "
               "baseline steps",
    "skipper-dense": "a real skipper amplifier (DAMIC-M): 0.1-0.3 e- noise, gain 0.5-5 ADU/e-, "
                     "a single-electron field (background) of up to 3 e-/pixel rising along "
                     "the readout, clusters from 2 e- to 20 keV, serial hits, hot columns, "
                     "corner glow",
    "dense": "surface-run frames: 30-70 % of pixels carry signal (muons, worms, X-rays, diffuse)",
}

def draw_parameters(preset, rng, overrides=None):
    """Draw one image's parameters from a preset's rules.

    Parameters
    ----------
    preset : str
        A key of :data:`PRESETS`.
    rng : numpy.random.Generator
    overrides : dict, optional
        Parameter -> value or rule, replacing the preset's rule.

    Returns
    -------
    dict
        Every parameter of :data:`BASE` with a concrete value.

    Raises
    ------
    CcdnbInputError
        Unknown preset or parameter name.
    """
    if preset not in PRESETS:
        raise CcdnbInputError(f"unknown simulation preset {preset!r}; "
                              f"choose from {', '.join(PRESETS)}")
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(BASE))
    if unknown:
        raise CcdnbInputError(f"unknown simulation parameter(s) {', '.join(unknown)}; "
                              f"known: {', '.join(BASE)}")
    rules = {**BASE, **PRESETS[preset], **overrides}
    drawn: dict[str, Any] = {}
    for name in BASE:
        rule = rules[name]
        drawn[name] = rule.draw(rng, drawn) if _is_rule(rule) else rule
    return drawn
