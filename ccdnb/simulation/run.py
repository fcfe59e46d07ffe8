"""A run: many frames of one sensor, sharing its defects, with exact truth.

Physicists take CCD data as runs: hundreds of frames from the same sensors.
What one frame cannot tell (a hot pixel or a one-pixel hit) a run can, since a
defect comes back at the same place frame after frame. :func:`simulate_run`
draws one sensor:

- persistent defects on every amplifier (hot pixels, vertical column
  segments, full columns), each with its amplitude; a share of them is
  intermittent, present in a frame with a probability of 30-90 %;
- a slow pedestal and read-noise drift over the run;
- a few bad frames, one kind each: ``noise jump`` (read noise several times
  higher), ``light leak`` (charge spread from one side of the frame) and
  ``glow burst`` (the amplifier glow many times brighter and wider);
- in every frame fresh ionisation hits, diffuse clusters, worms, muons and
  the amplifier glow at its readout edge.

:meth:`SimulatedRun.frame` renders frame ``i`` on demand (the same seed gives
the same arrays), built on :func:`ccdnb.simulation.simulate_image` with the
run's overrides, the present defects added on top with the truth's rules (a
defect pixel is labelled hot pixel where its signal reaches 1 sigma of the read
noise, above every other class). :meth:`SimulatedRun.write` writes the frames
as FITS files (``DATE-OBS`` and ``EXPTIME`` set) and the truth as ``.npz``.

The single-electron field of every frame (dark current and charge collected during
readout, ``dark_current_e``, rising along the readout by ``dark_rise`` where that is
set) is truth too: :meth:`SimulatedRun.rate_map` gives the rate map of any frame and
amplifier without rendering it, each frame's ``meta['electron_rate']`` sums it up, and
``truth.npz`` holds every frame's per-row rate (``rate_rows``).
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..classes import GLOWING, HOT_PIXEL
from ..errors import CcdnbInputError
from ..io.atomic import atomic_path, jsonable
from ..seeds import derive_seed

__all__ = ["RUN_DEFAULTS", "SimulatedRun", "simulate_run", "load_run_truth"]

#: The run's sensor and frames (any of them can be overridden in :func:`simulate_run`).
RUN_DEFAULTS = {
    "preset": "damic",
    "pedestal_adu": 9000.0,
    "gain_adu_per_e": 8.0,
    "read_noise_adu": 14.0,
    "dark_current_e": 5e-3,
    "dark_rise": None,               # the field's rate at the end of the readout over its start
                                     # (None: the preset's own, flat for damic)
    "pedestal_drift_adu": 40.0,      # slow drift of the pedestal over the run (peak to peak)
    "noise_drift": 0.1,              # slow relative drift of the read noise over the run
    "exposure_s": 3600.0,
    "glow_sigma": 8.0,               # amplifier glow amplitude, in read-noise sigma
    "glow_width_fraction": (0.03, 0.04),
    # defects per 256 x 256 pixels of each amplifier
    "defect_pixels": 6.0,
    "defect_segments": 2.0,
    "defect_columns": 0.3,
    "defect_sigma": (6.0, 300.0),    # amplitude range (log-uniform), read-noise sigma
    "segment_fraction": (0.02, 0.3),  # segment length over the image height
    "intermittent_share": 0.4,       # share of the defects that come and go
    "presence": (0.3, 0.9),          # their probability to be on in a frame
    # bad frames: kinds, cycled; how many (share of the frames, at least one)
    "bad_kinds": ("noise jump", "light leak", "glow burst"),
    "bad_share": 0.06,
    "noise_jump": 2.5,               # read noise times this
    "leak_sigma": 12.0,              # light leak at its edge, read-noise sigma
    "burst_glow": 15.0,              # glow amplitude times this in a glow burst
    # fresh hits of every frame (per 256 x 256 pixels), on top of the preset's
    "n_hits": 10.0,
    "n_diffuse": 6.0,
    "n_xrays": 2.0,
}

DEFECT_DTYPE = np.dtype([("id", "i4"), ("amplifier", "i4"), ("kind", "U8"), ("col", "i4"),
                         ("row0", "i4"), ("row1", "i4"), ("amplitude_adu", "f4"),
                         ("presence", "f4")])


@dataclass
class SimulatedRun:
    """One sensor's run: its defects, its frames' conditions and its bad frames.

    Attributes
    ----------
    n_frames : int
    shape : (int, int)
        Size of each amplifier's image.
    n_amplifiers : int
    seed : int
    params : dict
        :data:`RUN_DEFAULTS` with the overrides.
    defects : structured ndarray (DEFECT_DTYPE)
        One row per defect.
    present : ndarray (n_frames, n_defects) bool
        Which defects are on in which frame.
    bad : list of str
        Per frame: ``""`` or the bad frame's kind.
    """

    n_frames: int
    shape: tuple
    n_amplifiers: int
    seed: int
    params: dict
    defects: np.ndarray
    present: np.ndarray
    bad: list = field(default_factory=list)

    def pedestal(self, i: int) -> float:
        t = i / max(self.n_frames - 1, 1)
        return float(self.params["pedestal_adu"]
                     + 0.5 * self.params["pedestal_drift_adu"] * np.sin(np.pi * (t - 0.5)))

    def read_noise(self, i: int) -> float:
        t = i / max(self.n_frames - 1, 1)
        noise = self.params["read_noise_adu"] * (1.0 + self.params["noise_drift"] * t)
        return float(noise * (self.params["noise_jump"] if self.bad[i] == "noise jump" else 1.0))

    def defect_pixels(self, amplifier: int = 0, *, min_presence: float = 0.0) -> np.ndarray:
        """Boolean map of the pixels of the defects on ``amplifier`` that are on in at least
        ``min_presence`` of the frames (as drawn in this run, not as expected)."""
        out = np.zeros(self.shape, bool)
        shares = self.present.mean(axis=0) if self.n_frames else np.zeros(len(self.defects))
        for d, share in zip(self.defects, shares):
            if d["amplifier"] == amplifier and share >= min_presence - 1e-9:
                out[d["row0"]:d["row1"], d["col"]] = True
        return out

    def date_obs(self, i: int) -> str:
        start = _dt.datetime(2024, 1, 1, tzinfo=_dt.timezone.utc)
        return (start + _dt.timedelta(seconds=i * (self.params["exposure_s"] + 60.0))
                ).strftime("%Y-%m-%dT%H:%M:%S")

    def _check_frame(self, i: int) -> None:
        if not 0 <= i < self.n_frames:
            raise CcdnbInputError(f"frame {i}: the run has {self.n_frames} frames")

    def _overrides(self, i: int, k: int) -> dict:
        """The :func:`ccdnb.simulation.simulate_image` overrides of frame ``i``, amplifier ``k``."""
        p = self.params
        noise = self.read_noise(i)
        glow = p["glow_sigma"] * noise * (p["burst_glow"] if self.bad[i] == "glow burst" else 1)
        width = tuple(np.asarray(p["glow_width_fraction"])
                      * (4.0 if self.bad[i] == "glow burst" else 1.0))
        edge = "left" if k % 2 == 0 else "right"
        overrides = dict(
            pedestal_adu=self.pedestal(i), gain_adu_per_e=p["gain_adu_per_e"],
            read_noise_adu=noise, dark_current_e=p["dark_current_e"], row_drift=False,
            glow_fraction=1.0, glow_kinds=("edge",), glow_edges=(edge,), glow_level_adu=glow,
            glow_width_fraction=width, glow_offset_probability=0.0,
            n_hot_pixels=0, n_hot_segments=0, n_hot_columns=0, n_hot_streaks=0,
            n_hits=p["n_hits"], n_diffuse=p["n_diffuse"], n_xrays=p["n_xrays"],
            baseline_step_probability=0.0)
        if p.get("dark_rise") is not None:
            # a field rising along the readout: the amplifier's side sets the column order
            # (only here, so that runs of a flat field draw the same frames as before)
            overrides.update(dark_rise=float(p["dark_rise"]), readout_side=edge)
        return overrides

    def rate_map(self, i: int, k: int = 0) -> np.ndarray:
        """The single-electron rate map (e-/pixel, (H, W)) that frame ``i``'s amplifier ``k``
        is drawn from, without rendering the frame (as
        :func:`ccdnb.simulation.dataset.electron_rate_map` gives it from the frame's meta)."""
        from .dataset import dark_rate_map
        from .presets import draw_parameters

        self._check_frame(i)
        # simulate_image draws the parameters first from its seed: the same draw here
        params = draw_parameters(self.params["preset"],
                                 np.random.default_rng(derive_seed(self.seed, i, k)),
                                 self._overrides(i, k))
        return np.broadcast_to(dark_rate_map(params, self.shape), self.shape).astype(np.float64)

    def rate_rows(self) -> np.ndarray:
        """(n_frames, n_amplifiers, H) float64: every frame's per-row mean single-electron rate."""
        return np.array([[self.rate_map(i, k).mean(axis=1) for k in range(self.n_amplifiers)]
                         for i in range(self.n_frames)]).reshape(
                             self.n_frames, self.n_amplifiers, self.shape[0])

    def frame(self, i: int) -> list:
        """Frame ``i``: one :class:`ccdnb.simulation.SimulatedImage` per amplifier."""
        from .dataset import simulate_image

        self._check_frame(i)
        p = self.params
        images = []
        for k in range(self.n_amplifiers):
            edge = "left" if k % 2 == 0 else "right"
            seed = derive_seed(self.seed, i, k)
            sim = simulate_image(p["preset"], self.shape, seed, **self._overrides(i, k))
            rng = np.random.default_rng(derive_seed(self.seed, i, k, 1))
            if self.bad[i] == "light leak":
                _add_light_leak(sim, rng, p["leak_sigma"] * self.read_noise(i),
                                "right" if k % 2 == 0 else "left", p["gain_adu_per_e"])
            _add_defects(sim, rng, self.defects[(self.defects["amplifier"] == k)
                                                & self.present[i]], p["gain_adu_per_e"])
            sim.meta.update(amplifier=chr(ord("A") + k), readout_edge=edge, run_frame=int(i),
                            bad_frame=self.bad[i], date_obs=self.date_obs(i),
                            exposure_s=float(p["exposure_s"]))
            images.append(sim)
        return images

    def write(self, out_dir, stem: str = "frame", *, compress: bool = False,
              truth: bool = True) -> list:
        """Write every frame as ``out_dir/<stem>_NNNN.fits`` and (``truth``) ``truth.npz``.

        Returns
        -------
        list of Path
            The FITS files, in frame order.
        """
        from astropy.io import fits

        from .fits import write_simulated_fits

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for i in range(self.n_frames):
            path = out_dir / f"{stem}_{i:04d}.fits"
            with atomic_path(path, suffix=".fits") as tmp:  # the file appears complete or not
                write_simulated_fits(tmp, self.frame(i), compress=compress)
                with fits.open(tmp, mode="update") as hdul:
                    for hdu in hdul:
                        hdu.header["DATE-OBS"] = (self.date_obs(i), "start of the exposure (UTC)")
                        hdu.header["EXPTIME"] = (float(self.params["exposure_s"]), "[s] exposure")
            paths.append(path)
        if truth:
            self.save_truth(out_dir / "truth.npz")
        return paths

    def save_truth(self, path) -> Path:
        """The run's truth as ``.npz``: defects, presence, bad frames, defect pixel maps and
        every frame's single-electron rate per row (``rate_rows``, see :meth:`rate_rows`)."""
        path = Path(path)
        maps = np.stack([self.defect_pixels(k) for k in range(self.n_amplifiers)])
        meta = {"n_frames": self.n_frames, "shape": list(self.shape), "seed": self.seed,
                "n_amplifiers": self.n_amplifiers, "params": self.params, "bad": self.bad}
        with atomic_path(path, suffix=".npz", make_parents=True) as tmp:
            np.savez_compressed(tmp, defects=self.defects, present=self.present,
                                defect_pixels=maps, rate_rows=self.rate_rows(),
                                meta=np.array(json.dumps(jsonable(meta))))
        return path


def load_run_truth(path) -> SimulatedRun:
    """Read ``truth.npz`` written by :meth:`SimulatedRun.write` back as a :class:`SimulatedRun`."""
    path = Path(path)
    if not path.is_file():
        raise CcdnbInputError(f"{path}: no such run truth file")
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["params"].items()}
        return SimulatedRun(n_frames=meta["n_frames"], shape=tuple(meta["shape"]),
                            n_amplifiers=meta["n_amplifiers"], seed=meta["seed"], params=params,
                            defects=data["defects"], present=data["present"], bad=meta["bad"])


def _count(rng, rate, shape) -> int:
    return int(rng.poisson(rate * shape[0] * shape[1] / 65536.0))


def _draw_defects(rng, params, shape, n_amplifiers) -> np.ndarray:
    rows = []
    height, width = shape
    noise = params["read_noise_adu"]
    for amp in range(n_amplifiers):
        counts = {kind: _count(rng, params[f"defect_{kind}s"], shape)
                  for kind in ("pixel", "segment", "column")}
        total = sum(counts.values())
        # distinct columns, away from the glow at the readout edges
        columns = rng.choice(np.arange(width // 16, width - width // 16),
                             size=min(total, width - 2 * (width // 16)), replace=False)
        kinds = [k for k, n in counts.items() for _ in range(n)][:columns.size]
        for kind, col in zip(kinds, columns):
            if kind == "column":
                row0, row1 = 0, height
            else:
                length = 1 if kind == "pixel" else max(
                    2, int(round(rng.uniform(*params["segment_fraction"]) * height)))
                row0 = int(rng.integers(0, height - length + 1))
                row1 = row0 + length
            low, high = np.log(params["defect_sigma"])
            amplitude = float(noise * np.exp(rng.uniform(low, high)))
            presence = (float(rng.uniform(*params["presence"]))
                        if rng.random() < params["intermittent_share"] else 1.0)
            rows.append((len(rows) + 1, amp, kind, int(col), row0, row1, amplitude, presence))
    return np.array(rows, dtype=DEFECT_DTYPE)


def _add_defects(sim, rng, defects, gain) -> None:
    """Add ``defects``' charge to ``sim`` (Poisson in electrons) and their truth on top."""
    noise = sim.meta["read_noise_adu"]
    saturation = sim.meta["saturation_adu"]
    first_id = int(sim.instances.max()) + 1
    new_objects = []
    for n, d in enumerate(defects):
        rows = slice(int(d["row0"]), int(d["row1"]))
        col = int(d["col"])
        count = d["row1"] - d["row0"]
        signal = rng.poisson(d["amplitude_adu"] / gain, count).astype(np.float32) * gain
        column = sim.image[rows, col]
        sim.image[rows, col] = np.minimum(column + signal, saturation)
        # the truth's 1-sigma rule on the noiseless signal; hot pixel above every class
        if d["amplitude_adu"] >= noise:
            sim.label[rows, col] = HOT_PIXEL
            sim.instances[rows, col] = first_id + n
        new_objects.append((first_id + n, d["kind"], col, 0.5 * (d["row0"] + d["row1"] - 1),
                            d["amplitude_adu"] / noise, count))
    if new_objects:
        from .truth import OBJECT_DTYPE

        table = np.zeros(len(new_objects), OBJECT_DTYPE)
        for row, (oid, kind, x, y, peak, npix) in zip(table, new_objects):
            row["id"], row["cls"], row["kind"], row["x"], row["y"] = oid, HOT_PIXEL, kind, x, y
            row["peak_sigma"], row["npix"] = peak, npix
        sim.objects = np.concatenate([sim.objects, table])


def _add_light_leak(sim, rng, amplitude_adu, edge, gain) -> None:
    """Charge falling off linearly from ``edge`` over the frame, Poisson in electrons."""
    height, width = sim.image.shape
    ramp = np.clip(1.0 - np.arange(width) / (0.6 * width), 0.0, None)
    if edge == "right":
        ramp = ramp[::-1]
    expected = (amplitude_adu * ramp)[None, :].repeat(height, axis=0)
    sim.image += (rng.poisson(expected / gain) * gain).astype(np.float32)
    lit = (expected >= sim.meta["read_noise_adu"]) & (sim.label < GLOWING)
    sim.label[lit] = GLOWING


def simulate_run(n_frames: int = 50, shape=(512, 512), seed: int = 0, *, n_amplifiers: int = 1,
                 **overrides) -> SimulatedRun:
    """Draw a run of ``n_frames`` frames of one sensor (frames are rendered by ``frame(i)``).

    Parameters
    ----------
    n_frames : int
        At least 1.
    shape : int, (int, int) or str
        Size of each amplifier's image.
    seed : int
    n_amplifiers : int
        Amplifiers per frame (FITS extensions CCD_A, CCD_B, ... when more than one).
    **overrides
        Any key of :data:`RUN_DEFAULTS`.

    Returns
    -------
    SimulatedRun
    """
    from .dataset import parse_shape

    shape = parse_shape(shape)
    n_frames, n_amplifiers = int(n_frames), int(n_amplifiers)
    if n_frames < 1:
        raise CcdnbInputError(f"run of {n_frames} frames: must be at least 1")
    if n_amplifiers < 1:
        raise CcdnbInputError(f"number of amplifiers {n_amplifiers}: must be at least 1")
    unknown = sorted(set(overrides) - set(RUN_DEFAULTS))
    if unknown:
        raise CcdnbInputError(f"unknown run parameter(s) {', '.join(unknown)}; "
                              f"known: {', '.join(RUN_DEFAULTS)}")
    params = {**RUN_DEFAULTS, **overrides}
    rng = np.random.default_rng(derive_seed(seed, 0xD3F))
    defects = _draw_defects(rng, params, shape, n_amplifiers)
    present = rng.random((n_frames, len(defects))) < defects["presence"][None, :]
    bad = [""] * n_frames
    n_bad = min(n_frames, max(1, int(round(params["bad_share"] * n_frames)))) \
        if params["bad_share"] > 0 and params["bad_kinds"] else 0
    # bad frames away from the run's two ends: trends need neighbours on both sides
    inner = np.arange(1, n_frames - 1) if n_frames > 2 else np.arange(n_frames)
    for j, i in enumerate(sorted(rng.choice(inner, size=min(n_bad, inner.size), replace=False))):
        bad[int(i)] = params["bad_kinds"][j % len(params["bad_kinds"])]
    return SimulatedRun(n_frames=n_frames, shape=shape, n_amplifiers=n_amplifiers,
                        seed=int(seed), params=params, defects=defects, present=present, bad=bad)
