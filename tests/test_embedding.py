"""How the embedded Python is linked: its static libpython when it has one (the build then carries
Python inside the binary), else its shared libpython, found through the build's run path; and C
extension modules importing and working either way."""

import os
import re
import subprocess

import pytest
import requests

from support import GOWSGI, LINKAGE, PYTHON, TEST_LINK


def static_library():
    """The embedded Python's static libpython, or None when it has none."""
    path = subprocess.run(
        [PYTHON, "-c", "import os, sysconfig as s; print(os.path.join(s.get_config_var('LIBPL'), s.get_config_var('LIBRARY')))"],
        capture_output=True, text=True, check=True).stdout.strip()
    return path if path.endswith(".a") and os.path.isfile(path) else None


def test_the_static_library_is_linked_in_unless_the_build_asked_for_the_shared_one():
    wanted = TEST_LINK or ("static" if static_library() else "shared")
    if wanted == "static":
        assert LINKAGE == "linked statically"
    else:
        assert LINKAGE.startswith("library /")


def test_the_dynamic_linker_finds_the_library_the_version_names_without_ld_library_path():
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    needed = subprocess.run(["ldd", str(GOWSGI)], env=env, capture_output=True, text=True, check=True).stdout
    found = re.findall(r"^\s*libpython\S* => (\S+)", needed, re.M)
    if LINKAGE == "linked statically":
        assert "libpython" not in needed
    else:
        assert [os.path.realpath(p) for p in found] == [os.path.realpath(LINKAGE[len("library "):])], needed


def test_c_extension_modules_of_the_standard_library_import_and_work(gowsgi):
    server = gowsgi("extensions_app:app")
    response = requests.get(server.url + "/", timeout=15)
    assert response.status_code == 200
    assert response.json() == {
        "ctypes": 6, "decimal": "0.3", "sha256": "779e8503", "pyexpat": ["a", "b"], "sqlite3": 42,
        "ssl": True, "zlib": "gowsgi",
    }


@pytest.mark.needs("markupsafe")
def test_c_extension_modules_from_site_packages_import_and_work(gowsgi):
    server = gowsgi("extensions_app:site_packages_app")
    response = requests.get(server.url + "/", timeout=15)
    assert response.status_code == 200
    assert response.json() == {"markupsafe": "&lt;b&gt;", "speedups_extension": ".so"}
