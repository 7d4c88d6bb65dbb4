"""Shows how a worker class runs the app: which process and thread, how many requests at once.

The sqlite3 connection is made at import time with the default check_same_thread=True, so it only
works if every request runs on the thread that imported the app, as under gunicorn's sync worker.
"""

import json
import os
import signal
import sqlite3
import threading
import time
from urllib.parse import parse_qsl

IMPORT_THREAD = threading.get_ident()
DB = sqlite3.connect(":memory:")
DB.execute("create table hits (n integer)")

LOCK = threading.Lock()
BARRIERS = {}
INSIDE = {"now": 0, "max": 0}


def info(environ, args):
    return {
        "pid": os.getpid(),
        "thread": threading.get_ident(),
        "import_thread": IMPORT_THREAD,
        "multithread": environ["wsgi.multithread"],
        "multiprocess": environ["wsgi.multiprocess"],
        "run_once": environ["wsgi.run_once"],
        "python_sigint_handler": signal.getsignal(signal.SIGINT) is signal.default_int_handler,
    }


def sqlite(environ, args):
    DB.execute("insert into hits values (1)")
    return {"hits": DB.execute("select count(*) from hits").fetchone()[0]}


def barrier(environ, args):
    """Waits until `parties` requests of the same round are inside the app at the same time."""
    with LOCK:
        wall = BARRIERS.setdefault(args["round"], threading.Barrier(int(args["parties"]), timeout=10))
    try:
        wall.wait()
        return {"passed": True}
    except threading.BrokenBarrierError:
        return {"passed": False}


def occupancy(environ, args):
    """Holds the request inside the app for a while and records the most requests seen at once."""
    with LOCK:
        INSIDE["now"] += 1
        INSIDE["max"] = max(INSIDE["max"], INSIDE["now"])
    time.sleep(float(args.get("hold", 0.2)))
    with LOCK:
        INSIDE["now"] -= 1
    return {"max": INSIDE["max"]}


def slow(environ, args):
    """Sleeps; touches the file named by ?started= first, so a test knows the request is in."""
    if "started" in args:
        open(args["started"], "w").close()
    time.sleep(float(args["seconds"]))
    return {"pid": os.getpid(), "slept": args["seconds"]}


ROUTES = {"/": info, "/info": info, "/sqlite": sqlite, "/barrier": barrier, "/occupancy": occupancy, "/slow": slow}


def app(environ, start_response):
    route = ROUTES[environ["PATH_INFO"]]
    body = json.dumps(route(environ, dict(parse_qsl(environ["QUERY_STRING"])))).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
