"""A virtualenv made from the embedded Python, with --system-site-packages and one module of its
own, is used with --virtualenv and with VIRTUAL_ENV."""

import os
import subprocess
from pathlib import Path

import pytest
import requests

from support import PYTHON, free_port, run_gowsgi

MARKER = "only in the test virtualenv"


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    path = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([PYTHON, "-m", "venv", "--system-site-packages", "--without-pip", str(path)],
                   check=True, timeout=120)
    purelib = subprocess.run([str(path / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "venv_only_module.py").write_text(f"MARKER = {MARKER!r}\n")
    return path


def check_served_from(server, venv):
    info = requests.get(server.url + "/", timeout=15).json()
    assert info["marker"] == MARKER
    assert os.path.realpath(info["module_file"]).startswith(os.path.realpath(venv) + os.sep)
    assert os.path.realpath(info["prefix"]) == os.path.realpath(venv)
    assert not info["flask_file"].startswith(str(venv))


def test_virtualenv_flag(gowsgi, venv):
    server = gowsgi("venv_app:app", "--virtualenv", str(venv))
    check_served_from(server, venv)


def test_virtual_env_variable(gowsgi, venv):
    server = gowsgi("venv_app:app", env={"VIRTUAL_ENV": str(venv)})
    check_served_from(server, venv)


def test_without_the_virtualenv_the_module_is_missing(venv):
    result = run_gowsgi("-b", f"127.0.0.1:{free_port()}", "venv_app:app", timeout=30)
    assert result.returncode == 4
    assert 'Failed to load application "venv_app:app": import raised' in result.stderr
    assert "venv_only_module" in result.stderr
