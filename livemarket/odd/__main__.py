"""``python -m livemarket.odd [ODD.md]``: rewrite the document's generated tables (or print them)."""

import sys
from pathlib import Path

from livemarket.odd import DOC, render, update_document

path = Path(sys.argv[1]) if len(sys.argv) > 1 else DOC
if path.is_file():
    changed = update_document(path)
    print(f"{path} parameter tables", "updated" if changed else "already current")
else:  # an installed package: no document beside it
    print(render(), end="")
