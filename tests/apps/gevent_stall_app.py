"""A gevent app whose own background greenlet, not a request, blocks the hub in C a moment
after the worker starts."""
import ctypes
import os

import gevent

gevent.spawn_later(0.5, ctypes.CDLL("libc.so.6").sleep, 60)


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
