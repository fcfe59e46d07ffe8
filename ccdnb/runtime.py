"""Which engine runs a model for prediction: ONNX Runtime when it can, Keras otherwise.

A ``.keras`` model may have a frozen ONNX export beside it (``model.onnx``,
:mod:`ccdnb.onnx_export`). With ``runtime="auto"`` (the default everywhere)
prediction uses ONNX Runtime when ``onnxruntime`` is installed and the export
records the SHA-256 of this very ``.keras`` file; otherwise it loads the model
with Keras. ONNX Runtime starts in a fraction of a second where TensorFlow
takes seconds, and needs no TensorFlow at all; the masks agree with Keras's
(the held-out comparison is in ``benchmarks/predict_speed.py``).

Both engines are used through one method, ``predict_on_batch(x)``: input
``(B, H, W, 1)`` float32 normalised tiles, output ``(B, H, W, 4)`` class probabilities.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import CcdnbInputError, one_line

#: Accepted values of ``runtime``.
RUNTIMES = ("auto", "onnx", "keras")


def available_cores() -> int:
    """CPU cores this process may run on (its affinity, which containers and batch systems set)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class OnnxModel:
    """A frozen U-Net run by ONNX Runtime, with the Keras model's ``predict_on_batch``.

    Parameters
    ----------
    path : str or Path
        The ``.onnx`` file.
    threads : int, optional
        Intra-operator threads; default: every core this process may use
        (ONNX Runtime's own default counts physical cores of the whole machine).
    """

    def __init__(self, path, *, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or available_cores())
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.path = Path(path)
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=options,
                                                providers=["CPUExecutionProvider"])
        except Exception as err:  # protobuf and runtime errors alike
            raise CcdnbInputError(f"{self.path}: cannot load the ONNX model "
                                  f"({one_line(err)})") from None
        meta = self.session.get_modelmeta()
        self.metadata = dict(meta.custom_metadata_map)
        self.name = meta.graph_name or self.path.stem
        self.runtime = "onnxruntime"

    def predict_on_batch(self, x) -> np.ndarray:
        """Class probabilities ``(B, H, W, 4)`` of normalised tiles ``(B, H, W, 1)``."""
        return self.session.run(None, {"image": np.ascontiguousarray(x, dtype=np.float32)})[0]

    def __repr__(self) -> str:
        return f"OnnxModel({str(self.path)!r})"


def matching_export(model_path, *, threads: int | None = None) -> OnnxModel | None:
    """The ONNX export beside ``model_path``, loaded, when it was made from this very file.

    Returns None when there is no export, it cannot be loaded, or it records
    another file's SHA-256 (a stale export of a retrained model).
    """
    from .fitsio import file_sha256
    from .onnx_export import SOURCE_SHA256_KEY, onnx_path

    candidate = onnx_path(model_path)
    if not candidate.is_file():
        return None
    try:
        export = OnnxModel(candidate, threads=threads)
    except CcdnbInputError:
        return None
    return export if export.metadata.get(SOURCE_SHA256_KEY) == file_sha256(model_path) else None


def onnxruntime_available() -> bool:
    """Whether ``onnxruntime`` can be imported."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def load_predictor(model_path, runtime: str = "auto", *, threads: int | None = None):
    """Load a model file for prediction with the engine ``runtime`` asks for.

    Parameters
    ----------
    model_path : str or Path
        A ``.keras`` file (its card beside it is read when present).
    runtime : {"auto", "onnx", "keras"}
        ``auto``: ONNX Runtime when ``onnxruntime`` is installed and a matching
        export lies beside the model (:func:`matching_export`), Keras otherwise;
        ``onnx``: ONNX Runtime, an error when that is impossible; ``keras``: Keras.
    threads : int, optional
        Threads of the engine (intra-operator); default: ONNX Runtime takes
        every core this process may use, TensorFlow decides for itself.

    Returns
    -------
    predictor : OnnxModel or keras.Model
        Anything with ``predict_on_batch``.
    card : dict
        The model card (empty when the model has none).

    Raises
    ------
    CcdnbInputError
        For an unknown runtime, a missing file, or ``onnx`` without a matching export.
    """
    from .model import load_model_file, model_card

    if runtime not in RUNTIMES:
        raise CcdnbInputError(f"runtime {runtime!r}: choose from {', '.join(RUNTIMES)}")
    path = Path(model_path)
    if not path.is_file():
        raise CcdnbInputError(f"{path}: model file not found")
    if runtime != "keras":
        export = matching_export(path, threads=threads) if onnxruntime_available() else None
        if export is not None:
            return export, model_card(path)
        if runtime == "onnx":
            why = ("onnxruntime is not installed" if not onnxruntime_available() else
                   f"no ONNX export of this model beside it (make one with "
                   f"`ccdnb export-onnx {path}`)")
            raise CcdnbInputError(f"{path}: cannot run with ONNX Runtime: {why}")
    from .quiet_tensorflow import import_tensorflow_quietly
    from .scaleout import tensorflow_threads

    # TensorFlow's C++ start-up notes stay off the terminal and worker logs
    tensorflow_threads(threads) or import_tensorflow_quietly()
    return load_model_file(path)
