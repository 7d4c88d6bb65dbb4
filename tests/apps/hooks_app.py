"""The app the hooks tests serve: it notes its thread in the environ, for post_request to see,
and answers with its pid. /fail raises, /in-c blocks in C (the GIL released) for a minute."""

import ctypes
import os
import threading


def app(environ, start_response):
    environ["hooks_app.thread"] = threading.get_ident()
    path = environ["PATH_INFO"]
    if path == "/fail":
        raise ValueError("the app failed on purpose")
    if path == "/in-c":
        ctypes.CDLL("libc.so.6").sleep(60)
    body = str(os.getpid()).encode()
    start_response("201 Created", [("Content-Type", "text/plain"), ("Content-Length", str(len(body))),
                                   ("X-App", "hooks")])
    return [body]
