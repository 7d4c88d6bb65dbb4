# Runs once in each worker's interpreter, before the application is imported.
import ast
import importlib
import os
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
    """Put the app's directory and --pythonpath first on sys.path, as gunicorn does, and have a
    crash in C (a segfault in an extension) print the Python stack that led to it."""
    import faulthandler
    faulthandler.enable(all_threads=False)
    entries = [p for p in paths.split("\n") if p]
    for p in reversed(entries):
        if p in sys.path:
            sys.path.remove(p)
        sys.path.insert(0, p)


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
    """Returns (app, None, None) or (None, kind, message with traceback)."""
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
