"""Probes for the conformance suite: one route per PEP 3333 corner the other apps do not reach.

Events the test cannot see on the wire (close() calls and their order, exceptions raised inside
the app) are recorded in EVENTS and read back through /events?TOKEN.
"""

import io
import json
import os
import sys
import threading
import time
from urllib.parse import parse_qsl

EVENTS = {}
COUNTER = {"value": 0}
COUNTER_LOCK = threading.Lock()


def note(token, event):
    if not token:
        return  # leak checks run these routes many times without keeping anything
    EVENTS.setdefault(token, []).append(event)


def answer(start_response, body, status="200 OK", headers=()):
    start_response(status, [("Content-Type", "application/octet-stream"), *headers])
    return [body]


def as_json(start_response, payload):
    body = json.dumps(payload).encode()
    return answer(start_response, body, headers=[("Content-Length", str(len(body)))])


class Tracked:
    """An iterable that notes each step and its close() under token."""

    def __init__(self, token, items, fail_at=None):
        self.token, self.items, self.fail_at = token, items, fail_at

    def __iter__(self):
        for index, item in enumerate(self.items):
            if index == self.fail_at:
                note(self.token, "raised")
                raise RuntimeError(f"failed on purpose {self.token}")
            note(self.token, f"item{index}")
            yield item
        note(self.token, "exhausted")

    def close(self):
        note(self.token, "close")


def environ_types(environ, start_response, args):
    stream = environ["wsgi.input"]
    stream.read()
    payload = {
        "has_content_length": "CONTENT_LENGTH" in environ,
        "content_length": environ.get("CONTENT_LENGTH"),
        "has_content_type": "CONTENT_TYPE" in environ,
        "has_query": "QUERY_STRING" in environ,
        "query": environ.get("QUERY_STRING"),
        "path_info": environ["PATH_INFO"],
        "path_codepoints": [ord(c) for c in environ["PATH_INFO"]],
        "script_name": environ["SCRIPT_NAME"],
        "raw_uri": environ.get("RAW_URI"),
        "non_str": sorted(k for k, v in environ.items() if k.isupper() and type(v) is not str),
        "cookie_length": len(environ.get("HTTP_COOKIE", "")),
        "x_value": [ord(c) for c in environ.get("HTTP_X_VALUE", "")],
        "method": environ["REQUEST_METHOD"],
    }
    return as_json(start_response, payload)


def input_reads(environ, start_response, args):
    """Runs the reads named in ?ops=read:3,readline:5,... and returns what each gave."""
    stream = environ["wsgi.input"]
    results = []
    for op in args.get("ops", "").split(","):
        name, _, arg = op.partition(":")
        if name == "iter":
            results.append([line.decode("latin-1") for line in stream])
            continue
        method = getattr(stream, name)
        value = method() if arg == "" else method(None if arg == "none" else int(arg))
        if name == "readlines":
            results.append([line.decode("latin-1") for line in value])
        else:
            assert type(value) is bytes, type(value)
            results.append(value.decode("latin-1"))
    return as_json(start_response, results)


def file_wrapper_bytesio(environ, start_response, args):
    data = bytes(range(256)) * int(args.get("repeat", "1"))
    source = io.BytesIO(data)
    token = args.get("token")
    if token:
        original_close = source.close

        def close():
            note(token, "close")
            original_close()

        source.close = close
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    if "block" in args:
        return environ["wsgi.file_wrapper"](source, int(args["block"]))
    return environ["wsgi.file_wrapper"](source)


def late_start_response(environ, start_response, args):
    """A generator that calls start_response only when first iterated (PEP 3333 allows it)."""

    def body():
        start_response("201 Created", [("X-Late", "yes")])
        yield b"late-"
        yield b"body"

    return body()


def late_start_empty(environ, start_response, args):
    def body():
        start_response("200 OK", [("X-Late", "empty")])
        return
        yield

    return body()


def raise_after_first_chunk(environ, start_response, args):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Tracked(args["token"], [b"first-chunk", b"never"], fail_at=1)


def non_bytes_after_first_chunk(environ, start_response, args):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Tracked(args["token"], [b"first-chunk", "a str"])


def big_stream(environ, start_response, args):
    """?chunks=N&size=S streams N chunks of S bytes, each filled with its index mod 256."""
    chunks, size = int(args["chunks"]), int(args["size"])
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return (bytes([i % 256]) * size for i in range(chunks))


def with_status(environ, start_response, args):
    status = args["status"]
    headers = [("Content-Type", "text/plain")]
    if "cl" in args:
        headers.append(("Content-Length", args["cl"]))
    start_response(status, headers)
    return [args.get("body", "").encode()]


def two_content_lengths(environ, start_response, args):
    start_response("200 OK", [("Content-Length", "5"), ("Content-Length", "11")])
    return [b"hello world"]


def own_date_and_server(environ, start_response, args):
    start_response("200 OK", [("Date", "Thu, 01 Jan 2004 00:00:00 GMT"), ("Server", "app-server/1.0")])
    return [b"dated"]


def app_connection_close(environ, start_response, args):
    start_response("200 OK", [("Connection", "close"), ("Content-Length", "3")])
    return [b"bye"]


def write_and_iterable_sized(environ, start_response, args):
    write = start_response("200 OK", [("Content-Length", "12")])
    write(b"abc")
    write(b"")
    write(b"def")
    return [b"ghi", b"", b"jkl"]


def write_str(environ, start_response, args):
    write = start_response("200 OK", [])
    try:
        write("text")
    except TypeError:
        note(args["token"], "TypeError")
    write(b"ok")
    return []


def exc_info_without_error(environ, start_response, args):
    """start_response with exc_info=None twice would raise; with a real exc_info it replaces."""
    start_response("200 OK", [("X-Stage", "first")])
    try:
        raise KeyError("first failure")
    except KeyError:
        start_response("500 Internal Server Error", [("X-Stage", "second")], sys.exc_info())
    try:
        raise KeyError("second failure")
    except KeyError:
        start_response("502 Bad Gateway", [("X-Stage", "third")], sys.exc_info())
    return [b"replaced twice"]


def exc_info_after_write(environ, start_response, args):
    write = start_response("200 OK", [])
    write(b"already-sent")
    try:
        raise ValueError("after write")
    except ValueError:
        try:
            start_response("500 Internal Server Error", [], sys.exc_info())
        except ValueError:
            note(args["token"], "reraised")
            raise
    note(args["token"], "not reraised")
    return [b"wrong"]


def slow(environ, start_response, args):
    seconds = float(args.get("s", "1"))
    time.sleep(seconds)
    return answer(start_response, f"slept {seconds} pid {os.getpid()}".encode())


def count(environ, start_response, args):
    """Increments a shared counter with a read-sleep-write under a lock: lost updates show races."""
    with COUNTER_LOCK:
        value = COUNTER["value"]
        time.sleep(0.0005)
        COUNTER["value"] = value + 1
    return as_json(start_response, {"value": COUNTER["value"], "pid": os.getpid()})


def pid(environ, start_response, args):
    return as_json(start_response, {"pid": os.getpid()})


def leak_mix(environ, start_response, args):
    """A generator body, the write() callable and an exc_info replacement in one request."""
    write = start_response("200 OK", [("X-Leak", "1")])
    try:
        raise ValueError("replace")
    except ValueError:
        write = start_response("200 OK", [("X-Leak", "2")], sys.exc_info())
    write(b"w" * 100)

    def body():
        for _ in range(3):
            yield b"g" * 100

    return body()


def events(environ, start_response, args):
    token = environ["QUERY_STRING"]
    return as_json(start_response, EVENTS.get(token, []))


def endless(environ, start_response, args):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return Endless(args["token"])


class Endless(Tracked):
    def __init__(self, token):
        super().__init__(token, [])

    def __iter__(self):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            yield b"e" * 65536
        note(self.token, "ran to the end")


def upload_sink(environ, start_response, args):
    token = args["token"]
    try:
        data = environ["wsgi.input"].read()
        note(token, f"read {len(data)}")
    except Exception as error:
        note(token, f"error {type(error).__name__}")
        raise
    return answer(start_response, b"got")


ROUTES = {
    "/environ": environ_types,
    "/input": input_reads,
    "/file-wrapper-bytesio": file_wrapper_bytesio,
    "/late-start": late_start_response,
    "/late-start-empty": late_start_empty,
    "/raise-after-first-chunk": raise_after_first_chunk,
    "/non-bytes-after-first-chunk": non_bytes_after_first_chunk,
    "/big-stream": big_stream,
    "/status": with_status,
    "/two-content-lengths": two_content_lengths,
    "/own-date-and-server": own_date_and_server,
    "/app-connection-close": app_connection_close,
    "/write-and-iterable-sized": write_and_iterable_sized,
    "/write-str": write_str,
    "/exc-info-twice": exc_info_without_error,
    "/exc-info-after-write": exc_info_after_write,
    "/slow": slow,
    "/count": count,
    "/pid": pid,
    "/leak-mix": leak_mix,
    "/events": events,
    "/endless": endless,
    "/upload-sink": upload_sink,
}


def app(environ, start_response):
    path = environ["PATH_INFO"]
    handler = ROUTES.get(path)
    if handler is None:
        if path.startswith("/environ") or path == "*" or environ["SCRIPT_NAME"]:
            handler = environ_types
        else:
            return answer(start_response, b"no such route", status="404 Not Found")
    args = dict(parse_qsl(environ["QUERY_STRING"], keep_blank_values=True))
    return handler(environ, start_response, args)
