"""Import TensorFlow without its C++ start-up notes on the terminal.

TensorFlow writes lines such as "oneDNN custom operations are on" and "Could
not find cuda drivers" straight to file descriptor 2 before its logging is set
up, so ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them. A command line tool should
print its own messages only; :func:`import_tensorflow_quietly` sends those
lines to a temporary file and shows them only when the import fails.
:func:`stderr_to` is the redirection itself (``ccdnb reproduce`` uses it for
the notebook kernels).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def stderr_to(file):
    """Point file descriptor 2 (inherited by child processes) at ``file`` for a while.

    C++ libraries and subprocesses write there directly, past ``sys.stderr``.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(file.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


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
            with stderr_to(capture):
                import tensorflow as tf

                tf.config.list_physical_devices()  # CUDA probing logs here, once
        except BaseException:
            capture.seek(0)
            sys.stderr.write(capture.read().decode(errors="replace"))
            raise
    return tf
