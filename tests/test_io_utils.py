"""Atomic writes, the JSON sanitiser and the stderr redirect."""

import json
import math
import os

import numpy as np
import pytest

from ccdnb.io.atomic import (
    atomic_outputs,
    atomic_path,
    jsonable,
    redirect_stderr_fd,
    write_json_atomic,
    write_text_atomic,
)


def test_jsonable_gives_plain_python_and_no_nan():
    value = {1: np.float32(0.5), "a": (np.int64(3), np.array([1.0, np.nan])), "b": math.inf,
             "c": [None, "x", True]}
    assert jsonable(value) == {"1": 0.5, "a": [3, [1.0, None]], "b": None, "c": [None, "x", True]}
    json.dumps(jsonable(value), allow_nan=False)


def test_json_and_text_are_written_atomically(tmp_path):
    path = write_json_atomic(tmp_path / "sub" / "x.json", {"k": np.float64(1.5)}, sort_keys=True)
    assert json.loads(path.read_text()) == {"k": 1.5}
    write_text_atomic(tmp_path / "t.txt", "hello")
    assert (tmp_path / "t.txt").read_text() == "hello"
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "never.bin") as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError
    with pytest.raises(RuntimeError), atomic_outputs(tmp_path / "a", tmp_path / "b") as tmps:
        tmps[0].write_text("a")
        raise RuntimeError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub", "t.txt"]


def test_redirect_stderr_fd_captures_file_descriptor_2(tmp_path):
    with open(tmp_path / "err.log", "wb") as log:
        with redirect_stderr_fd(log):
            os.write(2, b"from C\n")
    assert (tmp_path / "err.log").read_bytes() == b"from C\n"
