"""OpenVINO through ccdnb sends no usage event the user did not agree to."""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("openvino")
pytest.importorskip("openvino_telemetry")

# in a fresh process (the import happens once): count the events handed to the backend
PROBE = r"""
import json
import openvino_telemetry.backend.backend_ga4 as ga4
sent = []
ga4.GA4Backend.send = lambda self, *args, **kwargs: sent.append(args)
import ccdnb
ccdnb.Segmenter("default", runtime="openvino")
import openvino_telemetry
print(json.dumps({"sent": len(sent), "consent": bool(openvino_telemetry.Telemetry().consent)}))
"""


def _probe(home, consent=None):
    if consent is not None:
        (home / "intel").mkdir()
        (home / "intel" / "openvino_telemetry").write_text(consent)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "TF_BUILD", "JENKINS_URL")}
    env["HOME"] = str(home)
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_no_event_without_consent(tmp_path):
    # no consent file: openvino_telemetry would send (consent assumed); ccdnb declines
    assert _probe(tmp_path) == {"sent": 0, "consent": False}


def test_explicit_consent_is_kept(tmp_path):
    # `opt_in_out --opt_in` writes "1": the user's choice stands
    got = _probe(tmp_path, consent="1")
    assert got["consent"] is True
