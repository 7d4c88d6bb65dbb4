"""Where the server's logs go besides its error log: with --log-syslog, to a syslog daemon too, in
the messages gunicorn's SysLogHandler sends ("<PRI>gunicorn.NAME.error: [PID] message\\0"), the
access log included unless --disable-redirect-access-to-syslog; and with -D -R, a daemon keeps
the standard output and error it was started with."""

import os
import re
import signal
import socket
import subprocess
import time

import pytest
import requests

from support import APPS, GOWSGI, alive, children, free_port, server_env, wait_for

APP = "access_app:app"
LOCAL3_INFO = 19 * 8 + 6


class SyslogListener:
    """A UDP syslog daemon on 127.0.0.1 that keeps every message."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.messages = []

    @property
    def addr(self):
        return "udp://127.0.0.1:%d" % self.sock.getsockname()[1]

    def take(self):
        try:
            while True:
                self.messages.append(self.sock.recv(1 << 17).decode("utf-8", "replace"))
        except (TimeoutError, socket.timeout):
            pass
        return self.messages

    def wait(self, text, timeout=10):
        found = wait_for(lambda: [m for m in self.take() if text in m], timeout)
        assert found, f"no syslog message with {text!r}: {self.messages}"
        return found[0]


@pytest.fixture
def syslog():
    listener = SyslogListener()
    yield listener
    listener.sock.close()


@pytest.mark.parametrize("access_file", [False, True], ids=["syslog-only", "with-access-logfile"])
def test_error_and_access_lines_go_to_syslog(gowsgi, syslog, tmp_path, access_file):
    access_log = tmp_path / "access.log"
    server = gowsgi(APP, "--log-syslog", "--log-syslog-to", syslog.addr, "--log-syslog-facility", "local3",
                    *(["--access-logfile", str(access_log)] if access_file else []))
    [worker] = server.wait_workers(1)
    booting = syslog.wait("Booting worker")
    assert booting == f"<{LOCAL3_INFO}>gunicorn.access_app.app.error: [{server.pid}] Booting worker with pid: {worker}\0"
    assert requests.get(server.url + "/hello", timeout=10).status_code == 200
    access = syslog.wait("GET /hello")
    assert re.fullmatch(rf'<{LOCAL3_INFO}>gunicorn\.access_app\.app\.access: \[{worker}\] 127\.0\.0\.1 - - '
                        r'\[[^]]+\] "GET /hello HTTP/1\.1" 200 \d+ "-" "python-requests/[^"]+"\0', access), access
    if access_file:
        assert wait_for(lambda: access_log.exists() and "GET /hello" in access_log.read_text(), 10)
    # The lines still reach the error log itself.
    assert "[INFO] Booting worker" in server.log()


def test_prefix_and_error_severity(gowsgi, syslog):
    server = gowsgi(APP, "--log-syslog", "--log-syslog-to", syslog.addr, "--log-syslog-prefix", "shop")
    server.wait_workers(1)
    assert requests.get(server.url + "/boom", timeout=10).status_code == 500
    # facility user (1), severity error (3); the traceback stays in its line's message.
    error = syslog.wait("Error handling request")
    assert error.startswith("<11>gunicorn.shop.error: [") and "Traceback" in error and "RuntimeError" in error
    syslog.wait("gunicorn.shop.access:")


def test_disable_redirect_access_keeps_access_lines_out(gowsgi, syslog):
    server = gowsgi(APP, "--log-syslog", "--log-syslog-to", syslog.addr, "--disable-redirect-access-to-syslog")
    server.wait_workers(1)
    syslog.wait("Booting worker")
    assert requests.get(server.url + "/hello", timeout=10).status_code == 200
    server.stop()  # every process sends what it has queued on its way out
    syslog.wait("Shutting down")
    assert not [m for m in syslog.take() if ".access:" in m or "GET /hello" in m], syslog.messages


def test_an_unreachable_syslog_does_not_stop_serving(gowsgi):
    server = gowsgi(APP, "--log-syslog", "--log-syslog-to", f"tcp://127.0.0.1:{free_port()}")
    for _ in range(20):
        assert requests.get(server.url + "/hello", timeout=10).status_code == 200
    log = server.wait_log("Can't send log lines to syslog")
    assert log.count("Can't send log lines to syslog") <= 2, log  # once for each process


def start_daemon(tmp_path, *args):
    """Starts gowsgi -D with its output to a file; returns the daemon's pid and that file."""
    out, pidfile, port = tmp_path / "out.txt", tmp_path / "daemon.pid", free_port()
    with open(out, "wb") as f:
        foreground = subprocess.run([str(GOWSGI), "-D", *args, "-b", f"127.0.0.1:{port}", "-p", str(pidfile),
                                     "--access-logfile", "-", APP], cwd=APPS, env=server_env(),
                                    stdin=subprocess.DEVNULL, stdout=f, stderr=f, timeout=20)
    assert foreground.returncode == 0, out.read_text()
    assert wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), 10), "no pid file"
    daemon = int(pidfile.read_text())
    assert wait_for(lambda: len(children(daemon)) == 1, 15)
    assert requests.get(f"http://127.0.0.1:{port}/print?daemon", timeout=10).status_code == 200
    return daemon, out


def stop_daemon(daemon):
    workers = children(daemon)
    os.kill(daemon, signal.SIGTERM)
    if not wait_for(lambda: not alive(daemon), 10):
        for pid in [daemon, *workers]:
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("inherit", [True, False], ids=["-R", "no-R"])
def test_enable_stdio_inheritance_keeps_a_daemons_output(tmp_path, inherit):
    daemon, out = start_daemon(tmp_path, *(["-R"] if inherit else []))
    try:
        if inherit:
            # The error log (stderr), the access log and the app's print() (stdout).
            assert wait_for(lambda: all(text in out.read_text() for text in
                                        ("Booting worker", "GET /print?daemon", "printed daemon")), 10), out.read_text()
        else:
            time.sleep(0.5)
            assert out.read_text() == ""
    finally:
        stop_daemon(daemon)
