"""``python -m services.writers tripletex|svenn``: run one writer alone (``tsync run tripletex-writer``)."""

import sys

from services.runtime import Role, serve

if len(sys.argv) != 2 or sys.argv[1] not in ("tripletex", "svenn"):
    sys.exit("usage: python -m services.writers tripletex|svenn")
serve([Role(f"{sys.argv[1]}-writer")])
