"""gowsgi behind a real nginx (Debian's package): two gowsgi instances as one upstream, the way
operators run gunicorn. nginx runs as a child of the test, on loopback, with its own
configuration, prefix and pid file under the test's temporary directory."""

import json
import signal
import threading

import pytest
import requests

from nginxrun import MISSING, NGINX, Nginx
from support import wait_for

pytestmark = pytest.mark.skipif(NGINX is None, reason=MISSING)

PROXY = """
    upstream gowsgi {{
        # max_fails=0: a server that failed is not set aside, so a restarted instance gets
        # traffic at once; while it is down, nginx passes its requests to the other.
        server 127.0.0.1:{first} max_fails=0;
        server 127.0.0.1:{second} max_fails=0;
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://gowsgi;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            # As if nginx had terminated TLS for the client.
            proxy_set_header X-Forwarded-Proto https;
        }}
    }}
"""


def proxy(prefix, upstream_ports):
    return Nginx(prefix, PROXY, first=upstream_ports[0], second=upstream_ports[1])


@pytest.fixture
def upstreams(gowsgi):
    return [gowsgi("environ_app:app", "-w", "2") for _ in range(2)]


@pytest.fixture
def nginx(tmp_path, upstreams):
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    server = proxy(prefix, [u.port for u in upstreams])
    yield server
    server.stop()


def fetch(session, url):
    response = session.get(url, timeout=10)
    assert response.status_code == 200, response.text
    return json.loads(response.text)["environ"]


def test_load_is_balanced_over_both_instances(nginx, upstreams):
    with requests.Session() as session:
        ports = [fetch(session, nginx.url + f"/n/{i}")["SERVER_PORT"] for i in range(20)]
    assert set(ports) == {str(u.port) for u in upstreams}, ports


def test_forwarded_headers_reach_the_app(nginx):
    env = fetch(requests, nginx.url + "/where?x=1")
    assert env["wsgi.url_scheme"] == "https"
    assert env["HTTP_X_FORWARDED_FOR"] == "127.0.0.1"
    assert env["HTTP_X_FORWARDED_PROTO"] == "https"
    assert env["HTTP_HOST"] == f"127.0.0.1:{nginx.port}"
    assert (env["PATH_INFO"], env["QUERY_STRING"]) == ("/where", "x=1")
    # A client's own X-Forwarded-For is kept, with nginx's address for it appended.
    response = requests.get(nginx.url, headers={"X-Forwarded-For": "198.51.100.9"}, timeout=10)
    env = json.loads(response.text)["environ"]
    assert env["HTTP_X_FORWARDED_FOR"] == "198.51.100.9, 127.0.0.1"


def test_an_untrusted_nginx_does_not_set_the_scheme(gowsgi, tmp_path):
    distrust = [gowsgi("environ_app:app", "--forwarded-allow-ips", "10.0.0.1") for _ in range(2)]
    prefix = tmp_path / "nginx-untrusted"
    prefix.mkdir()
    server = proxy(prefix, [u.port for u in distrust])
    try:
        env = fetch(requests, server.url)
        assert env["wsgi.url_scheme"] == "http"
        assert env["HTTP_X_FORWARDED_PROTO"] == "https"
    finally:
        server.stop()


class Load:
    """Clients sending requests through nginx until stopped, counting what came back."""

    def __init__(self, url, clients=4):
        self.url = url
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failures = []
        self.threads = [threading.Thread(target=self._client, args=(i,)) for i in range(clients)]
        for t in self.threads:
            t.start()

    def _client(self, index):
        with requests.Session() as session:
            n = 0
            while not self.stopping.is_set():
                n += 1
                try:
                    response = session.get(f"{self.url}/load/{index}/{n}", timeout=10)
                    good = response.status_code == 200 and json.loads(response.text)["environ"]["PATH_INFO"] == f"/load/{index}/{n}"
                    outcome = None if good else f"{response.status_code} {response.text[:200]}"
                except (requests.RequestException, ValueError) as error:
                    outcome = repr(error)
                with self.lock:
                    if outcome is None:
                        self.ok += 1
                    else:
                        self.failures.append(outcome)

    def served(self):
        with self.lock:
            return self.ok

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(30)
        return self.ok, self.failures


def test_restarting_an_instance_behind_nginx_loses_no_request(nginx, upstreams, gowsgi):
    load = Load(nginx.url)
    try:
        assert wait_for(lambda: load.served() >= 50, 20), "no traffic through nginx"
        # A graceful reload of one instance: new workers, the same sockets.
        first = upstreams[0]
        old_workers = set(first.wait_workers(2))
        first.signal(signal.SIGHUP)
        assert wait_for(lambda: not old_workers & set(first.workers()) and len(first.workers()) == 2, 20), \
            f"workers not replaced after HUP\n{first.describe()}"
        mark = load.served()
        assert wait_for(lambda: load.served() >= mark + 50, 20)
        # A full stop and a new process on the same port.
        second = upstreams[1]
        second.stop()
        mark = load.served()
        assert wait_for(lambda: load.served() >= mark + 50, 20)
        restarted = gowsgi("environ_app:app", "-w", "2", port=second.port)
        mark = load.served()
        assert wait_for(lambda: load.served() >= mark + 100, 20)
    finally:
        ok, failures = load.stop()
    assert not failures, f"{len(failures)} of {ok + len(failures)} requests failed, first: {failures[:3]}\n{nginx.describe()}"
    with requests.Session() as session:
        seen = set()
        both = {str(first.port), str(restarted.port)}
        found = wait_for(lambda: seen.add(fetch(session, nginx.url + "/after")["SERVER_PORT"]) or seen == both, 10)
    assert found, f"after the restart nginx sent requests only to {seen}\n{nginx.describe()}"
