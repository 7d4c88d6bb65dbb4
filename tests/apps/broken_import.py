"""A module whose import fails: the server must report "import raised"."""

raise RuntimeError("broken at import time 51c2")
