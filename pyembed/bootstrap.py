# Runs once in each worker's interpreter, before the application is imported (with --preload,
# once in the fork server's, which workers are forked from).
import ast
import importlib
import json
import linecache
import os
import re
import sys
import traceback


class RequestTimeout(BaseException):
    """Raised inside a request that ran past --timeout. It derives from BaseException so that an
    app's `except Exception` does not swallow it."""


def _thread_stack(thread_id):
    """The stack of a thread that is running a request, for the error log."""
    frame = sys._current_frames().get(thread_id)
    if frame is None:
        return "(the thread is not running Python code)\n"
    return "".join(traceback.format_stack(frame))


def _at_exit():
    """What the interpreter would do on a normal exit, short of finalizing: the app's atexit
    functions run, and output it buffered reaches its files."""
    import atexit
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def _setup(paths):
    """Put the app's directory and --pythonpath first on sys.path, as gunicorn does."""
    entries = [p for p in paths.split("\n") if p]
    for p in reversed(entries):
        if p in sys.path:
            sys.path.remove(p)
        sys.path.insert(0, p)


def _report_crashes():
    """Have a crash in C (a segfault in an extension) print the Python stack that led to it."""
    import faulthandler
    faulthandler.enable(all_threads=False)


def _preloaded():
    """The fork server of --preload has loaded the app and forks workers from now on. Output
    still buffered would be written once by each worker, and the cyclic collector of each
    worker would write to every object the app made (its GC header), copying the page it is
    on: gc.freeze leaves those objects out of collections, as Python's documentation advises
    before forking workers."""
    import gc
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    gc.freeze()


def _after_fork():
    """In a worker the fork server has just forked, before its Go runtime starts: put back
    the signal handlers faulthandler replaced, so that Go's runtime takes the signals as in any
    worker (the worker enables faulthandler again once Go runs), and give gevent's hub, if the
    app made one, a loop of its own, as gevent's own fork does."""
    import faulthandler
    faulthandler.disable()
    hub = sys.modules.get("gevent.hub")
    if hub is not None:
        hub.reinit()


def _missing_module(exc, module):
    """A ModuleNotFoundError is about the app's module only when it names the module or a parent
    package of it; one raised by an import inside the module is an import error of the app."""
    name = getattr(exc, "name", None)
    return name is not None and (module == name or module.startswith(name + "."))


def _factory_args(spec_args):
    call = ast.parse("f(" + spec_args + ")", mode="eval").body
    args = [ast.literal_eval(a) for a in call.args]
    kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    return args, kwargs


def _load_app(module, attr, call, spec_args):
    """Returns (app, None, None) or (None, kind, message with traceback). With --paste the
    PasteDeploy file names the app, and module and the rest are not used."""
    if _settings["paste"]:
        app, kind, message = _load_paste(_settings["paste"], _settings["paste_global"])
    else:
        app, kind, message = _import_app(module, attr, call, spec_args)
    if app is not None and _settings["spew"]:
        app = _spewing(app)
    return app, kind, message


def _import_app(module, attr, call, spec_args):
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if _missing_module(exc, module):
            return None, "module not found", "%s\n%s" % (exc, _failure_text())
        return None, "import raised", _failure_text()
    except BaseException:
        return None, "import raised", _failure_text()
    try:
        obj = getattr(mod, attr)
    except AttributeError:
        return None, "attribute missing", "module %r has no attribute %r" % (module, attr)
    if call:
        try:
            args, kwargs = _factory_args(spec_args)
        except (SyntaxError, ValueError) as exc:
            return None, "factory failed", "arguments (%s) are not literals: %s" % (spec_args, exc)
        if not callable(obj):
            return None, "not callable", "%s:%s is %r, not a factory" % (module, attr, type(obj).__name__)
        try:
            obj = obj(*args, **kwargs)
        except BaseException:
            return None, "factory failed", _failure_text()
    if not callable(obj):
        return None, "not callable", "%s:%s is %r, not a WSGI callable" % (module, attr, type(obj).__name__)
    return obj, None, None


# The files a failed load went through, which --reload watches besides the imported modules: a
# module that raised while importing is no longer in sys.modules.
_failed_load_files = set()


def _failure_text():
    """The traceback of the exception being handled, whose files are noted for --reload."""
    _failed_load_files.update(_files_of(sys.exc_info()[1]))
    return traceback.format_exc()


def _files_of(exc):
    """The source files in the traceback, the file of a syntax error, and for a module not found
    the places in the app's directory where creating it would bring the app back."""
    files = []
    tb = exc.__traceback__
    while tb is not None:
        files.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    if isinstance(exc, SyntaxError) and exc.filename:
        files.append(exc.filename)
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        base = os.path.join(sys.path[0], *exc.name.split("."))
        files += [base + ".py", os.path.join(base, "__init__.py")]
    return [os.path.abspath(f) for f in files if not f.startswith("<")]


def _module_files():
    """What --reload watches, one path a line: the file of every module imported so far (apps
    import lazily, so this is asked again and again) and those a failed load went through."""
    files = set(_failed_load_files)
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str):
            files.add(os.path.abspath(path))
    return "\n".join(sorted(files))


def _failure_app(text):
    """The app of a worker under --reload whose app failed to load: every request gets 500 and
    the reason, until a watched file changes and a fresh worker loads the app again."""
    body = text.encode("utf-8", "replace")
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]

    def failed_app(environ, start_response):
        start_response("500 Internal Server Error", headers)
        return [body]

    return failed_app


# The worker's settings for Python, given by _prepare before the hooks and the app are imported.
_settings = {"logging": {}, "spew": False, "paste": "", "paste_global": []}


def _prepare(text):
    """Takes the worker's settings for Python (JSON, see wsgi/load.go), configures the logging
    module from them and starts --spew's trace; _load_app reads the rest. Returns lines for the
    error log, or raises when the logging configuration fails."""
    _settings.update(json.loads(text))
    notes = _configure_logging(_settings["logging"], _settings["paste"].split("#")[0])
    if _settings["spew"]:
        import threading  # not before: under gevent, threading must be imported once patched
        sys.settrace(_spew)
        threading.settrace(_spew)
    return "\n".join(notes)


# gunicorn's defaults, into which it merges a logconfig_dict or a --log-config-json file (a
# shallow update): configs written for gunicorn may use its "console" handler or "generic"
# formatter without defining them, and expect the root logger to print INFO to stdout.
_LOGGING_DEFAULTS = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "INFO", "handlers": ["console"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": True,
                           "qualname": "gunicorn.error"},
        "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": True,
                            "qualname": "gunicorn.access"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "generic", "stream": "ext://sys.stdout"},
        "error_console": {"class": "logging.StreamHandler", "formatter": "generic",
                          "stream": "ext://sys.stderr"},
    },
    "formatters": {
        "generic": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
                    "datefmt": "[%Y-%m-%d %H:%M:%S %z]", "class": "logging.Formatter"},
    },
}

# gunicorn's own loggers. gowsgi writes its error and access logs in Go, so a configuration of
# these loggers reaches only Python code that logs to them.
_SERVER_LOGGERS = ("gunicorn.error", "gunicorn.access")


def _configure_logging(options, paste_file):
    """Configures logging as gunicorn does, from the first given of logconfig_dict (JSON text),
    --log-config-json and --log-config; a --paste file with a [loggers] section counts as a
    --log-config that was not given. Returns notes for the error log."""
    import configparser
    import logging.config
    source = options.get("file") or (paste_file if _has_loggers(paste_file) else "")
    try:
        if options.get("dict"):
            source = "logconfig_dict"
            named = _dict_config(json.loads(options["dict"]))
        elif options.get("json_file"):
            source = options["json_file"]
            with open(source) as f:
                named = _dict_config(json.load(f))
        elif source:
            parser = configparser.RawConfigParser()
            if not parser.read(source):
                raise FileNotFoundError("no such file")
            if not parser.has_section("loggers"):
                raise ValueError("no [loggers] section: not a logging.config.fileConfig file")
            logging.config.fileConfig(source, defaults={"__file__": source, "here": os.path.dirname(source)},
                                      disable_existing_loggers=False)
            named = [parser.get("logger_" + key.strip(), "qualname", fallback=key.strip())
                     for key in parser.get("loggers", "keys", fallback="").split(",")]
        else:
            return []
    except Exception as exc:
        raise RuntimeError("Can't configure Python logging from %s: %s: %s"
                           % (source, type(exc).__name__, exc)) from exc
    named = [name for name in _SERVER_LOGGERS if name in named]
    if not named:
        return []
    return ["The logging configuration of %s sets up the Python loggers %s: gowsgi writes its own error "
            "and access logs in Go, so only the app's logging to them follows it" % (source, ", ".join(named))]


def _has_loggers(paste_file):
    """Whether the --paste file has a [loggers] section; a file that cannot be read has none,
    and PasteDeploy says what is wrong with it."""
    import configparser
    parser = configparser.RawConfigParser()
    try:
        return bool(paste_file and parser.read(paste_file)) and parser.has_section("loggers")
    except configparser.Error:
        return False


def _dict_config(user):
    """dictConfig with gunicorn's defaults under the user's config; returns the loggers the
    user's config names."""
    import copy
    import logging.config
    if not isinstance(user, dict):
        raise TypeError("expected a mapping, not %s" % type(user).__name__)
    config = copy.deepcopy(_LOGGING_DEFAULTS)
    config.update(user)
    logging.config.dictConfig(config)
    return list(user.get("loggers") or ())


def _spew(frame, event, arg):
    """--spew's trace function: prints every line of Python run, as gunicorn's does
    ("module:line: source"). gowsgi's own Python, which runs from strings, is left out."""
    code = frame.f_code
    if code.co_filename == "<string>":
        return None
    if event == "line":
        line = linecache.getline(code.co_filename, frame.f_lineno).rstrip()
        if not line:
            line = "Unknown code named [%s].  VM instruction #%d" % (code.co_name, frame.f_lasti)
        print("%s:%s: %s" % (frame.f_globals.get("__name__", "[unknown]"), frame.f_lineno, line))
    return _spew


def _spewing(app):
    """The app, run under --spew's trace on whichever thread calls it: requests run on threads
    that Python's threading module did not start, which threading.settrace does not reach."""
    def spewing_app(environ, start_response):
        if sys.gettrace() is not _spew:
            sys.settrace(_spew)
        return app(environ, start_response)
    return spewing_app


def _load_paste(uri, global_pairs):
    """Loads the app from a PasteDeploy file ("PATH[#SECTION]"), as gunicorn's --paste does,
    with --paste-global's KEY=VALUE pairs (a "\\=" is a = of the key or value) as global_conf."""
    try:
        from paste.deploy import loadapp
    except ImportError as exc:
        return None, "module not found", ("--paste needs PasteDeploy, which this Python cannot import (%s): "
                                          "install python3-pastedeploy, or pip install PasteDeploy" % exc)
    global_conf = {}
    for pair in global_pairs or ():
        parts = re.split(r"(?<!\\)=", pair, maxsplit=1)
        if len(parts) != 2:
            return None, "paste failed", "--paste-global %r: expected KEY=VALUE" % pair
        global_conf[parts[0].replace("\\=", "=")] = parts[1].replace("\\=", "=")
    try:
        app = loadapp("config:" + uri, relative_to=os.getcwd(), global_conf=global_conf)
    except BaseException:
        return None, "paste failed", _failure_text()
    if not callable(app):
        return None, "not callable", "%s made %r, not a WSGI callable" % (uri, type(app).__name__)
    return app, None, None
