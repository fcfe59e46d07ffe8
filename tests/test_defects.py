"""Run defect maps: counting frames, flags, the FITS file, and settling one frame's mask."""

import numpy as np
import pytest

from ccdnb.classes import BACKGROUND, CLUSTER, GLOWING, HOT_PIXEL
from ccdnb.defects import DefectAccumulator, DefectMap, settle_with_defects
from ccdnb.errors import CcdnbInputError


def _defects(shape=(20, 20), pixels=((5, 5),), column=None):
    known = np.zeros(shape, bool)
    for r, c in pixels:
        known[r, c] = True
    if column is not None:
        known[:, column] = True
    return known


def test_a_bright_pixel_on_a_defect_is_hot_and_one_off_every_defect_is_a_cluster():
    mask = np.zeros((20, 20), np.uint8)
    mask[5, 5] = CLUSTER            # a defect the network took for a hit
    mask[12, 12] = HOT_PIXEL        # a hit the network took for a hot pixel
    mask[1, 15:17] = HOT_PIXEL      # two pixels off every defect: a hit too
    mask[14:19, 2] = HOT_PIXEL      # a segment of five: a new defect, stays hot
    settled = settle_with_defects(mask, _defects())
    assert settled[5, 5] == HOT_PIXEL
    assert settled[12, 12] == CLUSTER and (settled[1, 15:17] == CLUSTER).all()
    assert (settled[14:19, 2] == HOT_PIXEL).all()
    assert mask[5, 5] == CLUSTER  # the input is not modified


def test_a_track_across_a_hot_column_keeps_its_cluster_pixels_and_a_halo_joins_the_defect():
    mask = np.zeros((20, 20), np.uint8)
    mask[10, 3:15] = CLUSTER        # a track crossing column 8
    mask[2, 8] = HOT_PIXEL
    mask[2, 9] = CLUSTER            # the network's halo beside a defect pixel
    settled = settle_with_defects(mask, _defects(pixels=(), column=8))
    assert settled[10, 8] == HOT_PIXEL
    assert (settled[10, 3:8] == CLUSTER).all() and (settled[10, 9:15] == CLUSTER).all()
    assert settled[2, 8] == HOT_PIXEL and settled[2, 9] == HOT_PIXEL


def test_a_defect_off_in_this_frame_is_not_drawn_and_glow_is_left_alone():
    mask = np.full((20, 20), BACKGROUND, np.uint8)
    mask[:, :3] = GLOWING
    settled = settle_with_defects(mask, _defects(pixels=((5, 5), (6, 1))))
    assert np.array_equal(settled, mask)


def test_a_pixel_bright_in_enough_frames_is_a_defect_and_a_lone_hit_is_not():
    acc = DefectAccumulator(min_share=0.3, min_frames=3)
    nothing = np.zeros((8, 8), bool)
    for i in range(10):
        bright = nothing.copy()
        bright[2, 2] = i < 4          # on in 4 of 10 frames
        bright[6, 6] = i == 7         # one hit
        bright[4, 4] = i < 2          # twice: below the share
        glowing = nothing.copy()
        glowing[:, 0] = True
        acc.add("CCD_A", bright, glowing)
    dmap = acc.result()
    assert dmap.n_frames == 10 and dmap.hot_share["CCD_A"][2, 2] == pytest.approx(0.4)
    flags = dmap.flag("CCD_A")
    assert flags[2, 2] == HOT_PIXEL and flags[6, 6] == 0 and flags[4, 4] == 0
    assert (flags[:, 0] == GLOWING).all()


def test_a_short_run_needs_min_frames():
    acc = DefectAccumulator(min_share=0.1, min_frames=3)
    for i in range(4):
        bright = np.zeros((4, 4), bool)
        bright[1, 1] = i < 2
        acc.add("A", bright, np.zeros((4, 4), bool))
    assert not acc.result().hot("A").any()  # 50 % of the frames, but only two of them


def test_the_map_round_trips_through_fits_and_checks_what_it_is_used_for(tmp_path):
    acc = DefectAccumulator()
    for _ in range(5):
        bright = np.zeros((6, 9), bool)
        bright[3, 4] = True
        acc.add("CCD_A", bright, np.zeros((6, 9), bool))
        acc.add("CCD_B", np.zeros((6, 9), bool), np.zeros((6, 9), bool))
    path = acc.result().write(tmp_path / "defects.fits")
    back = DefectMap.read(path)
    assert back.amplifiers == ["CCD_A", "CCD_B"] and back.n_frames == 5
    assert back.hot("CCD_A")[3, 4] and back.hot("CCD_A").sum() == 1
    assert back.for_image("CCD_A", (6, 9)).sum() == 1
    with pytest.raises(CcdnbInputError, match="no amplifier 'CCD_C'"):
        back.for_image("CCD_C", (6, 9))
    with pytest.raises(CcdnbInputError, match="name the image's amplifier"):
        back.for_image(None, (6, 9))
    with pytest.raises(CcdnbInputError, match="6x9 pixels; the image is 6x8"):
        back.for_image("CCD_A", (6, 8))
    with pytest.raises(CcdnbInputError, match="not found"):
        DefectMap.read(tmp_path / "none.fits")
    (tmp_path / "junk.fits").write_bytes(b"not fits")
    with pytest.raises(CcdnbInputError, match="junk.fits"):
        DefectMap.read(tmp_path / "junk.fits")
