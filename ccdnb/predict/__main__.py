"""``python -m ccdnb.predict PAGE...``: regenerate the stage table of each documentation page."""

import sys

from .pipeline import write_stage_table

for page in sys.argv[1:]:
    print(f"{page}: {'updated' if write_stage_table(page) else 'up to date'}")
