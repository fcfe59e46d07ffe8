"""Figures of notebooks 01 and 02: simulated images, labels, cluster kinds, thresholds vs truth."""

from __future__ import annotations

import numpy as np

from ..classes import BACKGROUND, CLASS_COLOURS, CLASS_NAMES, CLUSTER, N_CLASSES
from . import class_legend, show_label, zscale_limits

__all__ = ["CLUSTER_KINDS", "plot_simulated_image", "plot_image_and_label", "plot_label",
           "pick_cluster_examples", "plot_cluster_kinds", "disagreement_rgb",
           "plot_threshold_vs_truth", "plot_class_percentages", "plot_object_kinds"]

#: Cluster kinds of the simulation, in the order the figures show them.
CLUSTER_KINDS = ("diffuse", "muon", "worm", "alpha")


def _show_adu(ax, image, *, scale="linear", colorbar=True, cmap="gray"):
    """Draw an ADU image.

    ``scale='linear'`` spans min..max (as the thesis), ``'zscale'`` the noise.
    """
    image = np.asarray(image)
    if scale == "zscale":
        vmin, vmax = zscale_limits(image)
    else:
        finite = image[np.isfinite(image)]
        vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    shown = ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax, origin="lower",
                      interpolation="nearest")
    if colorbar:
        ax.figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.03, label="ADU")
    return shown


def plot_simulated_image(image, *, title="Simulated image", scale="linear", figsize=(5.6, 4.6)):
    """One simulated image with its colour bar in ADU (the thesis's figure 6).

    Parameters
    ----------
    image : ndarray, shape (H, W)
        ADU as simulated (pedestal included).
    title : str
    scale : {'linear', 'zscale'}
        ``'linear'`` spans the full range, so glow and hot pixels stand out as
        in the thesis; ``'zscale'`` stretches the noise to show faint clusters.
    figsize : tuple of float

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    _show_adu(ax, image, scale=scale)
    ax.set(title=title, xlabel="column", ylabel="row")
    return fig


def plot_image_and_label(image, label, *, title="", scale="zscale", panel_size=4.2):
    """An image (colour bar in ADU) beside its class mask with class percentages.

    Used for the balanced image (thesis figure 15) and any image/label pair.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(2.3 * panel_size, panel_size))
    _show_adu(left, image, scale=scale)
    left.set(title="image" if not title else f"{title}: image", xlabel="column", ylabel="row")
    show_label(right, label)
    class_legend(right, label, loc="upper right", fontsize="x-small", framealpha=0.85)
    right.set(title="truth labels", xlabel="column")
    fig.tight_layout()
    return fig


def plot_label(label, *, title="Labels", figsize=(5.2, 4.6)):
    """A class mask in the thesis colours with a legend of class percentages (thesis figure 9).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    show_label(ax, label)
    class_legend(ax, label, loc="upper right", fontsize="small", framealpha=0.85)
    ax.set(title=title, xlabel="column", ylabel="row")
    return fig


def _object_box(footprint, pad, shape):
    """Square-ish slices around an object's footprint, padded and kept inside the image."""
    rows, cols = np.nonzero(footprint)
    half = max(rows.max() - rows.min(), cols.max() - cols.min()) // 2 + pad
    centre = ((rows.min() + rows.max()) // 2, (cols.min() + cols.max()) // 2)
    box = []
    for c, size in zip(centre, shape):
        start = int(np.clip(c - half, 0, max(size - 2 * half - 1, 0)))
        box.append(slice(start, min(start + 2 * half + 1, size)))
    return tuple(box)


def pick_cluster_examples(dataset, kinds=CLUSTER_KINDS):
    """The largest object (by footprint) of each cluster kind in a dataset.

    Parameters
    ----------
    dataset : ccdnb.simulation.Dataset
    kinds : sequence of str

    Returns
    -------
    dict
        kind -> row of ``dataset.objects`` (kinds absent from the dataset are left out).
    """
    objects = dataset.objects
    picked = {}
    for kind in kinds:
        rows = objects[(objects["cls"] == CLUSTER) & (objects["kind"] == kind)]
        if rows.size:
            picked[kind] = rows[np.argmax(rows["npix"])]
    return picked


def plot_cluster_kinds(dataset, kinds=CLUSTER_KINDS, *, pad=4, panel_size=2.6):
    """Stamps of one example of every cluster kind: image (zscale) above, truth labels below.

    Each stamp is cut around the object's footprint (``instances == id``) from
    the objects table; a kind the dataset lacks gets an empty panel saying so.

    Parameters
    ----------
    dataset : ccdnb.simulation.Dataset
    kinds : sequence of str
    pad : int
        Pixels around the footprint.
    panel_size : float

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    picked = pick_cluster_examples(dataset, kinds)
    fig, axes = plt.subplots(2, len(kinds), figsize=(panel_size * len(kinds), 2 * panel_size),
                             squeeze=False)
    for col, kind in enumerate(kinds):
        top, bottom = axes[0, col], axes[1, col]
        if kind not in picked:
            for ax in (top, bottom):
                ax.text(0.5, 0.5, f"no {kind}\nin this set", ha="center", va="center",
                        transform=ax.transAxes)
                ax.set_axis_off()
            continue
        obj = picked[kind]
        k = int(obj["image"])
        box = _object_box(dataset.instances[k] == obj["id"], pad, dataset.images[k].shape)
        stamp = dataset.images[k][box]
        extent = (box[1].start - 0.5, box[1].stop - 0.5, box[0].start - 0.5, box[0].stop - 0.5)
        top.imshow(stamp, cmap="gray", origin="lower", interpolation="nearest", extent=extent,
                   vmin=zscale_limits(stamp)[0], vmax=float(stamp.max()))
        energy = f"{obj['energy_kev']:.3g} keV, " if np.isfinite(obj["energy_kev"]) else ""
        top.set_title(f"{kind}: {energy}{obj['npix']} px", fontsize="small")
        show_label(bottom, dataset.labels[k][box], extent=extent)
        bottom.set_title(f"truth, peak {obj['peak_sigma']:.0f} sigma", fontsize="small")
    fig.tight_layout()
    return fig


def disagreement_rgb(truth, other):
    """RGB image of where two class masks differ.

    Agreeing pixels are dark grey; a pixel the other mask gets wrong is drawn
    in the colour of its true class, and a true-background pixel the other
    mask calls signal is white.

    Returns
    -------
    ndarray of float32, shape (H, W, 3)
    """
    truth, other = np.asarray(truth), np.asarray(other)
    colours = np.asarray(CLASS_COLOURS, np.float32).copy()
    colours[BACKGROUND] = 1.0
    rgb = np.full(truth.shape + (3,), 0.15, np.float32)
    wrong = truth != other
    rgb[wrong] = colours[truth[wrong]]
    return rgb


def plot_threshold_vs_truth(images, truths, thresholds, *, scale="zscale", panel_size=2.9):
    """Threshold labels against truth labels, one row per image, differences highlighted.

    Columns: the image, its truth labels, its threshold labels, and the pixels
    where they differ (:func:`disagreement_rgb`: in the true class's colour
    what the thresholds missed or mislabelled, in white background the
    thresholds called signal).

    Parameters
    ----------
    images, truths, thresholds : ndarray, shape (N, H, W) or (H, W)
    scale : {'zscale', 'linear'}
    panel_size : float

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    images, truths, thresholds = (np.asarray(a) for a in (images, truths, thresholds))
    if images.ndim == 2:
        images, truths, thresholds = images[None], truths[None], thresholds[None]
    n = len(images)
    height = n * (panel_size + 0.3) + 0.6  # room for row gaps and the legend strip
    fig, axes = plt.subplots(n, 4, figsize=(4 * panel_size, height), squeeze=False)
    for k in range(n):
        wrong = truths[k] != thresholds[k]
        _show_adu(axes[k, 0], images[k], scale=scale, colorbar=False)
        show_label(axes[k, 1], truths[k])
        show_label(axes[k, 2], thresholds[k])
        axes[k, 3].imshow(disagreement_rgb(truths[k], thresholds[k]), origin="lower",
                          interpolation="nearest")
        axes[k, 0].set_ylabel(f"image {k}")
        axes[k, 3].text(0.03, 0.97, f"{wrong.sum()} px differ ({100 * wrong.mean():.2f} %)",
                        transform=axes[k, 3].transAxes, va="top", fontsize="small", color="w")
        for ax in axes[k]:
            ax.set_xticks([])
            ax.set_yticks([])
    for ax, title in zip(axes[0], ("image", "truth", "thresholds", "differences")):
        ax.set_title(title)
    handles = [Patch(facecolor=CLASS_COLOURS[c], edgecolor="0.5",
                     label=f"true {CLASS_NAMES[c]}, missed")
               for c in range(1, N_CLASSES)]
    handles.append(Patch(facecolor="white", edgecolor="0.5", label="background called signal"))
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize="small", frameon=False)
    fig.tight_layout(rect=(0, 0.6 / height, 1, 1), h_pad=0.8)
    return fig


def plot_class_percentages(percentages, *, figsize=(6.4, 3.6)):
    """Grouped bars of the percentage of pixels in each class, log scale.

    Parameters
    ----------
    percentages : dict
        Name of a label set (e.g. ``'truth (train)'``) -> sequence of 4 percentages.
    figsize : tuple of float

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    fig, ax = plt.subplots(figsize=figsize)
    n = len(percentages)
    width = 0.8 / max(n, 1)
    x = np.arange(N_CLASSES)
    hatches = ["", "//", "..", "xx", "\\\\"]
    handles = []
    for i, (name, share) in enumerate(percentages.items()):
        share = np.asarray(share, dtype=float)
        hatch = hatches[i % len(hatches)]
        bars = ax.bar(x + (i - (n - 1) / 2) * width, share, width, color=CLASS_COLOURS,
                      edgecolor="0.5", hatch=hatch)
        ax.bar_label(bars, labels=[f"{s:.2g}" for s in share], fontsize="x-small", padding=1)
        handles.append(Patch(facecolor="white", edgecolor="0.3", hatch=hatch, label=name))
    ax.set_yscale("log")
    ax.set_xticks(x, CLASS_NAMES)
    ax.set_ylabel("pixels (%)")
    ax.legend(handles=handles, fontsize="small")
    fig.tight_layout()
    return fig


def plot_object_kinds(kinds, dataset, *, panel_size=1.9, per_row=8):
    """Every object kind: the image (zscale) with its truth labels below it.

    Parameters
    ----------
    kinds : sequence of str
        ``kinds[i]`` is what image ``i`` of ``dataset`` shows
        (see :func:`ccdnb.simulation.simulate_kind_examples`).
    dataset : ccdnb.simulation.Dataset
    panel_size : float
    per_row : int
        Kinds per row of the figure (each takes two panels, image above truth).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    n_rows = -(-len(kinds) // per_row)
    fig, axes = plt.subplots(2 * n_rows, per_row,
                             figsize=(panel_size * per_row, 2 * n_rows * panel_size),
                             squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for i, kind in enumerate(kinds):
        top = axes[2 * (i // per_row), i % per_row]
        bottom = axes[2 * (i // per_row) + 1, i % per_row]
        image = dataset.images[i]
        top.imshow(image, cmap="gray", origin="lower", interpolation="nearest",
                   vmin=zscale_limits(image)[0], vmax=float(image.max()))
        top.set_title(kind, fontsize="small")
        show_label(bottom, dataset.labels[i])
        for ax in (top, bottom):
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return fig
