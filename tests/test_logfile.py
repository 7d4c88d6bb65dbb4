"""--error-logfile, and USR1 reopening it after logrotate has moved it: the master's lines, the
workers' lines and what the app writes to wsgi.errors and sys.stderr all land in the file."""

import signal

import requests

from support import wait_for


def log_has(path, text):
    return path.exists() and text in path.read_text(errors="replace")


def test_error_log_file_gets_every_writer_and_follows_usr1(gowsgi, tmp_path):
    log = tmp_path / "error.log"
    server = gowsgi("logging_app:app", "-w", "2", "--error-logfile", str(log))
    server.wait_workers(2)
    assert wait_for(lambda: log_has(log, "Booting worker with pid"), 5), "the master does not log to the file"
    assert requests.get(server.url + "/?before", timeout=10).status_code == 200
    assert requests.get(server.url + "/boom?before", timeout=10).status_code == 500
    assert wait_for(lambda: all(log_has(log, t) for t in (
        "wsgi.errors says before", "stderr says before", "RuntimeError: boom before")), 5), log.read_text()
    assert "Booting worker" not in server.log(), "the error log still goes to stderr"

    log.rename(tmp_path / "error.log.1")
    server.signal(signal.SIGUSR1)
    assert wait_for(lambda: log.exists(), 5), "USR1 did not reopen the error log"
    for _ in range(4):  # reach both workers
        assert requests.get(server.url + "/?after", timeout=10).status_code == 200
        assert requests.get(server.url + "/boom?after", timeout=10).status_code == 500
    server.signal(signal.SIGTTIN)
    assert wait_for(lambda: all(log_has(log, t) for t in (
        "wsgi.errors says after", "stderr says after", "RuntimeError: boom after", "Booting worker")), 5), \
        log.read_text()
    assert "after" not in (tmp_path / "error.log.1").read_text(), "lines went to the moved file"
    assert len(server.workers()) == 3, "USR1 stopped a worker"


def test_error_log_that_cannot_be_opened_stops_the_start(gowsgi, tmp_path):
    from support import run_gowsgi
    result = run_gowsgi("-b", "127.0.0.1:1", "--error-logfile", str(tmp_path / "no" / "such" / "dir.log"),
                        "logging_app:app", timeout=10)
    assert result.returncode == 1
    assert "Can't open the error log" in result.stderr


def test_a_stopping_worker_runs_atexit_and_flushes_stdout(gowsgi):
    server = gowsgi("logging_app:app", "-w", "1")
    (pid,) = server.wait_workers(1)
    assert requests.get(server.url + "/?x", timeout=10).status_code == 200
    server.stop()
    assert f"atexit ran in {pid}" in server.stdout()
