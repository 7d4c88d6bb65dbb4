"""A virtualenv made from the embedded Python, with --system-site-packages and one module of its
own, is used with --virtualenv, with VIRTUAL_ENV, and by a gowsgi installed in its bin directory;
a virtualenv of another Python version is refused."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from support import GOWSGI, PYTHON, PYTHON_VERSION, free_port, run_gowsgi

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


@pytest.fixture(scope="module")
def base_site_packages():
    """The embedded Python's own site-packages directories, which --system-site-packages keeps."""
    found = subprocess.run([PYTHON, "-c", "import json, os, site; "
                            "print(json.dumps([p for p in site.getsitepackages() if os.path.isdir(p)]))"],
                           check=True, capture_output=True, text=True).stdout
    directories = json.loads(found)
    assert directories, f"{PYTHON} has no site-packages directory"
    return directories


def check_served_from(server, venv, base_site_packages):
    info = requests.get(server.url + "/", timeout=15).json()
    assert info["marker"] == MARKER
    assert os.path.realpath(info["module_file"]).startswith(os.path.realpath(venv) + os.sep)
    assert os.path.realpath(info["prefix"]) == os.path.realpath(venv)
    assert [p for p in base_site_packages if p not in info["path"]] == []


def test_virtualenv_flag(gowsgi, venv, base_site_packages):
    server = gowsgi("venv_app:app", "--virtualenv", str(venv))
    check_served_from(server, venv, base_site_packages)


def test_virtual_env_variable(gowsgi, venv, base_site_packages):
    server = gowsgi("venv_app:app", env={"VIRTUAL_ENV": str(venv)})
    check_served_from(server, venv, base_site_packages)


def test_without_the_virtualenv_the_module_is_missing(venv):
    result = run_gowsgi("-b", f"127.0.0.1:{free_port()}", "venv_app:app", timeout=30)
    assert result.returncode == 4
    assert 'Failed to load application "venv_app:app": import raised' in result.stderr
    assert "venv_only_module" in result.stderr


def test_gowsgi_installed_in_the_virtualenv_uses_it(gowsgi, venv, base_site_packages):
    # Where pip puts it from the wheel, with neither --virtualenv nor VIRTUAL_ENV.
    installed = venv / "bin" / "gowsgi"
    shutil.copy2(GOWSGI, installed)
    server = gowsgi("venv_app:app", binary=installed)
    check_served_from(server, venv, base_site_packages)


@pytest.fixture
def other_python_venv(tmp_path):
    """A virtualenv of the next Python version, as python -m venv writes its pyvenv.cfg, with
    gowsgi installed in it. Unrefused, Python would quietly fall back to its own prefix and
    leave out the virtualenv's site-packages."""
    major, minor = PYTHON_VERSION
    path = tmp_path / "other"
    (path / "bin").mkdir(parents=True)
    (path / "pyvenv.cfg").write_text(f"home = /opt/python{major}.{minor + 1}/bin\n"
                                     f"include-system-site-packages = false\nversion = {major}.{minor + 1}.0\n")
    shutil.copy2(GOWSGI, path / "bin" / "gowsgi")
    return path, f"{major}.{minor}", f"{major}.{minor + 1}"


def test_virtualenv_of_another_python_is_refused(other_python_venv):
    path, embedded, other = other_python_venv
    reason = (f"{path} was made from Python {other} and this gowsgi embeds Python {embedded}: "
              f"use a virtualenv made from Python {embedded}, or a gowsgi built for Python {other}")
    bind = ("-b", f"127.0.0.1:{free_port()}")
    installed = run_gowsgi(*bind, "venv_app:app", binary=path / "bin" / "gowsgi")
    assert installed.returncode == 2
    assert installed.stderr == f"gowsgi: error: the virtualenv gowsgi is installed in cannot be used: {reason}\n"
    flagged = run_gowsgi(*bind, "--virtualenv", str(path), "venv_app:app")
    assert flagged.returncode == 2
    assert flagged.stderr == f'gowsgi: error: invalid value "{path}" for --virtualenv: {reason}\n'
