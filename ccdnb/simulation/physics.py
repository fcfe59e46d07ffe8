"""Charge deposition in a thick silicon CCD: energies, diffusion and track shapes.

Everything here works in electrons and pixels. Depths are measured from the
front surface (the pixel gates, where charge is collected) towards the back,
so charge created at the back diffuses the most.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

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


def electron_range_px(energy_kev):
    """Projected length (px) of an electron track from the Kanaya-Okayama range in Si.

    R(um) = 0.0276 A E^1.67 / (Z^0.889 rho) with E in keV; 100 keV gives about
    5 px, 500 keV about 70 px.
    """
    e = np.asarray(energy_kev, dtype=float)
    range_um = 0.0276 * 28.09 * e ** 1.67 / (14.0 ** 0.889 * 2.33)
    return range_um / PIXEL_UM


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


def worm_track(rng, total_electrons, length_px, row, col, depth_um):
    """Deposits along a curly low-energy electron track (a "worm").

    A random walk of half-pixel steps whose turning angle grows as the
    electron slows down; ionisation rises towards the end of the range
    (Bragg-like), all at one depth.

    Returns
    -------
    rows, cols, sigmas, electrons : ndarray
    """
    n = max(int(np.ceil(length_px / 0.5)), 1)
    progress = np.arange(n) / n
    turns = rng.normal(0.0, 0.15 + 0.6 * progress)
    angles = rng.uniform(0, 2 * np.pi) + np.cumsum(turns)
    step = length_px / n
    rows = row + np.cumsum(step * np.sin(angles))
    cols = col + np.cumsum(step * np.cos(angles))
    weight = 1.0 / np.sqrt(1.0 - progress + 0.05)
    electrons = total_electrons * weight / weight.sum()
    sigmas = np.full(n, diffusion_sigma_px(depth_um))
    return rows, cols, sigmas, electrons


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
