"""The command line: help, version, errors, binds, PORT, WEB_CONCURRENCY, --chdir, --pythonpath
and the exit code and log of every kind of app load failure."""

import os
import re
import subprocess

import pytest
import requests

from support import APPS, PYTHON, free_port, port_accepts, run_gowsgi


def get_text(url):
    response = requests.get(url, timeout=15)
    assert response.status_code == 200
    return response.text


def test_help_lists_the_options():
    result = run_gowsgi("--help", timeout=10)
    assert result.returncode == 0
    for option in ("--bind", "--workers", "--worker-class", "--threads", "--chdir", "--pythonpath",
                   "--virtualenv", "--limit-request-line", "--limit-request-fields",
                   "--limit-request-field_size", "--no-sendfile", "--version"):
        assert option in result.stdout, option
    assert run_gowsgi("-h", timeout=10).stdout == result.stdout


@pytest.mark.parametrize("flag", ["-v", "--version"])
def test_version_names_gowsgi_and_the_embedded_python(flag):
    result = run_gowsgi(flag, timeout=10)
    assert result.returncode == 0
    python_version = subprocess.run([PYTHON, "-c", "import platform; print(platform.python_version())"],
                                    capture_output=True, text=True, check=True).stdout.strip()
    assert "gowsgi" in result.stdout.lower()
    assert python_version in result.stdout
    paths = re.findall(r"(/[\w./+-]*python[\w./+-]*)", result.stdout, re.I)
    assert any(os.path.exists(p) for p in paths), f"no existing Python path in {result.stdout!r}"


BAD_INVOCATIONS = {
    "unknown flag": ["--no-such-flag", "echo_app:app"],
    "workers not a number": ["-w", "many", "echo_app:app"],
    "threads not a number": ["--threads", "x", "echo_app:app"],
    "unknown worker class": ["-k", "nonsense", "echo_app:app"],
    "limit not a number": ["--limit-request-line", "abc", "echo_app:app"],
    "flag without its value": ["echo_app:app", "-b"],
    "no app": [],
    "options but no app": ["-w", "2"],
}


@pytest.mark.parametrize("name", BAD_INVOCATIONS)
def test_bad_command_line_exits_2_with_one_line(name):
    result = run_gowsgi(*BAD_INVOCATIONS[name], timeout=10)
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gowsgi: error:"), result.stderr


def test_port_environment_variable_binds_all_interfaces(gowsgi):
    port = free_port()
    server = gowsgi("spec_app:app", bind=False, port=port, env={"PORT": str(port)})
    assert get_text(server.url) == "module:app"
    server.wait_log(f"Listening at: http://0.0.0.0:{port} ")


def test_default_bind_is_localhost_8000(gowsgi):
    if port_accepts("127.0.0.1", 8000):
        pytest.skip("something else listens on 127.0.0.1:8000")
    server = gowsgi("spec_app:app", bind=False, port=8000)
    assert get_text(server.url) == "module:app"
    server.wait_log("Listening at: http://127.0.0.1:8000 ")


def test_several_binds_including_ipv6(gowsgi):
    v6_port = free_port("::1")
    server = gowsgi("spec_app:app", "-b", f"[::1]:{v6_port}")
    assert get_text(server.url) == "module:app"
    assert get_text(f"http://[::1]:{v6_port}/") == "module:app"


def test_web_concurrency_sets_the_worker_count(gowsgi):
    server = gowsgi("spec_app:app", env={"WEB_CONCURRENCY": "3"})
    assert len(server.wait_workers(3)) == 3


def test_workers_flag_beats_web_concurrency(gowsgi):
    server = gowsgi("spec_app:app", "-w", "2", env={"WEB_CONCURRENCY": "3"})
    assert len(server.wait_workers(2)) == 2


def test_chdir_loads_the_app_from_that_directory(gowsgi, tmp_path):
    server = gowsgi("spec_app:app", "--chdir", str(APPS), cwd=tmp_path)
    assert get_text(server.url) == "module:app"


def test_pythonpath_adds_directories(gowsgi, tmp_path):
    dirs = f"{APPS / 'pythonpath' / 'first'},{APPS / 'pythonpath' / 'second'}"
    server = gowsgi("pp_app:app", "--pythonpath", dirs, cwd=tmp_path)
    assert get_text(server.url) == "found through --pythonpath"


def test_without_pythonpath_the_same_app_is_not_found(tmp_path):
    result = run_gowsgi("-b", f"127.0.0.1:{free_port()}", "pp_app:app", cwd=tmp_path)
    assert result.returncode == 4
    assert 'Failed to load application "pp_app:app": module not found' in result.stderr


LOAD_FAILURES = [
    # spec, kind, text the log must show, whether Python has a traceback to show
    ("no_such_module_c0de:app", "module not found", "no_such_module_c0de", True),
    ("broken_import:app", "import raised", "broken at import time 51c2", True),
    ("missing_dependency:app", "import raised", "no_such_dependency_9e0b", True),
    ("spec_app:no_such_attr", "attribute missing", "no_such_attr", False),
    ("echo_app", "attribute missing", "application", False),
    ("spec_app:not_callable", "not callable", "not_callable", False),
    ("spec_app:broken_factory()", "factory failed", "factory exploded 77aa", True),
]


@pytest.mark.parametrize("spec,kind,detail,traceback", LOAD_FAILURES, ids=[f[0] for f in LOAD_FAILURES])
def test_app_load_failure_exits_4_once(spec, kind, detail, traceback):
    result = run_gowsgi("-b", f"127.0.0.1:{free_port()}", "-w", "2", spec, timeout=30)
    log = result.stderr
    assert result.returncode == 4, log
    line = next((l for l in log.splitlines() if f'Failed to load application "{spec}": {kind}: ' in l), None)
    assert line, log
    assert detail in log
    if traceback:
        assert "Traceback (most recent call last)" in log
    assert len(re.findall(r"Booting worker with pid", log)) <= 2, "the master respawned failing workers"
