"""statsd and Prometheus metrics: a UDP (or unix datagram) listener in the test takes the place of
a statsd server, and a real Prometheus (Debian's prometheus package) scrapes --metrics-bind."""

import json
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest
import requests

from support import free_port, wait_for

APP = "crash_app:app"
TAGS = "env:test,team:web"


class StatsdListener:
    """A datagram socket that keeps every line it receives."""

    def __init__(self, family=socket.AF_INET, address=("127.0.0.1", 0)):
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.2)
        self.lines = []
        self.closed = False
        self.thread = threading.Thread(target=self._receive, daemon=True)
        self.thread.start()

    def _receive(self):
        while not self.closed:
            try:
                packet = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            self.lines.extend(packet.decode().split("\n"))

    def close(self):
        self.closed = True
        self.thread.join()
        self.sock.close()

    def total(self, name_and_type):
        """The sum of the counts sent as NAME:COUNT|TYPE..."""
        name, kind = name_and_type.split("|", 1)
        return sum(int(line.split(":")[1].split("|")[0]) for line in list(self.lines)
                   if line.startswith(name + ":") and line.split("|", 1)[1].startswith(kind))

    def wait_total(self, name_and_type, count, timeout=10):
        if wait_for(lambda: self.total(name_and_type) >= count, timeout) is None or \
                self.total(name_and_type) != count:
            raise AssertionError(f"{name_and_type}: {self.total(name_and_type)}, want {count}; got {self.lines[-40:]}")


@pytest.fixture
def statsd():
    listener = StatsdListener()
    yield listener
    listener.close()


def get(server, path="/"):
    return requests.get(server.url + path, timeout=10)


def test_statsd_gets_gunicorns_metrics_with_prefix_and_tags(gowsgi, statsd):
    host, port = statsd.sock.getsockname()
    server = gowsgi(APP, "-w", "2", "--statsd-host", f"{host}:{port}", "--statsd-prefix", "svc",
                    "--dogstatsd-tags", TAGS)
    server.wait_workers(2)
    for _ in range(5):
        assert get(server).status_code == 200
    assert get(server, "/no-such-route").status_code == 500  # the app raises KeyError
    statsd.wait_total("svc.gunicorn.requests|c|@1.0|#" + TAGS, 6)
    statsd.wait_total("svc.gunicorn.request.status.200|c|@1.0|#" + TAGS, 5)
    statsd.wait_total("svc.gunicorn.request.status.500|c|@1.0|#" + TAGS, 1)
    statsd.wait_total("svc.gunicorn.log.exception|c|@1.0|#" + TAGS, 1)
    durations = [line for line in statsd.lines if line.startswith("svc.gunicorn.request.duration:")]
    assert len(durations) == 6, durations
    assert all(re.fullmatch(r"svc\.gunicorn\.request\.duration:\d+(\.\d+)?\|ms\|#" + TAGS, d) for d in durations)
    assert f"svc.gunicorn.workers:2|g|#{TAGS}" in statsd.lines


def test_statsd_over_a_unix_socket_and_the_backlog(gowsgi, tmp_path):
    path = tmp_path / "statsd.sock"
    listener = StatsdListener(socket.AF_UNIX, str(path))
    try:
        server = gowsgi(APP, "--statsd-host", f"unix:{path}", "--enable-backlog-metric")
        assert get(server).status_code == 200
        listener.wait_total("gunicorn.requests|c", 1)
        assert wait_for(lambda: "gunicorn.backlog:0|h" in listener.lines, 5), listener.lines
        assert "gunicorn.workers:1|g" in listener.lines
    finally:
        listener.close()


def scrape(port):
    response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return response.text


def value(text, series):
    """The value of one series (name and labels as written) in a scrape, 0 when absent."""
    for line in text.splitlines():
        name, _, number = line.rpartition(" ")
        if name == series:
            return float(number)
    return 0


def requests_total(text):
    return sum(float(line.rpartition(" ")[2]) for line in text.splitlines()
               if line.startswith("gowsgi_http_requests_total{"))


def test_counters_survive_worker_restarts(gowsgi):
    port = free_port()
    server = gowsgi(APP, "-w", "1", "--max-requests", "4", "--metrics-bind", f"127.0.0.1:{port}")
    [first] = server.wait_workers(1)
    seen = []
    for _ in range(14):
        assert get(server).status_code == 200
        seen.append(requests_total(scrape(port)))
        time.sleep(0.05)
    # The last request is counted once its answer has gone: the scrape may come first.
    assert wait_for(lambda: requests_total(scrape(port)) == 14, 5), scrape(port)
    server.wait_log(f"(pid {first}) asks to be replaced")
    assert seen == sorted(seen), seen
    # One restart for each worker that asked to be replaced.
    assert wait_for(lambda: value(scrape(port), 'gowsgi_worker_restarts_total{reason="max-requests"}')
                    == server.log().count("asks to be replaced: served 4 requests (--max-requests)"), 5), \
        scrape(port)
    assert value(scrape(port), "gowsgi_connections_accepted_total") >= 14

    # A crash is counted too, and what the crashed worker had counted stays.
    [before] = server.wait_workers(1)
    with pytest.raises(requests.ConnectionError):
        get(server, "/exit")
    assert wait_for(lambda: server.workers() and before not in server.workers(), 10), server.describe()
    text = scrape(port)
    assert value(text, 'gowsgi_worker_restarts_total{reason="crash"}') == 1, text
    assert requests_total(text) == 14, text
    assert value(text, "gowsgi_http_requests_in_flight") == 0, text


def test_a_request_the_engine_refuses_is_counted(gowsgi):
    port = free_port()
    server = gowsgi(APP, "--metrics-bind", f"127.0.0.1:{port}")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\nBad Header: 1\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400 ")
    assert get(server).status_code == 200
    assert wait_for(lambda: requests_total(scrape(port)) == 2, 5), scrape(port)
    text = scrape(port)
    assert value(text, 'gowsgi_http_requests_total{method="other",status="4xx"}') == 1, text
    assert value(text, 'gowsgi_http_requests_total{method="GET",status="2xx"}') == 1, text


def test_the_metrics_port_serves_nothing_else(gowsgi):
    port = free_port()
    gowsgi(APP, "--metrics-bind", f"127.0.0.1:{port}")
    for path in ("/", "/metric", "/metrics/x", "/debug/pprof/"):
        assert requests.get(f"http://127.0.0.1:{port}{path}", timeout=10).status_code == 404, path
    assert requests.post(f"http://127.0.0.1:{port}/metrics", timeout=10).status_code == 405


def test_a_metrics_port_in_use_stops_the_master(gowsgi):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        server = gowsgi(APP, "--metrics-bind", f"127.0.0.1:{taken.getsockname()[1]}", wait=False)
        assert server.proc.wait(15) == 1
        assert "Can't serve metrics at" in server.log()
    finally:
        taken.close()


def require(command):
    path = shutil.which(command)
    if path is None:
        raise AssertionError(f"{command} is needed: apt-get install prometheus (make test installs it)")
    return path


def prometheus_query(port, query):
    url = f"http://127.0.0.1:{port}/api/v1/query?query={urllib.parse.quote(query)}"
    try:
        answer = requests.get(url, timeout=5).json()
    except (requests.RequestException, json.JSONDecodeError):
        return None
    results = answer.get("data", {}).get("result", [])
    return float(results[0]["value"][1]) if results else None


def test_prometheus_scrapes_the_master(gowsgi, tmp_path):
    prometheus, promtool = require("prometheus"), require("promtool")
    metrics_port, prometheus_port = free_port(), free_port()
    server = gowsgi(APP, "-w", "2", "--metrics-bind", f"127.0.0.1:{metrics_port}")
    server.wait_workers(2)
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                      "scrape_configs:\n  - job_name: gowsgi\n    static_configs:\n"
                      f"      - targets: ['127.0.0.1:{metrics_port}']\n")
    log = open(tmp_path / "prometheus.log", "wb")
    scraper = subprocess.Popen([prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
                                f"--web.listen-address=127.0.0.1:{prometheus_port}"],
                               stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        for _ in range(7):
            assert get(server).status_code == 200
        for _ in range(2):
            assert requests.post(server.url + "/", timeout=10).status_code == 200
        query = 'sum(gowsgi_http_requests_total{method="GET",status="2xx"})'
        got = wait_for(lambda: prometheus_query(prometheus_port, query) == 7, 30)
        assert got, f"{query} = {prometheus_query(prometheus_port, query)}\n" + \
            (tmp_path / "prometheus.log").read_text()[-3000:]
        assert prometheus_query(prometheus_port, 'gowsgi_http_requests_total{method="POST"}') == 2
        assert prometheus_query(prometheus_port, "gowsgi_workers") == 2
        assert prometheus_query(prometheus_port, "gowsgi_http_request_duration_seconds_count") == 9
    finally:
        scraper.terminate()
        scraper.wait(15)
        log.close()
    check = subprocess.run([promtool, "check", "metrics"], input=scrape(metrics_port), capture_output=True,
                           text=True, timeout=30)
    assert check.returncode == 0 and not check.stdout.strip() and not check.stderr.strip(), check
