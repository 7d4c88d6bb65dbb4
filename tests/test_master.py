"""The master: its log, replacing dead workers, stopping on TERM and INT, no orphans after KILL."""

import os
import re
import signal
import threading
from urllib.parse import quote

import pytest
import requests

from support import alive, port_accepts, wait_for

LOG_LINE = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[(\d+)\] \[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\] ")


@pytest.fixture
def gowsgi(either_gowsgi):
    """Every test here runs twice: with workers that import the app, and with --preload."""
    return either_gowsgi


def served_pid(server, timeout=10):
    response = requests.get(server.url + "/info", timeout=timeout)
    assert response.status_code == 200
    return response.json()["pid"]


def test_master_log_lines(gowsgi):
    server = gowsgi("workers_app:app", "-w", "2")
    workers = server.wait_workers(2)
    log = server.wait_log(f"Booting worker with pid: {workers[1]}")
    assert f"Booting worker with pid: {workers[0]}" in log
    assert f"Listening at: http://127.0.0.1:{server.port} ({server.pid})" in log
    first_lines = log.splitlines()[:3]
    assert first_lines and all(LOG_LINE.match(line) for line in first_lines), first_lines
    listening = next(line for line in log.splitlines() if "Listening at:" in line)
    assert LOG_LINE.match(listening).group(1) == str(server.pid)


def test_killed_worker_is_replaced(gowsgi):
    server = gowsgi("workers_app:app", "-w", "1")
    [old] = server.wait_workers(1)
    assert served_pid(server) == old
    os.kill(old, signal.SIGKILL)
    new = wait_for(lambda: [p for p in server.workers() if p != old], timeout=5)
    assert new, f"no new worker within 5 s\n{server.describe()}"
    assert served_pid(server) == new[0]
    server.wait_log(f"Booting worker with pid: {new[0]}")
    assert server.proc.poll() is None


def test_other_workers_serve_while_one_is_replaced(gowsgi):
    server = gowsgi("workers_app:app", "-w", "2")
    old = server.wait_workers(2)
    os.kill(old[0], signal.SIGKILL)
    assert served_pid(server) != old[0]
    now = wait_for(lambda: (lambda p: p if len(p) == 2 and old[0] not in p else None)(server.workers()), timeout=5)
    assert now and old[1] in now


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_signal_stops_master_and_workers(gowsgi, signum):
    server = gowsgi("workers_app:app", "-w", "2")
    workers = server.wait_workers(2)
    served_pid(server)
    server.signal(signum)
    assert server.proc.wait(15) == 0, server.describe()
    assert wait_for(lambda: not any(alive(p) for p in workers), timeout=5), "a worker outlived the master"
    assert wait_for(lambda: not port_accepts("127.0.0.1", server.port), timeout=5), "the port still accepts"


def start_slow_request(server, seconds, started, result):
    """Sends /slow from a thread and returns once the app has the request."""

    def slow_request():
        try:
            result["response"] = requests.get(f"{server.url}/slow?seconds={seconds}&started={quote(str(started))}",
                                              timeout=30)
        except requests.RequestException as error:
            result["error"] = error

    client = threading.Thread(target=slow_request, daemon=True)
    client.start()
    assert wait_for(started.exists, timeout=10), f"the request never reached the app\n{server.describe()}"
    return client


def test_term_lets_a_request_in_flight_finish(gowsgi, tmp_path):
    server = gowsgi("workers_app:app", "-w", "1")
    server.wait_workers(1)
    result = {}
    client = start_slow_request(server, 1.5, tmp_path / "started", result)
    server.signal(signal.SIGTERM)
    client.join(20)
    assert "response" in result, result.get("error")
    assert result["response"].status_code == 200
    assert result["response"].json()["slept"] == "1.5"
    assert server.proc.wait(15) == 0


def test_graceful_timeout_bounds_the_wait_for_requests(gowsgi, tmp_path):
    server = gowsgi("workers_app:app", "-w", "1", "--graceful-timeout", "1")
    workers = server.wait_workers(1)
    start_slow_request(server, 20, tmp_path / "started", {})
    server.signal(signal.SIGTERM)
    server.proc.wait(8)
    assert wait_for(lambda: not any(alive(p) for p in workers), timeout=5)


def test_killing_the_master_leaves_no_worker(gowsgi):
    server = gowsgi("workers_app:app", "-w", "3")
    workers = server.wait_workers(3)
    served_pid(server)
    server.proc.kill()
    server.proc.wait(5)
    assert wait_for(lambda: not any(alive(p) for p in workers), timeout=5), \
        f"orphaned workers: {[p for p in workers if alive(p)]}"
    assert wait_for(lambda: not port_accepts("127.0.0.1", server.port), timeout=5), "the port still accepts"
