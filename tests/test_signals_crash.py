"""Crashing workers, scaling signals, WINCH, signals sent to one worker, the keep-alive idle limit
and quick stops, as an operator sees them from outside the server."""

import os
import resource
import signal
import threading
import time

import pytest
import requests

import rawhttp
from support import APPS, alive, children, free_port, port_accepts, run_gowsgi, wait_for

APP = "crash_app:app"


@pytest.fixture
def gowsgi(either_gowsgi):
    """Every test here runs twice: with workers that import the app, and with --preload."""
    return either_gowsgi


class ClientLoop:
    """One thread sending GET / on a new connection each time, recording who answered and when."""

    def __init__(self, server):
        self.url = server.url + "/"
        self.answers = []  # (monotonic time, pid)
        self.failures = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(15)

    def _run(self):
        while not self.stopping.is_set():
            try:
                response = requests.get(self.url, timeout=5)
                if response.status_code == 200:
                    self.answers.append((time.monotonic(), int(response.text)))
                else:
                    self.failures.append(f"status {response.status_code}")
            except requests.RequestException as error:
                self.failures.append(repr(error))

    def first_answer_by(self, pids):
        return next((at for at, pid in self.answers if pid in pids), None)


def both_answer(server, pids, timeout=10):
    """Waits until every worker in pids has answered, so that all of them have loaded the app."""
    missing = set(pids)
    deadline = time.monotonic() + timeout
    while missing and time.monotonic() < deadline:
        missing.discard(int(requests.get(server.url + "/", timeout=10).text))
    assert not missing, f"workers {missing} never answered\n{server.describe()}"


@pytest.fixture
def no_core_files():
    """Workers that die of SIGSEGV write no core file into the apps directory."""
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
    yield
    resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))


def line_of(path, text):
    """The number of the line of path that holds text."""
    return next(number for number, line in enumerate(path.read_text().splitlines(), 1) if text in line)


# The segfault kills the worker by its signal, as it kills a Python process, after faulthandler
# has printed where the app was; the master reports it as gunicorn 26.1 does, at warning level.
SEGFAULT_REPORT = [
    "[WARNING] Worker (pid:{pid}) was sent SIGSEGV!",
    "Fatal Python error: Segmentation fault",
    f'File "{APPS / "crash_app.py"}", line {line_of(APPS / "crash_app.py", "ctypes.string_at(0)")} in segfault',
]


@pytest.mark.parametrize("path,report", [
    ("/exit", ["[ERROR] Worker (pid:{pid}) exited with code 1"]),
    ("/segfault", SEGFAULT_REPORT),
], ids=["os._exit", "SIGSEGV"])
def test_crashed_worker_is_replaced_quickly_and_the_other_serves_on(gowsgi, no_core_files, path, report):
    server = gowsgi(APP, "-w", "2")
    old = server.wait_workers(2)
    both_answer(server, old)
    with ClientLoop(server) as loop:
        assert wait_for(lambda: len(loop.answers) >= 20, 10), loop.failures
        with pytest.raises(requests.ConnectionError):
            requests.get(server.url + path, timeout=10)
        crashed_at = time.monotonic()
        [crashed] = wait_for(lambda: [pid for pid in old if not alive(pid)], 2)
        [survivor] = [pid for pid in old if pid != crashed]
        replaced = wait_for(lambda: loop.first_answer_by(set(server.workers()) - set(old)), 5)
        assert replaced, f"no replacement answered within 5 s\n{server.describe()}"
        took = replaced - crashed_at
        print(f"replacement answered {took:.2f}s after the crash")
        assert took <= 2.0, f"the replacement answered {took:.2f}s after the crash"
        answered_after = len(loop.answers)
        assert wait_for(lambda: len(loop.answers) >= answered_after + 20, 10)
    # A connection the crashing worker accepted in the instant before it died goes with it, as it
    # would under any prefork server; every other request is answered.
    assert len(loop.failures) <= 1, loop.failures
    assert survivor in server.workers()
    assert any(crashed_at - 0.5 < at < replaced and pid == survivor for at, pid in loop.answers), \
        "the other worker did not serve while the crashed one was replaced"
    log = server.log()
    for line in report:
        assert line.format(pid=crashed) in log, log


def test_ttin_adds_a_worker_and_ttou_removes_one_but_never_the_last(gowsgi):
    server = gowsgi(APP, "-w", "1")
    [first] = server.wait_workers(1)
    server.signal(signal.SIGTTIN)
    assert first in server.wait_workers(2)
    server.signal(signal.SIGTTOU)
    [left] = server.wait_workers(1)
    assert left != first, "TTOU stopped the newer worker, not the oldest"
    server.signal(signal.SIGTTOU)
    assert wait_for(lambda: server.log().count("Handling signal: ttou") == 2, 5), server.describe()
    time.sleep(0.7)
    assert server.workers() == [left]
    assert requests.get(server.url + "/", timeout=10).text == str(left)


def start_sleeping_request(server, seconds, started):
    """Sends /sleep from a thread; returns the thread and its result once the app has the request."""
    result = {}

    def slow_request():
        try:
            result["status"] = requests.get(f"{server.url}/sleep?seconds={seconds}&started={started}",
                                            timeout=30).status_code
        except requests.RequestException as error:
            result["error"] = error

    client = threading.Thread(target=slow_request, daemon=True)
    client.start()
    assert wait_for(started.exists, 10), f"the slow request never reached the app\n{server.describe()}"
    return client, result


@pytest.mark.parametrize("signum,graceful", [(signal.SIGTERM, True), (signal.SIGQUIT, False), (signal.SIGINT, False)],
                         ids=["TERM", "QUIT", "INT"])
def test_signal_sent_to_a_worker_stops_it_and_the_master_replaces_it(gowsgi, tmp_path, signum, graceful):
    server = gowsgi(APP, "-w", "1")
    [worker] = server.wait_workers(1)
    client, result = start_sleeping_request(server, 1.5, tmp_path / "started")
    signalled = time.monotonic()
    os.kill(worker, signum)
    if graceful:
        client.join(10)
        assert result.get("status") == 200, result
    else:
        assert wait_for(lambda: not alive(worker), 1), "a quick stop waited for the request in flight"
        client.join(10)
        assert "status" not in result and time.monotonic() - signalled < 1.5
    [new] = wait_for(lambda: [p for p in server.workers() if p != worker], 5)
    server.wait_log(f"[INFO] Worker (pid:{worker}) exited with code 0")
    assert requests.get(server.url + "/", timeout=10).text == str(new)


def test_winch_scales_a_daemon_to_zero_and_ttin_brings_one_back(tmp_path):
    pidfile = tmp_path / "daemon.pid"
    port = free_port()
    foreground = run_gowsgi("-D", "-b", f"127.0.0.1:{port}", "-p", pidfile, "-w", "2", APP, timeout=10)
    assert foreground.returncode == 0, foreground.stderr
    daemon = None
    try:
        assert wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), 10), "no pid file"
        daemon = int(pidfile.read_text())
        assert wait_for(lambda: len(children(daemon)) == 2, 15), children(daemon)
        os.kill(daemon, signal.SIGWINCH)
        assert wait_for(lambda: children(daemon) == [], 10), f"workers left after WINCH: {children(daemon)}"
        time.sleep(0.5)
        assert children(daemon) == [] and alive(daemon)
        os.kill(daemon, signal.SIGTTIN)
        assert wait_for(lambda: len(children(daemon)) == 1, 10), children(daemon)
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=10).text == str(children(daemon)[0])
    finally:
        if daemon and alive(daemon):
            workers = children(daemon)
            os.kill(daemon, signal.SIGTERM)
            if not wait_for(lambda: not alive(daemon), 10):
                for pid in [daemon, *workers]:
                    os.kill(pid, signal.SIGKILL)


def test_winch_without_daemon_is_ignored(gowsgi):
    server = gowsgi(APP, "-w", "2")
    workers = server.wait_workers(2)
    server.signal(signal.SIGWINCH)
    server.wait_log("SIGWINCH ignored. Not daemonized")
    time.sleep(0.5)
    assert server.workers() == workers


def test_idle_keep_alive_connection_is_closed_after_keep_alive_seconds(gowsgi):
    server = gowsgi(APP, "-w", "1", "--keep-alive", "1")
    with rawhttp.Conn(server.port) as conn:
        conn.send(rawhttp.build("GET", "/"))
        assert conn.read_response().status == 200
        idle_since = time.monotonic()
        rawhttp.wait_closed(conn, timeout=5)
        idle = time.monotonic() - idle_since
    assert 0.5 <= idle <= 3, f"the idle connection was closed after {idle:.2f}s with --keep-alive 1"


@pytest.mark.parametrize("worker_class", [["-k", "sync"], ["-k", "gthread", "--threads", "2"]], ids=["sync", "gthread"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGQUIT], ids=["INT", "QUIT"])
def test_int_and_quit_stop_at_once_despite_a_request_in_flight(gowsgi, tmp_path, signum, worker_class):
    server = gowsgi(APP, "-w", "2", *worker_class)
    workers = server.wait_workers(2)
    client, result = start_sleeping_request(server, 10, tmp_path / "started")
    signalled = time.monotonic()
    server.signal(signum)
    assert server.proc.wait(5) == 0, server.describe()
    took = time.monotonic() - signalled
    print(f"stopped {took:.2f}s after {signal.Signals(signum).name}")
    assert took <= 2.0, f"{signal.Signals(signum).name} took {took:.2f}s to stop the server"
    assert wait_for(lambda: not any(alive(p) for p in workers), 2), "a worker outlived the master"
    assert not port_accepts("127.0.0.1", server.port)
    client.join(5)
    assert "status" not in result, "a quick stop waited for the request in flight"
