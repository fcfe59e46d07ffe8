"""Sections of an image: grid, coordinates, class filtering, percentages."""

import numpy as np
import pytest

from ccdnb.classes import CLUSTER, GLOWING, HOT_PIXEL, class_percentages
from ccdnb.errors import CcdnbInputError
from ccdnb.sections import (
    section_class_counts,
    section_class_percentages,
    sections_with_class,
    split_sections,
)


def test_sections_cover_an_image_that_is_not_a_multiple_exactly_once():
    sections = split_sections((300, 530), 256)
    assert [s.shape for s in sections] == [(256, 256), (256, 256), (256, 18),
                                           (44, 256), (44, 256), (44, 18)]
    cover = np.zeros((300, 530), dtype=int)
    for k, section in enumerate(sections):
        assert section.index == k
        cover[section.slices] += 1
    assert (cover == 1).all()


def test_section_coordinates_are_true_pixel_coordinates():
    image = np.arange(100 * 70).reshape(100, 70)
    section = split_sections(image.shape, (32, 20))[4 * 1 + 2]  # grid row 1, column 2
    assert (section.grid_row, section.grid_col) == (1, 2)
    assert section.bounds == (40, 60, 32, 64)
    assert section.extent == (39.5, 59.5, 31.5, 63.5)
    cut = section.cut(image)
    assert cut[0, 0] == image[32, 40] and cut[-1, -1] == image[63, 59]
    assert "x 40-59, y 32-63" in section.describe()


def test_image_smaller_than_a_section_is_one_section():
    (section,) = split_sections((10, 7), 256)
    assert section.bounds == (0, 7, 0, 10)


@pytest.mark.parametrize("size", [0, (16, 0)])
def test_empty_sections_are_refused(size):
    with pytest.raises(CcdnbInputError):
        split_sections((64, 64), size)


def _label_with_objects():
    label = np.zeros((100, 130), dtype=np.uint8)
    label[:, :5] = GLOWING              # sections in grid column 0
    label[10, 70] = CLUSTER             # one pixel in section (0, 1)
    label[60:63, 110:113] = CLUSTER     # nine pixels in section (1, 2): the 30x50 corner piece
    label[:, 80] = HOT_PIXEL            # a column through sections (0, 1) and (1, 1)
    return label


def test_sections_with_a_class_respect_the_minimum_pixel_count():
    label = _label_with_objects()
    sections = split_sections(label.shape, 50)  # 2 x 3 grid, last column 30 wide
    assert [s.index for s in sections_with_class(label, sections, "cluster")] == [1, 5]
    assert [s.index for s in sections_with_class(label, sections, CLUSTER, min_pixels=9)] == [5]
    assert [s.index for s in sections_with_class(label, sections, "hot pixel")] == [1, 4]
    assert [s.index for s in sections_with_class(label, sections, "glowing")] == [0, 3]
    assert sections_with_class(np.zeros_like(label), sections, "cluster") == []


def test_per_section_percentages_use_the_section_own_size():
    label = _label_with_objects()
    sections = split_sections(label.shape, 50)
    counts = section_class_counts(label, sections)
    assert counts.sum() == label.size
    assert counts[5].tolist() == [50 * 30 - 9, 0, 0, 9]
    percent = section_class_percentages(label, sections)
    np.testing.assert_allclose(percent.sum(axis=1), 100.0)
    assert percent[5, CLUSTER] == pytest.approx(100 * 9 / 1500)
    assert percent[0, GLOWING] == pytest.approx(10.0)
    np.testing.assert_allclose(class_percentages(label),
                               100 * np.bincount(label.ravel(), minlength=4) / label.size)


def test_section_grid_figure_puts_true_coordinates_on_the_axes():
    import matplotlib

    matplotlib.use("Agg")
    from ccdnb.plots.inference import class_profile, plot_sections

    label = _label_with_objects()
    image = np.random.default_rng(1).normal(500.0, 3.0, label.shape)
    sections = sections_with_class(label, split_sections(label.shape, 50), "cluster")
    fig = plot_sections(image, label, sections, cls="cluster")
    corner = [ax for ax in fig.axes if ax.get_title().startswith("section 5")][0]
    assert corner.get_xlim() == (99.5, 129.5) and corner.get_ylim() == (49.5, 99.5)
    assert "0.60% cluster" in corner.get_title()
    profile = class_profile(label, "hot pixel", axis=0)
    assert profile[80] == 1.0 and profile.sum() == 1.0


def test_a_large_mask_shrunk_for_display_keeps_thin_hot_columns_and_small_clusters():
    from ccdnb.classes import CLUSTER, GLOWING, HOT_PIXEL
    from ccdnb.plots.inference import label_for_display, plot_frame_truth_and_prediction

    label = np.zeros((320, 640), np.uint8)
    label[:, 401] = HOT_PIXEL                  # a one-pixel hot column
    label[10:12, 100:103] = CLUSTER            # a small cluster
    label[200:, :50] = GLOWING
    label[250, 20] = CLUSTER                   # a cluster on glow outranks the glow
    shown = label_for_display(label, 160)
    assert shown.shape == (80, 160)
    assert np.count_nonzero(shown[:, 100] == HOT_PIXEL) == 80
    assert shown[2, 25] == CLUSTER and shown[62, 5] == CLUSTER and shown[70, 2] == GLOWING
    assert label_for_display(label, 1000) is label
    image = np.random.default_rng(0).normal(size=label.shape)
    fig = plot_frame_truth_and_prediction([image], [label], [label], titles=["CCD_A"])
    assert [ax.get_title() for ax in fig.axes[:3]] == ["CCD_A image (zscale)", "CCD_A truth",
                                                      "CCD_A prediction"]
