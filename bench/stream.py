"""A WSGI app for the transfer benchmarks: the cost of moving bytes, not of making them.

/stream  10 MiB from a generator of 64 KiB chunks
/file    a 10 MiB file through wsgi.file_wrapper (sendfile where the server has it)
/upload  reads the request body whole and answers with its length
"""

import os
import tempfile

CHUNK = b"x" * 65536
CHUNKS = 160
SIZE = len(CHUNK) * CHUNKS
FILE = os.path.join(tempfile.gettempdir(), f"gowsgi-bench-{SIZE}.bin")


def _make_file():
    """Writes the file once; each worker imports this module, so it appears by rename, whole."""
    if os.path.exists(FILE) and os.path.getsize(FILE) == SIZE:
        return
    partial = f"{FILE}.{os.getpid()}"
    with open(partial, "wb") as f:
        for _ in range(CHUNKS):
            f.write(CHUNK)
    os.replace(partial, FILE)


_make_file()


def _stream():
    for _ in range(CHUNKS):
        yield CHUNK


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(SIZE))])
        return _stream()
    if path == "/file":
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(SIZE))])
        return environ["wsgi.file_wrapper"](open(FILE, "rb"), 1 << 20)
    if path == "/upload":
        body = environ["wsgi.input"].read()
        answer = str(len(body)).encode()
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(answer)))])
        return [answer]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
