"""An app that writes to the error log in each way an app can: wsgi.errors, sys.stderr, and an
exception that the server logs with its traceback."""
import atexit
import os
import sys


def app(environ, start_response):
    tag = environ["QUERY_STRING"]
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("boom " + tag)
    environ["wsgi.errors"].write("wsgi.errors says " + tag + "\n")
    environ["wsgi.errors"].flush()
    print("stderr says " + tag, file=sys.stderr, flush=True)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"logged"]


def _goodbye():
    # Written without flushing: a worker that stops normally still gets it out.
    sys.stdout.write("atexit ran in %d\n" % os.getpid())


atexit.register(_goodbye)
