"""Imports venv_only_module (only in the test's virtualenv) and shows sys.path, which keeps the
base Python's site-packages in a virtualenv made with --system-site-packages."""

import json
import sys

import venv_only_module


def app(environ, start_response):
    body = json.dumps({
        "marker": venv_only_module.MARKER,
        "module_file": venv_only_module.__file__,
        "prefix": sys.prefix,
        "path": sys.path,
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
