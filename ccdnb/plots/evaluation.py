"""Figures of notebook 05: confusion matrices, test examples, cluster efficiency."""

from __future__ import annotations

import numpy as np

from ..classes import CLASS_IDS, CLASS_NAMES
from . import class_legend, show_label, zscale_limits

__all__ = ["normalized_confusion_matrix", "plot_confusion_matrices", "plot_examples",
           "plot_cluster_efficiency", "plot_experiment"]


def normalized_confusion_matrix(truth, pred) -> np.ndarray:
    """(4, 4) confusion matrix, each true-class row divided by its pixel count.

    Rows of classes absent from the truth are 0.
    """
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(np.ravel(truth), np.ravel(pred), labels=list(CLASS_IDS),
                            normalize="true")


def plot_confusion_matrices(truth, predictions: dict, *, panel_size=3.4):
    """Normalised confusion matrices (rows: true class, sum 1), one panel per predictor.

    Parameters
    ----------
    truth : array_like of int
        Truth class masks.
    predictions : dict
        Predictor name -> predicted masks (same shape as ``truth``).
    panel_size : float
        Inches per panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    n = len(predictions)
    fig, axes = plt.subplots(1, n, figsize=(panel_size * n + 0.6, panel_size), squeeze=False,
                             constrained_layout=True)
    for ax, (name, pred) in zip(axes[0], predictions.items()):
        matrix = normalized_confusion_matrix(truth, pred)
        image = ax.imshow(matrix, cmap="Blues", vmin=0.0, vmax=1.0)
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if value > 0.6 else "black")
        ax.set_xticks(range(len(CLASS_NAMES)), CLASS_NAMES, rotation=30, ha="right", fontsize=8)
        ax.set_yticks(range(len(CLASS_NAMES)), CLASS_NAMES, fontsize=8)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title(name)
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="share of the true class")
    return fig


def plot_examples(images, truths, predictions: dict, *, titles=None, panel_size=2.6):
    """Test images beside their truth and predicted labels (thesis figure 16).

    Parameters
    ----------
    images : sequence of ndarray (H, W)
        Raw ADU images (shown on a zscale stretch, row 0 at the bottom).
    truths : sequence of ndarray (H, W)
        Truth class masks.
    predictions : dict
        Predictor name -> sequence of predicted masks, one per image.
    titles : sequence of str, optional
        One title per image (e.g. its index in the test set).
    panel_size : float
        Inches per panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    n_rows, n_cols = len(images), 2 + len(predictions)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(panel_size * n_cols, panel_size * n_rows),
                             squeeze=False)
    for row, (image, truth) in enumerate(zip(images, truths)):
        vmin, vmax = zscale_limits(image)
        axes[row, 0].imshow(image, cmap="gray", vmin=vmin, vmax=vmax, origin="lower",
                            interpolation="nearest")
        show_label(axes[row, 1], truth)
        for col, masks in enumerate(predictions.values(), start=2):
            show_label(axes[row, col], masks[row])
        name = titles[row] if titles is not None else f"image {row}"
        axes[row, 0].set_ylabel(name)
    for col, heading in enumerate(["image (ADU, zscale)", "truth"] + list(predictions)):
        axes[0, col].set_title(heading)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    class_legend(axes[0, -1], loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)
    fig.tight_layout()
    return fig


def plot_cluster_efficiency(results: dict, *, figsize=(10, 3.8)):
    """Cluster detection efficiency against peak significance and against energy.

    Parameters
    ----------
    results : dict
        Predictor name -> metrics of :func:`ccdnb.evaluation.report.evaluate_predictions`
        (uses ``cluster_efficiency_by_significance`` and ``..._by_energy``).
    figsize : tuple of float

    Returns
    -------
    matplotlib.figure.Figure
        Points at the bin centres (geometric where possible), binomial error bars;
        empty bins are left out; the bin contents are printed under the axis.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=figsize)
    panels = [("cluster_efficiency_by_significance", "peak significance (read-noise sigma)"),
              ("cluster_efficiency_by_energy", "energy (keV)")]
    for ax, (key, xlabel) in zip(axes, panels):
        for offset, (name, metrics) in enumerate(results.items()):
            rows = [r for r in metrics[key] if r["n"]]
            positions = np.arange(len(metrics[key]), dtype=float)
            index = [i for i, r in enumerate(metrics[key]) if r["n"]]
            ax.errorbar(positions[index] + 0.08 * (offset - (len(results) - 1) / 2),
                        [r["efficiency"] for r in rows], yerr=[r["error"] for r in rows],
                        marker="o", capsize=3, linestyle="-", label=name)
        edges = metrics[key]
        ax.set_xticks(range(len(edges)),
                      [_bin_label(r["low"], r["high"]) + f"\nn={r['n']}" for r in edges],
                      fontsize=7)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("detection efficiency")
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="lower right")
    fig.tight_layout()
    return fig


def _bin_label(low, high):
    def number(v):
        return f"{v:g}"

    if high is None or not np.isfinite(high):
        return f">{number(low)}"
    return f"{number(low)}-{number(high)}"


def plot_experiment(results: dict, *, title, finding, figsize=(9.5, 4.2)):
    """Per-class F1 of the variants of one training experiment, the thesis's finding beside.

    Parameters
    ----------
    results : dict
        Variant label -> metrics of :func:`ccdnb.evaluation.report.evaluate_predictions`
        (uses ``classification_report`` and ``cluster_efficiency``).
    title : str
        The experiment, as a heading.
    finding : str
        What the thesis found (quoted under the plot, wrapped).
    figsize : tuple of float

    Returns
    -------
    matplotlib.figure.Figure
    """
    import textwrap

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    width = 0.8 / max(len(results), 1)
    x = np.arange(len(CLASS_NAMES))
    for k, (label, metrics) in enumerate(results.items()):
        f1 = [metrics["classification_report"][name]["f1-score"] for name in CLASS_NAMES]
        efficiency = metrics.get("cluster_efficiency", float("nan"))
        bars = ax.bar(x + (k - (len(results) - 1) / 2) * width, f1, width,
                      label=f"{label} (clusters found {efficiency:.0%})")
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
    ax.set_xticks(x, CLASS_NAMES)
    ax.set_ylim(0, 1.3)
    ax.set_ylabel("F1 (pixels, against the truth)")
    ax.set_title(title)
    ax.legend(loc="upper center", ncol=min(len(results), 3), fontsize=8)
    fig.text(0.01, 0.01, "Thesis: " + textwrap.fill(finding, 150), fontsize=7.5, va="bottom",
             style="italic")
    fig.tight_layout(rect=(0, 0.02 + 0.035 * (len(finding) // 150 + 1), 1, 1))
    return fig
