"""How the embedded Python is linked: Debian's static libpython when it is installed (the build
then carries Python inside the binary), and C extension modules importing and working either way."""

import os
import subprocess

import requests

from support import GOWSGI, PYTHON, run_gowsgi


def static_library():
    """The embedded Python's static libpython, or None when it has none."""
    path = subprocess.run(
        [PYTHON, "-c", "import os, sysconfig as s; print(os.path.join(s.get_config_var('LIBPL'), s.get_config_var('LIBRARY')))"],
        capture_output=True, text=True, check=True).stdout.strip()
    return path if path.endswith(".a") and os.path.isfile(path) else None


def test_the_static_library_is_linked_in_when_it_is_installed():
    needed = subprocess.run(["ldd", str(GOWSGI)], capture_output=True, text=True, check=True).stdout
    version = run_gowsgi("--version", timeout=10).stdout
    if static_library():
        assert "libpython" not in needed
        assert "linked statically" in version
    else:
        assert "libpython" in needed
        assert "library /" in version


def test_c_extension_modules_import_and_work(gowsgi):
    server = gowsgi("extensions_app:app")
    response = requests.get(server.url + "/", timeout=15)
    assert response.status_code == 200
    assert response.json() == {
        "ctypes": 6, "decimal": "0.3", "sha256": "779e8503", "pyexpat": ["a", "b"], "sqlite3": 42,
        "ssl": True, "zlib": "gowsgi", "markupsafe": "&lt;b&gt;", "markupsafe_speedups": "markupsafe._speedups",
    }
