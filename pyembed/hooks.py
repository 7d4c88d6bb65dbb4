# Runs in a worker's interpreter when --hooks names a module or a Python config file defines
# hooks, before the app is imported, and in the master's hook process: it loads them and calls
# the hook functions with objects shaped like gunicorn's, so that hooks written for gunicorn
# keep working.
import importlib
import importlib.machinery
import importlib.util
import inspect
import json
import os
import sys
import traceback
import types

# The C function (level, utf-8 bytes) that writes a line to gowsgi's error log; set before _load.
_log_write = None

HOOK_NAMES = ("post_fork", "post_worker_init", "pre_request", "post_request", "worker_int",
              "worker_abort", "worker_exit")
MASTER_HOOK_NAMES = ("on_starting", "on_reload", "when_ready", "pre_fork", "pre_exec",
                     "child_exit", "nworkers_changed", "on_exit")

_LEVELS = ((50, "critical"), (40, "error"), (30, "warning"), (20, "info"), (0, "debug"))


def _write(level, text):
    _log_write(level, str(text).encode("utf-8", "backslashreplace"))


class Log:
    """worker.log: the methods of gunicorn's logger, writing to gowsgi's error log."""

    def _emit(self, level, msg, args, exc_info=None):
        # As the logging module: one mapping argument fills %(name)s, and a message that does
        # not format is reported rather than raised into the hook.
        if len(args) == 1 and isinstance(args[0], dict) and args[0]:
            args = args[0]
        try:
            text = str(msg) % args if args else str(msg)
        except (TypeError, ValueError, KeyError) as exc:
            text = "--- Logging error: %s ---\nMessage: %r\nArguments: %r" % (exc, msg, args)
        if exc_info:
            if isinstance(exc_info, BaseException):
                exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
            if not isinstance(exc_info, tuple):
                exc_info = None
            text += "\n" + "".join(traceback.format_exception(*exc_info) if exc_info
                                    else traceback.format_exc())
        _write(level, text)

    def debug(self, msg, *args, exc_info=None, **_):
        self._emit("debug", msg, args, exc_info)

    def info(self, msg, *args, exc_info=None, **_):
        self._emit("info", msg, args, exc_info)

    def warning(self, msg, *args, exc_info=None, **_):
        self._emit("warning", msg, args, exc_info)

    warn = warning

    def error(self, msg, *args, exc_info=None, **_):
        self._emit("error", msg, args, exc_info)

    def critical(self, msg, *args, exc_info=None, **_):
        self._emit("critical", msg, args, exc_info)

    def exception(self, msg, *args, exc_info=True, **_):
        self._emit("error", msg, args, exc_info)

    def log(self, lvl, msg, *args, exc_info=None, **_):
        if isinstance(lvl, str):
            level = lvl.lower()
        else:
            level = next(name for floor, name in _LEVELS if lvl >= floor)
        self._emit(level, msg, args, exc_info)


class Worker:
    """What gunicorn's worker object carries that hooks use."""

    def __init__(self, info):
        self.age = info["age"]
        self.pid = os.getpid()
        self.ppid = os.getppid()
        self.cfg = types.SimpleNamespace(**info["cfg"])
        self.app = types.SimpleNamespace(app_uri=self.cfg.wsgi_app, cfg=self.cfg)
        self.timeout = self.cfg.timeout
        self.max_requests = self.cfg.max_requests
        self.log = Log()
        self.wsgi = None
        self.booted = False
        self.aborted = False
        self.alive = True

    def __repr__(self):
        return "<gowsgi Worker %d>" % self.pid


class Server:
    """The master as post_fork and worker_exit see it in a worker: gunicorn passes its arbiter
    there, whose other workers a worker does not know."""

    def __init__(self, worker):
        self.pid = worker.ppid
        self.cfg = worker.cfg
        self.app = worker.app
        self.log = worker.log
        self.num_workers = worker.cfg.workers
        self.timeout = worker.cfg.timeout
        self.address = self.LISTENERS = worker.cfg.bind
        self.WORKERS = {}


def _address(host, port):
    return (host, int(port)) if port else host


class Request:
    """The request as gunicorn's pre_request and post_request see it; headers are (NAME, value)
    pairs in the order received, names upper-cased."""

    def __init__(self, fields):
        (self.method, self.uri, self.path, self.query, proto, host, port,
         self.scheme) = fields[:8]
        self.headers = list(zip(fields[8::2], fields[9::2]))
        self.version = (int(proto[5]), int(proto[7])) if proto[:5] == "HTTP/" and len(proto) == 8 else proto
        self.fragment = ""
        self.peer_addr = self.remote_addr = _address(host, port)

    def __repr__(self):
        return "<gowsgi Request %s %s>" % (self.method, self.uri)


class Response:
    """What went back to the client: status ("200 OK"), status_code, headers as given, body
    bytes sent, and the Content-Length the app declared (None without one)."""

    def __init__(self, fields):
        sent, status = fields[:2]
        self.headers = list(zip(fields[2::2], fields[3::2]))
        self.status = status or None
        self.status_code = int(status[:3]) if status else None
        self.sent = int(sent)
        self.response_length = None
        for name, value in self.headers:
            if name.lower() == "content-length" and value.isdigit():
                self.response_length = int(value)

    def __repr__(self):
        return "<gowsgi Response %s>" % self.status


_functions = {}
_worker = None
_arities = {}


def _arity(fn):
    """How many positional arguments fn takes; None for any number."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return None
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def _import(source):
    """A hooks module by name, a Python config file (file:PATH) run as gunicorn runs it, or a
    config module (python:NAME)."""
    if source.startswith("python:"):
        return importlib.import_module(source[len("python:"):])
    if not source.startswith("file:"):
        return importlib.import_module(source)
    path = source[len("file:"):]
    loader = importlib.machinery.SourceFileLoader("__config__", path)
    module = importlib.util.module_from_spec(importlib.util.spec_from_file_location("__config__", path, loader=loader))
    sys.modules["__config__"] = module
    loader.exec_module(module)
    return module


def _import_string(text):
    """The function a hook given as an import string ("mypkg.hooks.on_starting") names, as
    gunicorn takes it; None when it names none (the config reader has said so already)."""
    module, _, attr = text.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr, None) if module else None
    except ImportError:
        return None


def _take(sources, names, into=_functions):
    """Imports each source (one a line) and keeps its functions of names in into, a later
    source's replacing an earlier's; returns None or (kind, message with traceback)."""
    for source in sources.split("\n"):
        try:
            mod = _import(source)
        except ModuleNotFoundError as exc:
            name = getattr(exc, "name", None)
            if name is not None and (source == name or source.startswith(name + ".")):
                return "module not found", "%s\n%s" % (exc, traceback.format_exc())
            return "import raised", traceback.format_exc()
        except BaseException:
            return "import raised", traceback.format_exc()
        for name in names:
            fn = getattr(mod, name, None)
            if isinstance(fn, str):
                fn = _import_string(fn)
            if fn is None:
                continue
            if not callable(fn):
                return "not callable", "%s.%s is %r, not a function" % (source, name, type(fn).__name__)
            into[name] = fn
            _arities[name] = _arity(fn)
    return None


def _load(sources, info):
    """Loads the worker's hooks; returns (names of the hooks defined, None, None) or (None,
    kind, message with traceback)."""
    failure = _take(sources, HOOK_NAMES)
    if failure:
        return (None,) + failure
    return _bind(info)


def _bind(info):
    """Gives the hooks the worker object they run with: again in each worker the fork server of
    --preload forks, as it imported the hooks once for all of them."""
    global _worker
    _worker = Worker(json.loads(info))
    return "\n".join(_functions), None, None


def _call(name, *args):
    try:
        _functions[name](*args)
    except BaseException as exc:
        # The traceback starts in the hook: this wrapper is no part of the user's code.
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__.tb_next))
        _write("error", "Exception in %s hook\n%s" % (name, text))


def _set_app(app):
    _worker.wsgi = app


def _event(name):
    """Runs one of the worker's own events, if the module defines it."""
    if name in ("worker_int", "worker_abort", "worker_exit"):
        _worker.alive = False
    if name == "worker_abort":
        _worker.aborted = True
    if name not in _functions:
        return
    if name == "post_fork" or name == "worker_exit" and (_arities[name] is None or _arities[name] >= 2):
        _call(name, Server(_worker), _worker)
    else:
        _call(name, _worker)
    if name == "post_worker_init":
        _worker.booted = True


def _pre_request(fields):
    req = Request(fields)
    if "pre_request" in _functions:
        _call("pre_request", _worker, req)
    return req


def _post_request(req, environ, fields):
    if "post_request" not in _functions:
        return
    arity = _arities["post_request"]
    args = (_worker, req, environ, Response(fields))
    _call("post_request", *(args if arity is None else args[:max(arity, 2)]))


class MasterServer:
    """The arbiter as the master's hooks see it: its pid, settings and log, the number of workers
    wanted, and WORKERS, the live workers by pid. There is one for the life of the process,
    brought up to date at each event, so that a thread a hook started sees the workers change."""

    def __init__(self):
        self.pid = os.getppid()
        self.log = Log()
        self.WORKERS = {}
        self._configure()

    def _configure(self):
        """Takes the settings, as loaded first or again on HUP."""
        self.cfg = _cfg
        self.app = types.SimpleNamespace(app_uri=self.cfg.wsgi_app, cfg=self.cfg)
        self.timeout = self.cfg.timeout
        self.graceful_timeout = self.cfg.graceful_timeout

    def _update(self, state):
        self.num_workers = state["num_workers"]
        self.address = self.LISTENERS = state["binds"]
        workers = {w["pid"]: _master_worker(w) for w in state["workers"]}
        for pid in set(self.WORKERS) - set(workers):
            del self.WORKERS[pid]
        self.WORKERS.update(workers)

    def kill_worker(self, pid, sig):
        """Signals a worker, as gunicorn's arbiter does; one already gone is no error."""
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    def __repr__(self):
        return "<gowsgi Arbiter %d>" % self.pid


def _master_worker(info):
    """A worker as the master sees it: gunicorn's pre_fork sees one not started yet, whose pid
    is None, and child_exit one that has ended."""
    worker = types.SimpleNamespace(pid=info.get("pid") or "[booting]", age=info["age"], ppid=os.getppid(),
                                   cfg=_cfg, log=Log(), alive=info.get("alive", True),
                                   booted=info.get("booted", False), aborted=False,
                                   exitcode=info.get("exitcode"))
    worker.tmp = None
    return worker


_cfg = None
_server = None


def _environ_changes(before):
    """The variables set or changed since before, for the master, whose workers inherit its
    environment as gunicorn's inherit what its master's hooks set."""
    return {k: v for k, v in os.environ.items() if before.get(k) != v}


def _master_load(request):
    """Loads the master's hooks from {"sources", "cfg"}, and on HUP loads them again in place,
    as gunicorn's master reads its config file again: what a hook started keeps running.
    Returns {"defined", "env"} as JSON, or raises, keeping the hooks it had."""
    global _cfg
    request = json.loads(request)
    before = dict(os.environ)
    cfg = types.SimpleNamespace(**request["cfg"])
    _cfg, previous = cfg, _cfg
    functions = {}
    failure = _take(request["sources"], MASTER_HOOK_NAMES, functions)
    if failure:
        _cfg = previous
        raise RuntimeError("%s: %s" % failure)
    for name in MASTER_HOOK_NAMES:
        _functions.pop(name, None)
    _functions.update(functions)
    if _server is not None:
        _server._configure()
    return json.dumps({"defined": [name for name in MASTER_HOOK_NAMES if name in _functions],
                       "env": _environ_changes(before)})


def _master_call(message):
    """Calls one master hook as gunicorn's arbiter calls it, after taking the master's state;
    an event without a hook only brings the state up to date. What a hook raises is logged."""
    event = json.loads(message)
    name = event["hook"]
    global _server
    if _server is None:
        _server = MasterServer()
    server = _server
    server._update(event["server"])
    if name not in _functions:
        return "{}"
    worker = _master_worker(event["worker"]) if event.get("worker") else None
    before = dict(os.environ)
    if name in ("pre_fork", "child_exit"):
        _call(name, server, worker)
    elif name == "nworkers_changed":
        _call(name, server, event["new"], event["old"])
    else:
        _call(name, server)
    return json.dumps({"env": _environ_changes(before)})
