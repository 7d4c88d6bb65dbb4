"""Serves tests/test_http2_hostile.py, in one worker.

/work    counts the call, works for a millisecond, answers "done"
/count   how many times /work has been called in this worker
/        "ok" and the worker's pid
"""

import os
import time

calls = 0


def app(environ, start_response):
    global calls
    path = environ["PATH_INFO"]
    if path == "/work":
        calls += 1
        time.sleep(0.001)
        body = b"done"
    elif path == "/count":
        body = str(calls).encode()
    else:
        body = f"ok {os.getpid()}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
