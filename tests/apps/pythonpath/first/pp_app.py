"""Served with --pythonpath naming this directory and ../second, where pp_lib lives."""

import pp_lib


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [pp_lib.MESSAGE]
