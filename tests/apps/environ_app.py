"""Returns the WSGI environ as JSON, with the type of every value, for the environ tests.

/errors?MARKER also writes MARKER to wsgi.errors, which must reach the server's error log.
"""

import json
import os
import threading


def plain(value):
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, tuple):
        return [plain(v) for v in value]
    return repr(value)


def app(environ, start_response):
    if environ["PATH_INFO"] == "/errors":
        marker = environ["QUERY_STRING"]
        errors = environ["wsgi.errors"]
        errors.write(f"errors-write {marker}\n")
        errors.writelines([f"errors-writelines {marker}\n"])
        errors.flush()
    stream = environ["wsgi.input"]
    payload = {
        "environ": {k: plain(v) for k, v in environ.items()},
        "types": {k: type(v).__name__ for k, v in environ.items()},
        "input_methods": [m for m in ("read", "readline", "readlines", "__iter__") if hasattr(stream, m)],
        "errors_methods": [m for m in ("write", "writelines", "flush") if hasattr(environ["wsgi.errors"], m)],
        "file_wrapper_callable": callable(environ.get("wsgi.file_wrapper")),
        "pid": os.getpid(),
        "thread": threading.get_ident(),
    }
    body = json.dumps(payload).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
