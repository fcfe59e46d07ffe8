"""``ccdnb monitor`` on runs as archives hold them: every kind gives a report, never a traceback.

Each test builds a small run (frames of 64 x 96 pixels) with astropy, the way
real files look (keywords missing, dead amplifiers, mixed types, raw skipper
files, several geometries, cut files), runs ``ccdnb monitor`` on it with the
shipped default model, and checks that the report is written (exit 0, or exit
2 naming the bad files), that the run table has one type per column in CSV
and FITS, and what the monitor did about the problem.
"""

import csv

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from ccdnb.classes import HOT_PIXEL
from ccdnb.cli import main
from ccdnb.defects import DefectMap

SHAPE = (64, 96)
PEDESTAL, NOISE = 1000.0, 10.0
#: A hot pixel of the sensor, in every frame (row, column).
DEFECT = (20, 30)


def sensor_image(rng, shape=SHAPE, *, noise=NOISE, defect=DEFECT):
    """A frame: pedestal and read noise, one persistent hot pixel, one fresh 2x2 hit."""
    image = rng.normal(PEDESTAL, noise, shape)
    image[defect] += 60 * noise
    y, x = rng.integers(5, shape[0] - 7), rng.integers(5, shape[1] - 7)
    image[y:y + 2, x:x + 2] += 40 * noise
    return image


def write_file(path, amplifiers, *, primary=None):
    """A FITS file: an empty primary HDU with ``primary`` keywords, one HDU per amplifier.

    ``amplifiers`` maps EXTNAME to an ndarray (written with its dtype) or to an
    ImageHDU (written as it is).
    """
    hdus = [fits.PrimaryHDU()]
    for key, value in (primary or {}).items():
        hdus[0].header[key] = value
    for name, data in amplifiers.items():
        hdus.append(data if isinstance(data, fits.ImageHDU) else fits.ImageHDU(data, name=name))
    fits.HDUList(hdus).writeto(path)
    return path


def full_header(i):
    """The keywords of a well-kept archive: time, exposure, gain."""
    return {"DATE-OBS": f"2026-03-01T{i:02d}:00:00", "EXPTIME": 1800.0, "GAIN": 5.0}


def make_run(folder, n, *, amps=("CCD_A", "CCD_B"), header=full_header, seed=0):
    """``n`` files ``f00.fits``... of float32 frames, the keywords of ``header(i)``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    return [write_file(folder / f"f{i:02d}.fits",
                       {a: sensor_image(rng).astype(np.float32) for a in amps},
                       primary=header(i)) for i in range(n)]


def monitor(inputs, report, capsys, *extra):
    """Run ``ccdnb monitor``; return (exit code, stderr, rows of frames.csv, frames.fits)."""
    inputs = [str(p) for p in (inputs if isinstance(inputs, list) else [inputs])]
    code = main(["monitor", *inputs, "--out-dir", str(report), "--quiet", *extra])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert (report / "report.html").is_file() and (report / "defects.fits").is_file()
    rows = list(csv.DictReader(open(report / "frames.csv")))
    table = Table.read(report / "frames.fits", mask_invalid=False)  # NaN stays NaN
    assert len(table) == len(rows)
    for name in table.colnames:  # one type per column, no object columns
        assert table[name].dtype.kind in "fiUS", name
    return code, err, rows, table


def notes_of(err):
    return [line for line in err.splitlines() if line.startswith("ccdnb: note: ")]


def test_frames_without_exptime_date_obs_or_gain(tmp_path, capsys):
    files = make_run(tmp_path / "run", 3, header=lambda i: {})
    fits.setval(files[1], "DATE-OBS", value="2026-03-01T05:00:00")  # one frame has a time
    code, err, rows, table = monitor(tmp_path / "run", tmp_path / "r", capsys)
    assert code == 0
    # time: file order for all, no hours
    assert [int(r["frame"]) for r in rows[::2]] == [0, 1, 2]
    assert [r["file"].rsplit("/", 1)[1] for r in rows[::2]] == ["f00.fits", "f01.fits",
                                                                "f02.fits"]
    assert all(r["time"] == "" for r in rows)
    assert rows[0]["time_method"] == "file order (no usable DATE-OBS on 2 of 3 frames)"
    assert np.isnan(table["time_h"]).all()
    # exposure: NaN and the reason; per-hour rates NaN, per-Mpix rates kept
    assert table["exposure_s"].dtype.kind == "f" and np.isnan(table["exposure_s"]).all()
    assert all(m.startswith("none (no EXPTIME") for m in table["exposure_method"])
    assert np.isnan(table["clusters_per_mpix_hour"]).all()
    assert np.isfinite(table["clusters_per_mpix"]).all()
    # gain: NaN and the reason; electrons NaN, ADU kept
    assert np.isnan(table["gain_adu_per_e"]).all() and np.isnan(table["rate_e_per_pix"]).all()
    assert all(m.startswith("none (no GAIN keyword") for m in table["gain_method"])
    # a conventional frame without a gain or an overscan: no rate, and the reason
    assert all(m == "none (no comb of electron peaks and no gain; no prescan/overscan columns)"
               for m in table["rate_method"])
    assert np.isnan(table["pixel_days"]).all() and (table["clean_pixels"] == 0).all()
    assert np.isfinite(table["dark_adu"]).all()
    assert np.allclose(table["pedestal_adu"], PEDESTAL, atol=2)
    notes = notes_of(err)
    assert any("DATE-OBS" in n and "file order" in n for n in notes)
    assert any("EXPTIME" in n for n in notes) and any("no gain on any frame" in n for n in notes)
    page = (tmp_path / "r" / "report.html").read_text()
    assert page.count('class="note"') == 3 and "What the run holds" in page


def test_a_gain_known_on_some_frames_only(tmp_path, capsys):
    files = make_run(tmp_path / "run", 4, amps=("CCD_A",))
    for path in files[2:]:
        fits.delval(path, "GAIN")
    code, err, rows, table = monitor(tmp_path / "run", tmp_path / "r", capsys)
    assert code == 0
    gain = np.asarray(table["gain_adu_per_e"])
    assert np.allclose(gain[:2], 5.0) and np.isnan(gain[2:]).all()
    assert list(table["gain_method"][:2]) == ["GAIN header"] * 2
    assert all(m.startswith("none (no GAIN keyword") for m in table["gain_method"][2:])
    # 2 e- of read noise resolve no electrons, and the frames have no overscan: no rate
    # with a gain or without, each with its reason
    assert np.isnan(table["rate_e_per_pix"]).all()
    assert all(m.startswith("none (read noise ") and m.endswith(
        "e- does not resolve electrons and no prescan/overscan columns)")
        for m in table["rate_method"][:2])
    assert all(m.startswith("none (no comb of electron peaks and no gain")
               for m in table["rate_method"][2:])
    energy = np.asarray(table["cluster_energy_kev"])
    assert np.isfinite(energy[:2]).all() and np.isnan(energy[2:]).all()
    assert any("gain known on some frames only (CCD_A 2 of 4)" in n for n in notes_of(err))


def test_dead_and_constant_amplifiers_and_an_all_nan_frame(tmp_path, capsys):
    files = make_run(tmp_path / "run", 5)
    rng = np.random.default_rng(1)
    nan = np.full(SHAPE, np.nan, np.float32)
    for path in files[1:4]:
        path.unlink()
    write_file(files[1], {"CCD_A": sensor_image(rng).astype(np.float32), "CCD_B": nan},
               primary=full_header(1))
    write_file(files[2], {"CCD_A": sensor_image(rng).astype(np.float32),
                          "CCD_B": np.full(SHAPE, 1234, np.int16)}, primary=full_header(2))
    write_file(files[3], {"CCD_A": nan, "CCD_B": nan}, primary=full_header(3))
    code, err, rows, table = monitor(tmp_path / "run", tmp_path / "r", capsys)
    assert code == 0 and len(rows) == 10
    status = {(r["file"].rsplit("/", 1)[1], r["amplifier"]): r["status"] for r in rows}
    assert status[("f01.fits", "CCD_B")] == "dead (no finite pixel)"
    assert status[("f02.fits", "CCD_B")].startswith("constant (every finite pixel 1234 ADU")
    assert status[("f03.fits", "CCD_A")] == status[("f03.fits", "CCD_B")] == \
        "dead (no finite pixel)"
    assert status[("f01.fits", "CCD_A")] == status[("f00.fits", "CCD_B")] == "ok"
    by = {(r["file"].rsplit("/", 1)[1], r["amplifier"]): r for r in table}
    dead = by[("f01.fits", "CCD_B")]
    assert np.isnan(dead["pedestal_adu"]) and np.isnan(dead["read_noise_adu"])
    assert dead["nonfinite"] == SHAPE[0] * SHAPE[1] and dead["clusters"] == 0
    assert dead["rate_method"] == "none (no finite pixel)"
    constant = by[("f02.fits", "CCD_B")]
    assert constant["pedestal_adu"] == 1234 and np.isnan(constant["read_noise_adu"])
    assert constant["background_method"] == "none (constant amplifier: no spread)"
    # the live amplifier of a file with a dead one is measured as any other
    assert by[("f01.fits", "CCD_A")]["pedestal_adu"] == pytest.approx(PEDESTAL, abs=2)
    outliers = list(csv.DictReader(open(tmp_path / "r" / "outliers.csv")))
    flagged = {(o["file"].rsplit("/", 1)[1], o["amplifier"]) for o in outliers}
    assert {("f01.fits", "CCD_B"), ("f02.fits", "CCD_B"), ("f03.fits", "CCD_A"),
            ("f03.fits", "CCD_B")} <= flagged
    notes = notes_of(err)
    assert any("1 frame without a finite pixel" in n and "f03.fits" in n for n in notes)
    assert any("1 dead amplifier " in n and "f01.fits CCD_B" in n for n in notes)
    assert any("1 constant amplifier " in n and "f02.fits CCD_B" in n for n in notes)
    # the dead amplifier's frame still has its masks file, with the live amplifier segmented
    with fits.open(tmp_path / "r" / "masks" / "f01.masks.fits") as hdul:
        assert hdul["CCD_A"].data.shape == SHAPE


def test_files_that_lack_an_amplifier_the_others_have(tmp_path, capsys):
    make_run(tmp_path / "run", 3)
    make_run(tmp_path / "run2", 1, amps=("CCD_A",), seed=5)
    (tmp_path / "run2" / "f00.fits").rename(tmp_path / "run" / "f03.fits")
    code, err, rows, table = monitor(tmp_path / "run", tmp_path / "r", capsys)
    assert code == 0 and len(rows) == 7
    assert sorted(r["amplifier"] for r in rows if r["file"].endswith("f03.fits")) == ["CCD_A"]
    assert any("1 file lacking an amplifier that other files have (f03.fits lacks CCD_B)" in n
               for n in notes_of(err))
    with fits.open(tmp_path / "r" / "defects.fits") as hdul:
        assert [h.name for h in hdul[1:]] == ["CCD_A", "CCD_B"]


def test_truncated_and_unreadable_files_are_named_and_the_rest_reported(tmp_path, capsys):
    files = make_run(tmp_path / "run", 4)
    files[1].write_bytes(files[1].read_bytes()[:9000])  # cut in the first image's data
    (tmp_path / "run" / "notes.fits").write_text("not a FITS file, a text someone saved\n")
    (tmp_path / "run" / "empty.fits").write_bytes(b"")
    code, err, rows, table = monitor(tmp_path / "run", tmp_path / "r", capsys)
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("ccdnb: error: ")]
    assert len(errors) == 3
    for name in ("f01.fits", "notes.fits", "empty.fits"):
        assert sum(name in line for line in errors) == 1
    assert sorted({r["file"].rsplit("/", 1)[1] for r in rows}) == ["f00.fits", "f02.fits",
                                                                    "f03.fits"]
    page = (tmp_path / "r" / "report.html").read_text()
    assert "Files that failed" in page and all(n in page for n in ("f01.fits", "notes.fits"))
    assert any("3 of 6 files failed" in n for n in notes_of(err))


def test_integer_and_float_frames_mixed(tmp_path, capsys):
    rng = np.random.default_rng(3)
    folder = tmp_path / "run"
    folder.mkdir()
    scaled = fits.ImageHDU(sensor_image(rng), name="CCD_A")
    scaled.scale("int32", bzero=200, bscale=0.5)  # stored (value - 200) / 0.5
    images = {"int16": np.rint(sensor_image(rng)).astype(np.int16),
              "uint16": np.rint(sensor_image(rng) + 30000).astype(np.uint16),
              "int32 (BZERO 200, BSCALE 0.5)": scaled,
              "float32": sensor_image(rng).astype(np.float32),
              "float64": sensor_image(rng)}
    for i, data in enumerate(images.values()):
        write_file(folder / f"f{i}.fits", {"CCD_A": data}, primary=full_header(i))
    code, err, rows, table = monitor(folder, tmp_path / "r", capsys)
    assert code == 0
    assert list(table["input_type"]) == list(images)
    expected = [PEDESTAL, PEDESTAL + 30000, PEDESTAL, PEDESTAL, PEDESTAL]
    assert np.allclose(table["pedestal_adu"], expected, atol=2)
    assert np.allclose(table["read_noise_adu"], NOISE, rtol=0.15)
    assert any("integer and float frames mixed" in n for n in notes_of(err))


def test_raw_skipper_files_among_averaged_ones(tmp_path, capsys):
    make_run(tmp_path / "run", 3, amps=("CCD_A",))
    rng = np.random.default_rng(4)
    nsamp = 4
    pixels = sensor_image(rng, noise=0.0)  # the charge of each pixel, read nsamp times
    raw = np.repeat(pixels, nsamp, axis=1) + rng.normal(0, NOISE, (SHAPE[0], SHAPE[1] * nsamp))
    hdu = fits.ImageHDU(raw.astype(np.float32), name="CCD_A")
    hdu.header["NSAMP"], hdu.header["NCOL"] = nsamp, SHAPE[1]
    write_file(tmp_path / "run" / "f03.fits", {"CCD_A": hdu}, primary=full_header(3))
    code, err, rows, table = monitor(tmp_path / "run", tmp_path / "r", capsys)
    assert code == 0
    assert list(table["samples_averaged"]) == [1, 1, 1, nsamp]
    assert set(table["amplifier"]) == {"CCD_A"} and set(table["width"]) == {SHAPE[1]}
    # averaging nsamp samples divides the read noise by sqrt(nsamp)
    assert table["read_noise_adu"][3] == pytest.approx(NOISE / np.sqrt(nsamp), rel=0.15)
    assert any("1 raw skipper file (NSAMP 4 samples per pixel) among 3 averaged" in n
               for n in notes_of(err))


def test_frames_of_several_geometries_get_a_defect_map_and_trend_each(tmp_path, capsys):
    rng = np.random.default_rng(6)
    folder = tmp_path / "run"
    folder.mkdir()
    small, small_defect = (48, 80), (10, 70)
    for i in range(6):
        shape, defect = (SHAPE, DEFECT) if i % 2 else (small, small_defect)
        write_file(folder / f"f{i}.fits",
                   {"CCD_A": sensor_image(rng, shape, defect=defect).astype(np.float32)},
                   primary=full_header(i))
    code, err, rows, table = monitor(folder, tmp_path / "r", capsys)
    assert code == 0 and len(rows) == 6
    assert [r["amplifier"] for r in rows] == ["CCD_A 48x80", "CCD_A 64x96"] * 3
    assert set(table["extname"]) == {"CCD_A"}
    with fits.open(tmp_path / "r" / "defects.fits") as hdul:
        assert {h.name: h.data.shape for h in hdul[1:]} == {"CCD_A_48X80": (3, 48, 80),
                                                            "CCD_A_64X96": (3, 64, 96)}
    dmap = DefectMap.read(tmp_path / "r" / "defects.fits")
    assert sorted(dmap.amplifiers) == ["CCD_A 48x80", "CCD_A 64x96"]
    for shape, defect in ((small, small_defect), (SHAPE, DEFECT)):
        hot = dmap.for_image("CCD_A", shape)  # found by the amplifier's name and its shape
        assert hot.shape == shape and hot[defect] and hot.sum() <= 3
    assert any("frames of several geometries: CCD_A in 2 shapes" in n for n in notes_of(err))
    # the map settles a frame of either shape: ccdnb predict --defects finds its amplifier
    assert main(["predict", str(folder / "f0.fits"), "--out-dir", str(tmp_path / "p"), "--quiet",
                 "--defects", str(tmp_path / "r" / "defects.fits")]) == 0
    assert fits.getdata(tmp_path / "p" / "f0.masks.fits", "CCD_A")[small_defect] == HOT_PIXEL


def test_a_single_frame(tmp_path, capsys):
    make_run(tmp_path / "run", 1, header=lambda i: {"EXPTIME": 60.0})
    code, err, rows, table = monitor(tmp_path / "run", tmp_path / "r", capsys)
    assert code == 0 and len(rows) == 2
    assert np.isnan(table["gain_adu_per_e"]).all()  # the mixed-types case
    assert np.isfinite(table["clusters_per_mpix_hour"]).all()
    assert list(csv.DictReader(open(tmp_path / "r" / "outliers.csv"))) == []
    dmap = DefectMap.read(tmp_path / "r" / "defects.fits")
    assert dmap.n_frames == 1 and not any(dmap.hot(a).any() for a in dmap.amplifiers)
    assert any("a single frame" in n for n in notes_of(err))


def test_a_rerun_into_a_report_of_an_older_version_reads_its_rows(tmp_path, capsys):
    from ccdnb.monitoring.frame import frame_path, read_frame, write_frame
    from ccdnb.monitoring.table import frame_table

    files = make_run(tmp_path / "run", 3, amps=("CCD_A",))
    code, _, _, first = monitor(tmp_path / "run", tmp_path / "r", capsys)
    assert code == 0
    # frame 0 as an older ccdnb wrote it: no samples_averaged, status or *_method columns
    path = frame_path(str(files[0]), tmp_path / "r")
    rows, maps = read_frame(path, pixels=True)
    old = [{k: v for k, v in row.items() if k not in ("samples_averaged", "status", "extname")
            and not k.endswith("_method")} for row in rows]
    write_frame(path, old, {a: b for a, (b, _) in maps.items()},
                {a: g for a, (_, g) in maps.items()})
    code, err, rows, table = monitor(tmp_path / "run", tmp_path / "r", capsys)
    assert code == 0 and "3 done before" in err
    # the second pass measures the old frame again, its masks read from the report
    assert list(table["samples_averaged"]) == [1, 1, 1] and list(table["status"]) == ["ok"] * 3
    assert list(table["gain_method"]) == ["GAIN header"] * 3
    assert all(m.startswith("settled by the run's defect map") for m in table["masks_method"])
    assert table["clusters"][0] == first["clusters"][0]
    # a row that lacks an integer column (read from an older report) is NaN there
    older = frame_table([{"frame": 0, "hot_pixels": 3}, {"frame": 1}])
    assert older["hot_pixels"].dtype.kind == "f" and np.isnan(older["hot_pixels"][1])
