"""Interactive section viewer for a segmented image (notebook 06).

:class:`SectionViewer` holds the logic and state (which section, which class
the prev/next buttons step through, which class overlays are shown) and
renders the current state as text and an RGBA overlay, so it runs and is
tested without a browser. :func:`viewer_widget` only wires ipywidgets
controls to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .classes import CLASS_NAMES, N_CLASSES, class_id
from .plots.inference import DEFAULT_OVERLAY_CLASSES, class_overlay
from .sections import DEFAULT_SECTION_SIZE, Section, section_class_counts, split_sections


@dataclass(frozen=True)
class ViewState:
    """What the viewer shows for its current state."""

    section: Section
    text: str
    """Section coordinates, its place among the class's sections, class percentages."""
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
        return [int(i) for i in np.flatnonzero(self.counts[:, self.cls] >= self.min_pixels)]

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
        sections, class percentages."""
        section, matching = self.section, self.matching
        counts = self.counts[self.index]
        share = 100.0 * counts / max(int(counts.sum()), 1)
        name = CLASS_NAMES[self.cls]
        if self.index in matching:
            place = f"{name} section {matching.index(self.index) + 1} of {len(matching)}"
        elif matching:
            place = f"no {name} here; {len(matching)} sections hold {name}"
        else:
            place = f"no section holds {name} (at least {self.min_pixels} pixels)"
        percentages = ", ".join(f"{n} {s:.2f}%" for n, s in zip(CLASS_NAMES, share))
        return "\n".join([f"{section.describe()} of {len(self.sections)}", place,
                          f"{int(counts.sum())} pixels: {percentages}"])

    def overlay(self) -> np.ndarray:
        """(h, w, 4) RGBA overlay of the visible classes over the current section."""
        return class_overlay(self.section.cut(self.label), sorted(self.visible),
                             alpha=self.alpha)

    def state(self) -> ViewState:
        """The current section, its description and its overlay."""
        return ViewState(self.section, self.description(), self.overlay())


def render_png(viewer: SectionViewer, *, size=5.0, dpi=90) -> bytes:
    """PNG of the current section: image (zscale, full-image limits) with the overlay."""
    import io

    from matplotlib.figure import Figure

    from .plots.inference import plot_overlay

    fig = Figure(figsize=(size, size))
    plot_overlay(viewer.image, viewer.label, visible=sorted(viewer.visible),
                 alpha=viewer.alpha, section=viewer.section, ax=fig.add_subplot())
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def viewer_widget(viewer: SectionViewer):
    """ipywidgets controls for ``viewer``: a section slider, a class dropdown with
    prev/next buttons, one overlay checkbox per class, the description and the picture.

    Returns
    -------
    ipywidgets.VBox
        Display it in a notebook; without a front end (headless papermill) it
        is inert.
    """
    import ipywidgets as widgets

    slider = widgets.IntSlider(value=viewer.index, min=0, max=len(viewer.sections) - 1,
                               description="section", continuous_update=False)
    dropdown = widgets.Dropdown(options=[(n, k) for k, n in enumerate(CLASS_NAMES)],
                                value=viewer.cls, description="class")
    prev_button = widgets.Button(description="◀ prev", layout=widgets.Layout(width="80px"))
    next_button = widgets.Button(description="next ▶", layout=widgets.Layout(width="80px"))
    boxes = [widgets.Checkbox(value=k in viewer.visible, description=CLASS_NAMES[k],
                              indent=False, layout=widgets.Layout(width="110px"))
             for k in range(N_CLASSES)]
    text = widgets.HTML()
    picture = widgets.Image(format="png")

    def refresh(*_):
        slider.unobserve(on_slider, names="value")
        slider.value = viewer.index
        slider.observe(on_slider, names="value")
        text.value = "<pre>" + viewer.description() + "</pre>"
        picture.value = render_png(viewer)

    def on_slider(change):
        viewer.select(change["new"])
        refresh()

    def on_class(change):
        viewer.set_class(change["new"])
        refresh()

    def on_box(k):
        def handler(change):
            viewer.set_visible(k, change["new"])
            refresh()
        return handler

    slider.observe(on_slider, names="value")
    dropdown.observe(on_class, names="value")
    prev_button.on_click(lambda _: (viewer.prev(), refresh()))
    next_button.on_click(lambda _: (viewer.next(), refresh()))
    for k, box in enumerate(boxes):
        box.observe(on_box(k), names="value")
    refresh()
    return widgets.VBox([slider, widgets.HBox([dropdown, prev_button, next_button]),
                         widgets.HBox(boxes), text, picture])
