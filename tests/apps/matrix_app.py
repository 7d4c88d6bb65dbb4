"""The app of the version matrix (tests/matrix.py): it says which interpreter serves it and from
which prefix, and runs through Flask where Flask is installed, else as plain WSGI."""

import json
import sys

try:
    import flask
except ImportError:
    flask = None


def report(served_by):
    return json.dumps({
        "served_by": served_by,
        "version": "%d.%d.%d" % sys.version_info[:3],
        "prefix": sys.prefix,
    })


def plain(environ, start_response):
    body = report("wsgi").encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


if flask is None:
    app = plain
else:
    app = flask.Flask(__name__)
    app.add_url_rule("/", "report", lambda: flask.Response(report("flask"), mimetype="application/json"))
