"""Which engine runs a model for prediction: OpenVINO or ONNX Runtime if they can, else Keras.

A ``.keras`` model may have a frozen ONNX export beside it (``model.onnx``,
:mod:`ccdnb.predict.onnx_export`). An export is only used when it records the SHA-256
of this very ``.keras`` file. With ``runtime="auto"`` (the default everywhere)
prediction runs the export with OpenVINO when ``openvino`` is installed, with
ONNX Runtime when only ``onnxruntime`` is, and loads the model with Keras when
there is no matching export. Both start in a fraction of a second where
TensorFlow takes seconds and need no TensorFlow at all; on the CPUs we measured
OpenVINO runs the U-Net about twice as fast as ONNX Runtime and TensorFlow
(``benchmarks/engine_compare.py``), and the three give the same masks
(``tests/test_runtime.py``; the held-out figures of each are in the README).

``openvino-bf16`` runs OpenVINO with bfloat16 arithmetic. It changes the class of
about one pixel in 10,000 and pays only on CPUs with bfloat16 matrix units (AMX);
it is an option, never chosen by ``auto``.

Every engine is used through one method, ``predict_on_batch(x)``: input
``(B, H, W, 1)`` float32 normalised tiles, output ``(B, H, W, 4)`` class probabilities.
:func:`open_model` loads a shipped model by name or a model file with its card
and identity (what masks headers record).

This module sits at the bottom of prediction: :mod:`ccdnb.predict` (one image
or file) builds on it, :mod:`ccdnb.api` (the public single-image calls) on
those, and :mod:`ccdnb.predict.scaleout` (many files) on the API; none imports upwards.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import CcdnbInputError, one_line
from .onnx_export import SOURCE_SHA256_KEY

__all__ = ["RUNTIMES", "OPENVINO_PRECISION", "ENGINE_PACKAGE", "OPENVINO_MAX_AUTO_TILE",
           "engine_of", "factors_of", "predictor_of", "available_cores", "OnnxModel",
           "OpenVinoModel", "engine_available", "matching_export", "load_predictor",
           "tensorflow_threads", "OpenedModel", "open_model"]

_TF_THREADS_SET: list = []

#: Accepted values of ``runtime``.
RUNTIMES = ("auto", "openvino", "openvino-bf16", "onnx", "keras")
#: OpenVINO's inference precision for each of its runtimes.
OPENVINO_PRECISION = {"openvino": "f32", "openvino-bf16": "bf16"}
#: The package each frozen-export runtime needs.
ENGINE_PACKAGE = {"openvino": "openvino", "openvino-bf16": "openvino", "onnx": "onnxruntime"}
#: Largest tile :func:`ccdnb.predict.tile_for` chooses for OpenVINO.
OPENVINO_MAX_AUTO_TILE = 1152


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
        self.any_batch_size = True  # no graph to retrace for a smaller last batch
        self.source_sha256 = self.metadata.get(SOURCE_SHA256_KEY)

    def predict_on_batch(self, x) -> np.ndarray:
        """Class probabilities ``(B, H, W, 4)`` of normalised tiles ``(B, H, W, 1)``."""
        return self.session.run(None, {"image": np.ascontiguousarray(x, dtype=np.float32)})[0]

    def __repr__(self) -> str:
        return f"OnnxModel({str(self.path)!r})"


class OpenVinoModel:
    """A frozen U-Net run by OpenVINO on the CPU, with the Keras model's ``predict_on_batch``.

    OpenVINO reads the ONNX export directly. The model is compiled once for
    any tile and batch size (dynamic shapes cost nothing measurable here) and
    for the lowest latency of one call, every thread on that call.

    Parameters
    ----------
    path : str or Path
        The ``.onnx`` file.
    threads : int, optional
        Inference threads; default: every core this process may use.
    precision : {"f32", "bf16"}
        Arithmetic precision (``bf16``: bfloat16 where the CPU has it).
    """

    def __init__(self, path, *, threads: int | None = None, precision: str = "f32"):
        from ..quiet_openvino import import_openvino_quietly

        ov = import_openvino_quietly()

        self.path = Path(path)
        try:
            core = ov.Core()
            network = core.read_model(str(self.path))
            compiled = core.compile_model(network, "CPU", {
                "PERFORMANCE_HINT": "LATENCY",
                "INFERENCE_NUM_THREADS": int(threads or available_cores()),
                "INFERENCE_PRECISION_HINT": precision,
            })
        except Exception as err:  # OpenVINO raises RuntimeError for unreadable files
            raise CcdnbInputError(f"{self.path}: cannot load the ONNX model with OpenVINO "
                                  f"({one_line(err)})") from None
        # the ONNX metadata_props: OpenVINO keeps them under "framework"
        info = network.get_rt_info()
        framework = info["framework"] if "framework" in info.keys() else {}
        self.metadata = {str(key): value.astype(str) for key, value in framework.items()}
        self.source_sha256 = self.metadata.get(SOURCE_SHA256_KEY)
        self.name = network.get_friendly_name() or self.path.stem
        self.precision = precision
        try:  # what OpenVINO runs in: f32 where bf16 was asked for on a CPU without it
            used = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        except Exception:
            used = precision
        self.precision_used = {"f32": "f32", "bf16": "bf16"}.get(str(used), str(used))
        self.runtime = "openvino" if precision == "f32" else f"openvino-{precision}"
        self.any_batch_size = True  # compiled for dynamic shapes
        # its throughput holds from 576- to 2112-pixel tiles (benchmarks/engine_compare.py),
        # so large tiles recompute fewer margins; 1088 covers 4096 pixels in 4 tiles
        # and keeps a 4096 x 6144 frame under 1 GB
        self.max_auto_tile = OPENVINO_MAX_AUTO_TILE
        self._request = compiled.create_infer_request()
        self._lock = threading.Lock()  # one infer request: one call at a time

    def predict_on_batch(self, x) -> np.ndarray:
        """Class probabilities ``(B, H, W, 4)`` of normalised tiles ``(B, H, W, 1)``."""
        with self._lock:
            # share_outputs=False (the default) copies: the request reuses its buffers
            result = self._request.infer({0: np.ascontiguousarray(x, dtype=np.float32)})
            return next(iter(result.values()))

    def __repr__(self) -> str:
        return f"OpenVinoModel({str(self.path)!r}, precision={self.precision!r})"


def predictor_of(model):
    """The loaded predictor of ``model``: the one a :class:`ccdnb.Segmenter` holds, else
    ``model`` itself."""
    return getattr(model, "model", model) if hasattr(model, "segment") else model


def engine_of(predictor) -> tuple:
    """``(engine, precision)`` of a loaded predictor (an engine, a Keras model, or a
    :class:`ccdnb.Segmenter` holding one): ``openvino``/``openvino-bf16``/``onnxruntime``/
    ``keras``, and the arithmetic it runs in (``f32``, ``bf16``; for Keras its compute
    dtype policy)."""
    predictor = predictor_of(predictor)
    engine = getattr(predictor, "runtime", None)
    if engine is None:  # a Keras model
        policy = getattr(getattr(predictor, "dtype_policy", None), "compute_dtype", "float32")
        return "keras", {"float32": "f32", "bfloat16": "bf16", "float16": "f16"}.get(
            str(policy), str(policy))
    return str(engine), str(getattr(predictor, "precision_used", "f32"))


def factors_of(predictor):
    """The class factors a loaded predictor applies (:class:`ccdnb.predict.class_factors.
    FactoredPredictor`; a :class:`ccdnb.Segmenter` holding one included), or None."""
    return getattr(predictor_of(predictor), "class_factors", None)


def engine_available(runtime: str) -> bool:
    """Whether the package behind ``runtime`` (``openvino...`` or ``onnx``) can be imported."""
    try:
        if ENGINE_PACKAGE[runtime] == "openvino":
            from ..quiet_openvino import import_openvino_quietly

            import_openvino_quietly()
        else:
            __import__(ENGINE_PACKAGE[runtime])
    except ImportError:
        return False
    return True


def matching_export(model_path, *, threads: int | None = None, runtime: str = "onnx"):
    """The ONNX export beside ``model_path``, loaded, when it was made from this very file.

    Parameters
    ----------
    model_path : str or Path
        The ``.keras`` file.
    threads : int, optional
        Threads of the engine.
    runtime : {"onnx", "openvino", "openvino-bf16"}
        Which engine loads the export.

    Returns
    -------
    OnnxModel or OpenVinoModel or None
        None when there is no export, it cannot be loaded, or it records
        another file's SHA-256 (a stale export of a retrained model).
    """
    from ..io.fits import file_sha256
    from .onnx_export import onnx_path

    candidate = onnx_path(model_path)
    if not candidate.is_file():
        return None
    try:
        if runtime == "onnx":
            export = OnnxModel(candidate, threads=threads)
        else:
            export = OpenVinoModel(candidate, threads=threads,
                                   precision=OPENVINO_PRECISION[runtime])
    except CcdnbInputError:
        return None
    return export if export.source_sha256 == file_sha256(model_path) else None


def load_predictor(model_path, runtime: str = "auto", *, threads: int | None = None,
                   class_factors: bool = True):
    """Load a model file for prediction with the engine ``runtime`` asks for.

    Parameters
    ----------
    model_path : str or Path
        A ``.keras`` file (its card beside it is read when present).
    runtime : {"auto", "openvino", "openvino-bf16", "onnx", "keras"}
        ``auto``: when a matching export lies beside the model
        (:func:`matching_export`), OpenVINO if it is installed, else ONNX
        Runtime if it is; Keras otherwise. ``openvino``, ``openvino-bf16``
        (bfloat16 arithmetic) and ``onnx`` (ONNX Runtime): that engine, an
        error when that is impossible; ``keras``: Keras.
    threads : int, optional
        Threads of the engine; default: OpenVINO and ONNX Runtime take every
        core this process may use, TensorFlow decides for itself.
    class_factors : bool
        Apply the card's class factors (:mod:`ccdnb.predict.class_factors`) to the
        engine's probabilities, where the card has them; False: the bare network's.

    Returns
    -------
    predictor : OpenVinoModel or OnnxModel or keras.Model or FactoredPredictor
        Anything with ``predict_on_batch``.
    card : dict
        The model card (empty when the model has none).

    Raises
    ------
    CcdnbInputError
        For an unknown runtime, a missing file, ``onnx`` without a matching export, or
        a card whose class factors are not four positive numbers.
    """
    predictor, card = _load_engine(model_path, runtime, threads)
    if class_factors:
        from .class_factors import FactoredPredictor, class_factors_from_card

        factors = class_factors_from_card(card)
        if factors is not None:
            predictor = FactoredPredictor(predictor, factors)
    return predictor, card


def _load_engine(model_path, runtime: str, threads: int | None):
    """:func:`load_predictor` without the class factors."""
    from ..model import load_model_file, model_card

    if runtime not in RUNTIMES:
        raise CcdnbInputError(f"runtime {runtime!r}: choose from {', '.join(RUNTIMES)}")
    path = Path(model_path)
    if not path.is_file():
        raise CcdnbInputError(f"{path}: model file not found")
    engines = {"auto": ("openvino", "onnx"), "keras": ()}.get(runtime, (runtime,))
    for engine in engines:
        installed = engine_available(engine)
        export = matching_export(path, threads=threads, runtime=engine) if installed else None
        if export is not None:
            return export, model_card(path)
        if runtime != "auto":
            why = (f"{ENGINE_PACKAGE[engine]} is not installed" if not installed else
                   f"no ONNX export of this model beside it (make one with "
                   f"`ccdnb export-onnx {path}`)")
            raise CcdnbInputError(f"{path}: cannot run with {engine}: {why}")
    from ..quiet_tensorflow import import_tensorflow_quietly

    # TensorFlow's C++ start-up notes stay off the terminal and worker logs
    tensorflow_threads(threads) or import_tensorflow_quietly()
    return load_model_file(path)


def tensorflow_threads(threads: int | None) -> bool:
    """Give TensorFlow ``threads`` intra-op threads in this process, if it has not started.

    Returns
    -------
    bool
        True when set, False when ``threads`` is None or TensorFlow already runs.
    """
    if not threads or _TF_THREADS_SET:
        return False
    from ..quiet_tensorflow import import_tensorflow_quietly

    tf = import_tensorflow_quietly()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(min(2, int(threads)))
    except RuntimeError:  # the runtime is initialised already (e.g. a threads-only cluster)
        return False
    _TF_THREADS_SET.append(int(threads))
    return True


class OpenedModel(NamedTuple):
    """A model loaded by :func:`open_model`, with what masks headers record of it."""

    predictor: object
    """Anything with ``predict_on_batch`` (an engine or a Keras model)."""
    card: dict
    path: Path
    name: str
    """The shipped model's name, or the model file's name."""
    model_file: str
    model_id: str


def open_model(model, runtime: str = "auto", *, threads: int | None = None,
               model_id: str | None = None, class_factors: bool = True) -> OpenedModel:
    """Load a shipped model by name, or a ``.keras`` file, for prediction.

    Parameters
    ----------
    model : str or Path
        A shipped model name (:func:`ccdnb.model.available_models`) or a ``.keras`` file.
    runtime : str
        See :func:`load_predictor`.
    threads : int, optional
        Threads of the engine.
    model_id : str, optional
        Overrides the id derived from the card or the file's SHA-256.
    class_factors : bool
        See :func:`load_predictor`.

    Returns
    -------
    OpenedModel
    """
    from ..model import available_models, model_identity, resolve_model_path

    path = resolve_model_path(model)
    predictor, card = load_predictor(path, runtime, threads=threads,
                                     class_factors=class_factors)
    file_name, derived_id = model_identity(path, card)
    shipped = isinstance(model, str) and model in available_models()
    return OpenedModel(predictor=predictor, card=card, path=path,
                       name=path.name.removesuffix(".keras") if shipped else file_name,
                       model_file=file_name, model_id=model_id or derived_id)
