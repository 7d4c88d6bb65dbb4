"""One route per way a WSGI app can answer, right or wrong, for the response tests.

What the server did with the app's objects (close() calls, exceptions start_response raised, the
files it was given) is recorded in STATE and read back through /state.
"""

import io
import json
import os
import sys
import time
from urllib.parse import parse_qsl

STATE = {"closed": [], "events": {}, "last_file": None}


class Recorded:
    """An iterable that records close() under its token; it raises at item fail_at if set."""

    def __init__(self, token, items, fail_at=None):
        self.token = token
        self.items = items
        self.fail_at = fail_at

    def __iter__(self):
        for index, item in enumerate(self.items):
            if index == self.fail_at:
                raise RuntimeError(f"iteration failed on purpose {self.token}")
            yield item

    def close(self):
        STATE["closed"].append(self.token)


class Endless(Recorded):
    """Streams 16 KiB chunks for up to 20 s, so only a client disconnect stops it early."""

    def __iter__(self):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            yield b"e" * 16384
            time.sleep(0.002)
        STATE["events"][self.token] = "ran to the end"


def legacy_str(text):
    """text as a C extension makes a str through the Py_UNICODE API, which Python 3.12 removed:
    until something readies it, its characters are not where the C API's macros read them."""
    import ctypes
    api = ctypes.pythonapi
    api.PyUnicode_FromUnicode.restype = ctypes.py_object
    api.PyUnicode_FromUnicode.argtypes = [ctypes.c_void_p, ctypes.c_ssize_t]
    api.PyUnicode_AsUnicode.restype = ctypes.c_void_p
    api.PyUnicode_AsUnicode.argtypes = [ctypes.py_object]
    made = api.PyUnicode_FromUnicode(None, len(text))
    ctypes.memmove(api.PyUnicode_AsUnicode(made), text.encode("utf-32-le"), 4 * len(text))
    return made


def legacy_strings(start_response):
    start_response(legacy_str("203 Legacy"), [(legacy_str("X-Legacy"), legacy_str("caf\xe9"))])
    return [b"legacy"]


def ok(start_response, headers=()):
    start_response("200 OK", [("Content-Type", "text/plain"), *headers])


def respond(start_response, body, headers=()):
    ok(start_response, headers)
    return body


def streamed_until_file(args, start_response):
    ok(start_response)
    yield b"first\n"
    deadline = time.monotonic() + 10
    while not os.path.exists(args["path"]):
        if time.monotonic() > deadline:
            yield b"timeout\n"
            return
        time.sleep(0.01)
    yield b"last\n"


def complete_then_until_file(args, start_response):
    """Declares its length, yields the whole body, then goes on working until the file exists."""
    ok(start_response, [("Content-Length", "9")])
    yield b"complete\n"
    deadline = time.monotonic() + 10
    while not os.path.exists(args["path"]) and time.monotonic() < deadline:
        time.sleep(0.01)


def generator_with_empty_chunks(start_response):
    ok(start_response)
    yield b"g1"
    yield b""
    yield b"g2"


def write_callable(start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"hello ")
    write(b"world")
    return []


def write_then_iterable(start_response):
    write = start_response("200 OK", [])
    write(b"written-")
    return [b"returned"]


def exc_info_before_headers_sent(start_response):
    start_response("200 OK", [("X-First", "1")])
    try:
        raise ValueError("replaced before sending")
    except ValueError:
        start_response("503 Service Unavailable", [("X-Second", "1")], sys.exc_info())
    return [b"replacement body"]


def exc_info_after_headers_sent(args, start_response):
    write = start_response("200 OK", [])
    write(b"partial-")
    try:
        raise KeyError("original")
    except KeyError as original:
        try:
            start_response("500 Internal Server Error", [], sys.exc_info())
            outcome = "returned"
        except KeyError as raised:
            outcome = "same exception re-raised" if raised is original else "other KeyError"
        except Exception as raised:
            outcome = f"raised {type(raised).__name__}"
    STATE["events"][args["token"]] = outcome
    return [b"tail"]


def start_response_twice(args, start_response):
    start_response("200 OK", [])
    try:
        start_response("201 Created", [])
        outcome = "accepted"
    except Exception as raised:
        outcome = f"raised {type(raised).__name__}"
    STATE["events"][args["token"]] = outcome
    return [b"twice"]


def status(args, start_response):
    start_response(args["status"], [("Content-Type", "text/plain")])
    return [b"body-that-must-not-be-sent"] if args.get("body") else []


def hop_by_hop(start_response):
    start_response("200 OK", [
        ("Connection", "keep-alive"),
        ("Keep-Alive", "timeout=99"),
        ("Upgrade", "h2c"),
        ("Transfer-Encoding", "gzip"),
        ("X-End-To-End", "kept"),
    ])
    return [b"hop body"]


def file_response(args, environ, start_response):
    handle = open(args["path"], "rb")
    handle.seek(int(args.get("seek", 0)))
    STATE["last_file"] = handle
    headers = [("Content-Type", "application/octet-stream")]
    if "length" in args:
        headers.append(("Content-Length", args["length"]))
    start_response("200 OK", headers)
    return environ["wsgi.file_wrapper"](handle, 8192)


def file_like_response(environ, start_response):
    start_response("200 OK", [])
    return environ["wsgi.file_wrapper"](io.BytesIO(b"from a file-like object " * 1000), 4096)


def state(start_response):
    last = STATE["last_file"]
    payload = {"closed": STATE["closed"], "events": STATE["events"], "last_file_closed": last.closed if last else None}
    body = json.dumps(payload).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def failing(path, start_response):
    """The routes where the app breaks a rule; each must become a 500 (or an aborted response)."""
    if path == "/bad-status-number-only":
        start_response("200", [])
    elif path == "/bad-status-letters":
        start_response("abc OK", [])
    elif path == "/bad-header-crlf":
        start_response("200 OK", [("X-Bad", "a\r\nInjected: yes")])
    elif path == "/bad-header-lf":
        start_response("200 OK", [("X-Bad", "a\nInjected: yes")])
    elif path == "/bad-header-name-crlf":
        start_response("200 OK", [("X-Bad\r\nInjected", "yes")])
    elif path == "/bad-header-non-latin1":
        start_response("200 OK", [("X-Bad", "price \u20ac")])
    elif path == "/not-bytes":
        start_response("200 OK", [])
        return ["a str, not bytes"]
    elif path == "/str-body":
        start_response("200 OK", [])
        return "a str instead of a list"
    elif path == "/no-start-response":
        return [b"never announced"]
    elif path == "/raise":
        raise RuntimeError("kaboom-3d1f")
    elif path == "/raise-after-start-response":
        start_response("200 OK", [])
        raise RuntimeError("kaboom-after-start")
    else:
        start_response("404 Not Found", [])
    return [b"no such route"]


ROUTES = {
    "/list": lambda a, e, s: respond(s, [b"a", b"b", b"c"]),
    "/tuple": lambda a, e, s: respond(s, (b"t1", b"t2")),
    "/big-list": lambda a, e, s: respond(s, [b"%06d" % i for i in range(100000)]),
    "/empty": lambda a, e, s: respond(s, []),
    "/generator": lambda a, e, s: generator_with_empty_chunks(s),
    "/write": lambda a, e, s: write_callable(s),
    "/write-then-iterable": lambda a, e, s: write_then_iterable(s),
    "/until-file": lambda a, e, s: streamed_until_file(a, s),
    "/complete-then-until-file": lambda a, e, s: complete_then_until_file(a, s),
    "/content-length-short": lambda a, e, s: respond(s, [b"hello world"], [("Content-Length", "5")]),
    "/content-length-split": lambda a, e, s: respond(s, [b"hel", b"lo wor", b"ld"], [("Content-Length", "5")]),
    "/content-length": lambda a, e, s: respond(s, [b"hello", b" world"], [("Content-Length", "11")]),
    "/status": lambda a, e, s: status(a, s),
    "/hop-by-hop": lambda a, e, s: hop_by_hop(s),
    "/latin1-header": lambda a, e, s: respond(s, [b"latin"], [("X-Latin", "caf\xe9")]),
    "/cookies": lambda a, e, s: respond(s, [b"cookies"], [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]),
    "/legacy-strings": lambda a, e, s: legacy_strings(s),
    "/exc-info-before": lambda a, e, s: exc_info_before_headers_sent(s),
    "/exc-info-after": lambda a, e, s: exc_info_after_headers_sent(a, s),
    "/start-response-twice": lambda a, e, s: start_response_twice(a, s),
    "/closing": lambda a, e, s: respond(s, Recorded(a["token"], [b"one", b"two"])),
    "/closing-fails-first": lambda a, e, s: respond(s, Recorded(a["token"], [b"one", b"two"], fail_at=0)),
    "/closing-fails-later": lambda a, e, s: respond(s, Recorded(a["token"], [b"one", b"two"], fail_at=1)),
    "/closing-not-bytes": lambda a, e, s: respond(s, Recorded(a["token"], ["text"])),
    "/closing-endless": lambda a, e, s: respond(s, Endless(a["token"], None)),
    "/file": file_response,
    "/file-like": lambda a, e, s: file_like_response(e, s),
    "/state": lambda a, e, s: state(s),
}


def app(environ, start_response):
    path = environ["PATH_INFO"]
    args = dict(parse_qsl(environ["QUERY_STRING"]))
    route = ROUTES.get(path)
    if route is None:
        return failing(path, start_response)
    return route(args, environ, start_response)
