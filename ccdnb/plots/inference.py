"""Figures of notebook 06: whole frames and their predicted labels, sections, overlays, seams.

Images are raw ADU shown with a zscale stretch (IRAF/DS9), ``origin='lower'``
so pixel row 0 is at the bottom, and axes in true pixel coordinates.
"""

from __future__ import annotations

import numpy as np

from ..classes import (
    CLASS_COLOURS,
    CLASS_NAMES,
    CLUSTER,
    GLOWING,
    HOT_PIXEL,
    N_CLASSES,
    class_id,
    class_percentages,
)
from . import class_legend, show_label, zscale_limits

__all__ = ["DEFAULT_OVERLAY_CLASSES", "show_image", "class_overlay", "class_profile",
           "plot_images_and_labels", "plot_truth_and_prediction", "label_for_display",
           "plot_frame_truth_and_prediction", "plot_sections", "plot_overlay", "plot_seam_check"]

#: Display limits of a raw ADU image (zscale); the shared :func:`ccdnb.plots.zscale_limits`.
image_limits = zscale_limits

#: Classes drawn over the image by default (background is left clear).
DEFAULT_OVERLAY_CLASSES = (GLOWING, HOT_PIXEL, CLUSTER)


def show_image(ax, image, *, extent=None, limits=None):
    """Draw a raw ADU image on ``ax`` in grey with a zscale stretch, row 0 at the bottom.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    image : ndarray, shape (H, W)
    extent : tuple, optional
        ``(left, right, bottom, top)`` (e.g. :attr:`ccdnb.sections.Section.extent`).
    limits : (float, float), optional
        Display limits; default :func:`image_limits` of ``image``.

    Returns
    -------
    matplotlib.image.AxesImage
    """
    vmin, vmax = image_limits(image) if limits is None else limits
    return ax.imshow(np.asarray(image), cmap="gray", vmin=vmin, vmax=vmax, origin="lower",
                     interpolation="nearest", extent=extent)


def class_overlay(label, visible=DEFAULT_OVERLAY_CLASSES, *, alpha=0.5) -> np.ndarray:
    """RGBA image colouring the pixels of the visible classes.

    Parameters
    ----------
    label : ndarray of int, shape (H, W)
        Class mask.
    visible : iterable of int or str
        Classes to colour (ids or names); other pixels are fully transparent.
    alpha : float
        Opacity of the coloured pixels, 0 to 1.

    Returns
    -------
    ndarray, shape (H, W, 4), float32
        Class colour and ``alpha`` on visible-class pixels, zeros elsewhere.
    """
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    palette = np.zeros((256, 4), dtype=np.float32)  # any uint8 value indexes it
    for k in {class_id(cls) for cls in visible}:
        palette[k] = (*CLASS_COLOURS[k], float(alpha))
    return palette[np.asarray(label, dtype=np.uint8)]


def class_profile(label, cls, *, axis=0) -> np.ndarray:
    """Fraction of the pixels of each column (``axis=0``) or row (``axis=1``) in class ``cls``.

    A stitching seam shows as a spike at the tile borders: the thesis's false
    glowing lines every 256 columns.
    """
    return (np.asarray(label) == class_id(cls)).mean(axis=axis)


def _legend_below(ax, label):
    class_legend(ax, label, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2,
                 fontsize="small", frameon=False)


def plot_images_and_labels(images, labels, *, titles=None, panel_size=4.5):
    """Each image beside its class mask, the legend giving the class percentages
    (thesis figures 18 and 20).

    Parameters
    ----------
    images : sequence of ndarray (H, W)
        Raw ADU images (e.g. the amplifiers of a frame).
    labels : sequence of ndarray (H, W)
        Their class masks.
    titles : sequence of str, optional
        One per image.
    panel_size : float
        Inches per panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    n = len(images)
    titles = list(titles) if titles is not None else [f"image {k}" for k in range(n)]
    # Rows as tall as the images' aspect needs, plus room for titles and the legend.
    aspect = max(np.shape(image)[0] / np.shape(image)[1] for image in images)
    fig, axes = plt.subplots(n, 2,
                             figsize=(2 * panel_size, (aspect * (panel_size - 0.8) + 1.5) * n),
                             squeeze=False)
    for row, (image, label, title) in enumerate(zip(images, labels, titles)):
        show_image(axes[row, 0], image)
        axes[row, 0].set_title(f"{title}: image (ADU, zscale)")
        show_label(axes[row, 1], label)
        axes[row, 1].set_title(f"{title}: predicted label")
        _legend_below(axes[row, 1], label)
        for ax in axes[row]:
            ax.set_xlabel("x (column)")
            ax.set_ylabel("y (row)")
    fig.tight_layout()
    return fig


def plot_truth_and_prediction(image, truth, prediction, *, title="", panel_size=4.0):
    """An image, its true label and its predicted label side by side, each legend
    giving the class percentages.

    Parameters
    ----------
    image : ndarray (H, W)
        Raw ADU image.
    truth, prediction : ndarray of int (H, W)
        True and predicted class masks.
    title : str
        Prefix of the panel titles (e.g. the amplifier's name).
    panel_size : float
        Inches per panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    aspect = np.shape(image)[0] / np.shape(image)[1]
    fig, axes = plt.subplots(1, 3, figsize=(3 * panel_size, aspect * (panel_size - 0.8) + 1.5))
    show_image(axes[0], image)
    axes[0].set_title(f"{title} image (ADU, zscale)".strip())
    for ax, label, name in ((axes[1], truth, "simulated truth"),
                            (axes[2], prediction, "prediction")):
        show_label(ax, label)
        ax.set_title(f"{title} {name}".strip())
        _legend_below(ax, label)
    for ax in axes:
        ax.set_xlabel("x (column)")
        ax.set_ylabel("y (row)")
    fig.tight_layout()
    return fig


def label_for_display(label, max_pixels):
    """A class mask shrunk by whole blocks to at most ``max_pixels`` per side, keeping thin lines.

    Each block shows its highest-priority class (hot pixel > cluster > glowing >
    background, as the truth labels rank them), so a one-pixel hot column or a
    small cluster stays visible where a plain nearest-neighbour rendering of a
    large mask on a small panel would drop it.

    Returns
    -------
    ndarray of uint8
        The shrunk mask (the input itself when it is small enough).
    """
    from ..classes import PRIORITY

    label = np.asarray(label)
    factor = int(np.ceil(max(label.shape) / max(int(max_pixels), 1)))
    if factor <= 1:
        return label
    rank = np.zeros(max(PRIORITY) + 1, dtype=np.uint8)
    rank[list(PRIORITY)] = np.arange(len(PRIORITY), 0, -1)
    h, w = (-(-n // factor) * factor for n in label.shape)
    padded = np.zeros((h, w), dtype=np.uint8)
    padded[:label.shape[0], :label.shape[1]] = rank[label]
    blocks = padded.reshape(h // factor, factor, w // factor, factor).max(axis=(1, 3))
    by_rank = np.zeros(len(PRIORITY) + 1, dtype=np.uint8)
    by_rank[np.arange(len(PRIORITY), 0, -1)] = list(PRIORITY)
    return by_rank[blocks]


def plot_frame_truth_and_prediction(images, truths, predictions, *, titles=None,
                                    panel_size=3.6):
    """Every amplifier of a frame: its image, true label and predicted label in one row.

    Parameters
    ----------
    images : sequence of ndarray (H, W)
        Raw ADU images, one per amplifier.
    truths, predictions : sequence of ndarray of int (H, W)
        True and predicted class masks, in the same order.
    titles : sequence of str, optional
        One per amplifier (e.g. the EXTNAMEs).
    panel_size : float
        Inches per panel's width.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    titles = list(titles) if titles is not None else [f"{k}" for k in range(len(images))]
    aspect = np.shape(images[0])[0] / np.shape(images[0])[1]
    fig, axes = plt.subplots(len(images), 3, squeeze=False,
                             figsize=(3 * panel_size, len(images) * (aspect * panel_size + 0.9)))
    for row, (image, truth, prediction, title) in enumerate(zip(images, truths, predictions,
                                                                titles)):
        show_image(axes[row, 0], image)
        axes[row, 0].set_title(f"{title} image (zscale)")
        height, width = np.shape(truth)
        for ax, label, name in ((axes[row, 1], truth, "truth"),
                                (axes[row, 2], prediction, "prediction")):
            # about 100 display pixels per inch: thin hot columns must not vanish
            show_label(ax, label_for_display(label, 100 * panel_size),
                       extent=(-0.5, width - 0.5, -0.5, height - 0.5))
            ax.set_title(f"{title} {name}")
            _legend_below(ax, label)
    fig.tight_layout()
    return fig


def plot_sections(image, label, sections, *, cls=None, max_sections=8, ncols=4,
                  panel_size=2.6):
    """The given sections, image above label, with true pixel coordinates on the axes.

    Parameters
    ----------
    image, label : ndarray (H, W)
        The full image (ADU) and its class mask; the image stretch is the full
        image's, so sections compare with each other.
    sections : list of ccdnb.sections.Section
        Typically :func:`ccdnb.sections.sections_with_class`.
    cls : int or str, optional
        The class the sections were chosen for: its percentage goes in each title.
    max_sections : int
        At most this many sections are drawn (the first ones).
    ncols : int
        Sections per figure row.
    panel_size : float
        Inches per panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    shown = list(sections)[:max(int(max_sections), 1)]
    if not shown:
        fig, ax = plt.subplots(figsize=(panel_size * 2, panel_size / 2))
        ax.axis("off")
        ax.text(0.5, 0.5, "no section to show", ha="center", va="center")
        return fig
    ncols = min(int(ncols), len(shown))
    nrows = -(-len(shown) // ncols)
    fig, axes = plt.subplots(2 * nrows, ncols, squeeze=False,
                             figsize=(panel_size * ncols, 2 * panel_size * nrows))
    limits = image_limits(image)
    k = None if cls is None else class_id(cls)
    for ax in axes.ravel():
        ax.axis("off")
    for n, section in enumerate(shown):
        top, bottom = axes[2 * (n // ncols), n % ncols], axes[2 * (n // ncols) + 1, n % ncols]
        show_image(top, section.cut(image), extent=section.extent, limits=limits)
        show_label(bottom, section.cut(label), extent=section.extent)
        title = f"section {section.index}"
        if k is not None:
            title += f": {class_percentages(section.cut(label))[k]:.2f}% {CLASS_NAMES[k]}"
        top.set_title(title, fontsize="small")
        for ax in (top, bottom):
            ax.axis("on")
            ax.tick_params(labelsize="x-small")
    handles = class_legend(axes[0, 0]).legend_handles
    axes[0, 0].get_legend().remove()
    fig.legend(handles=handles, loc="lower center", ncol=N_CLASSES, fontsize="small",
               frameon=False)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def plot_overlay(image, label, *, visible=DEFAULT_OVERLAY_CLASSES, alpha=0.5, section=None,
                 ax=None, panel_size=5.0):
    """The image with the visible classes' colours laid over it.

    Parameters
    ----------
    image, label : ndarray (H, W)
        Full image (ADU) and class mask.
    visible : iterable of int or str
        Classes to colour (the per-class toggles).
    alpha : float
        Opacity of the class colours.
    section : ccdnb.sections.Section, optional
        Draw only this section, in its true pixel coordinates.
    ax : matplotlib.axes.Axes, optional
        Draw here; a new figure is made otherwise.
    panel_size : float
        Inches of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(panel_size, panel_size))
    else:
        fig = ax.figure
    limits = image_limits(image)
    extent = None
    if section is not None:
        image, label, extent = section.cut(image), section.cut(label), section.extent
    show_image(ax, image, extent=extent, limits=limits)
    ax.imshow(class_overlay(label, visible, alpha=alpha), origin="lower",
              interpolation="nearest", extent=extent)
    shown = sorted(class_id(cls) for cls in visible)
    ax.set_title("overlay: " + (", ".join(CLASS_NAMES[k] for k in shown) or "none"),
                 fontsize="small")
    ax.set_xlabel("x (column)")
    ax.set_ylabel("y (row)")
    return fig


def plot_seam_check(label, *, tile, margin, cls=GLOWING, figsize=(10, 3.2)):
    """Fraction of each column and row predicted as ``cls``, with tile borders marked.

    Per-section prediction (the thesis) puts a border every ``tile`` pixels and
    false glowing lines there; overlapping tiles with discarded margins stitch
    their kept centres elsewhere (:func:`ccdnb.predict.tiling.kept_starts`), where no
    spike should appear either.

    Parameters
    ----------
    label : ndarray (H, W)
        Predicted class mask of one image.
    tile : int
        Tile side: dashed lines at its multiples.
    margin : int
        Margin discarded on stitching: dotted lines where kept centres meet
        (with ``margin=0``, per-section prediction, they are the tile borders).
    cls : int or str
        Class whose profile is drawn.
    figsize : (float, float)

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from ..predict.tiling import kept_starts

    k = class_id(cls)
    fig, axes = plt.subplots(1, 2, figsize=figsize)
    for ax, axis, name in ((axes[0], 0, "column x"), (axes[1], 1, "row y")):
        profile = 100.0 * class_profile(label, k, axis=axis)
        # The class colours are for black backgrounds; draw the line darker.
        ax.plot(np.arange(profile.size), profile, color=np.multiply(CLASS_COLOURS[k], 0.7),
                lw=1)
        for edge in range(tile, profile.size, tile):
            ax.axvline(edge - 0.5, color="0.4", ls="--", lw=0.8)
        for edge in kept_starts(profile.size, tile, margin)[1:]:
            if 0 < edge < profile.size:
                ax.axvline(edge - 0.5, color="0.6", ls=":", lw=0.8)
        ax.set_xlabel(name)
        ax.set_ylabel(f"% of pixels predicted {CLASS_NAMES[k]}")
        ax.set_xlim(-0.5, profile.size - 0.5)
    axes[0].set_title(f"per column (dashed: every {tile} px, dotted: stitch borders)",
                      fontsize="small")
    axes[1].set_title("per row", fontsize="small")
    fig.tight_layout()
    return fig
