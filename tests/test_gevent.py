"""-k gevent: each request runs in a greenlet on gevent's hub, with the standard library patched
before the app is imported, so that requests that wait (sleeps, calls to other servers) run
at once in one worker; --worker-connections bounds them; slow clients never hold the hub;
--timeout ends a request whether it yields or not, and a hub blocked in C gets its worker
replaced. App: apps/gevent_app.py. The core WSGI suites also run under gevent (conftest's
worker_class), and so do the tests of hooks, the access log, max-requests and reloads."""

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

import rawhttp
from support import PYTHON, free_port, run_gowsgi, wait_for

APP = "gevent_app:app"
TIMEOUT = 2


def gevent_server(gowsgi, *args):
    return gowsgi(APP, "-w", "1", "-k", "gevent", *args)


def all_at_once(port, paths, timeout=60):
    """Sends one request per path, each on a connection of its own, before reading any answer;
    returns the responses in order."""
    conns = []
    try:
        for path in paths:
            conn = rawhttp.Conn(port, timeout=timeout)
            conn.send(rawhttp.build("GET", path))
            conns.append(conn)
        return [conn.read_response() for conn in conns]
    finally:
        for conn in conns:
            conn.close()


def stream_to_end(conn):
    """Reads what is left on the connection until the server closes it (the test's rawhttp
    would copy a long body over and over); returns how many bytes came and the last ones."""
    received, tail = len(conn.buf), conn.buf[-16:]
    while data := conn.sock.recv(1 << 20):
        received += len(data)
        tail = (tail + data)[-16:]
    return received, tail


LAST_CHUNK = b"\r\n0\r\n\r\n"


def peak(server):
    return json.loads(rawhttp.get(server.port, "/peak?reset=1").body)["peak"]


def pid(server):
    return rawhttp.get(server.port, "/").body


@pytest.mark.needs("gevent")
def test_the_app_is_imported_after_monkey_patching(gowsgi):
    server = gevent_server(gowsgi)
    where = json.loads(rawhttp.get(server.port, "/patched").body)
    assert where["sleep"].startswith("gevent"), where
    assert where["socket"].startswith("gevent"), where


@pytest.mark.needs("gevent")
def test_five_hundred_sleeping_requests_run_at_once_in_one_worker(gowsgi, record_property):
    server = gevent_server(gowsgi)
    started = time.monotonic()
    responses = all_at_once(server.port, ["/sleep?s=0.2"] * 500)
    wall = time.monotonic() - started
    assert [r.status for r in responses] == [200] * 500
    assert {r.body for r in responses} == {b"slept"}
    inside = peak(server)
    record_property("wall_seconds", round(wall, 3))
    print(f"500 requests sleeping 200 ms in one gevent worker: {wall:.2f} s wall, {inside} at once")
    # A worker that ran them one at a time would have had 1 inside; sending 500 requests takes
    # a while, so not all of them overlap.
    assert inside >= 100, f"only {inside} requests were inside the app at once"


class Upstream(ThreadingHTTPServer):
    """A local HTTP server whose answers take 200 ms; it counts the requests it has at once."""

    daemon_threads = True
    request_queue_size = 1024

    def __init__(self):
        self.lock = threading.Lock()
        self.now = self.peak = self.served = 0
        super().__init__(("127.0.0.1", 0), UpstreamHandler)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/"


class UpstreamHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        up = self.server
        with up.lock:
            up.now += 1
            up.peak = max(up.peak, up.now)
        time.sleep(0.2)
        with up.lock:
            up.now -= 1
            up.served += 1
        self.send_response(200)
        self.send_header("Content-Length", "8")
        self.end_headers()
        self.wfile.write(b"upstream")

    def log_message(self, *args):
        pass


@pytest.fixture
def upstream():
    server = Upstream()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("connections", [1000, 50])
@pytest.mark.needs("gevent")
def test_urllib_calls_to_an_upstream_run_at_once_up_to_worker_connections(gowsgi, upstream, connections):
    server = gevent_server(gowsgi, "--worker-connections", str(connections))
    started = time.monotonic()
    responses = all_at_once(server.port, [f"/upstream?url={upstream.url}"] * 200)
    wall = time.monotonic() - started
    assert [(r.status, r.body) for r in responses] == [(200, b"upstream")] * 200
    assert upstream.served == 200
    print(f"200 upstream calls of 200 ms, --worker-connections {connections}: {wall:.2f} s wall, "
          f"{upstream.peak} at once at the upstream")
    if connections >= 200:
        assert upstream.peak >= 100, f"only {upstream.peak} upstream calls ran at once"
    else:
        # The bound holds; requests past it waited in gowsgi, and none was dropped.
        assert connections // 2 <= upstream.peak <= connections


@pytest.mark.needs("gevent")
def test_worker_connections_bounds_the_requests_in_greenlets(gowsgi):
    server = gevent_server(gowsgi, "--worker-connections", "3")
    responses = all_at_once(server.port, ["/sleep?s=1"] * 9)
    assert [r.status for r in responses] == [200] * 9
    assert peak(server) == 3


@pytest.mark.needs("gevent")
def test_slow_clients_never_hold_the_hub(gowsgi):
    """A client that does not read a long response, and one that sends half its body and
    stops: other requests are answered meanwhile."""
    server = gevent_server(gowsgi)
    reader = rawhttp.Conn(server.port, timeout=10)
    reader.send(rawhttp.build("GET", "/stream?mb=64", headers=[("Connection", "close")]))
    sender = rawhttp.Conn(server.port, timeout=10)
    sender.send(b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
    time.sleep(0.3)
    for _ in range(5):
        assert requests.get(server.url + "/sleep?s=0.01", timeout=5).status_code == 200
    sender.send(b"x" * 99000)
    assert sender.read_response().body == b"read 100000"
    assert reader.read_head().startswith(b"HTTP/1.1 200")
    received, tail = stream_to_end(reader)
    assert tail.endswith(LAST_CHUNK) and received > 64 << 20
    reader.close()
    sender.close()


@pytest.mark.needs("gevent")
def test_large_upload_and_download(gowsgi):
    server = gevent_server(gowsgi)
    response = requests.post(server.url + "/read", data=b"u" * (30 << 20), timeout=60)
    assert response.text == f"read {30 << 20}"
    response = requests.get(server.url + "/stream?mb=30", timeout=60)
    assert len(response.content) == 30 << 20


@pytest.mark.needs("gevent")
def test_greenlet_that_never_yields_is_interrupted_and_the_worker_serves_on(gowsgi):
    server = gevent_server(gowsgi, "--timeout", str(TIMEOUT))
    before = pid(server)
    spinner = rawhttp.Conn(server.port, timeout=30)
    spinner.send(rawhttp.build("GET", "/spin"))
    assert spinner.read_response().status == 503
    assert pid(server) == before, "the worker was replaced"
    assert rawhttp.get(server.port, "/sleep?s=0.01").body == b"slept"
    log = server.wait_log("ended by its timeout")
    assert re.search(r"Request timed out after \d s: GET /spin; interrupting it\. Its stack:", log)
    assert 'gevent_app.py", line' in log and ", in spin\n" in log and "while True" in log


@pytest.mark.needs("gevent")
def test_greenlet_waiting_past_the_timeout_gets_503_while_others_are_served(gowsgi):
    server = gevent_server(gowsgi, "--timeout", str(TIMEOUT))
    before = pid(server)
    slow = rawhttp.Conn(server.port, timeout=30)
    slow.send(rawhttp.build("GET", "/sleep?s=60"))
    time.sleep(0.3)
    for _ in range(5):
        assert requests.get(server.url + "/sleep?s=0.01", timeout=5).text == "slept"
    response = slow.read_response()
    assert response.status == 503 and response.header("Connection") == "close"
    log = server.wait_log("ended by its timeout")
    assert re.search(r"Request timed out after \d s: GET /sleep\?s=60;", log)
    assert ", in sleep\n" in log and "time.sleep(float" in log
    assert pid(server) == before


@pytest.mark.needs("gevent")
def test_client_that_stops_reading_past_the_timeout_loses_its_response_not_the_worker(gowsgi):
    """The request cannot be interrupted while gowsgi waits to send to the client; its
    greenlet gets RequestTimeout when it next runs, and the response is cut off."""
    server = gevent_server(gowsgi, "--timeout", str(TIMEOUT))
    before = pid(server)
    reader = rawhttp.Conn(server.port, timeout=30)
    reader.send(rawhttp.build("GET", "/stream?mb=64"))
    assert reader.read_head().startswith(b"HTTP/1.1 200")
    server.wait_log("Request timed out after", timeout=TIMEOUT + 5)
    time.sleep(TIMEOUT)  # a worker taken for stuck would be replaced by now
    assert pid(server) == before
    received, tail = stream_to_end(reader)
    assert not tail.endswith(LAST_CHUNK), "the response was not cut off"
    server.wait_log("ended by its timeout")


@pytest.mark.needs("gevent")
def test_hub_blocked_in_c_gets_its_worker_replaced_while_the_other_serves(gowsgi):
    server = gowsgi(APP, "-w", "2", "-k", "gevent", "--timeout", str(TIMEOUT))
    server.wait_workers(2)
    # Both workers serve before the hub of one is blocked: one still booting could take a
    # request out of the backlog at once with the blocking one.
    assert wait_for(lambda: len({requests.get(server.url + "/", timeout=10).text for _ in range(10)}) == 2, 10)
    outcome = {}

    def blocked():
        try:
            outcome["status"] = requests.get(server.url + "/in-c", timeout=30).status_code
        except requests.ConnectionError as exc:
            outcome["error"] = exc

    client = threading.Thread(target=blocked)
    started = time.monotonic()
    client.start()
    # The blocked worker stops taking connections within a few tens of milliseconds.
    time.sleep(0.2)
    served = 0
    while client.is_alive() and time.monotonic() - started < 20:
        assert requests.get(server.url + "/sleep?s=0.01", timeout=10).status_code == 200
        served += 1
        time.sleep(0.05)
    client.join(1)
    assert not client.is_alive(), "the blocked request was never dealt with"
    assert served > 0
    log = server.wait_log("timed out after")
    assert "while serving GET /in-c" in log
    server.wait_workers(2)


@pytest.mark.needs("gevent")
def test_hub_blocked_without_a_request_gets_its_worker_replaced(gowsgi):
    server = gowsgi("gevent_stall_app:app", "-w", "1", "-k", "gevent", "--timeout", str(TIMEOUT))
    [first] = server.wait_workers(1)
    log = server.wait_log("gevent's hub has not run for over 2s", timeout=15)
    assert f"[{first}] [ERROR] gevent's hub has not run" in log
    server.wait_log("timed out after", timeout=15)
    assert wait_for(lambda: (lambda pids: pids and first not in pids)(server.workers()), 15)


@pytest.mark.needs("gevent")
def test_term_lets_the_greenlets_in_flight_finish(gowsgi):
    server = gevent_server(gowsgi)
    pid(server)  # the worker serves: what is sent now is accepted before the stop
    conns = []
    for _ in range(20):
        conn = rawhttp.Conn(server.port, timeout=10)
        conn.send(rawhttp.build("GET", "/sleep?s=1"))
        conns.append(conn)
    time.sleep(0.3)
    server.signal(signal.SIGTERM)
    for conn in conns:
        response = conn.read_response()
        assert response.status == 200 and response.body == b"slept"
        assert response.header("Connection") == "close"
    assert server.proc.wait(10) == 0


def test_without_gevent_the_worker_says_which_python_lacks_it(tmp_path):
    venv = tmp_path / "bare"
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    result = run_gowsgi("-b", f"127.0.0.1:{free_port()}", "-k", "gevent", "--virtualenv", str(venv), APP,
                        timeout=30)
    assert result.returncode == 4, result.stderr
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert f"worker class gevent needs the gevent package for Python {version} at {venv}/bin/python" in result.stderr
    assert result.stderr.count("needs the gevent package") == 1, result.stderr
