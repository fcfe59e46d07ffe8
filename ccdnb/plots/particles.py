"""Figures of the catalog's physics: the energy spectrum per kind, the confusion of kinds,
the clusters of a frame coloured by kind, and a gain fit."""

from __future__ import annotations

import numpy as np

from ..objects.particles import KIND_COLOURS, KINDS

__all__ = ["PLOT_COLOURS", "plot_spectrum", "plot_confusion", "plot_catalog_kinds",
           "plot_gain_fit"]

#: Matplotlib colours of the kinds: the DS9 colours, with unknown grey on white paper.
PLOT_COLOURS = dict(KIND_COLOURS, unknown="grey")


def plot_spectrum(catalog, *, kinds=None, bins=None, lines=(5.90, 6.49), ax=None,
                  log_energy=True, title=None):
    """Counts against energy (keV) per kind of a catalog, with the Fe-55 lines marked.

    Parameters
    ----------
    catalog : astropy.table.Table
        Rows with ``energy_kev`` and ``kind`` (:func:`ccdnb.catalog.build_catalog`);
        rows without an energy (unknown gain) are left out.
    kinds : sequence of str, optional
        Kinds to draw, one step histogram each (default: those present).
    bins : array_like, optional
        Bin edges in keV (default: 60 per decade from the lowest energy, or
        linear 0.05 keV bins with ``log_energy=False``).
    lines : sequence of float
        Energies to mark (default Mn K-alpha and K-beta of an Fe-55 source).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    energy = np.asarray(catalog["energy_kev"], dtype=float)
    kind = np.asarray(catalog["kind"]).astype(str)
    known = np.isfinite(energy) & (energy > 0)
    energy, kind = energy[known], kind[known]
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    if kinds is None:
        kinds = [k for k in KINDS if np.any(kind == k)]
    if not energy.size:
        ax.text(0.5, 0.5, "no cluster with an energy (gain unknown)", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_title(title or "cluster spectrum")
        return ax
    if bins is None:
        if log_energy and energy.size:
            lo = max(energy.min(), 1e-3)
            bins = np.logspace(np.log10(lo), np.log10(energy.max()) + 0.01,
                               max(int(60 * (np.log10(energy.max() / lo) + 0.01)), 2))
        else:
            bins = np.arange(0.0, (energy.max() if energy.size else 1.0) + 0.05, 0.05)
    for name in kinds:
        mine = energy[kind == name]
        ax.hist(mine, bins=bins, histtype="step", lw=1.5, color=PLOT_COLOURS.get(name, "k"),
                label=f"{name} ({mine.size})")
    for value in lines:
        ax.axvline(value, color="k", ls="--", lw=0.8)
        ax.annotate(f"{value:.2f} keV", (value, 1.0), xycoords=("data", "axes fraction"),
                    rotation=90, va="top", ha="right", fontsize=8)
    if log_energy:
        ax.set_xscale("log")
    ax.set_xlabel("energy (keV)")
    ax.set_ylabel("clusters per bin")
    ax.set_title(title or f"cluster spectrum ({energy.size} with an energy)")
    ax.legend(fontsize=8, loc="upper left")
    return ax


def plot_confusion(matrix, *, ax=None, title="particle ID: truth (rows) vs named (columns)"):
    """The confusion matrix of kinds (:func:`ccdnb.particles.confusion_matrix`) as shares.

    Each row is normalised to the clusters of that truth kind; the counts are written
    in the cells. Rows without clusters are left out.
    """
    import matplotlib.pyplot as plt

    kinds = [name for name in matrix.colnames if name in KINDS]
    rows = [row for row in matrix if row["total"] > 0]
    counts = np.array([[row[name] for name in kinds] for row in rows], dtype=float)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 * len(kinds) + 2, 0.6 * len(rows) + 2))
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            if counts[i, j]:
                ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", fontsize=8,
                        color="white" if shares[i, j] > 0.6 else "black")
    ax.set_xticks(range(len(kinds)), kinds, rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), [f"{row['truth']} ({row['correct']:.1%})" for row in rows])
    ax.set_xlabel("named kind")
    ax.set_ylabel("truth kind (share named right)")
    ax.set_title(title)
    return ax


def plot_catalog_kinds(image, catalog, *, ax=None, title=None, min_size=12.0):
    """A frame with its catalog's clusters marked at their centroids, coloured by kind.

    Marker area grows with the cluster's footprint (``npix``).
    """
    import matplotlib.pyplot as plt

    from .inference import show_image

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 8 * image.shape[0] / max(image.shape[1], 1)))
    show_image(ax, image)
    kind = np.asarray(catalog["kind"]).astype(str)
    for name in KINDS:
        mine = kind == name
        if mine.any():
            ax.scatter(np.asarray(catalog["x"])[mine], np.asarray(catalog["y"])[mine],
                       s=min_size + 2.0 * np.sqrt(np.asarray(catalog["npix"])[mine]),
                       facecolors="none", edgecolors=PLOT_COLOURS[name], lw=1.0,
                       label=f"{name} ({np.count_nonzero(mine)})")
    ax.legend(fontsize=8, loc="upper right", framealpha=0.8)
    ax.set_title(title or "clusters by kind")
    return ax


def plot_gain_fit(calibration, *, image=None, background=None, charges_adu=None, ax=None):
    """The fitted histogram behind a gain (:class:`ccdnb.calibration.Calibration`).

    Skipper peaks: the pixel histogram above the pedestal (``image`` and its
    ``background``) with the fitted comb; Fe-55 lines: the cluster charge
    spectrum near K-alpha (``charges_adu``) with the two fitted lines.
    """
    import matplotlib.pyplot as plt

    from ..calibration import Fe55Gain, SkipperGain

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    fit = calibration.fit
    if isinstance(fit, SkipperGain) and image is not None and background is not None:
        residual = (np.asarray(image, dtype=np.float64)
                    - np.asarray(background.pedestal)[:, None]).ravel()
        residual = residual[np.isfinite(residual)]
        lo = fit.pedestal_offset - 5.0 * fit.noise_adu
        hi = fit.pedestal_offset + (min(fit.n_peaks, 12) - 0.5) * fit.gain
        step = fit.noise_adu / 4.0
        edges = np.arange(lo, hi + step, step)
        ax.hist(residual, edges, histtype="step", color="k", label="pixels")
        centres = 0.5 * (edges[1:] + edges[:-1])
        # the fit's densities are per ADU of the fitted pixels: scale to these pixels
        scale = residual.size / max(sum(fit.peak_pixels), 1.0) * step
        ax.plot(centres, fit.density(centres) * scale, color="C3",
                label=f"comb: {fit.gain:.4g} ± {fit.gain_error:.2g} ADU/e-, "
                      f"noise {fit.noise_e:.3f} e-")
        ax.set_yscale("log")
        ax.set_ylim(bottom=0.5)
        ax.set_xlabel("pixel value above the row pedestal (ADU)")
    elif isinstance(fit, Fe55Gain) and charges_adu is not None:
        charges = np.asarray(charges_adu, dtype=float)
        edges = np.linspace(0.8 * fit.kalpha_adu, 1.3 * fit.kalpha_adu, 101)
        ax.hist(charges, edges, histtype="step", color="k", label="clusters")
        x = np.linspace(edges[0], edges[-1], 500)
        step = edges[1] - edges[0]
        ratio = 6.49 / 5.90

        def line(mu, sigma, n):
            return n * step / (np.sqrt(2 * np.pi) * sigma) * np.exp(-0.5 * ((x - mu) / sigma) ** 2)

        ax.plot(x, line(fit.kalpha_adu, fit.width_adu, fit.n_kalpha)
                + line(ratio * fit.kalpha_adu, fit.width_adu * np.sqrt(ratio), fit.n_kbeta),
                color="C3", label=f"K-alpha + K-beta: {fit.gain:.4g} ± {fit.gain_error:.2g} ADU/e-")
        ax.set_xlabel("cluster charge (ADU)")
    else:
        ax.text(0.5, 0.5, f"gain: {calibration.method}", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_ylabel("count per bin")
    ax.set_title(f"gain from {calibration.method}")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return ax
