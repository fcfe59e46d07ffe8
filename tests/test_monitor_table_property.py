"""Property: any frame a user may hand ``ccdnb monitor`` makes a run table that writes, or one
CcdnbInputError, never another exception.

Hypothesis draws a file of one or two amplifiers: random shape, stored type
(int16, uint16, int32, float32, float64, BZERO/BSCALE scaling), NaN and inf
pixels (whole amplifiers too), constant images, and the keywords the monitor
reads present, absent or wrong (EXPTIME, DATE-OBS, GAIN, NSAMP with or
without NCOL). The frame goes through the monitor's own steps (read, segment
with the shipped model, measure; the defect map of its bright pixels, the
second pass: settled masks, quality mask, single-electron rate; the run
table, notes, outliers) and the table is written to CSV and FITS and read back.
"""

import tempfile
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import ccdnb  # noqa: E402
from ccdnb.defects import DefectAccumulator  # noqa: E402
from ccdnb.errors import CcdnbInputError  # noqa: E402
from ccdnb.monitoring.frame import MonitorTask, frame_path, read_frame  # noqa: E402
from ccdnb.monitoring.notes import run_notes  # noqa: E402
from ccdnb.monitoring.outliers import find_outliers  # noqa: E402
from ccdnb.monitoring.run import _name_geometries, _order_rows  # noqa: E402
from ccdnb.monitoring.table import COLUMNS, frame_table, write_frame_table  # noqa: E402

STORED = ("int16", "uint16", "int32", "scaled int16", "scaled int32", "float32", "float64")
#: Keyword values: absent (None), sound, and the wrong kinds archives hold.
EXPTIME = st.sampled_from([None, 600.0, 0.0, -5.0, "n/a", 1e9])
DATE_OBS = st.sampled_from([None, "2026-03-01T10:00:00", "2026-03-01", "yesterday", ""])
GAIN = st.sampled_from([None, 4.5, 0.0, -2.0, "unknown", 1e-9])


@st.composite
def amplifier(draw, shape):
    """(ImageHDU, description) of one amplifier of ``shape``."""
    height, width = shape
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    pedestal = draw(st.sampled_from([0.0, 1000.0, -300.0, 30000.0]))
    noise = draw(st.sampled_from([0.0, 0.2, 12.0]))
    stored = draw(st.sampled_from(STORED))
    image = rng.normal(pedestal, noise, shape) if noise else np.full(shape, pedestal)
    if draw(st.booleans()):  # some charge: a hot pixel and a hit
        image[rng.integers(height), rng.integers(width)] += 500.0
    nsamp = draw(st.sampled_from([None, 1, 2, 3]))
    ncol = draw(st.booleans())
    if nsamp and nsamp > 1 and draw(st.booleans()):  # a raw skipper image: samples side by side
        image = np.repeat(image, nsamp, axis=1)
        if draw(st.booleans()):  # ... cut short: its width no longer fits NCOL x NSAMP
            image = image[:, :-1]
    if stored.startswith("float"):
        holes = draw(st.sampled_from(["none", "some", "all"]))
        if holes == "some":
            image.flat[rng.choice(image.size, max(1, image.size // 10), replace=False)] = np.nan
            image.flat[rng.integers(image.size)] = np.inf
        elif holes == "all":
            image[:] = np.nan
        hdu = fits.ImageHDU(image.astype(stored))
    elif stored.startswith("scaled"):
        hdu = fits.ImageHDU(image)
        hdu.scale(stored.split()[1], bzero=draw(st.sampled_from([0, 200, 32768])),
                  bscale=draw(st.sampled_from([1.0, 0.5, 2.0])))
    else:
        info = np.iinfo(stored)
        hdu = fits.ImageHDU(np.clip(np.rint(image), info.min, info.max).astype(stored))
    if nsamp is not None:
        hdu.header["NSAMP"] = nsamp
        if ncol:
            hdu.header["NCOL"] = width
    return hdu


@st.composite
def frame_file(draw):
    """The HDUs of one file: primary header keywords and one or two amplifiers."""
    shape = (draw(st.integers(4, 40)), draw(st.integers(4, 56)))
    primary = fits.PrimaryHDU()
    for key, values in (("EXPTIME", EXPTIME), ("DATE-OBS", DATE_OBS), ("GAIN", GAIN)):
        value = draw(values)
        if value is not None:
            primary.header[key] = value
    hdus = [primary]
    for name in ("CCD_A", "CCD_B")[:draw(st.integers(1, 2))]:
        hdu = draw(amplifier(shape))
        hdu.name = name
        hdus.append(hdu)
    return fits.HDUList(hdus)


def archive_file(exptime, gain, date_obs, amplifiers):
    """A file as an archive may hold it: these primary keywords, these amplifiers' pixels."""
    primary = fits.PrimaryHDU()
    for key, value in (("EXPTIME", exptime), ("GAIN", gain), ("DATE-OBS", date_obs)):
        primary.header[key] = value
    return fits.HDUList([primary] + [fits.ImageHDU(data, name=f"CCD_{chr(65 + i)}")
                                     for i, data in enumerate(amplifiers)])


_RNG = np.random.default_rng(35)
#: Always tried, besides the drawn examples: every keyword of the wrong kind, with a live,
#: a dead and a constant amplifier.
WRONG_KEYWORDS = archive_file("n/a", "unknown", "yesterday", [
    _RNG.normal(1000, 10, (24, 32)).astype(np.float32), np.full((24, 32), np.nan, np.float32),
    np.full((24, 32), 7, np.int16)])


@pytest.fixture(scope="module")
def segmenter():
    return ccdnb.Segmenter("default")


def check_table(rows, folder):
    """The run table of ``rows`` writes to CSV and FITS, and reads back with one type per column."""
    rows = _order_rows(_name_geometries(rows))
    run_notes(rows)
    find_outliers(rows)
    table = frame_table(rows)
    write_frame_table(table, folder / "frames.csv", folder / "frames.fits")
    back = Table.read(folder / "frames.fits", mask_invalid=False)
    assert len(back) == len(rows) == len(Table.read(folder / "frames.csv"))
    for name in back.colnames:  # FITS gives text back as bytes (S) or str (U)
        assert back[name].dtype.kind in {"f": "f", "i": "i", "U": "US"}[COLUMNS[name]], name


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(hdulist=frame_file())
@example(hdulist=WRONG_KEYWORDS)
def test_any_frame_gives_a_table_that_writes_or_one_input_error(hdulist, segmenter):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "frame.fits"
        hdulist.writeto(path)
        try:
            finish = MonitorTask().run(str(path), folder / "report", segmenter, None, {})
            finish()  # the first pass's step after the network: statistics, the .npz
        except CcdnbInputError as err:  # the one error a user may meet: one line, the file named
            message = str(err)
            assert "\n" not in message and str(path) in message
            return
        # the second pass, with the defect map of this one frame
        _, maps = read_frame(frame_path(str(path), folder / "report"), pixels=True)
        accumulator = DefectAccumulator()
        for amp, (bright, glowing) in maps.items():
            accumulator.add(amp, bright, glowing)
        defects = accumulator.result().write(folder / "report" / "defects.fits")
        MonitorTask(defects=defects).run(str(path), folder / "report", None, None, {})
        rows = read_frame(frame_path(str(path), folder / "report"), settled=True)
        assert [r["hdu"] for r in rows] == list(range(1, len(hdulist)))
        for row in rows:
            assert set(COLUMNS) - {"frame", "time", "time_h", "time_method"} <= set(row)
            if np.isnan(row["gain_adu_per_e"]):
                assert row["gain_method"].startswith("none (")
            if np.isnan(row["exposure_s"]):
                assert row["exposure_method"].startswith("none (")
            if np.isnan(row["rate_e_per_pix"]):
                assert row["rate_method"].startswith("none (")
                assert "second pass" not in row["rate_method"]  # the second pass ran
            else:
                assert row["rate_error"] > 0 and row["clean_pixels"] > 0
        check_table(rows, folder)
