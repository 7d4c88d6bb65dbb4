"""An app for the access log tests: each path answers in a way one of the log's atoms shows.

/user...     sets REMOTE_USER and a hostile environ value, as an auth middleware might
/slow        takes 50 ms, so the durations are not zero
/read        reads the whole request body first, in small pieces
/empty       200 with an empty body
/nocontent   204
/file        this file through wsgi.file_wrapper (sendfile)
/boom        raises: the server answers 500
/print?TAG   writes TAG with print() and to sys.stderr
anything else: "hello" with an X-Trace response header
"""
import sys
import time

HOSTILE = 'ev"il\\ \n\r\t\x01\x7f caf\xe9 \u2028 \U0001f600 \udcff'


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path.startswith("/user"):
        environ["REMOTE_USER"] = "mw-user"
        environ["gowsgi.test.hostile"] = HOSTILE
        environ["gowsgi.test.number"] = 42
    if path == "/read":
        while environ["wsgi.input"].read(100):  # small reads go through the server's read buffer
            pass
    if path == "/slow":
        time.sleep(0.05)
    if path == "/boom":
        raise RuntimeError("boom")
    if path == "/print":
        print("printed " + environ["QUERY_STRING"], flush=True)
        print("stderr " + environ["QUERY_STRING"], file=sys.stderr, flush=True)
    if path == "/nocontent":
        start_response("204 No Content", [])
        return []
    if path == "/file":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](open(__file__, "rb"))
    body = b"" if path == "/empty" else b"hello"
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Trace", 't-"1"\\')])
    return [body]
