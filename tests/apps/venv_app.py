"""Imports flask (a system package) and venv_only_module (only in the test's virtualenv)."""

import json
import sys

import flask
import venv_only_module


def app(environ, start_response):
    body = json.dumps({
        "marker": venv_only_module.MARKER,
        "module_file": venv_only_module.__file__,
        "prefix": sys.prefix,
        "flask_file": flask.__file__,
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
