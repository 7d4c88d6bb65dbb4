"""Sockets and process: every kind of bind (TCP, unix, fd://, systemd socket activation),
--reuse-port, --backlog, the pid file, daemon mode, dropping privileges, --umask and process titles."""

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import time

import pytest
import requests

from support import APPS, GOWSGI, alive, children, free_port, port_accepts, run_gowsgi, server_env, wait_for

APP = "echo_app:app"


def unix_get(path, target="/", timeout=5):
    """One HTTP/1.0 GET over a unix socket; returns (status line, decoded JSON body)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(f"GET {target} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), json.loads(body)


def unix_accepts(path):
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            sock.connect(str(path))
        return True
    except OSError:
        return False


def ps_args(pid):
    return subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()


def status_ids(pid, field):
    """The real uid or gid of pid, from the Uid: or Gid: line of /proc/PID/status."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


class Launched:
    """A gowsgi started with its own Popen arguments (inherited descriptors, a wrapper)."""

    def __init__(self, argv, log_path, **popen):
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, cwd=APPS, env=popen.pop("env", server_env()), stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=self._log, **popen)

    def log(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        workers = children(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        self._log.close()


@pytest.fixture
def launch(tmp_path):
    started = []

    def start(argv, **popen):
        launched = Launched([str(a) for a in argv], tmp_path / f"launched-{len(started)}.log", **popen)
        started.append(launched)
        return launched

    yield start
    for launched in started:
        launched.stop()


def test_unix_and_tcp_binds_together(gowsgi, tmp_path):
    sock_path = tmp_path / "app.sock"
    # A socket file left by a server that is gone is replaced.
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(sock_path))
    stale.close()
    server = gowsgi(APP, "-b", f"unix:{sock_path}", "-m", "007")
    assert wait_for(lambda: unix_accepts(sock_path), 10), server.describe()
    status, body = unix_get(sock_path, "/over-unix?x=1")
    assert status == "HTTP/1.1 200 OK"
    assert body["path"] == "/over-unix" and body["query"] == "x=1"
    assert requests.get(server.url + "/over-tcp", timeout=5).json()["path"] == "/over-tcp"
    log = server.log()
    assert f"[INFO] Listening at: unix:{sock_path} ({server.pid})" in log
    assert f"[INFO] Listening at: {server.url} ({server.pid})" in log
    mode = os.stat(sock_path).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o770
    server.stop()
    assert not sock_path.exists(), "the socket file outlived the server"


def test_default_umask_leaves_the_socket_open_to_all(gowsgi, tmp_path):
    sock_path = tmp_path / "open.sock"
    server = gowsgi(APP, "-b", f"unix:{sock_path}", bind=False, wait=False)
    assert wait_for(lambda: unix_accepts(sock_path), 10), server.describe()
    assert stat.S_IMODE(os.stat(sock_path).st_mode) == 0o777


def test_a_live_unix_socket_is_not_taken_over(gowsgi, tmp_path):
    sock_path = tmp_path / "busy.sock"
    first = gowsgi(APP, "-b", f"unix:{sock_path}", bind=False, wait=False)
    assert wait_for(lambda: unix_accepts(sock_path), 10), first.describe()
    second = run_gowsgi("-b", f"unix:{sock_path}", APP)
    assert second.returncode == 1
    assert f"[ERROR] Can't listen at unix:{sock_path}: address already in use" in second.stderr
    assert unix_get(sock_path)[0] == "HTTP/1.1 200 OK"


def test_inherited_descriptor(launch):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    fd = listener.fileno()
    server = launch([GOWSGI, "-b", f"fd://{fd}", "-w", "2", APP], pass_fds=(fd,))
    listener.close()
    assert wait_for(lambda: "Booting worker" in server.log(), 10), server.log()
    response = requests.get(f"http://127.0.0.1:{port}/via-fd", timeout=10)
    assert response.json()["path"] == "/via-fd"
    assert f"[INFO] Listening at: http://127.0.0.1:{port} ({server.proc.pid})" in server.log()


def test_systemd_socket_activation_replaces_the_binds(launch):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    # The socket becomes descriptor 3 of the shell, which names itself (the pid gowsgi has after
    # exec) in LISTEN_PID. The -b bind cannot be opened, so serving proves it was not used.
    script = 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"'
    server = launch(["sh", "-c", script, GOWSGI, "-b", "unix:/nonexistent/dir/x.sock", APP],
                    close_fds=False, preexec_fn=lambda: os.dup2(listener.fileno(), 3))
    listener.close()
    assert wait_for(lambda: port_accepts("127.0.0.1", port) and "Booting worker" in server.log(), 10), server.log()
    assert requests.get(f"http://127.0.0.1:{port}/activated", timeout=10).json()["path"] == "/activated"
    log = server.log()
    assert f"[INFO] Listening at: http://127.0.0.1:{port} ({server.proc.pid})" in log
    assert "x.sock" not in log


def test_reuse_port_lets_two_servers_share_a_port(gowsgi):
    first = gowsgi(APP, "--reuse-port")
    refused = run_gowsgi("-b", f"127.0.0.1:{first.port}", APP)
    assert refused.returncode == 1
    assert f"Can't listen at 127.0.0.1:{first.port}: address already in use" in refused.stderr
    second = gowsgi(APP, "--reuse-port", port=first.port)
    first_workers, second_workers = set(first.wait_workers(1)), set(second.wait_workers(1))
    seen = set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (seen & first_workers and seen & second_workers):
        with requests.Session() as fresh_connection:
            seen.add(fresh_connection.get(first.url + "/", timeout=5).json()["pid"])
    assert seen & first_workers and seen & second_workers, f"served by {seen}"


@pytest.mark.skipif(not shutil.which("ss"), reason="ss (iproute2) shows listen backlogs")
def test_backlog(gowsgi):
    server = gowsgi(APP, "--backlog", "77")
    out = subprocess.run(["ss", "-Hltn", f"sport = :{server.port}"], capture_output=True, text=True).stdout
    # For a listening socket ss shows the backlog as Send-Q: "LISTEN 0 77 127.0.0.1:PORT ...".
    assert out.split()[2] == "77", out


def test_pidfile_lifecycle(gowsgi, tmp_path):
    pidfile = tmp_path / "gowsgi.pid"
    # A pid file naming a process that has ended is stale and replaced.
    ended = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True).stdout.strip()
    pidfile.write_text(ended + "\n")
    server = gowsgi(APP, "-p", pidfile)
    assert wait_for(lambda: pidfile.read_text() == f"{server.pid}\n", 5), pidfile.read_text()
    second = run_gowsgi("-b", f"127.0.0.1:{free_port()}", "-p", pidfile, APP)
    assert second.returncode == 1
    assert f"[ERROR] Already running on PID {server.pid} (or pid file '{pidfile}' is stale)" in second.stderr
    assert pidfile.read_text() == f"{server.pid}\n"
    server.stop()
    assert not pidfile.exists()


def test_daemon(tmp_path):
    pidfile = tmp_path / "daemon.pid"
    port = free_port()
    foreground = run_gowsgi("-D", "-b", f"127.0.0.1:{port}", "-p", pidfile, "-n", "daemon-test", APP, timeout=10)
    assert foreground.returncode == 0, foreground.stderr
    daemon = None
    try:
        assert wait_for(lambda: pidfile.exists() and port_accepts("127.0.0.1", port), 10), "the daemon did not serve"
        daemon = int(pidfile.read_text())
        assert requests.get(f"http://127.0.0.1:{port}/bg", timeout=5).json()["path"] == "/bg"
        assert ps_args(daemon) == "gowsgi: master [daemon-test]"
        # Its own session, so no terminal: the session id is its pid.
        assert int(open(f"/proc/{daemon}/stat").read().rsplit(")", 1)[1].split()[3]) == daemon
        assert os.readlink(f"/proc/{daemon}/fd/2") == "/dev/null"
        os.kill(daemon, signal.SIGTERM)
        assert wait_for(lambda: not alive(daemon), 10), "the daemon did not stop on TERM"
        assert not pidfile.exists()
    finally:
        if daemon and alive(daemon):
            for pid in children(daemon) + [daemon]:
                os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_workers_drop_privileges(gowsgi, tmp_path):
    os.chmod(tmp_path, 0o755)
    sock_path = tmp_path / "nobody.sock"
    server = gowsgi(APP, "-w", "2", "-u", "nobody", "-g", "nogroup", "-b", f"unix:{sock_path}")
    workers = server.wait_workers(2)
    for pid in workers:
        assert status_ids(pid, "Uid") == 65534 and status_ids(pid, "Gid") == 65534
    assert status_ids(server.pid, "Uid") == 0
    assert requests.get(server.url + "/", timeout=5).json()["pid"] in workers
    owner = os.stat(sock_path)
    assert (owner.st_uid, owner.st_gid) == (65534, 65534)
    assert unix_get(sock_path)[0] == "HTTP/1.1 200 OK"


def test_switching_users_needs_known_names():
    result = run_gowsgi("-u", "no-such-user-here", APP)
    assert result.returncode == 2
    assert 'invalid value "no-such-user-here" for -u/--user: no such user' in result.stderr


def test_process_titles(gowsgi):
    server = gowsgi(APP, "-w", "2")
    assert ps_args(server.pid) == f"gowsgi: master [{APP}]"
    named = gowsgi(APP, "-n", "shop")
    assert ps_args(named.pid) == "gowsgi: master [shop]"
    for pid in named.wait_workers(1):
        assert ps_args(pid).startswith("gowsgi: worker [shop]")
