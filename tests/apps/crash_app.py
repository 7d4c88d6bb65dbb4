"""An app for the crash and signal tests: it says which process answered, and can end its worker
the hard ways an app or an extension does (os._exit, a segfault in C) or hold a request."""

import ctypes
import os
import time
from urllib.parse import parse_qs


def exit_now(args):
    os._exit(1)


def segfault(args):
    """Reads address 0 through ctypes: the worker dies of SIGSEGV inside C code."""
    ctypes.string_at(0)


def sleep(args):
    """Sleeps; touches the file named by ?started= first, so a test knows the request is in."""
    if "started" in args:
        open(args["started"][0], "w").close()
    time.sleep(float(args.get("seconds", ["10"])[0]))
    return "slept"


ROUTES = {
    "/": lambda args: str(os.getpid()),
    "/exit": exit_now,
    "/segfault": segfault,
    "/sleep": sleep,
}


def app(environ, start_response):
    body = ROUTES[environ["PATH_INFO"]](parse_qs(environ["QUERY_STRING"])).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
