"""A module that exists but imports one that does not: still "import raised", not "module not found"."""

import no_such_dependency_9e0b  # noqa: F401

app = None
