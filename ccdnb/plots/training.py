"""Figures of notebook 04: learning curves (the thesis's figure 19)."""

from __future__ import annotations

import numpy as np

__all__ = ["PANELS", "plot_learning_curves", "plot_learning_rate"]

#: Panels drawn when their columns are in the history: (key, title).
PANELS = (
    ("loss", "loss"),
    ("accuracy", "pixel accuracy"),
    ("mean_iou", "mean IoU (4 classes)"),
    ("iou_cluster", "cluster IoU"),
)


def plot_learning_curves(history, *, best_epoch=None, panels=PANELS, panel_size=(4.2, 3.2)):
    """Training and validation curves per epoch, the best epoch marked.

    Parameters
    ----------
    history : dict or str or Path
        ``{column: values}`` as :attr:`ccdnb.training.train.TrainingResult.history`, or a
        ``history.csv`` written by training (:func:`ccdnb.training.train.read_history`).
    best_epoch : int, optional
        1-based epoch whose weights were kept; drawn as a dashed line. By default
        the epoch of the lowest ``val_loss`` (``loss`` without validation).
    panels : sequence of (str, str)
        ``(metric key, title)``; panels whose key is missing are skipped. Two
        panels per row.
    panel_size : (float, float)
        Inches per panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from ..training.train import best_epoch_of, read_history

    if not isinstance(history, dict):
        history = read_history(history)
    if "loss" not in history:
        raise ValueError("history has no 'loss' column")
    if best_epoch is None:
        best_epoch = best_epoch_of(history)
    shown = [(key, title) for key, title in panels if key in history]
    ncols = min(2, len(shown))
    nrows = -(-len(shown) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size[0] * ncols, panel_size[1] * nrows),
                             squeeze=False)
    axes = axes.ravel()
    for ax in axes[len(shown):]:
        ax.set_visible(False)
    epochs = np.arange(1, len(history["loss"]) + 1)
    for ax, (key, title) in zip(axes, shown):
        ax.plot(epochs, history[key], "o-", ms=3, label="training")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], "s-", ms=3, label="validation")
        ax.axvline(best_epoch, color="0.4", ls="--", lw=1, label=f"best epoch ({best_epoch})")
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    fig.tight_layout()
    return fig


def plot_learning_rate(history, *, ax=None):
    """Learning rate per epoch (log scale): where ReduceLROnPlateau stepped it down.

    Parameters
    ----------
    history : dict or str or Path
        As for :func:`plot_learning_curves`; needs a ``learning_rate`` column.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from ..training.train import read_history

    if not isinstance(history, dict):
        history = read_history(history)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 2.8))
    rates = np.asarray(history["learning_rate"], dtype=float)
    ax.step(np.arange(1, len(rates) + 1), rates, where="mid")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.grid(alpha=0.3)
    return ax.figure
