"""Import TensorFlow without its C++ start-up notes on the terminal.

TensorFlow writes lines such as "oneDNN custom operations are on" and "Could
not find cuda drivers" straight to file descriptor 2 before its logging is set
up, so ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them. A command line tool should
print its own messages only; :func:`import_tensorflow_quietly` sends those
lines to a temporary file and shows them only when the import fails.
The redirection itself is :func:`ccdnb.io.atomic.redirect_stderr_fd`.
"""

from __future__ import annotations

import os
import sys
import tempfile

from .io.atomic import redirect_stderr_fd

__all__ = ["import_tensorflow_quietly"]


def import_tensorflow_quietly():
    """Import TensorFlow and probe its devices with stderr captured; return the module.

    Raises
    ------
    Exception
        Whatever the import raises; the captured output is replayed on stderr first.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    with tempfile.TemporaryFile() as capture:
        try:
            with redirect_stderr_fd(capture):
                import tensorflow as tf

                tf.config.list_physical_devices()  # CUDA probing logs here, once
        except BaseException:
            capture.seek(0)
            sys.stderr.write(capture.read().decode(errors="replace"))
            raise
    return tf
