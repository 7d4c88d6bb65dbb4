"""Answers every request with what it saw: method, path, query, body and the worker's pid."""

import json
import os


def app(environ, start_response):
    body = environ["wsgi.input"].read()
    payload = {
        "method": environ["REQUEST_METHOD"],
        "path": environ["PATH_INFO"],
        "query": environ["QUERY_STRING"],
        "body": body.decode("latin-1"),
        "pid": os.getpid(),
        "headers": {k: v for k, v in environ.items() if k.startswith("HTTP_")},
    }
    data = json.dumps(payload).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
