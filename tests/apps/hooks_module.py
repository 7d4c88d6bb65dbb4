"""A hooks module (--hooks hooks_module) that appends one JSON line per event to $HOOKS_OUT, with
what the hook was given. The events named in $HOOKS_RAISE raise after they are recorded."""

import json
import os
import threading

OUT = os.environ["HOOKS_OUT"]
RAISE = set(filter(None, os.environ.get("HOOKS_RAISE", "").split(",")))


def record(event, worker, **details):
    details.update(event=event, pid=worker.pid, thread=threading.get_ident())
    with open(OUT, "a") as out:
        out.write(json.dumps(details, default=repr) + "\n")
    if event in RAISE:
        raise RuntimeError(f"{event} failed on purpose")


def post_worker_init(worker):
    worker.log.info("hooks_module: worker %s (age %s) is ready", worker.pid, worker.age)
    record("post_worker_init", worker, ppid=worker.ppid, age=worker.age, wsgi_app=worker.cfg.wsgi_app,
           app_uri=worker.app.app_uri, workers=worker.cfg.workers, timeout=worker.timeout,
           wsgi=getattr(worker.wsgi, "__name__", None), alive=worker.alive)


def pre_request(worker, req):
    req.seen_by_pre_request = True
    record("pre_request", worker, method=req.method, uri=req.uri, path=req.path, query=req.query,
           version=req.version, headers=req.headers, peer_addr=req.peer_addr,
           remote_addr=req.remote_addr, scheme=req.scheme)


def post_request(worker, req, environ, resp):
    record("post_request", worker, same_req=getattr(req, "seen_by_pre_request", False),
           path=req.path, app_thread=environ.get("hooks_app.thread"), path_info=environ["PATH_INFO"],
           status=resp.status, status_code=resp.status_code, headers=resp.headers, sent=resp.sent,
           response_length=resp.response_length)


def worker_int(worker):
    record("worker_int", worker, alive=worker.alive)


def worker_abort(worker):
    record("worker_abort", worker, aborted=worker.aborted)


def worker_exit(server, worker):
    record("worker_exit", worker, server_pid=server.pid)
