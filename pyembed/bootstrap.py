# Runs once in each worker's interpreter, before the application is imported.
import ast
import importlib
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
            return None, "module not found", "%s\n%s" % (exc, traceback.format_exc())
        return None, "import raised", traceback.format_exc()
    except BaseException:
        return None, "import raised", traceback.format_exc()
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
            return None, "factory failed", traceback.format_exc()
    if not callable(obj):
        return None, "not callable", "%s:%s is %r, not a WSGI callable" % (module, attr, type(obj).__name__)
    return obj, None, None
