"""``ccdnb monitor`` / ``ccdnb.monitor``: a run into a table, defect map, outliers and a report."""

import csv
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

import ccdnb
from ccdnb.classes import HOT_PIXEL
from ccdnb.cli import main
from ccdnb.defects import DefectMap
from ccdnb.simulation.run import simulate_run


@pytest.fixture(scope="module")
def run_files(tmp_path_factory):
    """12 frames of two 96x96 amplifiers with many defects and one noise-jump frame."""
    folder = tmp_path_factory.mktemp("run")
    run = simulate_run(12, 96, seed=8, n_amplifiers=2, defect_pixels=40.0,
                       defect_segments=15.0, defect_columns=5.0, intermittent_share=0.0)
    return run, run.write(folder / "frames", "f")


@pytest.fixture(scope="module")
def report(run_files, tmp_path_factory):
    _, files = run_files
    return ccdnb.monitor(files[0].parent, tmp_path_factory.mktemp("r") / "report",
                         progress=False)


def test_the_report_holds_the_table_defects_outliers_and_html(run_files, report):
    run, files = run_files
    out = report.report_dir
    rows = list(csv.DictReader(open(out / "frames.csv")))
    assert len(rows) == 12 * 2 and {r["amplifier"] for r in rows} == {"CCD_A", "CCD_B"}
    assert [int(r["frame"]) for r in rows[::2]] == list(range(12))
    assert len(Table.read(out / "frames.fits")) == 24
    first = rows[0]
    for column in ("time", "pedestal_adu", "read_noise_adu", "rate_e_per_pix",
                   "rate_slope_per_krow", "rate_method", "share_glowing", "hot_pixels",
                   "hot_columns", "glow_pixels", "clusters", "clusters_per_mpix",
                   "clusters_per_mpix_hour", "cluster_energy_kev"):
        assert column in first
    # 1.75 e- of read noise resolve no electrons and the frames have no overscan: no rate
    assert first["rate_method"].startswith("none (read noise 1.7")
    assert first["rate_method"].endswith("e- does not resolve electrons and no "
                                         "prescan/overscan columns)")
    assert first["rate_e_per_pix"] == "nan" and first["gain_adu_per_e"] == "8.0"
    assert float(first["pedestal_adu"]) == pytest.approx(run.pedestal(0), abs=3)
    assert float(first["read_noise_adu"]) == pytest.approx(run.read_noise(0), rel=0.1)
    # time from DATE-OBS, exposure from EXPTIME: a rate per hour
    assert float(rows[2]["time_h"]) == pytest.approx((3600 + 60) / 3600)
    assert float(first["clusters_per_mpix_hour"]) == pytest.approx(
        float(first["clusters_per_mpix"]))
    with fits.open(out / "defects.fits") as hdul:
        assert [h.name for h in hdul[1:]] == ["CCD_A", "CCD_B"]
        assert hdul[1].data.shape == (3, 96, 96)
    dmap = DefectMap.read(out / "defects.fits")
    for k, amp in enumerate(("CCD_A", "CCD_B")):
        truth = run.defect_pixels(k)
        found = dmap.hot(amp)
        assert (found & truth).sum() >= 0.95 * truth.sum()
        assert (found & ~truth).sum() <= 0.02 * found.sum()
    outliers = list(csv.DictReader(open(out / "outliers.csv")))
    bad = run.bad.index("noise jump")
    assert {int(o["frame"]) for o in outliers} == {bad}
    assert all("noise jump" in o["reason"] for o in outliers)
    page = (out / "report.html").read_text()
    assert 'src="trends.png"' in page and 'src="defects.png"' in page
    assert (out / "trends.png").stat().st_size > 1000 and (out / "defects.png").is_file()


def test_a_rerun_skips_the_frames_that_are_done(run_files, report):
    _, files = run_files
    stamps = {p: p.stat().st_mtime_ns for p in (report.report_dir / "masks").iterdir()}
    again = ccdnb.monitor(files, report.report_dir, progress=False)
    assert len(again.summary.skipped) == 12 and again.summary.ok
    assert {p: p.stat().st_mtime_ns for p in (report.report_dir / "masks").iterdir()} == stamps
    # the frames' own rows are kept apart from the settled ones: the rerun finds the same
    # outliers and defect map, and measures the same table
    assert _same_rows(again.rows, report.rows) and again.outliers == report.outliers


def test_masks_of_ccdnb_predict_and_rewritten_masks(run_files, report, tmp_path):
    _, files = run_files
    assert main(["predict", *map(str, files[:4]), "--out-dir", str(tmp_path / "m"),
                 "--quiet"]) == 0
    from_masks = ccdnb.monitor(files[:4], tmp_path / "r", masks=tmp_path / "m", progress=False)
    # the frames' own masks are the monitor's (the settled ones follow each run's map)
    single = [r["clusters_single_frame"] for r in from_masks.rows]
    assert single == [r["clusters_single_frame"] for r in report.rows[:8]]
    settled = ccdnb.monitor(files[:4], tmp_path / "r2", masks=tmp_path / "m",
                            rewrite_masks=True, progress=False, min_frames=2)
    with fits.open(tmp_path / "r2" / "masks" / "f_0000.masks.fits") as hdul:
        assert hdul[1].header["CCDNBDEF"] and hdul[1].data.shape == (96, 96)
    # predict --defects settles the same way as the monitor's rewrite
    defects = str(tmp_path / "r2" / "defects.fits")
    assert main(["predict", str(files[0]), "--out-dir", str(tmp_path / "p"), "--quiet",
                 "--defects", defects]) == 0
    with fits.open(tmp_path / "p" / "f_0000.masks.fits") as a, \
            fits.open(tmp_path / "r2" / "masks" / "f_0000.masks.fits") as b:
        assert np.array_equal(a[1].data, b[1].data) and a[1].header["CCDNBDEF"]
    seg = ccdnb.Segmenter(defects=defects)
    image = fits.getdata(files[0], 1)
    mask = seg.segment(image, amplifier="CCD_A")
    assert np.array_equal(mask, fits.getdata(tmp_path / "p" / "f_0000.masks.fits", 1))
    assert (mask[settled.defect_map.hot("CCD_A")] != 3).all()
    with pytest.raises(ccdnb.CcdnbInputError, match="name the image's amplifier"):
        seg.segment(image)


def test_one_bad_file_costs_only_itself_and_bad_options_are_one_line(run_files, tmp_path,
                                                                     capsys):
    _, files = run_files
    cut = tmp_path / "cut.fits"
    cut.write_bytes(files[0].read_bytes()[:5000])
    code = main(["monitor", str(cut), *map(str, files[:3]), "--out-dir", str(tmp_path / "r"),
                 "--quiet"])
    captured = capsys.readouterr()
    assert code == 2 and "ccdnb: error: " in captured.err and "cut.fits" in captured.err
    rows = list(csv.DictReader(open(tmp_path / "r" / "frames.csv")))
    assert len(rows) == 3 * 2 and "cut.fits" not in {r["file"] for r in rows}
    assert "cut.fits" in (tmp_path / "r" / "report.html").read_text()
    assert main(["monitor", str(files[0]), "--out-dir", str(tmp_path / "x"),
                 "--gain", "-1"]) == 2
    assert main(["monitor", str(tmp_path / "empty"), "--out-dir", str(tmp_path / "y")]) == 2
    err = capsys.readouterr().err
    assert "--gain '-1'" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_a_killed_worker_is_retried_and_every_frame_is_written_once(run_files, tmp_path):
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    _, files = run_files
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    client = Client(cluster)
    killed = []

    def kill_one(result):  # the first frame done: kill the worker that did it, mid-run
        if not killed:
            pid = int(result.worker.rsplit(":", 1)[1])
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    try:
        result = ccdnb.monitor(files, tmp_path / "r", client=client, progress=False,
                               callback=kill_one)
    finally:
        client.close()
        cluster.close()
    assert killed and result.summary.ok and len(result.summary.written) == 12
    assert len({r.index for r in result.summary.results}) == 12
    assert sorted(p.name for p in (tmp_path / "r" / "masks").iterdir()) == sorted(
        f"f_{i:04d}.masks.fits" for i in range(12))  # no temporary file left
    assert len(result.rows) == 24 and len({(r["file"], r["amplifier"]) for r in result.rows}) == 24


#: Frames of the memory test: ``MEMORY_FRAMES`` frames of ``MEMORY_SIZE`` pixels squared,
#: monitored twice over (the second time as copies under new names).
MEMORY_FRAMES, MEMORY_SIZE = 40, 192
#: Resident memory may grow by at most this much per frame in the second pass: a third of
#: one frame's float32 image (144 KiB), so that keeping one image per frame fails.
MEMORY_KIB_PER_FRAME = 48.0

MEMORY_PROBE = textwrap.dedent("""
    import os, shutil, sys
    from pathlib import Path
    import numpy as np
    import ccdnb
    from ccdnb.simulation.run import simulate_run

    work, frames, size, leak = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    files = simulate_run(frames, size, seed=3).write(work / "f", "a")
    again = [shutil.copy(f, f.with_name(f.name.replace("a_", "b_"))) for f in files]
    page, rss, kept = os.sysconf("SC_PAGE_SIZE"), [], []

    def note(result):
        if leak == "leak":  # a deliberate leak: one frame's image kept per frame
            kept.append(np.ones((size, size), np.float32))
        with open("/proc/self/statm") as statm:
            rss.append(int(statm.read().split()[1]) * page / 1024.0)

    ccdnb.monitor(files + again, work / "r", progress=False, callback=note)
    print(" ".join(f"{v:.0f}" for v in rss))
""")


def resident_growth_kib_per_frame(work, leak=False) -> float:
    """Growth of the resident memory of a fresh process monitoring a run, KiB per frame.

    The process monitors ``MEMORY_FRAMES`` simulated frames (bad frames among
    them) and then the same frames again under new names. The first pass is the
    warm-up: lazy imports, the first model call, the heap's high-water mark of
    the heaviest frame. The growth is the slope of a linear fit of the resident
    memory after each frame of the second pass, which sees nothing new: a leak
    is all that makes it grow.
    """
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(work), str(MEMORY_FRAMES),
                          str(MEMORY_SIZE), "leak" if leak else "clean"],
                         capture_output=True, text=True, check=True).stdout.split()
    rss = np.array(out, float)
    assert rss.size == 2 * MEMORY_FRAMES
    second = rss[MEMORY_FRAMES:]
    return float(np.polyfit(np.arange(second.size), second, 1)[0])


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads /proc/self/statm")
def test_memory_stays_flat_over_many_frames(tmp_path):
    # in a fresh process: the memory of this one depends on the tests before
    growth = resident_growth_kib_per_frame(tmp_path)
    assert growth <= MEMORY_KIB_PER_FRAME, f"{growth:.1f} KiB per frame"


def test_settling_turns_defect_clusters_into_hot_pixels(report):
    hot = report.defect_map.hot("CCD_A")
    with fits.open(report.paths["masks"] / "f_0000.masks.fits") as hdul:
        raw = np.asarray(hdul[1].data)
    from ccdnb.defects import settle_with_defects

    settled = settle_with_defects(raw, hot)
    assert (settled[hot & (raw > 1)] == HOT_PIXEL).all()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="worker processes by fork")
def test_the_second_pass_gives_the_same_rows_on_threads_and_processes(run_files, report,
                                                                      tmp_path):
    """The second pass runs on several frames at once (MonitorTask.threads, or the worker
    processes of MonitorTask.pool): its rows are those of one frame after the other,
    whatever order the frames finish in."""
    import multiprocessing
    import shutil
    from concurrent.futures import ProcessPoolExecutor

    from ccdnb.monitoring.frame import MonitorTask, read_frame
    from ccdnb.predict.scaleout import process_files

    _, files = run_files
    rows = {}
    for way in ("1 thread", "3 threads", "2 processes"):
        copy = tmp_path / way.replace(" ", "_")
        shutil.copytree(report.report_dir, copy)
        task = MonitorTask(defects=copy / "defects.fits")
        task.threads = int(way[0])
        if way.endswith("processes"):
            task.pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork"))
        before = {p: p.stat().st_mtime_ns for p in (copy / "frames").glob("*.settled.json")}
        try:
            summary = process_files(files, copy, task, progress=False)
        finally:
            if task.pool is not None:
                task.pool.shutdown()
        assert summary.ok and not summary.skipped and len(before) == len(files)
        assert all(p.stat().st_mtime_ns > t for p, t in before.items())  # every frame redone
        if way.endswith("processes"):  # done by the workers, not by this process
            assert all(r.worker != _this_process_name() for r in summary.results)
        rows[way] = [read_frame(copy / "frames" / f"{f.stem}.npz", settled=True)
                     for f in files]
    assert len(rows["1 thread"]) == 12
    for one, three, forked in zip(rows["1 thread"], rows["3 threads"], rows["2 processes"]):
        assert [r["amplifier"] for r in one] == ["CCD_A", "CCD_B"]
        assert _same_rows(one, three) and _same_rows(one, forked)


def _this_process_name():
    from ccdnb.predict.scaleout import _process_name

    return _process_name()


class _DiesInWorkers:
    """A task that needs no network and kills any worker process it runs in: the files
    are redone in this process's threads, each recorded once."""

    needs_model = False
    threads = 2

    def __init__(self, parent):
        self.parent, self.pool = parent, None

    def __getstate__(self):
        return {**self.__dict__, "pool": None}

    def outputs(self, in_path, out_dir):
        return [os.path.join(out_dir, os.path.basename(in_path) + ".done")]

    def read_input(self, in_path):
        return None

    def run(self, in_path, out_dir, segmenter, preread, options):
        if os.getpid() != self.parent:
            os._exit(3)  # a worker killed (out of memory, say)
        out = self.outputs(in_path, out_dir)[0]
        with open(out, "w") as handle:
            handle.write(str(os.getpid()))
        return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="worker processes by fork")
def test_files_of_a_dead_worker_process_are_redone_here(run_files, tmp_path):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from ccdnb.predict.scaleout import process_files

    _, files = run_files
    task = _DiesInWorkers(os.getpid())
    task.pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork"))
    try:
        summary = process_files(files[:5], tmp_path, task, progress=False)
    finally:
        task.pool.shutdown()
    assert summary.ok and len(summary.results) == 5
    assert all((tmp_path / (f.name + ".done")).read_text() == str(os.getpid())
               for f in files[:5])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="worker processes by fork")
def test_worker_processes_end_with_a_parent_killed_without_cleanup():
    """A monitor killed (SIGKILL) leaves no worker process behind, waiting forever."""
    import time

    probe = textwrap.dedent("""
        import os, signal
        from ccdnb.predict.scaleout import forked_pool
        pool = forked_pool(2)
        pids = {pool.submit(os.getpid).result() for _ in range(20)}
        print(" ".join(str(p) for p in pool._processes), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120)
    workers = [int(p) for p in done.stdout.split()]
    assert len(workers) == 2 and done.returncode == -signal.SIGKILL

    def alive(pid):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                return stat.read().split(")")[-1].split()[0] != "Z"  # a zombie is gone
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 20
    while any(alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(p) for p in workers)


def test_worker_processes_are_forked_only_from_a_single_thread():
    """forked_pool: workers forked from a process of one thread; None once another thread
    runs (a lock it held at the fork would hang the child)."""
    probe = textwrap.dedent("""
        import os, sys, threading, time
        from ccdnb.predict.scaleout import forked_pool
        if sys.argv[1] == "thread":
            threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
        pool = forked_pool(2)
        if pool is None:
            print("none")
        else:
            pids = {pool.submit(os.getpid).result() for _ in range(8)}
            pool.shutdown()
            print("workers" if pids and os.getpid() not in pids else "here")
    """)
    got = {how: subprocess.run([sys.executable, "-c", probe, how], capture_output=True,
                               text=True, timeout=120).stdout.strip()
           for how in ("alone", "thread")}
    expected = "workers" if sys.platform.startswith("linux") else "none"
    assert got == {"alone": expected, "thread": "none"}


def _same_rows(a, b) -> bool:
    """Rows equal value by value, NaN equal to NaN."""
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        for key in x:
            if isinstance(x[key], float) and np.isnan(x[key]):
                assert isinstance(y[key], float) and np.isnan(y[key]), key
            else:
                assert x[key] == y[key], key
    return True
