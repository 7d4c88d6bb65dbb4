"""The master's lifecycle: reloads, binary upgrades, scaling and worker recycling lose no request;
silent workers are killed and reported for what they were doing."""

import http.client
import os
import re
import select
import shutil
import signal
import threading
import time

import pytest
import requests

import support
from support import APPS, alive, wait_for, workers_of

APP = "lifecycle_app:app"


@pytest.fixture
def gowsgi(either_gowsgi):
    """Every test here runs twice: with workers that import the app, and with --preload."""
    return either_gowsgi


class ClientLoad:
    """Threads sending keep-alive GETs as fast as the server answers, counting honestly.

    As real clients do, a thread checks that a reused connection has not been closed by the server
    before sending on it, and retries a request only when sending it failed on a reused connection
    (so the server never saw it). A request that was sent and got no complete 200 answer is a
    failure.
    """

    def __init__(self, host, port, threads=4, path="/", max_requests=1_000_000):
        self.host, self.port, self.path = host, port, path
        self.max_requests = max_requests
        self.succeeded = 0
        self.resent = 0
        self.failures = []
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def start(self):
        for thread in self.threads:
            thread.start()
        return self

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(30)

    @property
    def total(self):
        return self.succeeded + len(self.failures)

    def wait_for_more(self, count, timeout=20):
        """Waits until count more requests have been answered."""
        goal = self.succeeded + count
        assert wait_for(lambda: self.succeeded >= goal or self.stopping.is_set(), timeout), \
            f"the load made {self.succeeded}/{goal} requests in {timeout}s; failures: {self.failures[:5]}"

    def _run(self):
        conn = None
        while not self.stopping.is_set() and self.total < self.max_requests:
            conn = self._one_request(conn)
        if conn is not None:
            conn.close()

    @staticmethod
    def _closed_by_server(conn):
        return conn.sock is None or bool(select.select([conn.sock], [], [], 0)[0])

    def _fail(self, what):
        with self.lock:
            self.failures.append(what)

    def _one_request(self, conn):
        """Sends one request, resending it only if it never left; returns the connection to reuse."""
        while True:
            if conn is not None and self._closed_by_server(conn):
                conn.close()
                conn = None
            reused = conn is not None
            if not reused:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
            try:
                conn.request("GET", self.path)
            except (BrokenPipeError, ConnectionResetError) as unsent:
                conn.close()
                if reused:
                    with self.lock:
                        self.resent += 1
                    conn = None
                    continue
                self._fail(f"sending on a new connection: {unsent!r}")
                return None
            except OSError as refused:
                conn.close()
                self._fail(f"connecting: {refused!r}")
                return None
            try:
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as lost:
                conn.close()
                self._fail(f"no answer on a {'reused' if reused else 'new'} connection: {lost!r}")
                return None
            if response.status != 200:
                self._fail(f"status {response.status}")
            else:
                with self.lock:
                    self.succeeded += 1
            if response.will_close:
                conn.close()
                return None
            return conn


def new_master_pid(server):
    match = re.search(r"Started new master with pid: (\d+)", server.log())
    return int(match.group(1)) if match else None


def booted_by(server, master_pid):
    return len(re.findall(rf"\[{master_pid}\] \[INFO\] Booting worker with pid", server.log()))


@pytest.mark.parametrize("worker_class", [["-k", "sync"], ["-k", "gthread", "--threads", "4"], ["-k", "gevent"]],
                         ids=["sync", "gthread", "gevent"])
def test_nothing_is_lost_under_load_while_the_master_changes_workers(gowsgi, worker_class):
    server = gowsgi(APP, "-w", "2", *worker_class, "--max-requests", "2000", "--max-requests-jitter", "1000",
                    "--graceful-timeout", "10")
    server.wait_workers(2)
    new_master = None
    load = ClientLoad(server.host, server.port, threads=4).start()
    try:
        load.wait_for_more(1000)
        for reloads in (1, 2):
            server.signal(signal.SIGHUP)
            assert wait_for(lambda: server.log().count("Hang up: Master") == reloads, 10), server.describe()
            load.wait_for_more(3000)
        server.signal(signal.SIGTTIN)
        assert wait_for(lambda: len(server.workers()) == 3, 15), server.describe()
        load.wait_for_more(3000)
        server.signal(signal.SIGTTOU)
        assert wait_for(lambda: len(server.workers()) == 2, 15), server.describe()
        load.wait_for_more(3000)

        server.signal(signal.SIGUSR2)
        new_master = wait_for(lambda: new_master_pid(server), 10)
        assert new_master, f"no new master after USR2\n{server.describe()}"
        assert wait_for(lambda: booted_by(server, new_master) >= 2, 15), server.describe()
        load.wait_for_more(5000)
        server.signal(signal.SIGTERM)
        server.proc.wait(15)
        server.wait_log(f"[{new_master}] [INFO] Master has been promoted.")
        load.wait_for_more(3000)
        os.kill(new_master, signal.SIGHUP)
        server.wait_log(f"[{new_master}] [INFO] Hang up: Master")
        load.wait_for_more(5000)
    finally:
        load.stop()
        if new_master and alive(new_master):
            workers = workers_of(new_master)
            os.kill(new_master, signal.SIGTERM)
            wait_for(lambda: not alive(new_master) and not any(alive(w) for w in workers), 15)
    print(f"\nload test ({' '.join(worker_class)}): {load.total} requests, {load.succeeded} answered, "
          f"{len(load.failures)} failed, {load.resent} resent because they were never sent")
    assert load.failures == [], f"{len(load.failures)} of {load.total} requests failed: {load.failures[:10]}"
    assert server.proc.returncode == 0
    log = server.log()
    assert log.count("Hang up: Master") == 3
    assert "asks to be replaced: served" in log
    assert "[ERROR]" not in log, log


def test_hup_serves_the_changed_code(gowsgi, tmp_path):
    shutil.copy(APPS / "lifecycle_app.py", tmp_path)
    server = gowsgi(APP, "-w", "2", cwd=tmp_path)
    old = set(server.wait_workers(2))
    assert requests.get(server.url + "/version", timeout=10).text.split()[0] == "1"

    source = tmp_path / "lifecycle_app.py"
    source.write_text(source.read_text().replace('VERSION = "1"', 'VERSION = "2"'))
    server.signal(signal.SIGHUP)
    assert wait_for(lambda: not old & set(server.workers()) and len(server.workers()) == 2, 15), \
        f"workers {server.workers()}, old ones {old}\n{server.describe()}"
    answers = {requests.get(server.url + "/version", timeout=10).text for _ in range(20)}
    assert {a.split()[0] for a in answers} == {"2"}
    assert not any(alive(pid) for pid in old)


def answering_pids(server, pids, timeout=10):
    """Sends /version on new connections until each of pids has answered; returns the versions."""
    versions, missing = set(), set(pids)
    deadline = time.monotonic() + timeout
    while missing and time.monotonic() < deadline:
        version, pid = requests.get(server.url + "/version", timeout=10).text.split()
        versions.add(version)
        missing.discard(int(pid))
    assert not missing, f"workers {missing} never answered\n{server.describe()}"
    return versions


def test_hup_with_an_app_that_no_longer_loads_keeps_the_old_workers(gowsgi, tmp_path):
    shutil.copy(APPS / "lifecycle_app.py", tmp_path)
    source = tmp_path / "lifecycle_app.py"
    good = source.read_text()
    server = gowsgi(APP, "-w", "2", cwd=tmp_path)
    old = set(server.wait_workers(2))
    answering_pids(server, old)

    source.write_text(good + "\nraise RuntimeError('deploy half done 4f1c')\n")
    server.signal(signal.SIGHUP)
    log = server.wait_log("Reload failed", timeout=15)
    assert "deploy half done 4f1c" in log
    assert re.search(r"\[ERROR\] Reload failed: App failed to load .*; keeping the 2 workers that were running", log), log
    assert wait_for(lambda: set(server.workers()) == old, 10), server.describe()
    assert answering_pids(server, old) == {"1"}
    assert server.proc.poll() is None

    source.write_text(good.replace('VERSION = "1"', 'VERSION = "2"'))
    server.signal(signal.SIGHUP)
    new = wait_for(lambda: (lambda p: p if len(p) == 2 and not p & old else None)(set(server.workers())), 15)
    assert new, f"workers {server.workers()}, old ones {old}\n{server.describe()}"
    assert answering_pids(server, new) == {"2"}


def test_worker_that_cannot_be_replaced_serves_on(gowsgi, tmp_path):
    if "--preload" in gowsgi.extra_args:
        pytest.skip("with --preload a replacement is forked from the app as loaded before (see test_preload.py)")
    shutil.copy(APPS / "lifecycle_app.py", tmp_path)
    source = tmp_path / "lifecycle_app.py"
    good = source.read_text()
    server = gowsgi(APP, "-w", "1", "--max-requests", "3", cwd=tmp_path)
    [first] = server.wait_workers(1)
    answering_pids(server, [first])
    source.write_text(good + "\nraise RuntimeError('deploy half done 4f1c')\n")
    for _ in range(7):
        assert requests.get(server.url + "/version", timeout=10).text == f"1 {first}"
    server.wait_log(f"(pid {first}) asks to be replaced: served 3 requests")
    log = server.wait_log("[ERROR] Can't replace a worker: App failed to load", timeout=10)
    assert "1 workers keep serving the app they loaded" in log
    assert requests.get(server.url + "/version", timeout=10).text == f"1 {first}"
    assert server.proc.poll() is None

    source.write_text(good.replace('VERSION = "1"', 'VERSION = "2"'))
    assert wait_for(lambda: server.workers() and first not in server.workers(), 15), server.describe()
    assert requests.get(server.url + "/version", timeout=10).text.split()[0] == "2"


@pytest.mark.parametrize("worker_class", [["-k", "sync"], ["-k", "gevent"]], ids=["sync", "gevent"])
def test_max_requests_recycles_workers(gowsgi, worker_class):
    server = gowsgi(APP, "-w", "1", *worker_class, "--max-requests", "5")
    first = server.wait_workers(1)[0]
    pids = set()
    for _ in range(30):
        response = requests.get(server.url + "/", timeout=10)
        assert response.status_code == 200
        pids.add(int(response.text))
        time.sleep(0.05)
    assert first in pids and len(pids) >= 3, f"answered by {pids}"
    server.wait_log(f"(pid {first}) asks to be replaced: served 5 requests (--max-requests)")
    assert not alive(first)
    assert "[ERROR]" not in server.log()


def test_max_worker_memory_replaces_a_worker_that_grew(gowsgi):
    server = gowsgi(APP, "-w", "1", "--max-worker-memory", "150")
    first = server.wait_workers(1)[0]
    assert requests.get(server.url + "/grow?mb=200", timeout=20).status_code == 200
    log = server.wait_log("is over --max-worker-memory 150 MiB", timeout=5)
    assert re.search(rf"Worker 1 \(pid {first}\) asks to be replaced: resident memory \d+ MiB is over", log), log
    assert wait_for(lambda: server.workers() and first not in server.workers(), 10), server.describe()
    assert int(requests.get(server.url + "/", timeout=10).text) != first


def test_worker_stuck_in_c_is_killed_and_replaced(gowsgi):
    server = gowsgi(APP, "-w", "2", "--timeout", "3")
    before = set(server.wait_workers(2))
    stuck_answer = {}

    def ask_stuck():
        try:
            stuck_answer["status"] = requests.get(server.url + "/stuck?seconds=60", timeout=30).status_code
        except requests.RequestException as error:
            stuck_answer["error"] = error

    asking = threading.Thread(target=ask_stuck, daemon=True)
    started = time.monotonic()
    asking.start()
    line = wait_for(lambda: re.search(r"Worker (\d+) \(pid (\d+)\) timed out after (\d+) s while (.*)", server.log()), 12)
    assert line, f"no timeout reported within 12s\n{server.describe()}"
    took = time.monotonic() - started
    worker, pid, seconds, doing = line.groups()
    assert int(pid) in before
    assert doing.startswith("serving GET /stuck"), line.group(0)
    assert 3 <= int(seconds) <= 5 and took <= 3 + 5, (line.group(0), took)
    assert "out of memory" not in server.log()
    asking.join(10)
    # The client is not left hanging. What it gets depends on where SIGABRT lands: on the thread
    # blocked in C, it cuts the call short (EINTR) and the app may still answer; elsewhere the
    # connection closes with the worker.
    assert not asking.is_alive(), "the stuck request was left hanging"
    assert wait_for(lambda: len(server.workers()) == 2 and int(pid) not in server.workers(), 5), server.describe()
    for _ in range(10):
        assert requests.get(server.url + "/", timeout=5).status_code == 200


def test_usr2_starts_the_binary_now_on_disk_and_moves_the_pid_file(gowsgi, tmp_path, monkeypatch):
    built = support.GOWSGI
    binary = tmp_path / "gowsgi"
    shutil.copy(built, binary)
    monkeypatch.setattr(support, "GOWSGI", binary)
    pidfile = tmp_path / "gowsgi.pid"
    server = gowsgi(APP, "-w", "1", "-p", str(pidfile))
    server.wait_workers(1)
    assert wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() == str(server.pid), 5)

    # The upgrade must run what is on disk now, not the binary the old master runs.
    marker = tmp_path / "upgraded"
    binary.unlink()
    binary.write_text(f"#!/bin/sh\necho $$ > {marker}\nexec {built} \"$@\"\n")
    binary.chmod(0o755)
    server.signal(signal.SIGUSR2)
    new_master = wait_for(lambda: new_master_pid(server), 10)
    assert new_master, server.describe()
    try:
        assert wait_for(lambda: marker.exists(), 5) and int(marker.read_text()) == new_master
        second = pidfile.with_name("gowsgi.pid.2")
        assert wait_for(lambda: second.exists() and second.read_text().strip() == str(new_master), 10), server.describe()
        assert pidfile.read_text().strip() == str(server.pid)
        assert wait_for(lambda: booted_by(server, new_master) == 1, 10), server.describe()
        assert all(requests.get(server.url + "/", timeout=10).status_code == 200 for _ in range(20))

        server.signal(signal.SIGTERM)
        assert server.proc.wait(15) == 0
        server.wait_log(f"[{new_master}] [INFO] Master has been promoted.")
        assert wait_for(lambda: not second.exists() and pidfile.exists()
                        and pidfile.read_text().strip() == str(new_master), 5), server.describe()
        assert requests.get(server.url + "/", timeout=10).status_code == 200
    finally:
        if alive(new_master):
            os.kill(new_master, signal.SIGTERM)
    assert wait_for(lambda: not alive(new_master), 15)
    assert not pidfile.exists()


def test_usr1_reaches_workers_without_stopping_them(gowsgi):
    server = gowsgi(APP, "-w", "2")
    workers = server.wait_workers(2)
    server.signal(signal.SIGUSR1)
    server.wait_log("Handling signal: usr1")
    time.sleep(0.5)
    assert server.workers() == workers
    assert requests.get(server.url + "/", timeout=10).status_code == 200
    assert "Worker (pid" not in server.log(), server.log()
