# Runs a gunicorn-style Python config file in a reader process and describes its top-level
# names as JSON, for Go to take those that are settings: the master has no Python of its own.
import ast
import importlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import traceback
import types


def _bound_names(statements, lines):
    """Records, for each name a statement binds at the top level of the file, the line of the
    last such statement; blocks (if, try, with, for) count, as their names are top-level too."""
    for node in statements:
        names = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [(alias.asname or alias.name).split(".")[0] for alias in node.names]
        elif isinstance(node, ast.Assign):
            names = [n.id for target in node.targets for n in ast.walk(target) if isinstance(n, ast.Name)]
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            names = [n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)]
        for name in names:
            lines[name] = node.lineno
        for block in ("body", "orelse", "finalbody", "handlers"):
            inner = getattr(node, block, None)
            if isinstance(inner, list) and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                _bound_names(inner, lines)


def _lines(path):
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, ValueError):
        return {}
    lines = {}
    _bound_names(tree.body, lines)
    return lines


def _load(source):
    """Runs the file as gunicorn does: a file as the module __config__, python:NAME imported."""
    if source.startswith("python:"):
        return importlib.import_module(source[len("python:"):])
    path = source[len("file:"):]
    loader = importlib.machinery.SourceFileLoader("__config__", path)
    spec = importlib.util.spec_from_file_location("__config__", path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["__config__"] = module
    loader.exec_module(module)
    return module


def _import_string(text):
    """The object an import string such as "mypkg.hooks.on_starting" names, as gunicorn takes a
    hook given as text, or None when it names none."""
    module, _, attr = text.rpartition(".")
    if not module:
        return None
    try:
        return getattr(importlib.import_module(module), attr, None)
    except ImportError:
        return None


def _arity(fn):
    """How many positional parameters fn has, defaults included, as gunicorn counts them for
    its hooks; -1 when it cannot be told or takes *args, which any call suits."""
    import inspect
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return -1
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return -1
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def _describe(name, value, line, hooks):
    entry = {"name": name, "line": line}
    if name in hooks and isinstance(value, str):
        value = _import_string(value) or value
    try:
        entry["value"] = json.loads(json.dumps(value))
        entry["kind"] = "value"
    except (TypeError, ValueError):
        entry["kind"] = "function" if callable(value) else "other"
        entry["type"] = type(value).__name__
        if callable(value):
            entry["arity"] = _arity(value)
    return entry


def _failure(path):
    """The error as one line, at the innermost line of the config file the traceback passes."""
    kind, exc, tb = sys.exc_info()
    line = 0
    if isinstance(exc, SyntaxError) and exc.filename == path:
        line = exc.lineno or 0
    for frame in traceback.extract_tb(tb):
        if frame.filename == path:
            line = frame.lineno
    message = "".join(traceback.format_exception_only(kind, exc)).strip().splitlines()[-1]
    return {"error": message, "line": line}


def _read(request):
    """Runs the file of {"source", "hooks"} (hooks: the names that are gunicorn's hooks) and
    describes its names."""
    request = json.loads(request)
    source, hooks = request["source"], set(request["hooks"])
    path = source[len("file:"):] if source.startswith("file:") else None
    environ = dict(os.environ)
    try:
        module = _load(source)
    except BaseException:
        return json.dumps(_failure(path))
    # What the file put in the environment reaches the workers, as it does in gunicorn, whose
    # workers fork from the process that ran the file.
    environ = {k: v for k, v in os.environ.items() if environ.get(k) != v}
    path = getattr(module, "__file__", None) or path
    lines = _lines(path) if path else {}
    names = [_describe(name, value, lines.get(name, 0), hooks) for name, value in vars(module).items()
             if not name.startswith("__") and not isinstance(value, types.ModuleType)]
    return json.dumps({"names": names, "environ": environ})
