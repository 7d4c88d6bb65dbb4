"""Serves the TLS and HTTP/2 tests.

/            the parts of the environ the tests check, as JSON
/echo        the request body back, with its length in X-Length
/stream?F    "first", then waits until the file F exists (the test creates it once it has read
             "first"), then "second": a response that is really streamed
/slow?seconds=S&started=F   creates F, sleeps S seconds, answers "done"
/file        this file through wsgi.file_wrapper
"""

import json
import os
import time
from urllib.parse import parse_qs

ENVIRON_KEYS = ("SERVER_PROTOCOL", "wsgi.url_scheme", "REQUEST_METHOD", "PATH_INFO", "QUERY_STRING",
                "SERVER_NAME", "SERVER_PORT", "REMOTE_ADDR", "REMOTE_PORT", "CONTENT_LENGTH", "CONTENT_TYPE",
                "PROXY_PROTOCOL")


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/echo":
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("X-Length", str(len(body)))])
        return [body]
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return stream(environ["QUERY_STRING"])
    if path == "/slow":
        query = parse_qs(environ["QUERY_STRING"])
        with open(query["started"][0], "w"):
            pass
        time.sleep(float(query["seconds"][0]))
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
        return [b"done"]
    if path == "/file":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(os.path.getsize(__file__)))])
        return environ["wsgi.file_wrapper"](open(__file__, "rb"))
    payload = {key: environ.get(key) for key in ENVIRON_KEYS}
    payload["headers"] = {k: v for k, v in environ.items() if k.startswith("HTTP_")}
    payload["pid"] = os.getpid()
    body = json.dumps(payload).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                              ("Connection", "keep-alive"), ("Keep-Alive", "timeout=5")])
    return [body]


def stream(gate):
    yield b"first\n"
    deadline = time.monotonic() + 10
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.01)
    yield b"second\n" if os.path.exists(gate) else b"the gate never opened: the first chunk was held back\n"
