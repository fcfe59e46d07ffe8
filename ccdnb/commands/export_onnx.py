"""``ccdnb export-onnx``: freeze a trained model into ONNX for fast prediction."""

from __future__ import annotations

__all__ = ["HELP", "DESCRIPTION", "add_arguments", "run"]

HELP = "freeze a .keras model into <name>.onnx beside it (prediction then runs without TensorFlow)"
DESCRIPTION = """\
Export a trained U-Net (.keras) to ONNX: batch normalisation folded into the
convolutions, dropout removed, the same input and output. The export records
the SHA-256 of the .keras file; `ccdnb predict` uses it (with OpenVINO or ONNX Runtime)
only while it matches, so a retrained model is never run from a stale export.
Needs the `onnx` package (ccdnb[train]).
"""


def add_arguments(parser):
    """Add ``export-onnx``'s options to ``parser``."""
    parser.add_argument("model", metavar="MODEL", help="a .keras file or a shipped model name")
    parser.add_argument("--out", default=None, metavar="PATH",
                        help="where the .onnx goes (default: beside the model, <name>.onnx)")


def run(args) -> int:
    """Export; print the ONNX file's path."""
    from ..errors import CcdnbInputError
    from ..model import resolve_model_path
    from ..predict.onnx_export import export_onnx

    try:
        import onnx  # noqa: F401
    except ImportError:
        raise CcdnbInputError("export-onnx needs the onnx package: "
                              "pip install 'ccdnb[train]'") from None
    from ..quiet_tensorflow import import_tensorflow_quietly

    path = resolve_model_path(args.model)
    import_tensorflow_quietly()  # its start-up notes kept off the terminal
    print(export_onnx(path, args.out))
    return 0
