"""gunicorn's logging settings for the app's Python logging: logconfig_dict (config files),
--log-config-json and --log-config configure the logging module in each worker before the app is
imported; a configuration that fails stops the start. And --spew, which traces every line."""

import json

import pytest

import rawhttp
from support import APPS, free_port, run_gowsgi, wait_for

APP = "pylogging_app:app"


def text_of(path):
    return path.read_text(errors="replace") if path.exists() else ""


def file_handler_config(log_path, **extra):
    """A dictConfig that sends the logger "app" to log_path, with gunicorn's "generic" formatter,
    which it does not define: gunicorn's defaults lie under every logconfig_dict."""
    return {
        "version": 1,
        "root": {"level": "WARNING", "handlers": []},
        "handlers": {"file": {"class": "logging.FileHandler", "filename": str(log_path), "formatter": "generic"}},
        "loggers": {"app": {"level": "INFO", "handlers": ["file"], "propagate": False}, **extra},
    }


def assert_app_logs_to(server, log_path):
    assert wait_for(lambda: "app module imported" in text_of(log_path), 10), text_of(log_path)
    assert rawhttp.get(server.port, "/logged").status == 200
    assert wait_for(lambda: "request to /logged" in text_of(log_path), 10), text_of(log_path)
    # gunicorn's generic format: "[date] [pid] [INFO] message".
    assert f"[{server.workers()[0]}] [INFO] request to /logged" in text_of(log_path)


def test_logconfig_dict_from_a_yaml_config_file(gowsgi, tmp_path):
    log_path = tmp_path / "app.log"
    config = tmp_path / "gowsgi.yaml"
    # The mapping as YAML: a config file's logconfig_dict is a mapping, not text.
    config.write_text(
        "logconfig_dict:\n"
        "  version: 1\n"
        "  root: {level: WARNING, handlers: []}\n"
        "  handlers:\n"
        f"    file: {{class: logging.FileHandler, filename: '{log_path}', formatter: generic}}\n"
        "  loggers:\n"
        "    app: {level: INFO, handlers: [file], propagate: false}\n"
    )
    server = gowsgi(APP, "-c", str(config))
    assert_app_logs_to(server, log_path)


def test_log_config_json_and_a_note_about_gunicorns_own_loggers(gowsgi, tmp_path):
    log_path = tmp_path / "app.log"
    config = tmp_path / "logging.json"
    config.write_text(json.dumps(file_handler_config(log_path, **{"gunicorn.error": {"level": "DEBUG"}})))
    server = gowsgi(APP, "--log-config-json", str(config))
    assert_app_logs_to(server, log_path)
    # Configuring gunicorn.error works, and the worker says what it does and does not change.
    log = server.wait_log("sets up the Python loggers gunicorn.error")
    assert "gowsgi writes its own error and access logs in Go" in log


def write_ini(path, log_name):
    path.write_text(
        "[loggers]\nkeys = root, app\n\n"
        "[handlers]\nkeys = file\n\n"
        "[formatters]\nkeys = plain\n\n"
        "[logger_root]\nlevel = WARNING\nhandlers =\n\n"
        "[logger_app]\nlevel = INFO\nhandlers = file\nqualname = app\npropagate = 0\n\n"
        # %(here)s is the file's directory, as gunicorn gives it to fileConfig.
        f"[handler_file]\nclass = FileHandler\nargs = ('%(here)s/{log_name}',)\nformatter = plain\n\n"
        "[formatter_plain]\nformat = ini %(name)s: %(message)s\n"
    )


def test_log_config_ini_file(gowsgi, tmp_path):
    write_ini(tmp_path / "logging.ini", "ini.log")
    server = gowsgi(APP, "--log-config", str(tmp_path / "logging.ini"))
    assert rawhttp.get(server.port, "/ini").status == 200
    log_path = tmp_path / "ini.log"
    assert wait_for(lambda: "ini app: request to /ini" in text_of(log_path), 10), text_of(log_path)
    assert "ini app: app module imported" in text_of(log_path)


def test_json_wins_over_ini_as_in_gunicorn(gowsgi, tmp_path):
    write_ini(tmp_path / "logging.ini", "ini.log")
    json_log = tmp_path / "json.log"
    (tmp_path / "logging.json").write_text(json.dumps(file_handler_config(json_log)))
    server = gowsgi(APP, "--log-config", str(tmp_path / "logging.ini"),
                    "--log-config-json", str(tmp_path / "logging.json"))
    assert_app_logs_to(server, json_log)
    assert not (tmp_path / "ini.log").exists()


@pytest.mark.parametrize("flag, content, reason", [
    ("--log-config-json", "{not json", "JSONDecodeError"),
    ("--log-config-json", json.dumps({"version": 1, "handlers": {"h": {"class": "no.such.Handler"}},
                                      "root": {"handlers": ["h"]}}), "Unable to configure handler 'h'"),
    ("--log-config-json", None, "FileNotFoundError"),
    ("--log-config", "[formatters]\nkeys = x\n", "no [loggers] section"),
    ("--log-config", None, "FileNotFoundError"),
], ids=["bad-json", "bad-handler", "missing-json", "not-a-fileconfig", "missing-ini"])
def test_a_broken_log_config_stops_the_start(tmp_path, flag, content, reason):
    path = tmp_path / "logging.conf"
    if content is not None:
        path.write_text(content)
    result = run_gowsgi("-b", f"127.0.0.1:{free_port()}", flag, str(path), APP, timeout=20)
    assert result.returncode != 0, result.stderr
    assert "Failed to configure Python logging:\nTraceback" in result.stderr, result.stderr
    assert f"Can't configure Python logging from {path}" in result.stderr and reason in result.stderr, result.stderr
    assert "exited with code 4: App failed to load" in result.stderr
    # The app was never imported.
    assert "app module imported" not in result.stdout + result.stderr


def spew_marker_line():
    """'module:line: source' of the line of the app that runs only for a request."""
    lines = (APPS / "pylogging_app.py").read_text().splitlines()
    number = next(i for i, line in enumerate(lines, 1) if "# spew marker" in line)
    return f"pylogging_app:{number}: {lines[number - 1].rstrip()}"


@pytest.mark.parametrize("worker_class", [["-k", "sync"], ["-k", "gthread", "--threads", "2"]], ids=["sync", "gthread"])
def test_spew_prints_the_lines_python_runs(gowsgi, worker_class):
    server = gowsgi(APP, "--spew", *worker_class)
    assert rawhttp.get(server.port, "/spew").status == 200
    server.stop()  # the worker flushes its standard output on the way out
    out = server.stdout()
    assert "pylogging_app:5: log = logging.getLogger(\"app\")" in out, out[-3000:]
    # A request's lines too, also on the threads gthread runs requests on.
    assert spew_marker_line() in out, out[-3000:]
    # gowsgi's own Python is not traced.
    assert "<string>" not in out and "_load_app" not in out
