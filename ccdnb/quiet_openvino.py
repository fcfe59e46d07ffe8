"""Import OpenVINO without the usage event it sends to Google Analytics by default.

``import openvino`` sends an "import" event through ``openvino_telemetry``
whenever the user has not run ``opt_in_out`` (no consent file: sent without
asking). It sends it from a forked copy of the process, and on a machine whose
firewall drops the packets (a detector's computing node) the process waits up
to 3 s for it when it exits, in every worker. ccdnb reads detector data: it
sends nothing the user did not agree to. :func:`import_openvino_quietly` treats
"no consent file" as declined for this process; a consent given explicitly
(``opt_in_out --opt_in``) is kept.
"""

from __future__ import annotations

import sys

__all__ = ["import_openvino_quietly"]


def _decline_unasked_telemetry() -> None:
    try:
        from openvino_telemetry.utils import opt_in_checker
    except ImportError:  # no telemetry package: nothing is sent
        return
    checker, result = opt_in_checker.OptInChecker, opt_in_checker.ConsentCheckResult
    if getattr(checker.check, "_ccdnb", False):
        return
    original = checker.check

    def check(self, *args, **kwargs):
        answer = original(self, *args, **kwargs)
        return result.DECLINED if answer == result.NO_FILE else answer

    check._ccdnb = True
    checker.check = check


def import_openvino_quietly():
    """Import OpenVINO with its unasked-for telemetry declined; return the module."""
    if "openvino" not in sys.modules:
        _decline_unasked_telemetry()
    import openvino

    return openvino
