"""Sections of an image: the thesis's ``check_one_object`` made general.

The thesis looked at its 4k x 4k DAMIC predictions one 256 x 256 section at a
time, keeping the sections that held a class of interest. Here an image of any
size is cut into a grid of sections (the last row and column smaller when the
size is not a multiple), each knowing its true pixel coordinates, and the
sections can be filtered by class and summarised by class percentages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .classes import N_CLASSES, class_counts, class_id
from .errors import CcdnbInputError

__all__ = ["DEFAULT_SECTION_SIZE", "Section", "split_sections", "section_class_counts",
           "section_class_percentages", "sections_with_class"]

#: Side of a section in the thesis.
DEFAULT_SECTION_SIZE = 256


@dataclass(frozen=True)
class Section:
    """One rectangular section of an image, in image (0-based, half-open) pixel coordinates."""

    index: int
    """Position in the row-major list of sections."""
    grid_row: int
    grid_col: int
    y0: int
    """First row (inclusive)."""
    y1: int
    """Last row (exclusive)."""
    x0: int
    """First column (inclusive)."""
    x1: int
    """Last column (exclusive)."""

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, columns)`` of the section."""
        return self.y1 - self.y0, self.x1 - self.x0

    @property
    def slices(self) -> tuple[slice, slice]:
        """``(rows, columns)`` slices selecting the section from a (H, W, ...) array."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    @property
    def bounds(self) -> tuple[int, int, int, int]:
        """``(x0, x1, y0, y1)``: the section's pixel coordinates (ends exclusive)."""
        return self.x0, self.x1, self.y0, self.y1

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """``imshow`` extent (left, right, bottom, top) putting pixel centres on their
        true integer coordinates (use with ``origin='lower'``)."""
        return self.x0 - 0.5, self.x1 - 0.5, self.y0 - 0.5, self.y1 - 0.5

    def cut(self, array):
        """Return the section of ``array`` (H, W, ...) as a view."""
        return np.asarray(array)[self.slices]

    def describe(self) -> str:
        """One line naming the section and its pixel ranges (inclusive, as DS9 shows them)."""
        return (f"section {self.index} (grid row {self.grid_row}, column {self.grid_col}): "
                f"x {self.x0}-{self.x1 - 1}, y {self.y0}-{self.y1 - 1}")


def _pair(size) -> tuple[int, int]:
    rows, cols = (size, size) if np.isscalar(size) else tuple(size)
    rows, cols = int(rows), int(cols)
    if rows < 1 or cols < 1:
        raise CcdnbInputError(f"section size {size!r}: must be at least 1 pixel")
    return rows, cols


def split_sections(shape, size=DEFAULT_SECTION_SIZE) -> list[Section]:
    """Cut an image of ``shape`` into a row-major grid of sections.

    Parameters
    ----------
    shape : (int, int)
        Image shape (H, W); extra trailing dimensions are ignored.
    size : int or (int, int)
        Section side, or (rows, columns). Sections in the last grid row and
        column are smaller when H or W is not a multiple.

    Returns
    -------
    list of Section
        Covering the image exactly once, ``sections[k].index == k``.
    """
    height, width = (int(n) for n in tuple(shape)[:2])
    rows, cols = _pair(size)
    if height < 1 or width < 1:
        raise CcdnbInputError(f"image shape {tuple(shape)!r}: nothing to cut into sections")
    sections = []
    for grid_row, y0 in enumerate(range(0, height, rows)):
        for grid_col, x0 in enumerate(range(0, width, cols)):
            sections.append(Section(len(sections), grid_row, grid_col,
                                    y0, min(y0 + rows, height), x0, min(x0 + cols, width)))
    return sections


def section_class_counts(label, sections) -> np.ndarray:
    """Pixels of each class per section: int array (n_sections, N_CLASSES)."""
    label = np.asarray(label)
    return np.array([class_counts(section.cut(label)) for section in sections],
                    dtype=np.int64).reshape(len(sections), N_CLASSES)


def section_class_percentages(label, sections) -> np.ndarray:
    """Class percentages per section: float array (n_sections, N_CLASSES), rows sum to 100."""
    counts = section_class_counts(label, sections)
    return 100.0 * counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)


def sections_with_class(label, sections, cls, *, min_pixels=1) -> list[Section]:
    """The sections holding at least ``min_pixels`` pixels of class ``cls``.

    Parameters
    ----------
    label : ndarray of int, shape (H, W)
        Class mask (truth or prediction).
    sections : list of Section
        From :func:`split_sections` on ``label.shape``.
    cls : int or str
        Class id or name (see :func:`class_id`).
    min_pixels : int
        Sections with fewer pixels of the class are left out (1 keeps any).

    Returns
    -------
    list of Section
        In the order of ``sections``.
    """
    k = class_id(cls)
    counts = section_class_counts(label, sections)[:, k]
    return [section for section, n in zip(sections, counts) if n >= max(int(min_pixels), 1)]
