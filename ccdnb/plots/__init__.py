"""Plotting shared by the notebooks: the class colour map, legends, label images.

Area-specific figures live in submodules (``plots.data``, ``plots.training``,
``plots.evaluation``, ``plots.inference``).
"""

from __future__ import annotations

import numpy as np

from ..classes import CLASS_COLOURS, CLASS_NAMES, N_CLASSES, class_percentages

__all__ = ["zscale_limits", "class_cmap", "class_norm", "show_label", "class_legend",
           "save_figure"]


def zscale_limits(image) -> tuple[float, float]:
    """Display limits of a raw ADU image (IRAF/DS9 zscale), ignoring NaN/inf pixels.

    The one zscale of every figure. Returns ``(0.0, 1.0)`` for an image
    without a finite pixel.
    """
    from astropy.visualization import ZScaleInterval

    finite = np.asarray(image)[np.isfinite(image)]
    if not finite.size:
        return 0.0, 1.0
    low, high = ZScaleInterval().get_limits(finite)
    return float(low), float(high)


def class_cmap():
    """Return a :class:`matplotlib.colors.ListedColormap` with the class colours.

    Use with ``vmin=-0.5, vmax=N_CLASSES - 0.5`` (or :func:`class_norm`) so that
    class id ``k`` gets colour ``k``.
    """
    from matplotlib.colors import ListedColormap

    return ListedColormap(CLASS_COLOURS, name="ccdnb_classes")


def class_norm():
    """Return the :class:`matplotlib.colors.BoundaryNorm` mapping id ``k`` to colour ``k``."""
    from matplotlib.colors import BoundaryNorm

    return BoundaryNorm(np.arange(N_CLASSES + 1) - 0.5, N_CLASSES)


def show_label(ax, label, *, extent=None, origin="lower"):
    """Draw a class mask on ``ax`` in the class colours.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    label : ndarray of int, shape (H, W)
    extent, origin
        Passed to :meth:`~matplotlib.axes.Axes.imshow` (``origin='lower'`` puts
        pixel row 0 at the bottom, as DS9 shows FITS images).

    Returns
    -------
    matplotlib.image.AxesImage
    """
    return ax.imshow(np.asarray(label), cmap=class_cmap(), norm=class_norm(),
                     interpolation="nearest", extent=extent, origin=origin)


def class_legend(ax, label=None, *, loc="upper right", **kwargs):
    """Add a legend of the four classes to ``ax``.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    label : ndarray of int, optional
        When given, each entry shows that class's percentage of the pixels
        (as the thesis's figures 18 and 20).
    loc : str
        Legend location.
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.legend`.
    """
    from matplotlib.patches import Patch

    names = list(CLASS_NAMES)
    if label is not None:
        share = class_percentages(label)
        names = [f"{n} ({s:.2f}%)" for n, s in zip(names, share)]
    handles = [Patch(facecolor=c, edgecolor="0.5", label=n) for c, n in zip(CLASS_COLOURS, names)]
    return ax.legend(handles=handles, loc=loc, **kwargs)


def save_figure(fig, figures_dir, name, *, dpi=110):
    """Save ``fig`` as ``figures_dir/name`` (PNG) and return the path.

    Creates the folder if needed. Metadata that changes on every run (the
    software version stamp) is dropped so re-running gives the same bytes.
    """
    from pathlib import Path

    out = Path(figures_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    fig.savefig(path, dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return path
