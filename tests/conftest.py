"""Fixtures that start the real bin/gowsgi (see support.py) for the integration suite.

Run with `make test`, or after `make build` with `/usr/bin/python3 -m pytest tests`.
"""

import shutil
import subprocess

import pytest

from support import PYTHON, RUNNING, ServerFactory, missing_modules, require_binary

LOG_TAIL = 6000


def pytest_configure(config):
    config.addinivalue_line("markers", "needs(*modules): the test's app imports these modules, which the "
                                       "embedded Python may lack; the test skips there")


def pytest_sessionstart(session):
    try:
        require_binary()
    except AssertionError as missing:
        raise pytest.UsageError(str(missing)) from None


def needed_modules(item):
    """What a test's app imports beyond the standard library: its needs marks, and gevent when
    its worker_class parameter is the gevent worker class (a conftest fixture's id, or -k's
    arguments)."""
    needed = [name for mark in item.iter_markers("needs") for name in mark.args]
    callspec = getattr(item, "callspec", None)
    worker_class = callspec.params.get("worker_class") if callspec else None
    if worker_class == "gevent" or isinstance(worker_class, (list, tuple)) and "gevent" in worker_class:
        needed.append("gevent")
    return tuple(needed)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Skips, before its fixtures start a server, a test whose app needs a module that the
    embedded Python cannot import."""
    missing = missing_modules(needed_modules(item))
    if missing:
        pytest.skip(f"the embedded Python ({PYTHON}) cannot import {', '.join(missing)}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Adds the error log of every running server to a failed test's report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for server in RUNNING:
            report.sections.append((f"gowsgi {' '.join(server.args)}", server.describe()[-LOG_TAIL:]))


@pytest.fixture
def gowsgi(tmp_path):
    """Starts a server for one test: gowsgi(APP, *ARGS, cwd=..., env=...) -> Server."""
    factory = ServerFactory(tmp_path)
    yield factory
    factory.stop_all()


# How the lifecycle tests' servers start workers: each by executing gowsgi, or forked from the
# fork server of --preload, which imported the app once.
SPAWN_MODES = {"exec": (), "preload": ("--preload",)}


@pytest.fixture(params=sorted(SPAWN_MODES))
def either_gowsgi(request, tmp_path):
    """Like gowsgi, run once for each way of starting workers (SPAWN_MODES); a module makes it
    its gowsgi to run all its tests both ways."""
    factory = ServerFactory(tmp_path, SPAWN_MODES[request.param])
    yield factory
    factory.stop_all()


@pytest.fixture(scope="module")
def module_gowsgi(tmp_path_factory):
    """Like gowsgi, for servers shared by the tests of one module."""
    factory = ServerFactory(tmp_path_factory.mktemp("gowsgi"))
    yield factory
    factory.stop_all()


# The worker classes the core WSGI tests run under; their ids let `-k gevent` pick one.
CORE_WORKER_CLASSES = {"sync": ("-k", "sync"), "gevent": ("-k", "gevent")}


@pytest.fixture(scope="module", params=sorted(CORE_WORKER_CLASSES))
def worker_class(request):
    """The -k arguments of a core WSGI test's server: every such test runs once per class."""
    return CORE_WORKER_CLASSES[request.param]


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    """The switches that serve HTTP/2 (and HTTP/1.1) over TLS with a self-signed certificate,
    for the tests whose raw clients do not check it."""
    if not shutil.which("openssl"):
        raise AssertionError("openssl is needed to make the test certificate: install it (apt-get install openssl)")
    d = tmp_path_factory.mktemp("cert")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem",
                    "-out", "cert.pem", "-days", "2", "-subj", "/CN=127.0.0.1"],
                   cwd=d, check=True, capture_output=True, timeout=60)
    return ["--certfile", d / "cert.pem", "--keyfile", d / "key.pem", "--http-protocols", "h2,h1"]
