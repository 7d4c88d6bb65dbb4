"""Handlers that run past --timeout in each way a request can: Python code, a sleep, C code."""
import ctypes
import os
import time


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/spin":
        # On one line, which the stack names on every Python: 3.9 puts the loop's jump on the
        # line of its body, later versions on the line of the while.
        while True: pass  # noqa: E701
    if path == "/sleep":
        time.sleep(60)
    if path == "/in-c":
        ctypes.CDLL("libc.so.6").sleep(60)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
