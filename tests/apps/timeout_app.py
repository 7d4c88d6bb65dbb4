"""Handlers that run past --timeout in each way a request can: Python code, a sleep, C code."""
import ctypes
import os
import time


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/spin":
        while True:
            pass
    if path == "/sleep":
        time.sleep(60)
    if path == "/in-c":
        ctypes.CDLL("libc.so.6").sleep(60)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
