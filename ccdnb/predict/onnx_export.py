"""Freeze a trained U-Net into an ONNX file for fast inference without TensorFlow.

:func:`export_onnx` walks the Keras graph of a :func:`ccdnb.model.build_unet`
model and writes the same computation as ONNX operators, channels first:
each batch normalisation is folded into the convolution before it (inference
uses the moving statistics only, so ``conv -> BN`` is one convolution with new
weights and bias), dropout disappears, and the graph keeps the Keras model's
interface: input ``(B, H, W, 1)`` normalised image, output ``(B, H, W, 4)``
class probabilities. The file records the SHA-256 of the ``.keras`` file it
was made from (metadata ``ccdnb_source_sha256``), so that
:mod:`ccdnb.predict.runtime` only uses an export that matches its model.

Exporting needs Keras and the ``onnx`` package; running the export needs only
``onnxruntime``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CcdnbInputError
from ..io.atomic import atomic_path
from ..io.fits import file_sha256

__all__ = ["SOURCE_SHA256_KEY", "OPSET", "onnx_path", "build_onnx", "export_onnx"]

#: Metadata key holding the SHA-256 of the ``.keras`` file an export was made from.
SOURCE_SHA256_KEY = "ccdnb_source_sha256"
#: ONNX operator set of the exports (Softmax on one axis, Resize, ConvTranspose).
OPSET = 17

_ACTIVATIONS = {"relu": "Relu", "elu": "Elu", "sigmoid": "Sigmoid", "tanh": "Tanh"}


def onnx_path(model_path) -> Path:
    """The ONNX export that belongs beside a model file: ``model.keras`` -> ``model.onnx``."""
    path = Path(model_path)
    return path.with_name(path.name.removesuffix(".keras") + ".onnx")


class _Graph:
    """Collects ONNX nodes and initialisers."""

    def __init__(self):
        self.nodes, self.initializers = [], []

    def constant(self, name, array):
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op, inputs, name, **attributes):
        from onnx import helper

        self.nodes.append(helper.make_node(op, list(inputs), [name], name=name, **attributes))
        return name


def _activation(graph, x, activation, name):
    """Append a Keras activation; return the output name."""
    key = getattr(activation, "__name__", str(activation))
    if key in ("linear", "None"):
        return x
    if key == "softmax":
        return graph.node("Softmax", [x], name, axis=1)
    if key not in _ACTIVATIONS:
        raise CcdnbInputError(f"activation {key!r} has no ONNX export")
    return graph.node(_ACTIVATIONS[key], [x], name)


def _folded_conv(layer, batch_norm):
    """Kernel (out, in, kh, kw) and bias of ``layer`` with ``batch_norm`` folded in."""
    kernel = np.asarray(layer.kernel.numpy(), dtype=np.float64).transpose(3, 2, 0, 1)
    bias = (np.asarray(layer.bias.numpy(), dtype=np.float64) if layer.use_bias
            else np.zeros(kernel.shape[0]))
    if batch_norm is not None:
        gamma = (batch_norm.gamma.numpy() if batch_norm.scale else np.ones(kernel.shape[0]))
        beta = (batch_norm.beta.numpy() if batch_norm.center else np.zeros(kernel.shape[0]))
        scale = np.asarray(gamma, np.float64) / np.sqrt(
            np.asarray(batch_norm.moving_variance.numpy(), np.float64) + batch_norm.epsilon)
        kernel = kernel * scale[:, None, None, None]
        bias = (bias - np.asarray(batch_norm.moving_mean.numpy(), np.float64)) * scale + beta
    return kernel.astype(np.float32), bias.astype(np.float32)


def build_onnx(model):
    """The ONNX ``ModelProto`` of a Keras U-Net (see the module docstring).

    Parameters
    ----------
    model : keras.Model
        A functional model made of the layers :func:`ccdnb.model.build_unet`
        uses (Conv2D, BatchNormalization, Activation, Dropout, MaxPooling2D,
        Conv2DTranspose, UpSampling2D, Concatenate).

    Returns
    -------
    onnx.ModelProto

    Raises
    ------
    CcdnbInputError
        For a layer or setting without an export.
    """
    import onnx
    from keras import layers
    from onnx import TensorProto, helper

    graph = _Graph()
    consumers = {}
    for layer in model.layers:
        inputs = layer.input if isinstance(layer.input, list) else [layer.input]
        for tensor in inputs:
            consumers.setdefault(id(tensor), []).append(layer)
    names = {}
    (source,) = model.inputs
    names[id(source)] = graph.node("Transpose", ["image"], "image_nchw", perm=[0, 3, 1, 2])
    folded = set()
    for layer in model.layers:
        if isinstance(layer, layers.InputLayer) or layer.name in folded:
            continue
        inputs = layer.input if isinstance(layer.input, list) else [layer.input]
        x = [names[id(t)] for t in inputs]
        out_id = id(layer.output)
        name = f"{layer.name}/y"  # never the graph output's name
        if isinstance(layer, layers.Conv2D) and not isinstance(layer, layers.Conv2DTranspose):
            if layer.strides != (1, 1) or layer.dilation_rate != (1, 1) or layer.groups != 1:
                raise CcdnbInputError(f"layer {name}: only stride-1 convolutions are exported")
            following = consumers.get(out_id, [])
            batch_norm = (following[0] if len(following) == 1
                          and isinstance(following[0], layers.BatchNormalization) else None)
            kernel, bias = _folded_conv(layer, batch_norm)
            kh, kw = kernel.shape[2:]
            if layer.padding == "same":
                pads = [(kh - 1) // 2, (kw - 1) // 2, kh // 2, kw // 2]
            else:
                pads = [0, 0, 0, 0]
            y = graph.node("Conv", [x[0], graph.constant(f"{name}_W", kernel),
                                    graph.constant(f"{name}_B", bias)], name,
                           kernel_shape=[int(kh), int(kw)], pads=pads)
            if batch_norm is not None:
                folded.add(batch_norm.name)
                out_id = id(batch_norm.output)
            y = _activation(graph, y, layer.activation, f"{name}_act")
        elif isinstance(layer, layers.Conv2DTranspose):
            if tuple(layer.kernel_size) != tuple(layer.strides) or layer.padding != "same":
                raise CcdnbInputError(f"layer {name}: only kernel == stride transposed "
                                      "convolutions are exported")
            # Keras (kh, kw, out, in) -> ONNX (in, out, kh, kw); both are the
            # adjoint of a cross-correlation, so the taps keep their order.
            kernel = np.asarray(layer.kernel.numpy(), np.float32).transpose(3, 2, 0, 1)
            bias = (np.asarray(layer.bias.numpy(), np.float32) if layer.use_bias
                    else np.zeros(kernel.shape[1], np.float32))
            y = graph.node("ConvTranspose", [x[0], graph.constant(f"{name}_W", kernel),
                                             graph.constant(f"{name}_B", bias)], name,
                           kernel_shape=list(layer.kernel_size), strides=list(layer.strides))
            y = _activation(graph, y, layer.activation, f"{name}_act")
        elif isinstance(layer, layers.BatchNormalization):
            raise CcdnbInputError(f"layer {name}: batch normalisation not after a convolution")
        elif isinstance(layer, layers.Activation):
            y = _activation(graph, x[0], layer.activation, name)
        elif isinstance(layer, layers.Dropout):
            y = x[0]
        elif isinstance(layer, layers.MaxPooling2D):
            y = graph.node("MaxPool", x, name, kernel_shape=list(layer.pool_size),
                           strides=list(layer.strides))
        elif isinstance(layer, layers.UpSampling2D):
            if layer.interpolation not in ("bilinear", "nearest"):
                raise CcdnbInputError(f"layer {name}: {layer.interpolation} upsampling")
            scales = graph.constant(f"{name}_scales",
                                    np.array([1, 1, *layer.size], dtype=np.float32))
            mode = "linear" if layer.interpolation == "bilinear" else "nearest"
            y = graph.node("Resize", [x[0], "", scales], name, mode=mode,
                           coordinate_transformation_mode="half_pixel")
        elif isinstance(layer, layers.Concatenate):
            if layer.axis not in (-1, 3):
                raise CcdnbInputError(f"layer {name}: concatenation not along channels")
            y = graph.node("Concat", x, name, axis=1)
        else:
            raise CcdnbInputError(f"layer {name}: {type(layer).__name__} has no ONNX export")
        names[out_id] = y
    (output,) = model.outputs
    graph.node("Transpose", [names[id(output)]], "probabilities", perm=[0, 2, 3, 1])
    channels = int(output.shape[-1])
    onnx_graph = helper.make_graph(
        graph.nodes, model.name,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT,
                                       ["batch", "height", "width", 1])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT,
                                       ["batch", "height", "width", channels])],
        initializer=graph.initializers)
    proto = helper.make_model(onnx_graph, producer_name="ccdnb",
                              opset_imports=[helper.make_operatorsetid("", OPSET)])
    proto.ir_version = min(proto.ir_version, 9)  # readable by onnxruntime releases of 2024 on
    onnx.checker.check_model(proto)
    return proto


def export_onnx(model_path, out_path=None) -> Path:
    """Export a ``.keras`` model file to ONNX, beside it by default.

    Parameters
    ----------
    model_path : str or Path
        The ``.keras`` file.
    out_path : str or Path, optional
        Default :func:`onnx_path` of ``model_path``. Written atomically.

    Returns
    -------
    Path
        The ONNX file, which records the ``.keras`` file's SHA-256.
    """
    from ..model import load_model_file

    model_path = Path(model_path)
    model, _ = load_model_file(model_path)
    proto = build_onnx(model)
    entry = proto.metadata_props.add()
    entry.key, entry.value = SOURCE_SHA256_KEY, file_sha256(model_path)
    out = Path(out_path) if out_path else onnx_path(model_path)
    with atomic_path(out, suffix=".onnx", make_parents=True) as tmp:
        Path(tmp).write_bytes(proto.SerializeToString())
    return out
