"""Charge deposition in a thick silicon CCD: energies, diffusion and track shapes.

Everything here works in electrons and pixels. Depths are measured from the
front surface (the pixel gates, where charge is collected) towards the back,
so charge created at the back diffuses the most.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

__all__ = ["EV_PER_PAIR", "THICKNESS_UM", "PIXEL_UM", "DIFFUSION_A_UM2", "DIFFUSION_B_PER_UM",
           "MIP_E_PER_UM", "MIN_SIGMA_PX", "FE55_LINES_KEV", "FE55_LINE_SHARES",
           "XRAY_ATTENUATION_UM", "FANO", "SILICON_G_CM3", "SILICON_X0_UM", "ELECTRON_MASS_MEV",
           "ELECTRON_STEP_UM", "MIN_ELECTRON_STEPS", "ELECTRON_DEPOSIT_UM", "MAX_SCATTER_RAD",
           "electrons_from_kev", "kev_from_electrons", "diffusion_sigma_px", "electron_range_um",
           "electron_range_px", "electron_energy_left_kev", "highland_angle", "ElectronPath",
           "electron_walk", "electron_track", "pixel_weights", "window_half_width", "muon_track",
           "xray_conversions"]

#: Mean energy to create one electron-hole pair in silicon (eV).
EV_PER_PAIR = 3.77
#: Thickness of a DAMIC-style fully depleted CCD (um).
THICKNESS_UM = 675.0
#: Pixel pitch (um).
PIXEL_UM = 15.0
#: Diffusion model sigma^2 = -A ln(1 - b z) (DAMIC, NIM A / PRD 2016 calibration).
DIFFUSION_A_UM2 = 215.0
DIFFUSION_B_PER_UM = 1.3e-3
#: Most probable ionisation of a minimum-ionising particle (electrons per um).
MIP_E_PER_UM = 80.0
#: Smallest lateral spread (px): a point deposit still covers a fraction of a pixel.
MIN_SIGMA_PX = 0.05
#: Fe-55 (Mn) X-ray lines (keV) and their shares: K-alpha and K-beta.
FE55_LINES_KEV = (5.9, 6.49)
FE55_LINE_SHARES = (0.88, 0.12)
#: Attenuation length of 5.9 keV X-rays in silicon (um); K-beta goes a little deeper.
XRAY_ATTENUATION_UM = 29.0
#: Fano factor of silicon: the pair-count variance is F times the mean.
FANO = 0.128
#: Density of silicon (g/cm^3) and its radiation length (um; PDG: 21.82 g/cm^2).
SILICON_G_CM3 = 2.33
SILICON_X0_UM = 9.37e4
#: Electron rest energy (MeV).
ELECTRON_MASS_MEV = 0.51099895
#: Longest step of an electron's multiple-scattering walk (um), and the fewest steps.
ELECTRON_STEP_UM = 10.0
MIN_ELECTRON_STEPS = 16
#: Longest piece of path one rendered deposit stands for (um): a fifth of a pixel.
ELECTRON_DEPOSIT_UM = 3.0
#: Cap of the Highland angle of one step (rad): beyond it the direction is lost anyway.
MAX_SCATTER_RAD = 1.5


def electrons_from_kev(energy_kev):
    """Return the mean number of electron-hole pairs for an energy deposit.

    Parameters
    ----------
    energy_kev : float or ndarray
        Deposited energy in keV.

    Returns
    -------
    float or ndarray
        ``energy_kev * 1000 / 3.77``.
    """
    return np.asarray(energy_kev, dtype=float) * 1000.0 / EV_PER_PAIR


def kev_from_electrons(electrons):
    """Return the energy (keV) that creates ``electrons`` pairs on average."""
    return np.asarray(electrons, dtype=float) * EV_PER_PAIR / 1000.0


def diffusion_sigma_px(depth_um):
    """Lateral diffusion sigma (px) of charge created at ``depth_um`` from the front.

    Uses the sqrt-log model sigma = sqrt(-A ln|1 - b z|) with the DAMIC
    constants; it grows from 0 at the front to about 1.4 px at the back of a
    675 um CCD.

    Parameters
    ----------
    depth_um : float or ndarray
        Interaction depth in um, clipped to [0, THICKNESS_UM].

    Returns
    -------
    ndarray
        Sigma in pixels, at least :data:`MIN_SIGMA_PX`.
    """
    z = np.clip(np.asarray(depth_um, dtype=float), 0.0, THICKNESS_UM)
    sigma_um = np.sqrt(-DIFFUSION_A_UM2 * np.log1p(-DIFFUSION_B_PER_UM * z))
    return np.maximum(sigma_um / PIXEL_UM, MIN_SIGMA_PX)


def electron_range_um(energy_kev):
    """CSDA range (um) of an electron in silicon from the Katz-Penfold relation.

    Katz & Penfold (Rev. Mod. Phys. 24, 28, 1952): R = 412 E^n mg/cm^2 with
    n = 1.265 - 0.0954 ln E (E in MeV), fitted for 10 keV to 3 MeV; above
    2.5 MeV R = 530 E - 106 mg/cm^2. Silicon's density 2.33 g/cm^3 turns it into
    um: 100 keV go about 58 um (3.9 px), 500 keV 0.75 mm, 1 MeV 1.8 mm, 2 MeV
    4.1 mm. Below 10 keV the power law is carried on (sub-micron ranges, far
    below a pixel, where its error does not matter).

    Parameters
    ----------
    energy_kev : float or ndarray

    Returns
    -------
    ndarray
        Range along the path (um); 0 for non-positive energies.
    """
    e_mev = np.maximum(np.asarray(energy_kev, dtype=float), 0.0) / 1000.0
    with np.errstate(divide="ignore", invalid="ignore"):
        low = 412.0 * e_mev ** (1.265 - 0.0954 * np.log(np.maximum(e_mev, 1e-12)))
    mg_cm2 = np.where(e_mev > 2.5, 530.0 * e_mev - 106.0, low)
    mg_cm2 = np.where(e_mev > 0, mg_cm2, 0.0)
    return mg_cm2 * 10.0 / SILICON_G_CM3


def electron_range_px(energy_kev):
    """CSDA range of an electron in silicon in pixel pitches (:func:`electron_range_um`).

    The path length of the track, not its extent on the pixel plane, which
    multiple scattering and the dip out of the plane make shorter.
    """
    return electron_range_um(energy_kev) / PIXEL_UM


# Katz-Penfold tabulated once, for the energy left after a path (its inverse).
_KP_ENERGY_KEV = np.geomspace(1e-3, 1e4, 1200)
_KP_LOG_RANGE = np.log(electron_range_um(_KP_ENERGY_KEV))


def electron_energy_left_kev(range_left_um):
    """Kinetic energy (keV) of an electron that has ``range_left_um`` of CSDA range left.

    The inverse of :func:`electron_range_um` (interpolated in log-log on a
    table of 1 eV to 10 MeV). Along a track of initial energy E0 the energy
    left after a path s is ``electron_energy_left_kev(R(E0) - s)``, so the
    energy lost per step, dE/ds = 1 / (dR/dE), rises towards the end of the
    range (the Bragg-like end of an electron track) with no stopping-power
    table of its own.
    """
    r = np.asarray(range_left_um, dtype=float)
    with np.errstate(divide="ignore"):
        log_r = np.log(np.maximum(r, 0.0))
    energy = np.exp(np.interp(log_r, _KP_LOG_RANGE, np.log(_KP_ENERGY_KEV)))
    # below the table: E ~ R^(1/1.7), the slope of Katz-Penfold at its low end
    below = log_r < _KP_LOG_RANGE[0]
    energy = np.where(below, _KP_ENERGY_KEV[0]
                      * np.exp((log_r - _KP_LOG_RANGE[0]) / 1.7), energy)
    return np.where(r > 0, energy, 0.0)


def highland_angle(energy_kev, step_um):
    """RMS plane-projected multiple-scattering angle (rad) of an electron over ``step_um`` of Si.

    Highland (NIM 129, 497, 1975) as the PDG gives it (Review of Particle
    Physics, "Passage of particles through matter"):
    theta0 = 13.6 MeV / (beta c p) sqrt(x / X0) [1 + 0.038 ln(x / (X0 beta^2))],
    with X0 = 9.37 cm for silicon. Over 10 um it is about 0.15 rad at 400 keV
    and 0.5 rad at 100 keV. Highland is fitted for x / X0 from 1e-3 to 100 and
    is only indicative below; the angle is capped at :data:`MAX_SCATTER_RAD`,
    beyond which the direction is anyway lost within the step.
    """
    t = np.maximum(np.asarray(energy_kev, dtype=float), 1e-6) / 1000.0  # MeV
    pc = np.sqrt(t * (t + 2.0 * ELECTRON_MASS_MEV))
    beta = pc / (t + ELECTRON_MASS_MEV)
    x = np.asarray(step_um, dtype=float) / SILICON_X0_UM
    log_term = np.maximum(1.0 + 0.038 * np.log(x / beta ** 2), 0.1)
    return np.minimum(13.6 / (beta * pc) * np.sqrt(x) * log_term, MAX_SCATTER_RAD)


@dataclass(frozen=True)
class ElectronPath:
    """A simulated electron's path in the silicon: points and the energy lost between them.

    Attributes
    ----------
    x_um, y_um, z_um : ndarray, shape (n + 1,)
        Points of the path (um): x along the columns, y along the rows, both
        from the start, and the depth from the front surface.
    deposit_kev : ndarray, shape (n,)
        Energy lost over each of the ``n`` steps (keV).
    energy_kev : float
        Initial kinetic energy.
    clipped : bool
        The electron left the silicon (front or back surface) before it
        stopped; the energy it still had is not deposited.
    """

    x_um: np.ndarray
    y_um: np.ndarray
    z_um: np.ndarray
    deposit_kev: np.ndarray
    energy_kev: float
    clipped: bool

    @property
    def deposited_kev(self) -> float:
        """Energy left in the silicon (keV)."""
        return float(self.deposit_kev.sum())


def electron_walk(rng, energy_kev, depth_um, direction=None, max_step_um=ELECTRON_STEP_UM):
    """A 3-D multiple-scattering walk of an electron over its CSDA range in silicon.

    The path is the Katz-Penfold range of the initial energy
    (:func:`electron_range_um`), cut into steps of ``max_step_um`` (or a
    sixteenth of the range for short tracks). After each step the direction
    turns by a polar angle whose two plane projections are Gaussian with the
    Highland width (:func:`highland_angle`) at the energy left halfway through
    the step, about a uniform azimuth: a slow electron curls, a fast one runs
    nearly straight and bends more and more as it slows. The energy lost over
    a step is the drop of the energy left (:func:`electron_energy_left_kev`),
    which rises towards the end of the range. Where the path leaves the
    silicon (depth below 0 or beyond :data:`THICKNESS_UM`) it is cut at the
    surface and the electron's remaining energy is lost (no backscatter,
    delta rays or bremsstrahlung are followed).

    Parameters
    ----------
    rng : numpy.random.Generator
    energy_kev : float
        Initial kinetic energy.
    depth_um : float
        Depth of the start from the front surface.
    direction : sequence of 3 float, optional
        Initial direction (x, y, z; z into the silicon); isotropic when None
        (a Compton electron of a gamma from any direction).
    max_step_um : float
        Longest step of the walk.

    Returns
    -------
    ElectronPath
    """
    energy = float(energy_kev)
    total = float(electron_range_um(energy))
    n = max(int(math.ceil(total / max_step_um)), MIN_ELECTRON_STEPS)
    step = total / n
    s = np.arange(n + 1) * step
    left = electron_energy_left_kev(total - s)
    left[0] = energy
    theta0 = highland_angle(electron_energy_left_kev(total - s[:-1] - 0.5 * step), step)
    # polar angle: both projections Gaussian (theta0) -> Rayleigh; uniform azimuth
    polar = theta0 * np.sqrt(-2.0 * np.log1p(-rng.random(n)))
    azimuth = rng.uniform(0.0, 2.0 * math.pi, n)
    if direction is None:
        cos_t = rng.uniform(-1.0, 1.0)
        phi = rng.uniform(0.0, 2.0 * math.pi)
        sin_t = math.sqrt(1.0 - cos_t * cos_t)
        direction = (sin_t * math.cos(phi), sin_t * math.sin(phi), cos_t)
    points = _walk(np.asarray(direction, dtype=float), polar, azimuth, step)
    points[:, 2] += float(depth_um)
    deposit = -np.diff(left)
    outside = np.flatnonzero((points[1:, 2] < 0.0) | (points[1:, 2] > THICKNESS_UM))
    clipped = outside.size > 0
    if clipped:  # cut at the surface the step crosses
        k = int(outside[0])
        z0, z1 = points[k, 2], points[k + 1, 2]
        surface = 0.0 if z1 < 0.0 else THICKNESS_UM
        frac = (surface - z0) / (z1 - z0) if z1 != z0 else 0.0
        points = points[:k + 2].copy()
        points[k + 1] = points[k] + frac * (points[k + 1] - points[k])
        deposit = deposit[:k + 1].copy()
        deposit[k] = left[k] - float(electron_energy_left_kev(total - s[k] - frac * step))
    return ElectronPath(points[:, 0], points[:, 1], points[:, 2], deposit, energy, clipped)


def _walk(direction, polar, azimuth, step):
    """Points of a walk from the origin: each step turns ``direction`` by (polar, azimuth)."""
    n = polar.size
    d = direction / np.linalg.norm(direction)
    dirs = np.empty((n, 3))
    dx, dy, dz = float(d[0]), float(d[1]), float(d[2])
    cos_p, sin_p = np.cos(polar), np.sin(polar)
    cos_a, sin_a = np.cos(azimuth), np.sin(azimuth)
    for k in range(n):
        dirs[k] = dx, dy, dz
        # an orthonormal pair (u, v) across the direction
        if abs(dz) < 0.9:
            norm = math.hypot(dx, dy)
            ux, uy, uz = -dy / norm, dx / norm, 0.0
        else:
            norm = math.hypot(dy, dz)
            ux, uy, uz = 0.0, -dz / norm, dy / norm
        vx, vy, vz = dy * uz - dz * uy, dz * ux - dx * uz, dx * uy - dy * ux
        a, b = cos_a[k], sin_a[k]
        c, si = cos_p[k], sin_p[k]
        dx, dy, dz = (c * dx + si * (a * ux + b * vx), c * dy + si * (a * uy + b * vy),
                      c * dz + si * (a * uz + b * vz))
        norm = math.sqrt(dx * dx + dy * dy + dz * dz)
        dx, dy, dz = dx / norm, dy / norm, dz / norm
    points = np.zeros((n + 1, 3))
    points[1:] = np.cumsum(dirs * step, axis=0)
    return points


def electron_track(rng, energy_kev, row, col, depth_um, direction=None):
    """Deposits of an electron's walk (:func:`electron_walk`) on the pixel plane.

    Each step of the walk is cut into pieces of at most
    :data:`ELECTRON_DEPOSIT_UM` (a fraction of a pixel), each holding the
    energy lost along it (the drop of the energy left, so dE/dx rises towards
    the end) times a Landau-like fluctuation, the total kept to the energy
    deposited; each piece diffuses as charge freed at its own depth does
    (:func:`diffusion_sigma_px`), so the track's width changes along it as it
    dips into and out of the silicon.

    Parameters
    ----------
    rng : numpy.random.Generator
    energy_kev : float
        Initial kinetic energy.
    row, col : float
        Start of the track on the pixel plane.
    depth_um : float
        Depth of the start from the front surface.
    direction : sequence of 3 float, optional
        See :func:`electron_walk`.

    Returns
    -------
    rows, cols, sigmas, electrons : ndarray
        The deposits; ``electrons.sum()`` is the deposited energy over
        :data:`EV_PER_PAIR` (all of it unless the track left the silicon).
    path : ElectronPath
    """
    path = electron_walk(rng, energy_kev, depth_um, direction)
    n = path.deposit_kev.size
    seg = np.hypot(np.hypot(np.diff(path.x_um), np.diff(path.y_um)), np.diff(path.z_um))
    pieces = np.maximum(np.ceil(seg / ELECTRON_DEPOSIT_UM).astype(np.int64), 1)
    step_of = np.repeat(np.arange(n), pieces)
    first = np.cumsum(pieces) - pieces
    frac = (np.arange(step_of.size) - first[step_of] + 0.5) / pieces[step_of]

    def along(values):
        return values[step_of] + frac * np.diff(values)[step_of]

    x, y, z = along(path.x_um), along(path.y_um), along(path.z_um)
    # energy of a piece: the drop of the energy left over its stretch of path
    start = np.concatenate([[0.0], np.cumsum(seg)])
    bounds = np.concatenate([start[step_of] + (frac - 0.5 / pieces[step_of]) * seg[step_of],
                             start[-1:]])
    left = electron_energy_left_kev(electron_range_um(path.energy_kev) - bounds)
    left[0] = path.energy_kev
    kev = -np.diff(left)
    moyal = -np.log(rng.standard_normal(kev.size) ** 2 + 1e-12)
    kev = kev * np.clip(1.0 + 0.15 * (moyal - 1.2704), 0.3, 6.0)
    kev *= path.deposited_kev / max(kev.sum(), 1e-300)
    return (row + y / PIXEL_UM, col + x / PIXEL_UM, diffusion_sigma_px(z),
            electrons_from_kev(kev), path)


def pixel_weights(centre, sigma, half):
    """Fractions of a 1-D Gaussian falling in each pixel of a window.

    Pixel ``j`` spans ``[j - 0.5, j + 0.5)``. Each row is renormalised to sum
    to one so that charge is conserved exactly before cropping.

    Parameters
    ----------
    centre, sigma : ndarray, shape (n,)
        Gaussian centres (pixel coordinates) and widths (px).
    half : int
        Half width of the window; the window has ``2 * half + 1`` pixels.

    Returns
    -------
    start : ndarray of int, shape (n,)
        First pixel of each window.
    weights : ndarray, shape (n, 2 * half + 1)
    """
    centre = np.asarray(centre, dtype=float)
    start = np.rint(centre).astype(np.int64) - half
    edges = start[:, None] - 0.5 + np.arange(2 * half + 2)[None, :]
    cdf = ndtr((edges - centre[:, None]) / np.asarray(sigma, dtype=float)[:, None])
    weights = np.diff(cdf, axis=1)
    weights /= weights.sum(axis=1, keepdims=True)
    return start, weights


def window_half_width(sigma):
    """Half width (px) of a window holding a Gaussian of ``sigma`` to 4 sigma."""
    return np.ceil(4.0 * np.asarray(sigma, dtype=float)).astype(np.int64) + 1


def muon_track(rng, length_px, row, col, angle, electrons_per_px_3d):
    """Deposits along a straight minimum-ionising track crossing the full thickness.

    Parameters
    ----------
    rng : numpy.random.Generator
    length_px : float
        Projected length on the pixel plane.
    row, col : float
        Where the track starts (enters at the back of the CCD).
    angle : float
        Direction on the pixel plane (radians).
    electrons_per_px_3d : float
        Mean ionisation per pixel pitch of 3-D path.

    Returns
    -------
    rows, cols, sigmas, electrons : ndarray
        One deposit every half pixel; the depth goes from the back to the
        front so diffusion shrinks along the track; per-step ionisation
        fluctuates with a Moyal (approximate Landau) tail.
    """
    n = max(int(np.ceil(length_px / 0.5)), 1)
    t = (np.arange(n) + 0.5) / n
    rows = row + t * length_px * np.sin(angle)
    cols = col + t * length_px * np.cos(angle)
    depth = THICKNESS_UM * (1.0 - t)
    thickness_px = THICKNESS_UM / PIXEL_UM
    path_3d_px = np.hypot(length_px, thickness_px) / n
    # Moyal(0, 1) is the law of -ln(Z^2); its mean is ln 2 + Euler gamma.
    moyal = -np.log(rng.standard_normal(n) ** 2 + 1e-12)
    fluct = np.clip(1.0 + 0.15 * (moyal - 1.2704), 0.3, 6.0)
    electrons = electrons_per_px_3d * path_3d_px * fluct
    return rows, cols, diffusion_sigma_px(depth), electrons


def xray_conversions(rng, n, side="back"):
    """Energies, pair counts and depths of ``n`` Fe-55 X-rays absorbed in the CCD.

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
    side : {"back", "front"}
        The illuminated surface. X-rays convert within tens of um of it, so
        from the back the charge drifts through the whole thickness and
        diffuses the most; from the front it hardly spreads.

    Returns
    -------
    energy_kev, electrons, depth_um : ndarray, shape (n,)
        Line energy (5.9 or 6.49 keV), pair count with a Fano-limited
        spread, and depth from the front surface.
    """
    if side not in ("back", "front"):
        raise ValueError(f"xray_side {side!r}: expected 'back' or 'front'")
    energy = np.asarray(FE55_LINES_KEV)[rng.choice(len(FE55_LINES_KEV), size=n, p=FE55_LINE_SHARES)]
    mean = electrons_from_kev(energy)
    electrons = np.maximum(rng.normal(mean, np.sqrt(FANO * mean)), 1.0)
    # Attenuation length scales roughly as E^3 between the lines.
    absorbed = rng.exponential(XRAY_ATTENUATION_UM * (energy / FE55_LINES_KEV[0]) ** 3)
    absorbed = np.minimum(absorbed, THICKNESS_UM)
    depth = THICKNESS_UM - absorbed if side == "back" else absorbed
    return energy, electrons, depth
