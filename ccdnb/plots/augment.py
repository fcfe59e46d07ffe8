"""Figures of notebook 03: augmentation examples and normalised network inputs."""

from __future__ import annotations

import numpy as np

from . import class_legend, show_label, zscale_limits

__all__ = ["INPUT_RANGE", "plot_transform_gallery", "plot_normalization_invariance",
           "plot_network_batch"]

#: Display range of normalised inputs, ``asinh(z / 2)``: -2 is about -7 sigma, 5 about 150 sigma.
INPUT_RANGE = (-2.0, 5.0)


def _adu_title(name, image):
    finite = np.asarray(image)[np.isfinite(image)]
    return f"{name}\nmedian {np.median(finite):.4g} ADU"


def plot_transform_gallery(galleries, *, panel_size=1.7):
    """Each transform's image above its transformed label, one row pair per example.

    Parameters
    ----------
    galleries : list of list of (str, ndarray, ndarray)
        One :func:`ccdnb.training.augment.transform_gallery` result per example image.
    panel_size : float
        Inches per panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    ncols = max(len(g) for g in galleries)
    nrows = 2 * len(galleries)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size * ncols, panel_size * nrows * 1.15),
                             squeeze=False)
    for row, gallery in enumerate(galleries):
        for col in range(ncols):
            ax_image, ax_label = axes[2 * row, col], axes[2 * row + 1, col]
            if col >= len(gallery):
                ax_image.set_axis_off()
                ax_label.set_axis_off()
                continue
            name, image, label = gallery[col]
            vmin, vmax = zscale_limits(image)
            ax_image.imshow(image, cmap="gray", vmin=vmin, vmax=vmax, origin="lower",
                            interpolation="nearest")
            ax_image.set_title(_adu_title(name, image), fontsize=7)
            show_label(ax_label, label)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    # added after the layout so that it hangs below the panels without squeezing them
    class_legend(axes[-1, 0], loc="upper left", bbox_to_anchor=(0.0, -0.05), ncol=4, fontsize=7)
    return fig


def plot_normalization_invariance(variants, *, panel_size=2.6):
    """Raw images of one scene at several detector settings, and their network inputs.

    Parameters
    ----------
    variants : list of (str, ndarray)
        ``(title, raw ADU image)``; the first is the reference for the differences.

    Returns
    -------
    matplotlib.figure.Figure
        Top row: raw ADU on one shared linear scale (so the settings look
        different); bottom row: :func:`ccdnb.normalize.normalize_image` on one
        shared scale, titled with the largest difference from the first.
    """
    import matplotlib.pyplot as plt

    from ..normalize import normalize_image

    raws = [np.asarray(image) for _, image in variants]
    inputs = [normalize_image(image) for image in raws]
    low, high = np.percentile(np.concatenate([r.ravel() for r in raws]), [1, 99])
    n = len(variants)
    fig, axes = plt.subplots(2, n, figsize=(panel_size * n, panel_size * 2.1), squeeze=False)
    for k, ((title, _), raw, x) in enumerate(zip(variants, raws, inputs)):
        shown = axes[0, k].imshow(raw, cmap="gray", vmin=low, vmax=high, origin="lower",
                                  interpolation="nearest")
        axes[0, k].set_title(title, fontsize=8)
        net = axes[1, k].imshow(x, cmap="magma", vmin=INPUT_RANGE[0], vmax=INPUT_RANGE[1],
                                origin="lower", interpolation="nearest")
        largest = np.abs(x - inputs[0]).max()
        axes[1, k].set_title(f"network input\nmax |diff| vs first {largest:.1e}", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(shown, ax=axes[0].tolist(), label="ADU (shared scale)", shrink=0.8)
    fig.colorbar(net, ax=axes[1].tolist(), label="asinh(z / 2)", shrink=0.8)
    return fig


def plot_network_batch(x, y, *, panel_size=2.0):
    """A batch as the network gets it: normalised inputs above their one-hot labels.

    Parameters
    ----------
    x : ndarray, shape (B, H, W, 1)
    y : ndarray, shape (B, H, W, 4)
        As returned by :class:`ccdnb.training.augment.AugmentedSequence`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    n = len(x)
    fig, axes = plt.subplots(2, n, figsize=(panel_size * n, panel_size * 2.1), squeeze=False)
    for k in range(n):
        shown = axes[0, k].imshow(x[k, ..., 0], cmap="magma", vmin=INPUT_RANGE[0],
                                  vmax=INPUT_RANGE[1], origin="lower", interpolation="nearest")
        axes[0, k].set_title(f"input {k}", fontsize=8)
        show_label(axes[1, k], np.argmax(y[k], axis=-1))
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(shown, ax=axes[0].tolist(), label="asinh(z / 2)", shrink=0.8)
    class_legend(axes[1, 0], loc="upper left", bbox_to_anchor=(0.0, -0.05), ncol=4, fontsize=7)
    return fig
