"""Many files at once: ``ccdnb.segment_files`` and ``ccdnb predict --workers/--scheduler``.

One 2-process LocalCluster serves the module (starting one costs seconds); the
``--workers`` plumbing runs on an in-process (threads) cluster.
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from astropy.io import fits
from predict_helpers import detector_image

import ccdnb
from ccdnb.cli import main
from ccdnb.predict import scaleout

FAST = {"tile": 32, "margin": 8, "batch_size": 16}
FAST_ARGS = ["--tile", "32", "--margin", "8", "--batch-size", "16"]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    import keras

    from ccdnb.model import build_unet

    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    keras.utils.set_random_seed(3)  # the same untrained weights in every run
    build_unet(depth=2, base_filters=4).save(path)
    return path


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    """Four good 128x128 frames (one with two amplifiers) and a truncated one."""
    folder = tmp_path_factory.mktemp("frames")
    good = []
    for i in range(4):
        hdus = [fits.PrimaryHDU(detector_image((128, 128), seed=i))]
        if i == 0:
            hdus = [fits.PrimaryHDU(), fits.ImageHDU(detector_image((128, 128), seed=10),
                                                     name="CCD_A"),
                    fits.ImageHDU(detector_image((96, 128), seed=11), name="CCD_B")]
        path = folder / f"frame{i}.fits"
        fits.HDUList(hdus).writeto(path)
        good.append(path)
    bad = folder / "cut.fits"
    bad.write_bytes(good[1].read_bytes()[:8000])
    return good, bad


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client

    local, _ = scaleout.start_local_cluster(2)
    client = Client(local)
    yield client
    client.close()
    local.close()


def _masks(path):
    with fits.open(path) as hdul:
        return [None if h.data is None else np.array(h.data) for h in hdul]


def _no_leftovers(folder):
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_two_workers_give_the_serial_masks_and_load_the_model_once_each(
        tmp_path, model_path, frames, cluster):
    good, bad = frames
    files = [good[0], good[1], bad, good[2], good[3]]
    serial = ccdnb.segment_files(files, tmp_path / "serial", model=model_path, progress=False,
                                 **FAST)
    spread = ccdnb.segment_files(files, tmp_path / "spread", model=model_path, client=cluster,
                                 progress=False, **FAST)
    for summary in (serial, spread):
        assert [p.name for p in summary.written] == [
            f"frame{i}.masks.fits" for i in range(4)]
        assert len(summary.failures) == 1 and not summary.ok
        name, reason = summary.failures[0]
        assert name == str(bad) and reason.startswith(f"{bad}: ") and "truncated" in reason
        assert "1 failed (cut.fits)" in summary.line()
    # The same model and frames; TensorFlow runs with 2 threads here and 1 in each worker,
    # so its kernels may add up in another order: only a pixel whose two best classes are
    # within a rounding of each other may go the other way (none today; 1 in 10,000 allowed).
    differ = pixels = 0
    for a, b in zip(serial.written, spread.written):
        for mask_a, mask_b in zip(_masks(a), _masks(b)):
            assert (mask_a is None) == (mask_b is None)
            if mask_a is not None:
                assert mask_a.shape == mask_b.shape
                differ += int(np.count_nonzero(mask_a != mask_b))
                pixels += mask_a.size
    assert differ <= 1e-4 * pixels, (differ, pixels)
    assert sorted(p.name for p in (tmp_path / "spread").iterdir()) == sorted(
        p.name for p in spread.written)  # nothing for the bad file, no temporary files
    assert len({r.worker for r in spread.results if r.ok}) == 2 and spread.n_workers == 2
    assert len(spread.model_load_s) == 2
    assert spread.megapixels == pytest.approx(
        (4 * 128 * 128 + 96 * 128) / 1e6)
    # once per worker, not once per file: a second run loads nothing
    again = ccdnb.segment_files(good, tmp_path / "again", model=model_path, client=cluster,
                                progress=False, **FAST)
    assert again.ok and again.model_load_s == {}
    assert sorted(cluster.run(scaleout.model_loads).values()) == [1, 1]


def test_cli_on_a_running_scheduler_reports_the_bad_file_and_exits_2(
        tmp_path, capsys, model_path, frames, cluster):
    good, bad = frames
    out_dir = tmp_path / "out"
    code = main(["predict", "--model", str(model_path), *FAST_ARGS, "--quiet",
                 "--scheduler", cluster.scheduler.address, "--out-dir", str(out_dir),
                 str(good[1]), str(bad), str(good[2])])
    assert code == 2
    captured = capsys.readouterr()
    assert sorted(captured.out.split()) == [str(out_dir / "frame1.masks.fits"),
                                            str(out_dir / "frame2.masks.fits")]
    err = captured.err.strip().splitlines()
    assert len(err) == 2 and "Traceback" not in captured.err
    assert err[0].startswith(f"ccdnb: error: {bad}: ") and "truncated" in err[0]
    assert err[1].startswith("ccdnb: 2 written, 1 failed (cut.fits); ")
    assert "on 2 workers" in err[1] and "frames/min" in err[1]
    assert _no_leftovers(out_dir)


@pytest.fixture
def threads_cluster(monkeypatch):
    """``--workers N`` starts an in-process (threads) cluster: the plumbing, quickly."""
    started = []
    original = scaleout.start_local_cluster

    def start(workers, **kwargs):
        started.append(workers)
        return original(workers, processes=False)

    monkeypatch.setattr(scaleout, "start_local_cluster", start)
    return started


def test_cli_workers_starts_a_local_cluster(tmp_path, capsys, model_path, frames,
                                            threads_cluster):
    good, _ = frames
    out_dir = tmp_path / "out"
    code = main(["predict", "--model", str(model_path), *FAST_ARGS, "--workers", "2",
                 "--out-dir", str(out_dir), *map(str, good[:3])])
    assert code == 0 and threads_cluster == [2]
    captured = capsys.readouterr()
    assert len(captured.out.split()) == 3
    assert captured.err.strip().splitlines()[-1].startswith("ccdnb: 3 written, 0 failed; ")


def test_bad_arguments_keep_the_one_line_contract(tmp_path, capsys, frames, threads_cluster):
    good, _ = frames
    bad_model = tmp_path / "broken.keras"
    bad_model.write_bytes(b"not a zip archive")
    assert main(["predict", "--model", str(bad_model), "--workers", "2", "--out-dir",
                 str(tmp_path / "o"), str(good[0])]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ccdnb: error: ") and str(bad_model) in err[0]
    assert not (tmp_path / "o").exists()  # nothing is created before the model loads
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        assert main(["predict", "--scheduler", "tcp://127.0.0.1:9", "--out-dir",
                     str(tmp_path), str(good[0])]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ccdnb: error: --scheduler tcp://127.0.0.1:9: ")
    for args in (["--workers", "2", "--scheduler", "tcp://x:1"], ["--workers", "0"]):
        with pytest.raises(SystemExit) as stop:
            main(["predict", *args, "--out-dir", str(tmp_path), str(good[0])])
        assert stop.value.code == 2


def test_in_memory_model_cannot_go_to_workers_and_options_are_checked(tmp_path):
    with pytest.raises(ccdnb.CcdnbInputError, match="cannot be sent to dask workers"):
        scaleout._model_for_workers(object())
    with pytest.raises(TypeError, match="unexpected options"):
        ccdnb.segment_files([], tmp_path, tiles=3)
    with pytest.raises(ccdnb.CcdnbInputError, match="either client= or workers="):
        ccdnb.segment_files([], tmp_path, client=object(), workers=2)


def test_same_stem_twice_is_a_failure_not_an_overwrite(tmp_path, model_path, frames):
    good, _ = frames
    other = tmp_path / "other"
    other.mkdir()
    twin = other / good[0].name
    twin.write_bytes(good[1].read_bytes())
    summary = ccdnb.segment_files([good[0], twin], tmp_path / "out", model=model_path,
                                  progress=False, **FAST)
    assert [p.name for p in summary.written] == ["frame0.masks.fits"]
    assert summary.failures[0][0] == str(twin) and "same output" in summary.failures[0][1]


def test_the_serial_path_never_imports_dask(tmp_path, model_path, frames):
    good, _ = frames
    code = textwrap.dedent(f"""
        import sys
        import ccdnb, ccdnb.commands.predict
        from ccdnb.cli import build_parser
        build_parser()
        s = ccdnb.segment_files([{str(good[3])!r}], {str(tmp_path)!r}, model={str(model_path)!r},
                                progress=False, tile=32, margin=8, batch_size=16)
        assert s.ok, s.failures
        print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


class _TwoStepTask:
    """A task whose ``run`` returns its finishing step (as the monitor's first pass does):
    the step of a file waits until the next file has begun, and fails for ``bad``."""

    needs_model, threads = False, 1

    def __init__(self, bad):
        self.bad, self.begun, self.threads_seen = bad, set(), {}

    def outputs(self, in_path, out_dir):
        return [out_dir / f"{in_path.rsplit('/', 1)[-1]}.out"]

    def read_input(self, in_path):
        return None

    def run(self, in_path, out_dir, segmenter, preread, options):
        import threading
        from pathlib import Path

        name = Path(in_path).name
        self.begun.add(name)
        position = int(name[-1])

        def finish():
            self.threads_seen[name] = threading.current_thread().name
            following = f"f{position + 1}"
            if position < 3:  # the next file is begun while this one finishes
                for _ in range(200):
                    if following in self.begun:
                        break
                    threading.Event().wait(0.05)
                assert following in self.begun, f"{following} not begun while {name} finished"
            if name == self.bad:
                raise ValueError("cannot finish\nthis file")
            out = Path(out_dir) / f"{name}.out"
            out.write_text(name)
            return out

        return finish


def test_a_finishing_step_runs_while_the_next_file_begins(tmp_path):
    files = []
    for i in range(4):
        files.append(tmp_path / f"f{i}")
        files[-1].write_text("x")
    task = _TwoStepTask(bad="f2")
    seen = []
    summary = scaleout.process_files(files, tmp_path / "out", task, progress=False,
                                     callback=lambda r: seen.append(r.input))
    assert seen == [str(f) for f in files]  # recorded in file order
    assert [p.name for p in summary.written] == ["f0.out", "f1.out", "f3.out"]
    (name, error), = summary.failures
    assert name == str(files[2]) and "cannot finish" in error and "\n" not in error
    assert set(task.threads_seen.values()) == {"ccdnb-finish_0"}
