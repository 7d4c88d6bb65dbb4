"""Reads wsgi.input in the way PATH_INFO names and answers JSON with what it got.

The query string carries a size n where the method takes one.
"""

import hashlib
import json


def read_all(stream, n):
    return [stream.read()]


def read_n(stream, n):
    parts = []
    while True:
        part = stream.read(n)
        if not part:
            return parts
        parts.append(part)


def readline_all(stream, n):
    parts = []
    while True:
        line = stream.readline()
        if not line:
            return parts
        parts.append(line)


def readline_n(stream, n):
    parts = []
    while True:
        line = stream.readline(n)
        if not line:
            return parts
        parts.append(line)


def readlines(stream, n):
    return stream.readlines()


def iterate(stream, n):
    return list(stream)


def mixed(stream, n):
    """read(n), then readline(), then the rest: the stream keeps one position across methods."""
    return [stream.read(n), stream.readline(), stream.read()]


def partial(stream, n):
    """Reads only n bytes and leaves the rest of the body unread."""
    return [stream.read(n)]


def ignore(stream, n):
    return []


READERS = {
    "/read": read_all, "/read-n": read_n, "/readline": readline_all, "/readline-n": readline_n,
    "/readlines": readlines, "/iter": iterate, "/mixed": mixed, "/partial": partial, "/ignore": ignore,
}


def hash_body(stream):
    digest = hashlib.sha256()
    total = 0
    while True:
        block = stream.read(65536)
        if not block:
            return {"sha256": digest.hexdigest(), "length": total}
        digest.update(block)
        total += len(block)


def app(environ, start_response):
    stream = environ["wsgi.input"]
    path = environ["PATH_INFO"]
    if path == "/sha256":
        payload = hash_body(stream)
    else:
        n = int(environ["QUERY_STRING"] or 0)
        parts = READERS[path](stream, n)
        payload = {
            "parts": [p.decode("latin-1") for p in parts],
            "types": sorted({type(p).__name__ for p in parts}),
            "after_eof": stream.read().decode("latin-1") if path not in ("/partial", "/ignore") else None,
        }
    payload["content_length"] = environ.get("CONTENT_LENGTH")
    body = json.dumps(payload).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
