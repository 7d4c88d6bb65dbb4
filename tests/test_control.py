"""The control socket and `gowsgi ctl`: workers shown, added, removed and replaced through it,
gunicorn's protocol spoken by hand as gunicornc speaks it, and the socket kept to its owner."""

import json
import os
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import tempfile

import pytest
import requests

from support import GOWSGI, alive, server_env, wait_for

APP = "lifecycle_app:app"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def ctl(sock, *args, stdin=None, env=None, user=()):
    """Runs `gowsgi ctl -s SOCK ARGS` (as another user with user=NOBODY)."""
    return subprocess.run([*user, str(GOWSGI), "ctl", *(["-s", str(sock)] if sock else []), *args],
                          input=stdin, capture_output=True, text=True, timeout=40, env=server_env(env))


def ctl_json(sock, command):
    result = ctl(sock, "-j", "-c", command)
    assert result.returncode == 0, result
    return json.loads(result.stdout)


def listed_workers(sock):
    return ctl_json(sock, "show workers")["workers"]


def booted_pids(sock, count):
    """Waits until show workers lists count workers, all booted; returns their pids."""
    def ready():
        workers = listed_workers(sock)
        return {w["pid"] for w in workers} if len(workers) == count and all(w["booted"] for w in workers) else None
    pids = wait_for(ready, 20, interval=0.2)
    assert pids, f"expected {count} booted workers, show workers says {listed_workers(sock)}"
    return pids


def exchange(sock_path, raw):
    """Sends raw bytes on a new connection and returns the decoded answer and the connection."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(10)
    conn.connect(str(sock_path))
    conn.sendall(raw)
    return read_answer(conn), conn


def read_answer(conn):
    prefix = b""
    while len(prefix) < 4:
        chunk = conn.recv(4 - len(prefix))
        assert chunk, "the connection closed without an answer"
        prefix += chunk
    (length,) = struct.unpack(">I", prefix)
    payload = b""
    while len(payload) < length:
        chunk = conn.recv(length - len(payload))
        assert chunk, "the connection closed in the middle of the answer"
        payload += chunk
    return json.loads(payload)


def framed(message):
    payload = json.dumps(message).encode()
    return struct.pack(">I", len(payload)) + payload


@pytest.fixture
def sock(tmp_path):
    return tmp_path / "ctl.sock"


def test_show_workers_lists_the_workers(gowsgi, sock):
    server = gowsgi(APP, "-w", "2", "--control-socket", sock)
    pids = booted_pids(sock, 2)
    assert pids == set(server.workers())
    result = ctl(sock, "-c", "show workers")
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["PID", "AGE", "BOOTED", "LAST_BEAT"] and lines[-1] == "Total: 2 workers"
    rows = [line.split() for line in lines[2:4]]
    assert {int(row[0]) for row in rows} == pids and [row[2] for row in rows] == ["yes", "yes"]
    assert all(re.fullmatch(r"\d+\.\d+s", row[3]) and row[4] == "ago" for row in rows), lines


def test_worker_add_and_remove_change_the_workers(gowsgi, sock):
    server = gowsgi(APP, "-w", "2", "--control-socket", sock)
    first = booted_pids(sock, 2)
    assert ctl_json(sock, "worker add 2") == {"added": 2, "previous": 2, "total": 4}
    four = booted_pids(sock, 4)
    assert first < four and set(server.wait_workers(4)) == four
    assert ctl_json(sock, "worker remove 1") == {"removed": 1, "previous": 4, "total": 3}
    three = booted_pids(sock, 3)
    assert three < four and set(server.wait_workers(3)) == three
    stats = ctl_json(sock, "show stats")
    assert (stats["workers_target"], stats["workers_spawned"], stats["workers_killed"]) == (3, 4, 1)


def test_reload_replaces_the_workers(gowsgi, sock):
    server = gowsgi(APP, "-w", "2", "--control-socket", sock)
    old = booted_pids(sock, 2)
    assert ctl_json(sock, "reload") == {"status": "reloading"}
    assert wait_for(lambda: (lambda now: len(now) == 2 and not now & old and now)(
        {w["pid"] for w in listed_workers(sock)}), 20, interval=0.2), server.describe()
    assert not any(alive(pid) for pid in old)
    assert ctl_json(sock, "show stats")["reloads"] == 1
    server.wait_log("Handling control command: reload, as SIGHUP")


@pytest.mark.parametrize("mode,signal_name", [("", "SIGTERM"), ("quick", "SIGINT")])
def test_shutdown_stops_the_master(gowsgi, sock, mode, signal_name):
    server = gowsgi(APP, "-w", "2", "--control-socket", sock)
    workers = server.wait_workers(2)
    result = ctl(sock, "-c", f"shutdown {mode}".strip())
    assert result.returncode == 0, result
    assert json.loads(result.stdout) == {"status": "shutting_down", "mode": mode or "graceful"}
    assert server.proc.wait(15) == 0
    assert f"Handling control command: shutdown, as {signal_name}" in server.log()
    assert not sock.exists()
    assert wait_for(lambda: not any(alive(pid) for pid in workers), 5)


def test_json_gives_gunicorns_data(gowsgi, sock):
    server = gowsgi(APP, "-w", "2", "--control-socket", sock)
    booted_pids(sock, 2)
    stats = ctl_json(sock, "show stats")
    assert list(stats) == ["uptime", "pid", "workers_current", "workers_target", "workers_spawned",
                           "workers_killed", "reloads", "dirty_arbiter_pid"]
    assert stats["pid"] == server.pid and stats["workers_target"] == 2 and stats["uptime"] > 0
    config = ctl_json(sock, "show config")
    assert config["bind"] == [f"127.0.0.1:{server.port}"] and config["workers"] == 2
    assert config["control_socket"] == str(sock) and config["control_socket_disable"] is False
    listeners = ctl_json(sock, "show listeners")
    assert listeners["count"] == 1 and listeners["listeners"][0]["type"] == "tcp", listeners
    assert listeners["listeners"][0]["address"] == f"http://127.0.0.1:{server.port}"
    assert os.readlink(f"/proc/{server.pid}/fd/{listeners['listeners'][0]['fd']}").startswith("socket:")
    assert "worker add [N]" in ctl_json(sock, "help")["commands"]


def test_interactive_mode_reads_commands_from_a_pipe(gowsgi, sock):
    gowsgi(APP, "-w", "2", "--control-socket", sock)
    booted_pids(sock, 2)
    result = ctl(sock, stdin="show workers\n\nshow stats\nquit\nshow config\n")
    assert result.returncode == 0, result
    assert "Total: 2 workers" in result.stdout and "Workers target:   2" in result.stdout
    assert "bind:" not in result.stdout and "gowsgi>" not in result.stdout
    result = ctl(sock, stdin="bogus\nshow stats\n")
    assert result.returncode == 1 and "Uptime:" in result.stdout
    assert result.stderr == 'Error: unknown command "bogus"; help lists the commands\n'


def test_default_path_is_gunicorns(gowsgi, tmp_path):
    runtime = tmp_path / "run"
    runtime.mkdir()
    server = gowsgi(APP, env={"XDG_RUNTIME_DIR": str(runtime)})
    server.wait_log(f"Control socket listening at {runtime}/gunicorn.ctl")
    result = ctl(None, "-c", "show stats", "-j", env={"XDG_RUNTIME_DIR": str(runtime)})
    assert result.returncode == 0 and json.loads(result.stdout)["pid"] == server.pid, result

    home = tmp_path / "home"
    home.mkdir()
    other = gowsgi(APP, env={"XDG_RUNTIME_DIR": None, "HOME": str(home)})
    other.wait_log(f"Control socket listening at {home}/.gunicorn/gunicorn.ctl")
    assert stat.S_IMODE((home / ".gunicorn").stat().st_mode) == 0o700
    result = ctl(None, "-c", "show stats", "-j", env={"XDG_RUNTIME_DIR": None, "HOME": str(home)})
    assert result.returncode == 0 and json.loads(result.stdout)["pid"] == other.pid, result


def test_no_control_socket(gowsgi, tmp_path):
    runtime = tmp_path / "run"
    runtime.mkdir()
    server = gowsgi(APP, "--no-control-socket", env={"XDG_RUNTIME_DIR": str(runtime)})
    assert requests.get(server.url, timeout=10).status_code == 200
    assert list(runtime.iterdir()) == [] and "Control socket" not in server.log()
    result = ctl(None, "-c", "show workers", env={"XDG_RUNTIME_DIR": str(runtime)})
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == f"Error: can't connect to {runtime}/gunicorn.ctl: no such file or directory\n"


def test_socket_mode(gowsgi, sock, tmp_path):
    gowsgi(APP, "--control-socket", sock)
    assert stat.S_ISSOCK(sock.stat().st_mode) and stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert sock.stat().st_uid == os.geteuid()
    other = tmp_path / "other.sock"
    gowsgi(APP, "--control-socket", other, "--control-socket-mode", "0660")
    assert stat.S_IMODE(other.stat().st_mode) == 0o660


def test_a_dead_masters_socket_is_replaced_and_a_live_one_kept(gowsgi, sock, tmp_path):
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(sock))
    stale.close()  # the file stays, with nothing listening
    server = gowsgi(APP, "--control-socket", sock)
    assert ctl_json(sock, "show stats")["pid"] == server.pid

    taken = tmp_path / "taken.sock"
    live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    live.bind(str(taken))
    live.listen()
    try:
        inode = taken.stat().st_ino
        other = gowsgi(APP, "--control-socket", taken)
        other.wait_log(f"Can't serve the control socket {taken}: address already in use")
        assert requests.get(other.url, timeout=10).status_code == 200
        other.stop()
        assert taken.stat().st_ino == inode
    finally:
        live.close()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_a_client_of_another_user_is_refused(gowsgi):
    directory = tempfile.mkdtemp(prefix="gowsgi-ctl-")
    try:
        os.chmod(directory, 0o755)
        sock = os.path.join(directory, "ctl.sock")
        # The mode lets anyone connect: what refuses is the check of the client's user.
        server = gowsgi(APP, "--control-socket", sock, "--control-socket-mode", "0o666")
        result = ctl(sock, "-c", "show workers", user=NOBODY)
        assert result.returncode == 1 and result.stdout == "", result
        assert result.stderr == "Error: permission denied: only the user gowsgi runs as may use its control socket\n"
        server.wait_log("Control socket: refused a connection from uid 65534")
        script = ("import socket, struct, json; s = socket.socket(socket.AF_UNIX); s.connect(%r); "
                  "p = json.dumps({'id': 7, 'command': 'shutdown', 'args': []}).encode(); "
                  "s.sendall(struct.pack('>I', len(p)) + p); n = struct.unpack('>I', s.recv(4))[0]; "
                  "print(s.recv(n).decode())" % sock)
        raw = subprocess.run([*NOBODY, "/usr/bin/python3", "-c", script], capture_output=True, text=True, timeout=20)
        assert json.loads(raw.stdout) == {"id": 7, "status": "error", "error":
                                          "permission denied: only the user gowsgi runs as may use its control socket"}
        assert server.proc.poll() is None and ctl_json(sock, "show stats")["pid"] == server.pid
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_gunicorns_protocol_by_hand_and_malformed_messages(gowsgi, sock):
    """gunicornc's request, written by hand (no gunicorn 26 here), and messages that break the
    protocol: each gets an error answer, and the master serves on."""
    server = gowsgi(APP, "-w", "2", "--control-socket", sock)
    booted_pids(sock, 2)
    answer, conn = exchange(sock, framed({"id": 1, "command": "show", "args": ["workers"]}))
    assert answer["id"] == 1 and answer["status"] == "ok" and answer["data"]["count"] == 2
    conn.sendall(framed({"id": 2, "command": "worker add", "args": [1]}))
    assert read_answer(conn) == {"id": 2, "status": "ok", "data": {"added": 1, "previous": 2, "total": 3}}
    conn.sendall(struct.pack(">I", 9) + os.urandom(9))
    answer = read_answer(conn)
    assert answer["status"] == "error" and "not a JSON object" in answer["error"]
    conn.sendall(framed({"id": 3, "command": "dance"}))
    assert read_answer(conn) == {"id": 3, "status": "error", "error": 'unknown command "dance"; help lists the commands'}
    conn.close()

    answer, conn = exchange(sock, b"\xff\xff\xff\xff" + os.urandom(64))
    assert answer["status"] == "error" and "too large" in answer["error"]
    try:
        assert conn.recv(1) == b"", "the connection stays open after a message it cannot frame"
    except ConnectionResetError:
        pass  # closed with the unread rest of the message pending
    conn.close()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as half:
        half.connect(str(sock))
        half.sendall(b"\x00\x00\x01\x00{")  # then hangs up mid-message

    assert booted_pids(sock, 3) and server.proc.poll() is None
    assert requests.get(server.url, timeout=10).status_code == 200


@pytest.mark.parametrize("preload", [(), ("--preload",)], ids=["exec", "preload"])
def test_workers_do_not_inherit_the_socket(gowsgi, sock, preload):
    server = gowsgi(APP, "-w", "2", "--control-socket", sock, *preload)
    booted_pids(sock, 2)
    # The listening socket (flag __SO_ACCEPTCON): connections the master accepted on it carry its
    # path too, and the ctl connection above may not be closed yet.
    inodes = [line.split()[6] for line in open("/proc/net/unix")
              if line.rstrip().endswith(" " + str(sock)) and line.split()[3] == "00010000"]
    assert len(inodes) == 1, inodes

    def holds(pid):
        links = []
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except FileNotFoundError:
                pass
        return f"socket:[{inodes[0]}]" in links

    assert holds(server.pid)
    others = server.workers() + ([server.fork_server()] if preload else [])
    assert len(others) == 2 + len(preload) and not any(holds(pid) for pid in others)


def test_a_binary_upgrade_hands_the_socket_to_the_new_master(gowsgi, sock):
    server = gowsgi(APP, "--control-socket", sock)
    booted_pids(sock, 1)
    server.signal(signal.SIGUSR2)
    found = wait_for(lambda: re.search(r"Started new master with pid: (\d+)", server.log()), 10)
    assert found, server.describe()
    new_master = int(found.group(1))
    try:
        server.wait_log(f"[{new_master}] [INFO] Booting worker")
        assert ctl_json(sock, "show stats")["pid"] == server.pid
        server.signal(signal.SIGTERM)
        assert server.proc.wait(15) == 0
        assert wait_for(lambda: sock.exists() and ctl(sock, "-j", "-c", "show stats").returncode == 0, 10), \
            server.describe()
        assert ctl_json(sock, "show stats")["pid"] == new_master
        assert "Can't serve the control socket" not in server.log()
    finally:
        if alive(new_master):
            os.kill(new_master, signal.SIGTERM)
    assert wait_for(lambda: not alive(new_master), 15)
    assert not sock.exists()
