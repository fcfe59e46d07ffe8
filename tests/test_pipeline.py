"""The prediction pipeline is one ordered list of named stages that can be switched off."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from ccdnb.classes import BACKGROUND, CLUSTER, GLOWING, HOT_PIXEL
from ccdnb.defects import settle_with_defects
from ccdnb.errors import CcdnbInputError
from ccdnb.predict import RULES, STAGE_NAMES, STAGES, predict_fits, predict_image, stage_table
from ccdnb.predict.pipeline import TABLE_BEGIN, TABLE_END

DOCS = Path(__file__).resolve().parent.parent / "docs" / "pipeline.md"


class ConstantModel:
    """A stand-in network: the same class probabilities at every pixel."""

    any_batch_size = True
    name = "constant"

    def __init__(self, probabilities=(0.7, 0.1, 0.05, 0.15)):
        self.p = np.asarray(probabilities, dtype=np.float32)

    def predict_on_batch(self, x):
        return np.broadcast_to(self.p, x.shape[:-1] + (4,)).copy()


class ThresholdModel:
    """A stand-in network: class ``cls`` where the input stands above ``sigma``, else background."""

    any_batch_size = True
    name = "threshold"

    def __init__(self, sigma, cls):
        from ccdnb.predict.rules.signal_floor import input_threshold

        self.level, self.cls = input_threshold(sigma), cls

    def predict_on_batch(self, x):
        out = np.zeros(x.shape[:-1] + (4,), np.float32)
        above = x[..., 0] >= self.level
        out[..., 0] = np.where(above, 0.1, 0.9)
        out[..., self.cls] = np.where(above, 0.9, 0.1)
        return out


def _image(seed=0):
    """Pedestal 1000 ADU, noise 10 ADU, a 3x3 deposit of 40 sigma and one NaN pixel."""
    rng = np.random.default_rng(seed)
    image = 1000.0 + 10.0 * rng.standard_normal((96, 80))
    image[40:43, 30:33] += 400.0
    image[5, 5] = np.nan
    return image.astype(np.float32)


def test_the_stages_run_in_the_documented_order():
    assert STAGE_NAMES[:4] == ("background", "electron_field", "network_input", "network")
    assert STAGE_NAMES[-3:] == ("nonfinite", "defect_map", "quality")
    assert set(RULES) <= set(STAGE_NAMES)
    assert all(stage.optional for stage in STAGES if stage.name in RULES)
    state = predict_image(ConstantModel(), _image(), tile=64, margin=8, return_state=True)
    assert [name for name, _ in state.log] == list(STAGE_NAMES)


def test_the_signal_floor_keeps_a_deposit_the_network_misses_and_its_switch_drops_it():
    image = _image()
    state = predict_image(ConstantModel(), image, tile=64, margin=8, return_state=True)
    log = dict(state.log)
    assert np.all(state.mask[40:43, 30:33] == CLUSTER)  # best class but background
    assert log["signal_floor"] == np.count_nonzero(state.mask == CLUSTER) >= 9
    bare = predict_image(ConstantModel(), image, tile=64, margin=8, skip_stages=["signal_floor"])
    assert not bare.any()
    # and the rules as a whole: the bare network
    assert not predict_image(ConstantModel(), image, tile=64, margin=8, skip_stages=RULES).any()
    assert not predict_image(ConstantModel(), image, tile=64, margin=8, signal_floor=None).any()


def test_each_stage_reports_the_pixels_it_changed():
    # a network that calls every pixel above 1 sigma a cluster: the noise groups release
    # the read noise's groups, the deposit stays
    image = _image()
    state = predict_image(ThresholdModel(1.0, CLUSTER), image, tile=64, margin=8,
                          return_state=True)
    log = dict(state.log)
    assert log["network"] > 0.1 * image.size
    released = log["noise_groups"]
    assert released > 0.2 * log["network"]
    assert np.all(state.mask[40:43, 30:33] == CLUSTER)
    assert state.mask[5, 5] == BACKGROUND  # the NaN pixel
    kept = np.count_nonzero(state.mask != BACKGROUND)
    assert kept == log["network"] - released - log["nonfinite"] - log["field_chance_groups"] \
        - log["field_chance_neighbours"] + log["signal_floor"]


def test_the_glow_lumps_stage_is_the_floor_without_its_glow_relabel():
    # a wide raised region with shot-noise lumps: the floor keeps the lumps, the next
    # stage calls them glowing; switched off, they keep the network's best class
    rng = np.random.default_rng(3)
    image = 1000.0 + 10.0 * rng.standard_normal((96, 96))
    image[20:76, 20:76] += 45.0 + 25.0 * rng.standard_normal((56, 56))
    on = predict_image(ConstantModel(), image, tile=64, margin=8, return_state=True)
    off = predict_image(ConstantModel(), image, tile=64, margin=8, skip_stages=["glow_lumps"],
                        return_state=True)
    assert dict(on.log)["glow_lumps"] > 0
    assert dict(off.log)["glow_lumps"] is None
    assert np.count_nonzero(on.mask == GLOWING) == dict(on.log)["glow_lumps"]
    assert not np.any(off.mask == GLOWING)
    assert np.array_equal(on.mask != BACKGROUND, off.mask != BACKGROUND)


def test_the_defect_map_stage_settles_as_the_defect_module_does():
    image = _image()
    image[:, 60] += 300.0  # a hot column
    image[70, 10:12] += 300.0  # a two-pixel hit off every defect
    defects = np.zeros(image.shape, bool)
    defects[:, 60] = True
    model = ThresholdModel(5.0, HOT_PIXEL)
    plain = predict_image(model, image, tile=64, margin=8)
    state = predict_image(model, image, tile=64, margin=8, defects=defects, return_state=True)
    settled = settle_with_defects(plain, defects)
    assert np.array_equal(state.mask, settled)
    assert dict(state.log)["defect_map"] == np.count_nonzero(settled != plain) > 0
    assert np.all(state.mask[:, 60] == HOT_PIXEL)
    assert np.all(plain[70, 10:12] == HOT_PIXEL) and np.all(state.mask[70, 10:12] == CLUSTER)


@pytest.mark.parametrize("names, fragment", [(["no_such_stage"], "unknown stage"),
                                             (["network"], "cannot be switched off")])
def test_a_bad_stage_name_is_one_clear_error(names, fragment):
    with pytest.raises(CcdnbInputError, match=fragment):
        predict_image(ConstantModel(), _image(), tile=64, margin=8, skip_stages=names)


def test_the_masks_header_records_every_stage(tmp_path):
    hdul = fits.HDUList([fits.PrimaryHDU(_image())])
    out = predict_fits(ConstantModel(), hdul, skip_stages=["glow_lumps", "serial_hits"],
                       tile=64, margin=8)
    header = out[0].header
    lines = [str(value) for value in header["HISTORY"] if str(value).startswith("ccdnb stage")]
    assert [line.split()[2].rstrip(":") for line in lines] == list(STAGE_NAMES)
    assert "ccdnb stage glow_lumps: skipped" in lines
    assert header["CCDNBOFF"] == "glow_lumps,serial_hits"
    floor = next(line for line in lines if line.startswith("ccdnb stage signal_floor"))
    assert floor == f"ccdnb stage signal_floor: {np.count_nonzero(out[0].data)} px changed"
    assert "CCDNBOFF" not in predict_fits(ConstantModel(), hdul, tile=64, margin=8)[0].header


def test_the_command_line_switches_stages_off(tmp_path):
    path = tmp_path / "frame.fits"
    fits.PrimaryHDU(_image()).writeto(path)
    run = [sys.executable, "-m", "ccdnb", "predict", str(path), "--quiet"]
    done = subprocess.run(run + ["--out-dir", str(tmp_path / "a"), "--skip-stage", "rules"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    header = fits.getheader(tmp_path / "a" / "frame.masks.fits")
    assert header["CCDNBOFF"].split(",") == list(RULES)
    bad = subprocess.run(run + ["--out-dir", str(tmp_path / "b"), "--skip-stage", "floor"],
                         capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "unknown stage 'floor'" in bad.stderr
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())


def test_the_docs_stage_table_is_generated_from_the_list():
    text = DOCS.read_text()
    table = text.split(TABLE_BEGIN, 1)[1].split(TABLE_END, 1)[0]
    assert table.strip() == stage_table().strip()
    for stage in STAGES:
        assert f"`{stage.name}`" in table
