"""The real-browser test runs only through ``make test-browser`` (CI has no browser).

``make test`` collects ``tests/`` and would find this folder: without
``CCDNB_BROWSER_TEST=1`` its test files are not collected at all (selenium is
not even imported).
"""

import os

if os.environ.get("CCDNB_BROWSER_TEST") != "1":
    collect_ignore_glob = ["test_*.py"]
