"""--paste FILE[#SECTION] loads the app with PasteDeploy instead of an APP_MODULE, with
--paste-global's KEY=VALUE pairs in its global_conf, and a [loggers] section of the file
configures the app's Python logging, as gunicorn's --paste does."""

import pytest
import requests

from support import APPS, free_port, run_gowsgi, wait_for

PASTE_INI = """\
[app:main]
use = call:paste_app:factory
greeting = hello %(name)s

[app:admin]
use = call:paste_app:factory
which = admin
"""

LOGGING_INI = """
[loggers]
keys = root, pasted

[handlers]
keys = file

[formatters]
keys = plain

[logger_root]
level = WARNING
handlers =

[logger_pasted]
level = INFO
handlers = file
qualname = pasted

[handler_file]
class = FileHandler
args = ('%(here)s/paste.log',)
formatter = plain

[formatter_plain]
format = %(name)s: %(message)s
"""


@pytest.mark.needs("paste.deploy")
def test_paste_loads_the_main_app_with_global_conf(gowsgi, tmp_path):
    ini = tmp_path / "site.ini"
    ini.write_text(PASTE_INI)
    # The app's module is found from the app's directory (the tests' apps), as an APP_MODULE is.
    server = gowsgi(None, "--paste", str(ini), "--paste-global", "name=world", "--paste-global", r"a\=b=c")
    seen = requests.get(server.url + "/", timeout=10).json()
    assert seen["local"] == {"greeting": "hello world"}
    assert seen["global"] == {"__file__": str(ini), "here": str(tmp_path), "name": "world", "a=b": "c"}


@pytest.mark.needs("paste.deploy")
def test_paste_section_and_a_relative_path(gowsgi, tmp_path):
    (tmp_path / "site.ini").write_text(PASTE_INI)
    server = gowsgi(None, "--paste", "site.ini#admin", "--pythonpath", str(APPS), cwd=tmp_path)
    assert requests.get(server.url + "/", timeout=10).json()["local"] == {"which": "admin"}


@pytest.mark.needs("paste.deploy")
def test_the_paste_files_logging_sections_configure_python_logging(gowsgi, tmp_path):
    ini = tmp_path / "site.ini"
    ini.write_text(PASTE_INI + LOGGING_INI)
    server = gowsgi(None, "--paste", str(ini), "--paste-global", "name=x")
    assert requests.get(server.url + "/logged", timeout=10).status_code == 200
    log = tmp_path / "paste.log"
    assert wait_for(lambda: log.exists() and "pasted: pasted app got /logged" in log.read_text(), 10)


@pytest.mark.needs("paste.deploy")
def test_a_missing_paste_section_stops_the_start(tmp_path):
    ini = tmp_path / "site.ini"
    ini.write_text(PASTE_INI)
    result = run_gowsgi("-b", f"127.0.0.1:{free_port()}", "--paste", f"{ini}#nosuch", timeout=20)
    assert result.returncode != 0
    assert f'Failed to load application "{ini}#nosuch": paste failed: Traceback' in result.stderr, result.stderr
    assert "LookupError" in result.stderr
