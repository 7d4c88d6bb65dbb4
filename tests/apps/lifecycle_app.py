"""An app for the master's lifecycle tests: it says which process answered, grows its memory on
request, and can get stuck in C with the GIL held, as a real extension sometimes does."""

import ctypes
import os
from urllib.parse import parse_qs

# A version a test may rewrite on disk before a HUP, to see that workers import the app afresh.
VERSION = "1"

# Memory /grow keeps, so that the worker's resident size stays up.
HELD = []


def grow(args):
    """Holds MiB more of memory, written to so that it is resident."""
    HELD.append(b"\x01" * (int(args.get("mb", ["100"])[0]) << 20))
    return str(sum(len(b) for b in HELD) >> 20)


def stuck(args):
    """Sleeps in libc through PyDLL, which keeps the GIL: no Python thread of this worker runs."""
    ctypes.PyDLL("libc.so.6").sleep(int(args.get("seconds", ["60"])[0]))
    return "woke"


ROUTES = {
    "/": lambda args: str(os.getpid()),
    "/version": lambda args: f"{VERSION} {os.getpid()}",
    "/grow": grow,
    "/stuck": stuck,
}


def app(environ, start_response):
    body = ROUTES[environ["PATH_INFO"]](parse_qs(environ["QUERY_STRING"])).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
