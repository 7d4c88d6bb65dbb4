"""A WSGI app that waits 200 ms (or ?seconds=S), as one waiting on a database or another service
would: with gevent's monkey patching, time.sleep lets other requests run meanwhile."""
import time

BODY = b"Slept"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    query = environ.get("QUERY_STRING", "")
    time.sleep(float(query[len("seconds="):]) if query.startswith("seconds=") else 0.2)
    start_response("200 OK", HEADERS)
    return [BODY]
