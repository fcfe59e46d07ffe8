"""The section viewer's logic: navigation, overlays and text, driven without a browser."""

import numpy as np
import pytest

from ccdnb.classes import CLASS_COLOURS, CLUSTER, GLOWING, HOT_PIXEL
from ccdnb.plots.inference import class_overlay
from ccdnb.widgets import (
    ERROR_COLOURS,
    FrameViewer,
    SectionViewer,
    catalog_rows,
    cluster_boxes,
    cluster_window,
    counts_text,
    error_map,
    format_count,
    layer_codes,
    layer_palette,
    matching_sections,
    pixel_readout,
    render_png,
    viewer_widget,
    window_of,
    zoom_window,
)


def _viewer(**kwargs):
    """A 3 x 4 grid of 32-pixel sections, the last row and column 20 pixels."""
    label = np.zeros((84, 116), dtype=np.uint8)
    label[5, 40] = CLUSTER                 # section 1
    label[40:44, 70:74] = CLUSTER          # section 6 (16 pixels)
    label[70, 100] = CLUSTER               # section 11 (the 20 x 20 corner)
    label[:, 0:3] = GLOWING                # sections 0, 4, 8
    label[33, 50] = HOT_PIXEL              # section 5
    image = np.random.default_rng(0).normal(1000.0, 5.0, label.shape).astype(np.float32)
    return SectionViewer(image, label, section_size=32, **kwargs)


def test_viewer_starts_on_the_first_section_of_the_chosen_class():
    viewer = _viewer()
    assert len(viewer.sections) == 12
    assert viewer.matching == [1, 6, 11]
    assert viewer.index == 1


def test_next_and_prev_step_through_class_sections_and_wrap_around():
    viewer = _viewer()
    assert [viewer.next().index for _ in range(3)] == [6, 11, 1]
    assert [viewer.prev().index for _ in range(3)] == [11, 6, 1]


def test_without_wrapping_the_ends_clamp():
    viewer = _viewer(wrap=False)
    assert viewer.prev().index == 1
    viewer.select(11)
    assert viewer.next().index == 11


def test_stepping_from_a_section_chosen_on_the_slider():
    viewer = _viewer()
    viewer.select(3)                       # holds no cluster
    assert viewer.next().index == 6
    viewer.select(3)
    assert viewer.prev().index == 1
    with pytest.raises(IndexError):
        viewer.select(12)


def test_minimum_pixel_count_and_class_change():
    viewer = _viewer(min_pixels=2)
    assert viewer.matching == [6]
    assert viewer.next().index == 6
    assert viewer.set_class("glowing").index == 8   # 6 holds no glow: on to the next that does
    assert viewer.next().index == 0
    assert viewer.set_class("glowing").index == 0   # already on a glowing section: stays


def test_without_any_section_of_the_class_the_viewer_stays_and_says_so():
    viewer = _viewer(cls="hot pixel", min_pixels=5)
    viewer.select(2)
    assert viewer.next().index == 2 and viewer.prev().index == 2
    assert "no section holds hot pixel" in viewer.description()


def test_description_gives_coordinates_place_counts_and_percentages():
    viewer = _viewer()
    viewer.select(11)
    lines = viewer.description().splitlines()
    assert "x 96-115, y 64-83" in lines[0]
    assert "cluster section 3 of 3" in lines[1]
    assert "400 pixels" in lines[2] and "cluster 1 px (0.25%)" in lines[2]
    assert "hot pixel 0 px" in lines[2]
    viewer.select(3)
    assert "no cluster here; 3 sections hold cluster" in viewer.description()


def test_overlay_colours_only_the_visible_classes_with_their_alpha():
    viewer = _viewer(visible=("cluster",), alpha=0.4)
    viewer.select(4)                       # glowing columns 0-2, nothing else
    assert viewer.overlay().shape == (32, 32, 4)
    assert not viewer.overlay().any()      # glowing hidden: fully transparent
    viewer.set_visible("glowing")
    overlay = viewer.overlay()
    np.testing.assert_allclose(overlay[:, :3], np.broadcast_to((*CLASS_COLOURS[GLOWING], 0.4),
                                                               (32, 3, 4)))
    assert not overlay[:, 3:].any()
    viewer.select(6)
    state = viewer.state()
    np.testing.assert_allclose(state.overlay[8, 6], (*CLASS_COLOURS[CLUSTER], 0.4))
    viewer.set_visible(CLUSTER, False)
    assert not viewer.overlay().any()


def test_class_overlay_refuses_an_opacity_outside_0_to_1():
    with pytest.raises(ValueError):
        class_overlay(np.zeros((2, 2), np.uint8), alpha=1.5)


def test_format_count_never_hides_a_few_pixels_behind_zero_percent():
    assert format_count(2, 1024 * 1024) == "2 px (<0.01%)"
    assert format_count(0, 100) == "0 px"
    assert format_count(1234, 65536) == "1,234 px (1.88%)"
    assert format_count(65535, 65536) == "65,535 px (>99.99%)"
    assert format_count(16, 16) == "16 px (100%)"
    text = counts_text([4094, 0, 2, 0])
    assert text == ("background 4,094 px (99.95%), glowing 0 px, hot pixel 2 px (0.05%), "
                    "cluster 0 px")


def test_error_map_names_missed_false_and_other_class_pixels():
    truth = np.array([[0, 3, 2, 1, 0]], np.uint8)
    pred = np.array([[0, 0, 3, 1, 2]], np.uint8)
    np.testing.assert_array_equal(error_map(truth, pred), [[0, 1, 3, 0, 2]])
    with pytest.raises(ValueError):
        error_map(truth, pred[:, :3])


def test_layer_codes_and_palettes():
    mask = np.array([[0, 1, 2, 3]], np.uint8)
    truth = np.array([[3, 1, 2, 0]], np.uint8)
    assert not layer_codes("image", mask).any()
    np.testing.assert_array_equal(layer_codes("mask", mask, visible=("cluster",)), [[0, 0, 0, 3]])
    np.testing.assert_array_equal(layer_codes("truth", mask, truth), [[3, 1, 2, 0]])
    np.testing.assert_array_equal(layer_codes("errors", mask, truth), [[1, 0, 0, 2]])
    with pytest.raises(ValueError, match="truth"):
        layer_codes("errors", mask)
    with pytest.raises(ValueError):
        layer_codes("blink", mask)
    palette = layer_palette("mask", alpha=0.4)
    assert palette[0][3] == 0 and palette[CLUSTER] == (*CLASS_COLOURS[CLUSTER], 0.4)
    assert layer_palette("errors", alpha=1.0)[1] == (*ERROR_COLOURS[1], 1.0)
    assert all(c[3] == 0 for c in layer_palette("image"))


def test_section_filter_by_class_and_minimum_count():
    counts = np.array([[10, 0, 0, 1], [10, 0, 2, 5], [10, 0, 0, 0]])
    assert matching_sections(counts, "cluster") == [0, 1]
    assert matching_sections(counts, "cluster", 2) == [1]
    assert matching_sections(counts, HOT_PIXEL, 0) == [1]
    assert matching_sections(counts, "glowing") == []


def test_catalog_row_opens_a_window_around_its_cluster():
    mask = np.zeros((100, 200), np.uint8)
    mask[10:13, 20:22] = CLUSTER                   # 6 px
    mask[50:90, 150] = CLUSTER                     # a 40-pixel track
    mask[98:100, 198:200] = CLUSTER                # in the corner
    np.testing.assert_array_equal(cluster_boxes(mask),
                                  [[20, 22, 10, 13], [150, 151, 50, 90], [198, 200, 98, 100]])
    x0, x1, y0, y1 = cluster_window((20, 22, 10, 13), mask.shape)
    assert (x1 - x0, y1 - y0) == (48, 48) and x0 <= 20 and x1 >= 22 and y0 == 0
    x0, x1, y0, y1 = cluster_window((150, 151, 50, 90), mask.shape)
    assert y1 - y0 == 56 and y0 <= 50 and y1 >= 90   # the whole track with its padding
    assert cluster_window((198, 200, 98, 100), mask.shape) == (152, 200, 52, 100)
    image = np.random.default_rng(1).normal(500.0, 2.0, mask.shape).astype(np.float32)
    image[50:90, 150] += 400.0                     # the track is the brightest
    rows = catalog_rows(image, mask)
    assert [r["cluster"] for r in rows][0] == 2 and rows[0]["box"] == (150, 151, 50, 90)
    assert rows[0]["npix"] == 40


def test_pixel_readout_in_adu_and_sigma():
    image = np.full((4, 5), 100.0, np.float32)
    image[2, 3] = 130.0
    mask = np.zeros((4, 5), np.uint8)
    mask[2, 3] = CLUSTER
    readout = pixel_readout(image, np.full(4, 100.0), 10.0, mask=mask, truth=mask)
    assert readout(3.2, 1.8) == "x=3 y=2  130.0 ADU  +3.0 σ  mask: cluster  truth: cluster"
    assert readout(-2.0, 1.0).startswith("x=-2.0")
    image[0, 0] = np.nan
    assert "nan ADU" in pixel_readout(image, 100.0, 10.0)(0, 0)


def test_windows_from_axes_limits_and_zoom():
    assert window_of((-0.5, 63.5), (63.5, 127.5), (256, 256)) == (0, 64, 64, 128)
    assert window_of((-40, 400), (-1, 10), (100, 300)) == (0, 300, 0, 11)
    assert zoom_window((0, 64, 0, 64), 0.5, (256, 256)) == (16, 48, 16, 48)
    assert zoom_window((0, 64, 0, 64), 8, (100, 200)) == (0, 200, 0, 100)


def _frame_viewer(tmp_path):
    rng = np.random.default_rng(3)
    truths, masks, images = [], [], []
    for k in range(2):
        truth = np.zeros((64, 96), np.uint8)
        truth[5 + k, 40] = CLUSTER
        truth[40:44, 70:74] = CLUSTER
        truth[:, 0:2] = GLOWING
        mask = truth.copy()
        mask[40, 70] = 0                           # one missed pixel
        mask[20, 20] = HOT_PIXEL                   # one false pixel
        image = rng.normal(1000.0, 5.0, truth.shape).astype(np.float32) + 200.0 * (truth > 0)
        truths.append(truth), masks.append(mask), images.append(image)
    return FrameViewer.from_arrays(images, masks, ["CCD_A", "CCD_B"], truths, section_size=32,
                                   cls="cluster", out_dir=tmp_path)


def test_frame_viewer_steps_amplifiers_layers_sections_and_catalog(tmp_path):
    viewer = _frame_viewer(tmp_path)
    assert viewer.names == ["CCD_A", "CCD_B"] and viewer.layer == "errors"
    assert viewer.window == (32, 64, 0, 32)         # first cluster section
    assert viewer.next() == (64, 96, 32, 64)
    text = viewer.description()
    assert "missed 1 px (6.67%)" not in text and "missed 1 px" in text
    assert "hot pixel 0 px" in text.splitlines()[3]  # truth line
    viewer.set_min_pixels(10)
    assert viewer.matching == [5] and viewer.window == (64, 96, 32, 64)
    assert viewer.select_cluster(0) == (48, 96, 16, 64)  # the 16-pixel cluster, brightest
    assert "cluster 2: x" in viewer.description()
    viewer.zoom(0.5)
    assert viewer.window == (60, 84, 28, 52)
    viewer.set_amplifier("CCD_B")
    assert viewer.selected_cluster is None and viewer.window == (64, 96, 32, 64)
    viewer.set_layer("truth")
    assert (viewer.codes() == viewer.amplifier.truth * (viewer.amplifier.truth > 0)).all()
    path = viewer.save_png()
    assert path == tmp_path / "CCD_B_truth_x64-95_y32-63.png"
    assert path.read_bytes().startswith(b"\x89PNG")


def test_frame_viewer_without_truth_offers_image_and_mask_only():
    image = np.zeros((16, 16), np.float32)
    viewer = FrameViewer.from_arrays([image], [np.zeros((16, 16), np.uint8)])
    assert viewer.layers == ("image", "mask") and viewer.layer == "mask"
    with pytest.raises(ValueError):
        viewer.set_layer("errors")
    with pytest.raises(IndexError):
        viewer.select_cluster(0)


def test_widget_controls_change_the_view_without_a_front_end(tmp_path):
    viewer = _frame_viewer(tmp_path)
    box = viewer_widget(viewer)
    parts = box.parts
    assert type(parts["canvas"]).__name__ == "Canvas"   # ipympl's interactive canvas
    assert "missed" in parts["legend"].value and "hot pixel" in parts["legend"].value
    parts["next"].click()
    assert viewer.window == (64, 96, 32, 64)
    assert parts["section"].value == 5
    xlim = parts["view"].ax.get_xlim()
    parts["zoom_in"].click()
    assert parts["view"].ax.get_xlim() != xlim
    parts["catalog"].value = 0
    assert viewer.selected_cluster["cluster"] == 2 and "cluster 2" in parts["state"].value
    parts["view"].ax.set_xlim(9.5, 19.5)               # a toolbar zoom or pan
    assert viewer.window[:2] == (10, 20)
    parts["amplifier"].value = "CCD_B"
    assert viewer.amplifier.name == "CCD_B" and "CCD_B" in parts["state"].value
    parts["layer"].value = "mask"
    parts["overlay"][2].value = False                  # hide clusters
    assert CLUSTER not in viewer.visible
    parts["save"].click()
    assert "CCD_B_mask" in parts["saved"].value
    assert render_png(viewer, figsize=(3, 3), dpi=40).startswith(b"\x89PNG")
