"""The notebook 06 viewer: a segmented frame, amplifier by amplifier, section by section.

Everything the viewer decides is plain Python, tested without a browser:

- :func:`layer_codes` / :func:`layer_palette`: what is drawn over the image for each of the
  :data:`LAYERS` (nothing, the predicted mask, the simulated truth, the errors of
  :func:`error_map`);
- :func:`format_count` / :func:`counts_text`: pixel counts beside percentages ("2 px (<0.01%)",
  never "0.00%" for a class that is there);
- :func:`matching_sections`: the sections holding at least a minimum count of a class;
- :func:`cluster_boxes` / :func:`cluster_window` / :func:`catalog_rows`: the cluster catalog
  (:mod:`ccdnb.catalog`) and the view window of one of its rows;
- :func:`pixel_readout`: the hover text (ADU and sigma above the amplifier's background,
  :func:`ccdnb.normalize.estimate_background`);
- :class:`SectionViewer` (sections of one image) and :class:`FrameViewer` (the amplifiers of a
  frame, the layer, the view window): the state every control changes.

:func:`viewer_widget` draws a :class:`FrameViewer` on an interactive matplotlib canvas
(ipympl: zoom and pan from its toolbar, the pixel readout in its footer) beside ipywidgets
controls; :func:`render_png` draws the same view as a static PNG (the save button, headless
runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .classes import (
    BACKGROUND,
    CLASS_COLOURS,
    CLASS_NAMES,
    N_CLASSES,
    class_counts,
    class_id,
)
from .plots.inference import DEFAULT_OVERLAY_CLASSES, class_overlay
from .sections import DEFAULT_SECTION_SIZE, Section, section_class_counts, split_sections

__all__ = ["LAYERS", "ERROR_NAMES", "ERROR_DESCRIPTIONS", "ERROR_COLOURS", "CLUSTER_MIN_SIDE",
           "CATALOG_MAX_ROWS", "error_map", "layer_codes", "layer_palette", "layer_legend",
           "format_count", "counts_text", "matching_sections", "cluster_boxes", "cluster_window",
           "catalog_rows", "CATALOG_HEADER", "format_catalog_row", "pixel_readout", "window_of",
           "zoom_window", "describe_window", "ViewState", "SectionViewer", "Amplifier",
           "FrameViewer", "FIGURE_SIZE", "FIGURE_DPI", "ViewFigure", "render_png",
           "interactive_canvas", "viewer_widget"]

#: What the viewer can draw over the image.
LAYERS = ("image", "mask", "truth", "errors")

#: Kinds of pixel in :func:`error_map`, by code.
ERROR_NAMES = ("agree", "missed", "false", "other class")
ERROR_DESCRIPTIONS = ("prediction = truth", "true signal predicted background",
                      "true background predicted signal", "signal of another class")
#: Colours of the error codes 1-3 (code 0 is left clear): orange, magenta, yellow.
ERROR_COLOURS = ((0.0, 0.0, 0.0), (1.0, 0.55, 0.0), (1.0, 0.0, 1.0), (1.0, 1.0, 0.0))

#: The smallest side of the window a catalog row opens (pixels).
CLUSTER_MIN_SIDE = 48
#: Rows of the catalog shown at most (the brightest first).
CATALOG_MAX_ROWS = 500


# --------------------------------------------------------------------------- pure pieces

def error_map(truth, prediction) -> np.ndarray:
    """Where a prediction departs from the truth.

    Parameters
    ----------
    truth, prediction : ndarray of int, shape (H, W)
        Class masks.

    Returns
    -------
    ndarray of uint8, shape (H, W)
        0 agree, 1 missed (true glowing / hot pixel / cluster predicted background),
        2 false (true background predicted as a signal class), 3 other class (a signal
        class predicted as another signal class); see :data:`ERROR_NAMES`.
    """
    truth, prediction = np.asarray(truth), np.asarray(prediction)
    if truth.shape != prediction.shape:
        raise ValueError(f"truth {truth.shape} and prediction {prediction.shape} differ")
    codes = np.zeros(truth.shape, dtype=np.uint8)
    differ = truth != prediction
    codes[differ & (prediction == BACKGROUND)] = 1
    codes[differ & (truth == BACKGROUND)] = 2
    codes[differ & (truth != BACKGROUND) & (prediction != BACKGROUND)] = 3
    return codes


def layer_codes(layer, mask, truth=None, visible=DEFAULT_OVERLAY_CLASSES) -> np.ndarray:
    """The codes drawn over the image for ``layer`` (colours from :func:`layer_palette`).

    Parameters
    ----------
    layer : str
        One of :data:`LAYERS`.
    mask : ndarray of int, shape (H, W)
        Predicted class mask.
    truth : ndarray of int, optional
        Simulated truth; required for ``truth`` and ``errors``.
    visible : iterable of int or str
        Classes coloured in the ``mask`` and ``truth`` layers; the others get code 0.

    Returns
    -------
    ndarray of uint8, shape (H, W)
        Class ids (``mask``, ``truth``), :func:`error_map` codes (``errors``) or zeros (``image``).
    """
    if layer not in LAYERS:
        raise ValueError(f"layer {layer!r}: choose from {', '.join(LAYERS)}")
    mask = np.asarray(mask)
    if layer == "image":
        return np.zeros(mask.shape, dtype=np.uint8)
    if layer in ("truth", "errors") and truth is None:
        raise ValueError(f"layer {layer!r} needs the truth (a simulated frame)")
    if layer == "errors":
        return error_map(truth, mask)
    label = np.asarray(truth if layer == "truth" else mask)
    keep = np.zeros(256, dtype=np.uint8)
    for k in {class_id(c) for c in visible}:
        keep[k] = k
    return keep[label.astype(np.uint8)]


def layer_palette(layer, *, alpha=0.5) -> list[tuple[float, float, float, float]]:
    """RGBA colour of each code of :func:`layer_codes` (code 0 and background fully clear)."""
    if layer not in LAYERS:
        raise ValueError(f"layer {layer!r}: choose from {', '.join(LAYERS)}")
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    colours = ERROR_COLOURS if layer == "errors" else CLASS_COLOURS
    a = 0.0 if layer == "image" else float(alpha)
    return [(0.0, 0.0, 0.0, 0.0)] + [(*c, a) for c in colours[1:]]


def layer_legend(layer) -> list[tuple[str, tuple[float, float, float]]]:
    """``(name, colour)`` of the entries a legend of ``layer`` shows."""
    if layer == "errors":
        return [(f"{n}: {d}", c) for n, d, c in
                zip(ERROR_NAMES[1:], ERROR_DESCRIPTIONS[1:], ERROR_COLOURS[1:])]
    return list(zip(CLASS_NAMES, CLASS_COLOURS))


def format_count(n, total) -> str:
    """A pixel count with its share: ``"2 px (<0.01%)"``, ``"1,234 px (1.88%)"``, ``"0 px"``.

    A class that is there never reads as 0.00 %, and one that fills all but a few
    pixels never as 100.00 %.
    """
    n, total = int(n), int(total)
    if n == 0 or total <= 0:
        return f"{n:,} px"
    share = 100.0 * n / total
    if n == total:
        text = "100%"
    elif share < 0.01:
        text = "<0.01%"
    elif share > 99.99:
        text = ">99.99%"
    else:
        text = f"{share:.2f}%"
    return f"{n:,} px ({text})"


def counts_text(counts, names=CLASS_NAMES) -> str:
    """One line of per-class counts and shares, e.g. ``"background 4,094 px (99.95%), ..."``."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    return ", ".join(f"{name} {format_count(n, total)}" for name, n in zip(names, counts))


def matching_sections(counts, cls, min_count=1) -> list[int]:
    """Indices of the sections holding at least ``min_count`` pixels of ``cls``.

    Parameters
    ----------
    counts : ndarray of int, shape (n_sections, N_CLASSES)
        From :func:`ccdnb.sections.section_class_counts`.
    cls : int or str
    min_count : int
        Values below 1 count as 1 (a section must hold the class).
    """
    k = class_id(cls)
    return [int(i) for i in np.flatnonzero(np.asarray(counts)[:, k] >= max(int(min_count), 1))]


def cluster_boxes(mask) -> np.ndarray:
    """Bounding box of every cluster of ``mask``, in the catalog's order.

    Returns
    -------
    ndarray of int, shape (n, 4)
        ``x0, x1, y0, y1`` per cluster, ends exclusive.
    """
    from scipy import ndimage

    from .objects.catalog import label_clusters

    labels, n = label_clusters(mask)
    boxes = np.zeros((n, 4), dtype=np.int64)
    for k, found in enumerate(ndimage.find_objects(labels, max_label=n)):
        if found is not None:
            rows, cols = found
            boxes[k] = cols.start, cols.stop, rows.start, rows.stop
    return boxes


def cluster_window(box, shape, *, min_side=CLUSTER_MIN_SIDE, pad=8) -> tuple[int, int, int, int]:
    """The view window ``(x0, x1, y0, y1)`` (ends exclusive) that shows one cluster.

    Parameters
    ----------
    box : (x0, x1, y0, y1)
        The cluster's bounding box (:func:`cluster_boxes`).
    shape : (int, int)
        The image shape (H, W); the window stays inside it.
    min_side : int
        A window is at least this many pixels on each side (context around a
        1-pixel hit), the image size permitting.
    pad : int
        Pixels of context around the box.

    Returns
    -------
    tuple of int
        Square around the box's centre when the box allows, shifted back inside the image.
    """
    height, width = (int(n) for n in shape[:2])
    x0, x1, y0, y1 = (int(v) for v in box)
    side = max(int(min_side), x1 - x0 + 2 * pad, y1 - y0 + 2 * pad)

    def span(lo, hi, limit):
        size = min(side, limit)
        start = (lo + hi) // 2 - size // 2
        start = min(max(start, 0), limit - size)
        return start, start + size

    wx0, wx1 = span(x0, x1, width)
    wy0, wy1 = span(y0, y1, height)
    return wx0, wx1, wy0, wy1


def catalog_rows(image, mask, *, max_rows=CATALOG_MAX_ROWS) -> list[dict]:
    """The cluster catalog of one image (:func:`ccdnb.catalog.measure_clusters`) as rows,
    brightest summed charge first, each with its bounding ``box``.

    Returns
    -------
    list of dict
        Keys ``cluster``, ``x``, ``y``, ``npix``, ``charge_adu``, ``peak_adu``, ``box``;
        at most ``max_rows``.
    """
    from .objects.catalog import measure_clusters

    measured = measure_clusters(image, mask)
    boxes = cluster_boxes(mask)
    charge = np.nan_to_num(measured["charge_adu"], nan=-np.inf)
    order = np.argsort(-charge, kind="stable")[:max_rows]
    return [dict(cluster=int(measured["cluster"][i]), x=float(measured["x"][i]),
                 y=float(measured["y"][i]), npix=int(measured["npix"][i]),
                 charge_adu=float(measured["charge_adu"][i]),
                 peak_adu=float(measured["peak_adu"][i]), box=tuple(int(v) for v in boxes[i]))
            for i in order]


CATALOG_HEADER = f"{'#':>4} {'x':>6} {'y':>6} {'npix':>5} {'charge ADU':>11} {'peak ADU':>9}"


def format_catalog_row(row) -> str:
    """One catalog row as a fixed-width line under :data:`CATALOG_HEADER`."""
    return (f"{row['cluster']:>4} {row['x']:>6.1f} {row['y']:>6.1f} {row['npix']:>5} "
            f"{row['charge_adu']:>11.1f} {row['peak_adu']:>9.1f}")


def pixel_readout(image, pedestal, noise, *, mask=None, truth=None):
    """The hover text of the viewer: ``format_coord(x, y) -> str`` for matplotlib.

    Parameters
    ----------
    image : ndarray (H, W)
        Raw ADU.
    pedestal : ndarray (H,) or float
        Zero-charge level per row (:func:`ccdnb.normalize.estimate_background`).
    noise : float
        Read noise (ADU); the sigma of the readout.
    mask, truth : ndarray (H, W), optional
        Class of the pixel in the prediction and the truth.

    Returns
    -------
    callable
        ``(x, y)`` in data coordinates (pixel centres on integers) -> ``"x=12 y=40
        1234.5 ADU +3.2 σ mask: cluster"``; outside the image, only the coordinates.
    """
    image = np.asarray(image)
    height, width = image.shape
    pedestal = np.broadcast_to(np.asarray(pedestal, dtype=np.float64), (height,))
    noise = float(noise)

    def format_coord(x, y):
        col, row = int(np.floor(x + 0.5)), int(np.floor(y + 0.5))
        if not (0 <= row < height and 0 <= col < width):
            return f"x={x:.1f} y={y:.1f}"
        value = float(image[row, col])
        parts = [f"x={col} y={row}", f"{value:.1f} ADU"]
        if np.isfinite(value):
            parts.append(f"{(value - pedestal[row]) / noise:+.1f} σ")
        if mask is not None:
            parts.append(f"mask: {CLASS_NAMES[int(mask[row, col])]}")
        if truth is not None:
            parts.append(f"truth: {CLASS_NAMES[int(truth[row, col])]}")
        return "  ".join(parts)

    return format_coord


def window_of(xlim, ylim, shape) -> tuple[int, int, int, int]:
    """The pixel window ``(x0, x1, y0, y1)`` (ends exclusive, inside the image) that axes
    limits show; pixel centres sit on integer coordinates."""
    height, width = shape[:2]
    (xa, xb), (ya, yb) = sorted(xlim), sorted(ylim)
    x0, x1 = max(int(np.floor(xa + 0.5)), 0), min(int(np.ceil(xb + 0.5)), width)
    y0, y1 = max(int(np.floor(ya + 0.5)), 0), min(int(np.ceil(yb + 0.5)), height)
    return x0, max(x1, x0 + 1), y0, max(y1, y0 + 1)


def zoom_window(window, factor, shape) -> tuple[int, int, int, int]:
    """``window`` scaled by ``factor`` about its centre (< 1 zooms in), inside the image,
    at least 4 pixels a side."""
    height, width = shape[:2]
    x0, x1, y0, y1 = window

    def span(lo, hi, limit):
        size = int(round((hi - lo) * factor))
        size = min(max(size, 4), limit)
        start = int(round((lo + hi) / 2 - size / 2))
        start = min(max(start, 0), limit - size)
        return start, start + size

    return (*span(x0, x1, width), *span(y0, y1, height))


def describe_window(window) -> str:
    """``"x 0-255, y 256-511 (256 x 256 px)"`` (inclusive ranges, as DS9 shows them)."""
    x0, x1, y0, y1 = window
    return f"x {x0}-{x1 - 1}, y {y0}-{y1 - 1} ({x1 - x0} x {y1 - y0} px)"


# --------------------------------------------------------------------------- state

@dataclass(frozen=True)
class ViewState:
    """What a :class:`SectionViewer` shows for its current state."""

    section: Section
    text: str
    """Section coordinates, its place among the class's sections, class counts."""
    overlay: np.ndarray
    """(h, w, 4) float32 RGBA over the section: visible classes coloured, the rest clear."""


class SectionViewer:
    """Browse the sections of a segmented image.

    Parameters
    ----------
    image : ndarray (H, W)
        Raw ADU image (kept for drawing; the logic uses only ``label``).
    label : ndarray of int (H, W)
        Its class mask.
    section_size : int or (int, int)
        Section side (see :func:`ccdnb.sections.split_sections`).
    cls : int or str
        The class whose sections :meth:`next` and :meth:`prev` step through.
    min_pixels : int
        A section holds the class when it has at least this many of its pixels.
    visible : iterable of int or str
        Classes overlaid at the start.
    alpha : float
        Overlay opacity.
    wrap : bool
        Stepping past the last class section goes back to the first (and the
        other way); without it the viewer stays on the last (first) one.
    """

    def __init__(self, image, label, *, section_size=DEFAULT_SECTION_SIZE, cls="cluster",
                 min_pixels=1, visible=DEFAULT_OVERLAY_CLASSES, alpha=0.5, wrap=True):
        self.image = np.asarray(image)
        self.label = np.asarray(label)
        if self.image.shape != self.label.shape:
            raise ValueError(f"image {self.image.shape} and label {self.label.shape} differ")
        self.sections = split_sections(self.label.shape, section_size)
        self.counts = section_class_counts(self.label, self.sections)
        self.min_pixels = max(int(min_pixels), 1)
        self.alpha = float(alpha)
        self.wrap = bool(wrap)
        self.visible = {class_id(k) for k in visible}
        self.index = 0
        self.cls = class_id(cls)
        matching = self.matching
        if matching:
            self.index = matching[0]

    # --- state -----------------------------------------------------------------
    @property
    def section(self) -> Section:
        """The current section."""
        return self.sections[self.index]

    @property
    def matching(self) -> list[int]:
        """Indices of the sections holding at least ``min_pixels`` of the chosen class."""
        return matching_sections(self.counts, self.cls, self.min_pixels)

    def select(self, index) -> Section:
        """Go to section ``index`` (any section, as the slider does)."""
        index = int(index)
        if not 0 <= index < len(self.sections):
            raise IndexError(f"section {index} out of range 0-{len(self.sections) - 1}")
        self.index = index
        return self.section

    def set_class(self, cls) -> Section:
        """Step through the sections of ``cls`` from now on.

        Stays on the current section when it holds the class, else goes to the
        next one that does (the current one when none does).
        """
        self.cls = class_id(cls)
        if self.index not in self.matching:
            self._step(+1)
        return self.section

    def set_min_pixels(self, min_pixels) -> Section:
        """Require at least ``min_pixels`` of the class; moves on as :meth:`set_class` does."""
        self.min_pixels = max(int(min_pixels), 1)
        return self.set_class(self.cls)

    def set_visible(self, cls, visible=True) -> None:
        """Show or hide the overlay of class ``cls``."""
        k = class_id(cls)
        if visible:
            self.visible.add(k)
        else:
            self.visible.discard(k)

    def next(self) -> Section:
        """Go to the next section holding the chosen class."""
        return self._step(+1)

    def prev(self) -> Section:
        """Go to the previous section holding the chosen class."""
        return self._step(-1)

    def _step(self, direction) -> Section:
        matching = self.matching
        if not matching:
            return self.section
        if direction > 0:
            ahead = [i for i in matching if i > self.index]
            fallback = matching[0] if self.wrap else matching[-1]
        else:
            ahead = [i for i in matching if i < self.index][::-1]
            fallback = matching[-1] if self.wrap else matching[0]
        # Without wrapping, stepping off the end from a non-matching section
        # still lands on the nearest matching one.
        self.index = ahead[0] if ahead else fallback
        return self.section

    # --- rendering -------------------------------------------------------------
    def description(self) -> str:
        """Text describing the current section: coordinates, place among the class's
        sections, class counts and shares."""
        section, matching = self.section, self.matching
        name = CLASS_NAMES[self.cls]
        if self.index in matching:
            place = f"{name} section {matching.index(self.index) + 1} of {len(matching)}"
        elif matching:
            place = f"no {name} here; {len(matching)} sections hold {name}"
        else:
            place = f"no section holds {name} (at least {self.min_pixels} pixels)"
        if self.min_pixels > 1:
            place += f" (at least {self.min_pixels} pixels)" if matching else ""
        counts = self.counts[self.index]
        return "\n".join([f"{section.describe()} of {len(self.sections)}", place,
                          f"{int(counts.sum()):,} pixels: {counts_text(counts)}"])

    def overlay(self) -> np.ndarray:
        """(h, w, 4) RGBA overlay of the visible classes over the current section."""
        return class_overlay(self.section.cut(self.label), sorted(self.visible),
                             alpha=self.alpha)

    def state(self) -> ViewState:
        """The current section, its description and its overlay."""
        return ViewState(self.section, self.description(), self.overlay())


@dataclass
class Amplifier:
    """One amplifier image of a frame: its name (EXTNAME), the raw ADU image, the predicted
    mask and, for a simulated frame, the truth."""

    name: str
    image: np.ndarray
    mask: np.ndarray
    truth: np.ndarray | None = None
    _background: tuple | None = field(default=None, repr=False)
    _catalog: list | None = field(default=None, repr=False)

    def __post_init__(self):
        self.image = np.asarray(self.image)
        self.mask = np.asarray(self.mask, dtype=np.uint8)
        if self.image.shape != self.mask.shape:
            raise ValueError(f"{self.name}: image {self.image.shape} and mask "
                             f"{self.mask.shape} differ")
        if self.truth is not None:
            self.truth = np.asarray(self.truth, dtype=np.uint8)
            if self.truth.shape != self.mask.shape:
                raise ValueError(f"{self.name}: truth {self.truth.shape} and mask "
                                 f"{self.mask.shape} differ")

    @property
    def shape(self) -> tuple[int, int]:
        return self.mask.shape

    @property
    def background(self):
        """``(pedestal per row, noise)`` from :func:`ccdnb.normalize.estimate_background`."""
        if self._background is None:
            from .normalize import estimate_background

            found = estimate_background(self.image)
            self._background = (np.asarray(found.pedestal), float(found.noise))
        return self._background

    @property
    def catalog(self) -> list[dict]:
        """:func:`catalog_rows` of this amplifier (computed once)."""
        if self._catalog is None:
            self._catalog = catalog_rows(self.image, self.mask)
        return self._catalog


class FrameViewer:
    """The state of the frame viewer: amplifier, layer, class filter, section, view window.

    Parameters
    ----------
    amplifiers : list of Amplifier
        Or use :meth:`from_arrays`.
    section_size, cls, min_pixels, visible, alpha
        As :class:`SectionViewer` (one per amplifier, made when it is chosen).
    layer : str
        The starting layer (:data:`LAYERS`); ``errors`` when the truth is known, else ``mask``.
    out_dir : str or Path
        Where :meth:`save_png` writes.

    Every action (:meth:`set_amplifier`, :meth:`next`, :meth:`select_cluster`, :meth:`zoom`,
    ...) updates :attr:`window`, the ``(x0, x1, y0, y1)`` pixels on show.
    """

    def __init__(self, amplifiers, *, section_size=DEFAULT_SECTION_SIZE, cls="cluster",
                 min_pixels=1, visible=DEFAULT_OVERLAY_CLASSES, alpha=0.5, layer=None,
                 out_dir="."):
        self.amplifiers = list(amplifiers)
        if not self.amplifiers:
            raise ValueError("no amplifier to show")
        names = [a.name for a in self.amplifiers]
        if len(set(names)) != len(names):
            raise ValueError(f"amplifier names repeat: {names}")
        self.section_size = section_size
        self.alpha = float(alpha)
        self.out_dir = Path(out_dir)
        self._cls, self._min_pixels = class_id(cls), max(int(min_pixels), 1)
        self._visible = {class_id(k) for k in visible}
        self.layer = layer or ("errors" if self.has_truth else "mask")
        self.selected_cluster = None
        self.set_amplifier(0)
        self.set_layer(self.layer)

    @classmethod
    def from_arrays(klass, images, masks, names=None, truths=None, **kwargs) -> FrameViewer:
        """A viewer of parallel lists of images, masks, names (default ``amp0``, ...) and
        truths (``None``, or one per image, each possibly ``None``)."""
        names = list(names) if names is not None else [f"amp{k}" for k in range(len(images))]
        truths = list(truths) if truths is not None else [None] * len(images)
        if not len(images) == len(masks) == len(names) == len(truths):
            raise ValueError("images, masks, names and truths must have one entry each")
        return klass([Amplifier(str(n), im, m, t)
                    for n, im, m, t in zip(names, images, masks, truths)], **kwargs)

    # --- state -----------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [a.name for a in self.amplifiers]

    @property
    def amplifier(self) -> Amplifier:
        return self.amplifiers[self.amp_index]

    @property
    def has_truth(self) -> bool:
        """Whether the current amplifier (at start: any) has a truth."""
        if hasattr(self, "amp_index"):
            return self.amplifier.truth is not None
        return any(a.truth is not None for a in self.amplifiers)

    @property
    def layers(self) -> tuple[str, ...]:
        """The layers the current amplifier can show."""
        return LAYERS if self.has_truth else LAYERS[:2]

    @property
    def section(self) -> Section:
        return self.sections.section

    def set_amplifier(self, amp) -> tuple[int, int, int, int]:
        """Show amplifier ``amp`` (index or name), from its first section of the class."""
        index = self.names.index(amp) if isinstance(amp, str) else int(amp)
        if not 0 <= index < len(self.amplifiers):
            raise IndexError(f"amplifier {amp!r}: choose from {', '.join(self.names)}")
        self.amp_index = index
        a = self.amplifier
        self.sections = SectionViewer(a.image, a.mask, section_size=self.section_size,
                                      cls=self._cls, min_pixels=self._min_pixels,
                                      visible=self._visible, alpha=self.alpha)
        if self.layer not in self.layers:
            self.layer = "mask"
        self.selected_cluster = None
        self.window = self.section.bounds
        return self.window

    def set_layer(self, layer) -> None:
        if layer not in self.layers:
            raise ValueError(f"layer {layer!r}: {self.amplifier.name} can show "
                             f"{', '.join(self.layers)}")
        self.layer = layer

    def set_class(self, cls) -> tuple[int, int, int, int]:
        """Filter the sections by class ``cls``; go to one holding it."""
        self._cls = class_id(cls)
        return self._to_section(self.sections.set_class(cls))

    def set_min_pixels(self, min_pixels) -> tuple[int, int, int, int]:
        """Filter the sections by a minimum count of the class."""
        self._min_pixels = max(int(min_pixels), 1)
        return self._to_section(self.sections.set_min_pixels(min_pixels))

    def set_visible(self, cls, visible=True) -> None:
        """Colour class ``cls`` in the mask and truth layers, or not."""
        k = class_id(cls)
        (self._visible.add if visible else self._visible.discard)(k)
        self.sections.set_visible(k, visible)

    @property
    def visible(self) -> set[int]:
        return set(self._visible)

    @property
    def cls(self) -> int:
        return self._cls

    @property
    def min_pixels(self) -> int:
        return self._min_pixels

    @property
    def matching(self) -> list[int]:
        """Sections of the current amplifier passing the class filter."""
        return self.sections.matching

    def _to_section(self, section) -> tuple[int, int, int, int]:
        self.selected_cluster = None
        self.window = section.bounds
        return self.window

    def next(self):
        """Next section passing the filter."""
        return self._to_section(self.sections.next())

    def prev(self):
        """Previous section passing the filter."""
        return self._to_section(self.sections.prev())

    def select_section(self, index):
        """Any section, by index."""
        return self._to_section(self.sections.select(index))

    def select_cluster(self, position) -> tuple[int, int, int, int]:
        """Show catalog row ``position`` (0 = brightest) of the current amplifier."""
        rows = self.amplifier.catalog
        if not 0 <= int(position) < len(rows):
            raise IndexError(f"catalog row {position}: {self.amplifier.name} has {len(rows)}")
        row = rows[int(position)]
        self.selected_cluster = row
        self.window = cluster_window(row["box"], self.amplifier.shape)
        return self.window

    def zoom(self, factor) -> tuple[int, int, int, int]:
        """Scale the window about its centre (0.5: twice the magnification)."""
        self.window = zoom_window(self.window, factor, self.amplifier.shape)
        return self.window

    def show_all(self) -> tuple[int, int, int, int]:
        """The whole amplifier."""
        height, width = self.amplifier.shape
        self.window = (0, width, 0, height)
        return self.window

    def set_window(self, window) -> None:
        """The window a pan or zoom of the toolbar left on show."""
        height, width = self.amplifier.shape
        x0, x1, y0, y1 = (int(v) for v in window)
        x0, y0 = min(max(x0, 0), width - 1), min(max(y0, 0), height - 1)
        self.window = (x0, min(max(x1, x0 + 1), width), y0, min(max(y1, y0 + 1), height))

    # --- what is drawn -----------------------------------------------------------
    def codes(self) -> np.ndarray:
        """:func:`layer_codes` of the current layer over the whole amplifier."""
        a = self.amplifier
        return layer_codes(self.layer, a.mask, a.truth, self._visible)

    def palette(self):
        return layer_palette(self.layer, alpha=0.85 if self.layer == "errors" else self.alpha)

    def window_slices(self):
        x0, x1, y0, y1 = self.window
        return slice(y0, y1), slice(x0, x1)

    def window_counts(self) -> dict:
        """Pixel counts in the window: ``mask`` and (when known) ``truth`` per class,
        ``errors`` per :data:`ERROR_NAMES`."""
        a, cut = self.amplifier, self.window_slices()
        counts = {"mask": class_counts(a.mask[cut])}
        if a.truth is not None:
            counts["truth"] = class_counts(a.truth[cut])
            counts["errors"] = np.bincount(error_map(a.truth[cut], a.mask[cut]).ravel(),
                                           minlength=len(ERROR_NAMES))
        return counts

    def title(self) -> str:
        """The figure title: amplifier, layer, window."""
        return f"{self.amplifier.name} · {self.layer} · {describe_window(self.window)}"

    def description(self) -> str:
        """Text of the current view: amplifier, window, section filter, counts."""
        a = self.amplifier
        lines = [f"{a.name} ({a.shape[1]} x {a.shape[0]} px): {describe_window(self.window)}",
                 self.sections.description().splitlines()[1]]
        if self.selected_cluster is not None:
            row = self.selected_cluster
            lines.append(f"cluster {row['cluster']}: x {row['x']:.1f}, y {row['y']:.1f}, "
                         f"{row['npix']} px, {row['charge_adu']:.1f} ADU")
        counts = self.window_counts()
        lines.append("mask: " + counts_text(counts["mask"]))
        if "truth" in counts:
            lines.append("truth: " + counts_text(counts["truth"]))
            errors = counts["errors"]
            lines.append("errors: " + ", ".join(
                f"{n} {format_count(k, errors.sum())}" for n, k in
                zip(ERROR_NAMES[1:], errors[1:])))
        return "\n".join(lines)

    def png_name(self) -> str:
        x0, x1, y0, y1 = self.window
        return f"{self.amplifier.name}_{self.layer}_x{x0}-{x1 - 1}_y{y0}-{y1 - 1}.png"

    def save_png(self, path=None, **kwargs) -> Path:
        """Write the current view (:func:`render_png`) to ``path`` (default
        ``out_dir/<amp>_<layer>_x.._y...png``); return the path."""
        path = Path(path) if path is not None else self.out_dir / self.png_name()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(render_png(self, **kwargs))
        return path


# --------------------------------------------------------------------------- drawing

#: Figure size (inches at :data:`FIGURE_DPI`) of the interactive view: 620 x 660 px, which
#: with the controls beside it keeps the viewer within one 1000-pixel-high screen.
FIGURE_SIZE = (6.2, 6.6)
FIGURE_DPI = 100


class ViewFigure:
    """The artists of one view on a matplotlib Figure, kept in step with a FrameViewer."""

    def __init__(self, viewer: FrameViewer, figure):
        from matplotlib.colors import ListedColormap
        from matplotlib.patches import Rectangle

        from .plots import zscale_limits

        self.viewer = viewer
        self.figure = figure
        self._zscale = zscale_limits
        self._cmap = ListedColormap
        self.ax = figure.add_axes((0.11, 0.16, 0.86, 0.78))
        a = viewer.amplifier
        self.image = self.ax.imshow(a.image, cmap="gray", origin="lower",
                                    interpolation="nearest")
        self.overlay = self.ax.imshow(viewer.codes(), origin="lower", interpolation="nearest")
        for artist in (self.image, self.overlay):  # the readout is format_coord's alone
            artist.get_cursor_data = lambda event: None
        self.box = Rectangle((0, 0), 1, 1, fill=False, edgecolor="cyan", linewidth=1.2,
                             linestyle="--", visible=False)
        self.ax.add_patch(self.box)
        self.ax.set_xlabel("x (column)")
        self.ax.set_ylabel("y (row)")
        self.legend = None
        self._amp = None
        self._layer_key = None
        self.update()

    def update(self) -> None:
        """Draw the viewer's current state (amplifier, layer, window, selection, legend)."""
        v = self.viewer
        a = v.amplifier
        if self._amp != v.amp_index:
            self.image.set_data(a.image)
            self.image.set_clim(*self._zscale(a.image))
            self.image.set_extent((-0.5, a.shape[1] - 0.5, -0.5, a.shape[0] - 0.5))
            self.overlay.set_extent(self.image.get_extent())
            pedestal, noise = a.background
            self.ax.format_coord = pixel_readout(a.image, pedestal, noise, mask=a.mask,
                                                 truth=a.truth)
            self._amp = v.amp_index
            self._layer_key = None
        key = (v.amp_index, v.layer, tuple(sorted(v.visible)))
        if key != self._layer_key:
            palette = v.palette()
            self.overlay.set_data(v.codes())
            self.overlay.set_cmap(self._cmap(palette))
            self.overlay.set_clim(-0.5, len(palette) - 0.5)
            self._draw_legend()
            self._layer_key = key
        x0, x1, y0, y1 = v.window
        self.ax.set_xlim(x0 - 0.5, x1 - 0.5)
        self.ax.set_ylim(y0 - 0.5, y1 - 0.5)
        self._draw_selection()
        self.ax.set_title(v.title(), fontsize=9)

    def _draw_selection(self):
        row = self.viewer.selected_cluster
        self.box.set_visible(row is not None)
        if row is not None:
            bx0, bx1, by0, by1 = row["box"]
            self.box.set_bounds(bx0 - 1.0, by0 - 1.0, bx1 - bx0 + 1.0, by1 - by0 + 1.0)

    def _draw_legend(self):
        from matplotlib.patches import Patch

        if self.legend is not None:
            self.legend.remove()
        v = self.viewer
        entries = layer_legend(v.layer)
        if v.layer in ("mask", "truth"):
            entries = [(f"{n}{'' if k in v.visible or k == BACKGROUND else ' (hidden)'}", c)
                       for k, (n, c) in enumerate(entries)]
        handles = [Patch(facecolor=c, edgecolor="0.5", label=n) for n, c in entries]
        self.legend = self.figure.legend(handles=handles, loc="lower center",
                                         ncol=2 if v.layer == "errors" else 4, fontsize=8,
                                         frameon=False, title=f"layer: {v.layer}",
                                         title_fontsize=8)


def render_png(viewer: FrameViewer, *, figsize=FIGURE_SIZE, dpi=FIGURE_DPI) -> bytes:
    """PNG of the viewer's current view (what the interactive canvas shows)."""
    import io

    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    ViewFigure(viewer, fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def interactive_canvas(figure):
    """An ipympl canvas widget (toolbar with zoom, pan, home, download) for ``figure``,
    without switching the notebook's matplotlib backend (other figures stay inline)."""
    from ipympl.backend_nbagg import Canvas, FigureManager

    canvas = Canvas(figure)
    FigureManager(canvas, 0)
    canvas.header_visible = False
    canvas.footer_visible = True
    canvas.toolbar_visible = "visible"
    canvas.toolbar_position = "left"
    canvas.resizable = False
    canvas.capture_scroll = False
    return canvas


def _legend_html(viewer: FrameViewer) -> str:
    """The colour legend with the counts in the window (mask, truth) or the error counts."""
    counts = viewer.window_counts()

    def swatch(colour):
        r, g, b = (int(round(255 * c)) for c in colour)
        return (f"<span style='display:inline-block;width:12px;height:12px;"
                f"background:rgb({r},{g},{b});border:1px solid #888'></span>")

    head = "<th style='text-align:left'>class</th><th>predicted</th>"
    if "truth" in counts:
        head += "<th>truth</th>"
    rows = []
    for k, (name, colour) in enumerate(zip(CLASS_NAMES, CLASS_COLOURS)):
        predicted = format_count(counts["mask"][k], counts["mask"].sum())
        cells = f"<td>{swatch(colour)} {name}</td><td>{predicted}</td>"
        if "truth" in counts:
            cells += f"<td>{format_count(counts['truth'][k], counts['truth'].sum())}</td>"
        rows.append(f"<tr>{cells}</tr>")
    if "errors" in counts:
        errors = counts["errors"]
        for k in range(1, len(ERROR_NAMES)):
            rows.append(f"<tr title='{ERROR_DESCRIPTIONS[k]}'><td>{swatch(ERROR_COLOURS[k])} "
                        f"{ERROR_NAMES[k]}</td><td colspan=2>"
                        f"{format_count(errors[k], errors.sum())}</td></tr>")
    return ("<table class='ccdnb-legend' style='font-size:12px;line-height:1.25;"
            "border-collapse:collapse'>"
            f"<tr>{head}</tr>{''.join(rows)}</table>")


_STYLE = """<style>
.ccdnb-catalog select, .ccdnb-catalog-head { font-family: monospace; font-size: 11px; }
.ccdnb-legend td, .ccdnb-legend th { padding: 0 6px 0 0; white-space: nowrap; }
.ccdnb-state { font-family: monospace; font-size: 11px; }
</style>"""


def viewer_widget(viewer: FrameViewer):
    """The interactive viewer: an ipympl canvas (zoom, pan, pixel readout) beside ipywidgets
    controls (amplifier, layer, class filter, sections, zoom, overlays, catalog, save).

    Returns
    -------
    ipywidgets.HBox
        Display it in JupyterLab (about 1100 x 700 px). Without a front end (headless
        papermill) it is built and inert: its output falls back to text.
    """
    import ipywidgets as widgets
    from matplotlib.figure import Figure

    W = widgets.Layout
    figure = Figure(figsize=FIGURE_SIZE, dpi=FIGURE_DPI)
    view = ViewFigure(viewer, figure)
    canvas = interactive_canvas(figure)
    canvas.add_class("ccdnb-canvas")

    amplifier = widgets.Dropdown(options=viewer.names, value=viewer.amplifier.name,
                                 description="amplifier", layout=W(width="170px"),
                                 style={"description_width": "64px"})
    layer = widgets.ToggleButtons(options=list(viewer.layers), value=viewer.layer,
                                  style={"button_width": "64px"}, layout=W(width="290px"))
    layer.add_class("ccdnb-layer")
    legend = widgets.HTML(layout=W(width="100%"))
    cls = widgets.Dropdown(options=[(n, k) for k, n in enumerate(CLASS_NAMES)],
                           value=viewer.cls, description="sections with",
                           layout=W(width="210px"), style={"description_width": "90px"})
    min_count = widgets.BoundedIntText(value=viewer.min_pixels, min=1, max=10**8,
                                       description="≥ px", layout=W(width="120px"),
                                       style={"description_width": "32px"})
    prev_button = widgets.Button(description="◀ prev", layout=W(width="64px"))
    next_button = widgets.Button(description="next ▶", layout=W(width="64px"))
    next_button.add_class("ccdnb-next")
    prev_button.add_class("ccdnb-prev")
    section = widgets.Dropdown(layout=W(width="300px"))
    zoom_in = widgets.Button(description="zoom in", icon="search-plus", layout=W(width="90px"))
    zoom_out = widgets.Button(description="zoom out", icon="search-minus",
                              layout=W(width="110px"))
    whole = widgets.Button(description="whole amplifier", layout=W(width="130px"))
    zoom_in.add_class("ccdnb-zoom-in")
    boxes = [widgets.Checkbox(value=k in viewer.visible, description=CLASS_NAMES[k],
                              indent=False, layout=W(width="96px"))
             for k in range(1, N_CLASSES)]
    catalog_head = widgets.HTML(layout=W(width="100%"))
    catalog_head.add_class("ccdnb-catalog-head")
    catalog = widgets.Select(rows=7, layout=W(width="100%"))
    catalog.add_class("ccdnb-catalog")
    save = widgets.Button(description="save view as PNG", icon="download",
                          layout=W(width="175px"))
    save.add_class("ccdnb-save")
    saved = widgets.HTML(layout=W(width="290px"))
    state = widgets.HTML(layout=W(width="100%"))
    state.add_class("ccdnb-state")

    busy = {"flag": False}

    def refresh_text():
        legend.value = _legend_html(viewer)
        state.value = ("<pre style='margin:0;font-size:11px;line-height:1.3'>"
                       + viewer.description() + "</pre>")

    def refresh_sections():
        matching = viewer.matching
        counts = viewer.sections.counts
        options = [(f"{i}: x {s.x0}-{s.x1 - 1}, y {s.y0}-{s.y1 - 1} · "
                    f"{counts[i, viewer.cls]:,} px", i)
                   for i in matching for s in [viewer.sections.sections[i]]]
        busy["flag"] = True
        section.options = options or [(f"no section with ≥ {viewer.min_pixels} px", -1)]
        section.value = viewer.sections.index if viewer.sections.index in matching else \
            section.options[0][1]
        busy["flag"] = False

    def refresh_catalog():
        rows = viewer.amplifier.catalog
        busy["flag"] = True
        catalog_head.value = (f"<b>cluster catalog</b> ({len(rows)} rows, brightest first; "
                              f"click one)<pre style='margin:0'>{CATALOG_HEADER}</pre>")
        catalog.options = [(format_catalog_row(r), i) for i, r in enumerate(rows)]
        catalog.value = None
        busy["flag"] = False

    def redraw():
        busy["flag"] = True
        try:
            view.update()
        finally:
            busy["flag"] = False
        canvas.draw_idle()
        refresh_text()
        if viewer.sections.index in viewer.matching and section.value != viewer.sections.index:
            busy["flag"] = True
            section.value = viewer.sections.index
            busy["flag"] = False

    def on_limits(_ax):
        if busy["flag"]:
            return
        viewer.set_window(window_of(view.ax.get_xlim(), view.ax.get_ylim(),
                                    viewer.amplifier.shape))
        view.ax.set_title(viewer.title(), fontsize=9)
        refresh_text()

    view.ax.callbacks.connect("xlim_changed", on_limits)
    view.ax.callbacks.connect("ylim_changed", on_limits)

    def action(fn):
        def handler(*args):
            if busy["flag"]:
                return
            fn(*args)
            redraw()
        return handler

    def on_amplifier(change):
        viewer.set_amplifier(change["new"])
        busy["flag"] = True
        layer.options = list(viewer.layers)
        layer.value = viewer.layer
        busy["flag"] = False
        refresh_sections()
        refresh_catalog()

    def on_catalog(change):
        if change["new"] is not None:
            viewer.select_cluster(change["new"])

    def on_section(change):
        if change["new"] is not None and change["new"] >= 0:
            viewer.select_section(change["new"])

    def on_filter(fn):
        def handler(change):
            fn(change["new"])
            refresh_sections()
        return handler

    def on_box(k):
        return action(lambda change: viewer.set_visible(k, change["new"]))

    def on_save(_):
        path = viewer.save_png()
        saved.value = f"<small>saved <code>{path}</code></small>"

    amplifier.observe(action(on_amplifier), names="value")
    layer.observe(action(lambda change: viewer.set_layer(change["new"])), names="value")
    cls.observe(action(on_filter(viewer.set_class)), names="value")
    min_count.observe(action(on_filter(viewer.set_min_pixels)), names="value")
    section.observe(action(on_section), names="value")
    catalog.observe(action(on_catalog), names="value")
    prev_button.on_click(action(lambda _: viewer.prev()))
    next_button.on_click(action(lambda _: viewer.next()))
    zoom_in.on_click(action(lambda _: viewer.zoom(0.5)))
    zoom_out.on_click(action(lambda _: viewer.zoom(2.0)))
    whole.on_click(action(lambda _: viewer.show_all()))
    for k, box in zip(range(1, N_CLASSES), boxes):
        box.observe(on_box(k), names="value")
    save.on_click(on_save)

    refresh_sections()
    refresh_catalog()
    refresh_text()
    canvas.draw_idle()
    controls = widgets.VBox(
        [widgets.HTML(_STYLE), widgets.HBox([amplifier, layer]), legend,
         widgets.HBox([cls, min_count]), widgets.HBox([prev_button, next_button, section]),
         widgets.HBox([zoom_in, zoom_out, whole]),
         widgets.HBox([widgets.Label("overlay", layout=W(width="52px"))] + boxes),
         catalog_head, catalog, widgets.HBox([save, saved]), state],
        layout=W(width="480px", overflow="hidden"))
    box = widgets.HBox([canvas, controls], layout=W(align_items="flex-start"))
    box.add_class("ccdnb-viewer")
    # For tests and scripts: the pieces by name.
    box.parts = dict(canvas=canvas, figure=figure, view=view, amplifier=amplifier, layer=layer,
                     legend=legend, cls=cls, min_count=min_count, prev=prev_button,
                     next=next_button, section=section, zoom_in=zoom_in, zoom_out=zoom_out,
                     whole=whole, overlay=boxes, catalog=catalog, save=save, saved=saved,
                     state=state)
    return box
