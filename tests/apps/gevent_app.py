"""An app for -k gevent that waits as real apps do, with the standard library (monkey-patched by
then): time.sleep, urllib.request to another server, a CPU loop that never yields, a C call
that blocks the thread, a client's body, a long response. It counts the requests inside it at
once."""

import ctypes
import json
import os
import socket
import time
import urllib.request
from time import sleep as sleep_imported_by_the_app
from urllib.parse import parse_qsl

INSIDE = {"now": 0, "peak": 0}


def sleep(environ, args):
    INSIDE["now"] += 1
    INSIDE["peak"] = max(INSIDE["peak"], INSIDE["now"])
    try:
        time.sleep(float(args.get("s", "0.2")))
    finally:
        INSIDE["now"] -= 1
    return b"slept"


def peak(environ, args):
    """The most requests that were inside /sleep at once since the last /peak?reset=1."""
    found = INSIDE["peak"]
    if args.get("reset"):
        INSIDE["peak"] = 0
    return json.dumps({"peak": found}).encode()


def upstream(environ, args):
    with urllib.request.urlopen(args["url"], timeout=30) as response:
        return response.read()


def spin(environ, args):
    # One line for every Python's stack, as in timeout_app.py.
    while True: pass  # noqa: E701


def in_c(environ, args):
    ctypes.CDLL("libc.so.6").sleep(60)
    return b"woke"


def patched(environ, args):
    """Where the functions the app imported come from: gevent, when it patched first."""
    return json.dumps({"sleep": sleep_imported_by_the_app.__module__,
                       "socket": socket.socket.__module__}).encode()


def read(environ, args):
    return b"read %d" % len(environ["wsgi.input"].read())


def pid(environ, args):
    return str(os.getpid()).encode()


ROUTES = {"/": pid, "/sleep": sleep, "/peak": peak, "/upstream": upstream, "/spin": spin,
          "/in-c": in_c, "/patched": patched, "/read": read}


def stream(megabytes):
    chunk = b"s" * 65536
    for _ in range(int(megabytes * 16)):
        yield chunk


def app(environ, start_response):
    args = dict(parse_qsl(environ["QUERY_STRING"]))
    if environ["PATH_INFO"] == "/stream":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return stream(float(args.get("mb", "1")))
    body = ROUTES[environ["PATH_INFO"]](environ, args)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
