"""--print-config, --check-config, -e/--env (raw_env), --reload, and the settings read again on
HUP: what an operator sees from outside the process."""

import os
import signal
import socket
import subprocess

import pytest
import requests

from support import GOWSGI, alive, free_port, port_accepts, print_config, run_gowsgi, server_env, wait_for

# The app answers with what its worker sees: helper.MSG, the GREETING variable and its pid.
APP = '''
import os

import helper


def app(environ, start_response):
    body = "%s %s %d" % (helper.MSG, os.environ.get("GREETING", "-"), os.getpid())
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
'''


@pytest.fixture
def site(tmp_path):
    """A directory holding webapp.py and helper.py, where tests write config files."""
    (tmp_path / "webapp.py").write_text(APP)
    (tmp_path / "helper.py").write_text('MSG = "one"\n')
    return tmp_path


def answer(url):
    """(MSG, GREETING, pid) from the app."""
    response = requests.get(url, timeout=15)
    assert response.status_code == 200, response.text
    msg, greeting, pid = response.text.split(" ")
    return msg, greeting, int(pid)


def answer_becomes(url, predicate, timeout=15):
    """Asks the app until predicate holds for its answer; returns that answer, or fails."""
    def check():
        try:
            reply = answer(url)
        except (requests.RequestException, AssertionError, ValueError):
            return None
        return reply if predicate(reply) else None

    reply = wait_for(check, timeout, interval=0.1)
    assert reply is not None, f"the app never answered as expected at {url}"
    return reply


def test_print_config_shows_every_value_with_its_source(site):
    (site / "gowsgi.yaml").write_text("wsgi_app: webapp:app\nworkers: 3\nraw_env: [GREETING=hi]\n")
    port = free_port()
    env = {"GOWSGI_CMD_ARGS": "--timeout 7", "PORT": str(port), "WEB_CONCURRENCY": "9"}
    settings, _ = print_config(site, "-k", "gthread", "--name", "my site", env=env)
    assert settings["wsgi_app"] == ("webapp:app", "gowsgi.yaml:1")
    assert settings["workers"] == ("3", "gowsgi.yaml:2")
    assert settings["raw_env"] == ("[GREETING=hi]", "gowsgi.yaml:3")
    assert settings["timeout"] == ("7", "GOWSGI_CMD_ARGS")
    assert settings["worker_class"] == ("gthread", "command line")
    assert settings["proc_name"] == ('"my site"', "command line")
    assert settings["bind"] == (f"[0.0.0.0:{port}]", "$PORT")
    assert settings["keepalive"] == ("2", "default")
    assert settings["config"] == (str(site / "gowsgi.yaml") + " (YAML)", "default")
    assert {"reload", "reload_engine", "reload_extra_files", "limit_request_field_size"} <= settings.keys()
    # Printing serves nothing.
    assert not port_accepts("0.0.0.0", port)

    settings, _ = print_config(site, "-c", "/dev/null", "webapp:app", env={"WEB_CONCURRENCY": "9"})
    assert settings["workers"] == ("9", "$WEB_CONCURRENCY")
    assert settings["bind"] == ("[127.0.0.1:8000]", "default")
    assert settings["wsgi_app"] == ("webapp:app", "command line")


def test_print_config_with_a_bad_setting_exits_2(site):
    (site / "gowsgi.yaml").write_text("wsgi_app: webapp:app\nwokers: 3\n")
    result = run_gowsgi("--print-config", cwd=site, timeout=10)
    assert result.returncode == 2 and result.stdout == "", result
    assert result.stderr.startswith('gowsgi: error: gowsgi.yaml:2: unknown setting "wokers"'), result.stderr


def test_check_config_loads_the_app_in_a_worker_process_and_binds_nothing(site):
    marker = site / "loaded"
    (site / "marker.py").write_text(
        "import os\nfrom webapp_app import app\n"
        "open(os.environ['MARKER'], 'w').write('%d %d' % (os.getpid(), os.getppid()))\n")
    (site / "webapp_app.py").write_text(APP)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run([str(GOWSGI), "--check-config", "-b", f"127.0.0.1:{port}", "-e", f"MARKER={marker}",
                               "marker:app"], cwd=site, env=server_env(), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc
    assert proc.stdout == "" and proc.stderr == "", proc
    pid, parent = map(int, marker.read_text().split())
    # The app was imported by a child of gowsgi, not by gowsgi itself (the master runs no Python).
    assert pid != parent


@pytest.mark.parametrize("extra", [[], ["--reload"], ["--error-logfile", "error.log"]])
def test_check_config_reports_why_the_app_does_not_load(site, extra):
    (site / "helper.py").write_text("MSG = (\n")
    result = run_gowsgi("--check-config", *extra, "webapp:app", cwd=site, timeout=30)
    assert result.returncode == 4, result
    assert 'Failed to load application "webapp:app": import raised' in result.stderr
    assert "Traceback" in result.stderr and "SyntaxError" in result.stderr
    assert str(site / "helper.py") in result.stderr


def test_check_config_with_a_bad_setting_exits_2(site):
    result = run_gowsgi("--check-config", "--threads", "none", "webapp:app", cwd=site, timeout=10)
    assert result.returncode == 2, result


def test_env_reaches_the_app_and_a_pair_without_equals_exits_2(gowsgi, site):
    server = gowsgi("webapp:app", "-e", "GREETING=hello=world", "-e", "EMPTY=", cwd=site)
    assert answer(server.url)[1] == "hello=world"
    server.stop()
    (site / "gowsgi.yaml").write_text("raw_env:\n  - GREETING=from-file\n")
    server = gowsgi("webapp:app", cwd=site)
    assert answer(server.url)[1] == "from-file"
    server.stop()

    result = run_gowsgi("-e", "GREETING", "webapp:app", cwd=site, timeout=10)
    assert result.returncode == 2, result
    assert result.stderr == 'gowsgi: error: invalid value "GREETING" for -e/--env: expected KEY=VALUE\n'


def test_env_does_not_change_the_settings_workers_resolve(gowsgi, site):
    (site / "multi.py").write_text(
        "import os\n\ndef app(environ, start_response):\n"
        "    start_response('200 OK', [])\n"
        "    return [('%s %s' % (environ['wsgi.multiprocess'], os.environ['WEB_CONCURRENCY'])).encode()]\n")
    server = gowsgi("multi:app", "-e", "WEB_CONCURRENCY=3", cwd=site)
    # One worker, as the master resolved it; the app still sees the variable -e set.
    assert requests.get(server.url, timeout=15).text == "False 3"
    assert len(server.workers()) == 1


def reload_log_is_clean(server):
    """The master took each reload for what it is, not for a failure or a crash loop."""
    log = server.log()
    assert "exited to reload the app" in log
    assert "[ERROR]" not in log and "before starting another" not in log, log


@pytest.mark.parametrize("engine", ["auto", "poll"])
def test_reload_restarts_the_worker_when_an_imported_file_changes(gowsgi, site, engine):
    server = gowsgi("webapp:app", "--reload", "--reload-engine", engine, "-k", "gthread", cwd=site)
    first = answer(server.url)
    assert first[0] == "one"
    (site / "helper.py").write_text('MSG = "two"\n')
    second = answer_becomes(server.url, lambda reply: reply[0] == "two")
    assert second[2] != first[2]
    server.wait_log(f"Worker reloading: {site / 'helper.py'} modified")
    reload_log_is_clean(server)


def test_reload_watches_modules_imported_after_start_and_extra_files(gowsgi, site):
    (site / "webapp.py").write_text(APP.replace("import helper\n", "").replace(
        "def app(environ, start_response):\n", "def app(environ, start_response):\n    import helper\n"))
    (site / "settings.txt").write_text("a")
    server = gowsgi("webapp:app", "--reload", "--reload-extra-file", "settings.txt", cwd=site)
    pid = answer(server.url)[2]
    # helper.py was imported by the first request; the worker finds it at its next look at
    # sys.modules. Changing it again until the answer changes needs no guess of when that is.
    for n in range(60):
        (site / "helper.py").write_text(f'MSG = "lazy{n}"\n')
        try:
            reply = answer_becomes(server.url, lambda reply: reply[2] != pid, timeout=0.5)
            break
        except AssertionError:
            continue
    else:
        pytest.fail(f"a module imported lazily was never watched\n{server.describe()}")
    assert reply[0].startswith("lazy")
    (site / "settings.txt").write_text("b")
    answer_becomes(server.url, lambda again: again[2] != reply[2])
    server.wait_log(f"Worker reloading: {site / 'settings.txt'} modified")
    reload_log_is_clean(server)


def test_reload_serves_the_error_until_the_app_is_fixed(gowsgi, site):
    (site / "helper.py").write_text("MSG = (\n")
    server = gowsgi("webapp:app", "--reload", cwd=site)
    response = requests.get(server.url, timeout=15)
    assert response.status_code == 500
    assert "SyntaxError" in response.text and str(site / "helper.py") in response.text
    assert requests.get(server.url + "/again", timeout=15).status_code == 500
    assert len(server.workers()) == 1

    (site / "helper.py").write_text('MSG = "fixed"\n')
    assert answer_becomes(server.url, lambda reply: True)[0] == "fixed"


def test_reload_brings_back_an_app_whose_module_was_missing(gowsgi, site):
    server = gowsgi("later:app", "--reload", cwd=site)
    assert requests.get(server.url, timeout=15).status_code == 500
    (site / "later.py").write_text(APP)
    assert answer_becomes(server.url, lambda reply: True)[0] == "one"


def test_hup_reads_the_settings_again(gowsgi, site):
    first_port, second_port = free_port(), free_port()
    config = site / "gowsgi.yaml"
    config.write_text(f"wsgi_app: webapp:app\nbind: 127.0.0.1:{first_port}\nraw_env: [GREETING=a]\n")
    server = gowsgi(None, bind=False, port=first_port, cwd=site)
    assert answer(server.url)[1] == "a"

    config.write_text(f"wsgi_app: webapp:app\nbind: [127.0.0.1:{first_port}, 127.0.0.1:{second_port}]\n"
                      "workers: 2\nraw_env: [GREETING=b]\n")
    server.signal(signal.SIGHUP)
    server.wait_log("Reload: workers = 2 (was 1)")
    answer_becomes(server.url, lambda reply: reply[1] == "b")
    assert answer(f"http://127.0.0.1:{second_port}")[1] == "b"
    pids = server.wait_workers(2)

    # A file that no longer parses changes nothing: the same workers serve on.
    config.write_text("wsgi_app: webapp:app\nwokers: 3\n")
    server.signal(signal.SIGHUP)
    server.wait_log('Reload failed: gowsgi.yaml:2: unknown setting "wokers" (did you mean "workers"?)')
    assert server.workers() == pids and answer(server.url)[1] == "b"

    # A bind that is gone is closed once the workers that served on it have stopped.
    config.write_text(f"wsgi_app: webapp:app\nbind: 127.0.0.1:{second_port}\n")
    server.signal(signal.SIGHUP)
    server.wait_log(f"Stopped listening at: 127.0.0.1:{first_port}")
    assert wait_for(lambda: not port_accepts("127.0.0.1", first_port), 15), server.describe()
    assert answer(f"http://127.0.0.1:{second_port}")[1] == "-"
    assert server.proc.poll() is None


def test_a_replaced_worker_applies_the_settings_its_master_read(gowsgi, site):
    config = site / "gowsgi.yaml"
    config.write_text("raw_env: [GREETING=a]\n")
    server = gowsgi("webapp:app", cwd=site)
    pid = answer(server.url)[2]
    # Edited but not reloaded: the master has not read it, so no worker may apply it.
    config.write_text("raw_env: [GREETING=b]\n")
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: not alive(pid), 10)
    assert answer_becomes(server.url, lambda reply: reply[2] != pid)[1] == "a"
    server.signal(signal.SIGHUP)
    answer_becomes(server.url, lambda reply: reply[1] == "b")


def test_hup_applies_the_masters_hooks_and_refuses_an_access_log_it_cannot_open(gowsgi, site):
    marker = site / "reloaded"
    config = site / "gowsgi.yaml"
    config.write_text("wsgi_app: webapp:app\n")
    server = gowsgi(None, cwd=site)
    pid = answer(server.url)[2]

    config.write_text(f"wsgi_app: webapp:app\naccess_logfile: {site / 'missing' / 'access.log'}\n")
    server.signal(signal.SIGHUP)
    server.wait_log("Reload failed: can't open the access log")
    assert answer(server.url)[2] == pid

    config.write_text(f'wsgi_app: webapp:app\non_reload: "touch {marker}"\n')
    server.signal(signal.SIGHUP)
    server.wait_log("Reload: on_reload")
    assert wait_for(marker.exists, 10), server.describe()
