"""--protocol uwsgi: every connection carries one request in the uwsgi binary protocol, as nginx's
uwsgi_pass sends it, and gets a plain HTTP answer ended by closing the connection;
--uwsgi-allow-from says which TCP peers may send them (unix socket peers always may).

The first tests build packets by hand for each worker class; the last ones put a real nginx
(Debian's package, with its /etc/nginx/uwsgi_params) in front."""

import importlib.util
import json
import socket
import struct
from pathlib import Path

import pytest
import requests

from nginxrun import MISSING, NGINX, Nginx
from support import wait_for

CLASSES = {
    "sync": ("-k", "sync"),
    "gthread": ("-k", "gthread", "--threads", "2"),
    "gevent": ("-k", "gevent"),
}


def packet(pairs, body=b"", modifier1=0):
    """A uwsgi packet: the 4-byte header, the vars (name, value pairs) and the body."""
    block = b""
    for name, value in pairs:
        for s in (name.encode("latin-1"), value.encode("latin-1")):
            block += struct.pack("<H", len(s)) + s
    return struct.pack("<BHB", modifier1, len(block), 0) + block + body


# What nginx sends for GET /where?x=1 from a client at 198.51.100.7 over https.
GET_VARS = [
    ("QUERY_STRING", "x=1"), ("REQUEST_METHOD", "GET"), ("CONTENT_TYPE", ""), ("CONTENT_LENGTH", ""),
    ("REQUEST_URI", "/where?x=1"), ("PATH_INFO", "/where"), ("DOCUMENT_ROOT", "/usr/share/nginx/html"),
    ("SERVER_PROTOCOL", "HTTP/1.1"), ("REQUEST_SCHEME", "https"), ("HTTPS", "on"),
    ("REMOTE_ADDR", "198.51.100.7"), ("REMOTE_PORT", "51234"), ("SERVER_PORT", "443"),
    ("SERVER_NAME", "example.com"), ("HTTP_HOST", "example.com"), ("HTTP_USER_AGENT", "test/1.0"),
    ("HTTP_X_REQUEST_ID", "abc-123"),
]


def connect(target):
    """A socket to a port on 127.0.0.1, or to a unix socket path."""
    if isinstance(target, int):
        return socket.create_connection(("127.0.0.1", target), timeout=10)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(str(target))
    return sock


def exchange(target, data, half_close=False):
    """Sends data on a new connection and returns all the server sent until it closed."""
    with connect(target) as sock:
        try:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close before taking everything
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
        return received


def answer(raw):
    """Status, headers (lower-case names) and body of an HTTP answer delimited by the close."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    assert sep, raw[:300]
    lines = head.decode("latin-1").split("\r\n")
    version, status, _ = lines[0].split(" ", 2)
    assert version == "HTTP/1.1", lines[0]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        assert len(body) == int(headers["content-length"]), headers
    assert "transfer-encoding" not in headers, headers
    return int(status), headers, body


def environ_of(target, pairs, body=b""):
    status, headers, data = answer(exchange(target, packet(pairs, body)))
    assert status == 200, data
    assert headers["connection"] == "close"
    return json.loads(data)


@pytest.fixture(scope="module", params=sorted(CLASSES))
def server(request, module_gowsgi):
    """environ_app over uwsgi, once per worker class."""
    if request.param == "gevent" and importlib.util.find_spec("gevent") is None:
        pytest.skip("gevent is not installed")
    return module_gowsgi("environ_app:app", "--protocol", "uwsgi", *CLASSES[request.param])


@pytest.fixture(scope="module", params=sorted(CLASSES))
def echo_server(request, module_gowsgi):
    """echo_app over uwsgi, once per worker class."""
    if request.param == "gevent" and importlib.util.find_spec("gevent") is None:
        pytest.skip("gevent is not installed")
    return module_gowsgi("echo_app:app", "--protocol", "uwsgi", *CLASSES[request.param])


def test_the_vars_make_the_environ(server):
    env = environ_of(server.port, GET_VARS)["environ"]
    assert (env["REQUEST_METHOD"], env["PATH_INFO"], env["QUERY_STRING"]) == ("GET", "/where", "x=1")
    assert (env["RAW_URI"], env["SERVER_PROTOCOL"], env["SCRIPT_NAME"]) == ("/where?x=1", "HTTP/1.1", "")
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("198.51.100.7", "51234")
    assert (env["SERVER_NAME"], env["SERVER_PORT"], env["wsgi.url_scheme"]) == ("example.com", "443", "https")
    assert (env["HTTP_HOST"], env["HTTP_USER_AGENT"], env["HTTP_X_REQUEST_ID"]) == ("example.com", "test/1.0", "abc-123")
    # Empty CONTENT_* vars are no headers, as on HTTP; the proxy's other vars are not copied.
    assert "CONTENT_TYPE" not in env and "CONTENT_LENGTH" not in env
    assert "DOCUMENT_ROOT" not in env and "HTTPS" not in env and "REQUEST_SCHEME" not in env


def test_path_info_arrives_decoded_and_stays_so(server):
    # nginx's PATH_INFO is already percent-decoded: a '%' in it is a '%' of the path.
    pairs = [("REQUEST_METHOD", "GET"), ("REQUEST_URI", "/a%2520b"), ("PATH_INFO", "/a%20b")]
    env = environ_of(server.port, pairs)["environ"]
    assert (env["PATH_INFO"], env["RAW_URI"]) == ("/a%20b", "/a%2520b")


def test_without_proxy_vars_the_connection_speaks(server):
    env = environ_of(server.port, [("REQUEST_METHOD", "GET")])["environ"]
    assert (env["PATH_INFO"], env["QUERY_STRING"], env["SERVER_PROTOCOL"]) == ("/", "", "HTTP/1.1")
    assert (env["REMOTE_ADDR"], env["SERVER_NAME"], env["SERVER_PORT"]) == ("127.0.0.1", "127.0.0.1", str(server.port))
    assert env["wsgi.url_scheme"] == "http"


def test_post_body(echo_server):
    body = b"name=value&" + b"x" * 100000
    pairs = [("REQUEST_METHOD", "POST"), ("REQUEST_URI", "/form"), ("PATH_INFO", "/form"),
             ("CONTENT_TYPE", "application/x-www-form-urlencoded"), ("CONTENT_LENGTH", str(len(body))),
             ("HTTP_CONTENT_LENGTH", str(len(body)))]
    got = environ_of(echo_server.port, pairs, body)
    assert (got["method"], got["path"], got["body"]) == ("POST", "/form", body.decode())
    # The client's own Content-Length, which nginx also passes, is not a second header.
    assert "HTTP_CONTENT_LENGTH" not in got["headers"]


def test_each_connection_serves_one_request(echo_server):
    pairs = [("REQUEST_METHOD", "GET"), ("PATH_INFO", "/one")]
    raw = exchange(echo_server.port, packet(pairs) + packet([("REQUEST_METHOD", "GET"), ("PATH_INFO", "/two")]))
    status, headers, data = answer(raw)
    assert (status, json.loads(data)["path"], headers["connection"]) == (200, "/one", "close")


@pytest.mark.parametrize("name, data, half_close", [
    ("modifier1 not 0", packet([("REQUEST_METHOD", "GET")], modifier1=5), False),
    ("an HTTP request", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", False),
    ("header cut short", b"\x00\x10", True),
    ("vars cut short", packet([("REQUEST_METHOD", "GET")])[:8], True),
    ("datasize over the vars", struct.pack("<BHB", 0, 40, 0) + packet([("REQUEST_METHOD", "GET")])[4:], True),
    ("key past the block", struct.pack("<BHB", 0, 3, 0) + b"\xff\x00A", False),
    ("value past the block", struct.pack("<BHB", 0, 7, 0) + b"\x01\x00A\x0a\x00bc", False),
])
def test_a_malformed_packet_is_closed_unanswered(echo_server, name, data, half_close):
    logged = echo_server.log().count("Malformed uwsgi packet from 127.0.0.1")
    assert exchange(echo_server.port, data, half_close) == b"", name
    assert wait_for(lambda: echo_server.log().count("Malformed uwsgi packet from 127.0.0.1") > logged, 10), \
        echo_server.describe()
    # The worker lives on and serves the next connection.
    got = environ_of(echo_server.port, [("REQUEST_METHOD", "GET"), ("PATH_INFO", "/after")])
    assert got["path"] == "/after"


def test_a_packet_over_the_limits_is_answered(echo_server):
    pairs = [("REQUEST_METHOD", "GET")] + [(f"HTTP_X_{i}", "v") for i in range(101)]
    status, _, _ = answer(exchange(echo_server.port, packet(pairs)))
    assert status == 431


def test_a_peer_not_allowed_is_refused(gowsgi, tmp_path):
    path = tmp_path / "uwsgi.sock"
    server = gowsgi("echo_app:app", "--protocol", "uwsgi", "--uwsgi-allow-from", "10.0.0.1", "-b", f"unix:{path}")
    pairs = [("REQUEST_METHOD", "GET"), ("PATH_INFO", "/x")]
    assert exchange(server.port, packet(pairs)) == b""
    server.wait_log("Refused a uwsgi connection from 127.0.0.1")
    # A unix socket peer has no address to check: always allowed, by the same worker.
    first = environ_of(path, pairs)
    assert exchange(server.port, packet(pairs)) == b""
    assert environ_of(path, pairs)["pid"] == first["pid"]


def test_the_default_allows_loopback_only(gowsgi):
    server = gowsgi("echo_app:app", "--protocol", "uwsgi", host="::1")
    with socket.create_connection(("::1", server.port), timeout=10) as sock:
        sock.sendall(packet([("REQUEST_METHOD", "GET"), ("PATH_INFO", "/six")]))
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    assert json.loads(answer(raw)[2])["path"] == "/six"


# ---- behind nginx -------------------------------------------------------------------------

UWSGI_PARAMS = Path("/etc/nginx/uwsgi_params")

UWSGI_PASS = """
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 16m;
        location /big-stream {{
            uwsgi_pass 127.0.0.1:{conformance};
            include {params};
        }}
        location /input {{
            uwsgi_pass 127.0.0.1:{conformance};
            include {params};
        }}
        location / {{
            uwsgi_pass 127.0.0.1:{environ};
            include {params};
        }}
    }}
"""


@pytest.fixture(scope="module")
def nginx(module_gowsgi, tmp_path_factory):
    if NGINX is None or not UWSGI_PARAMS.exists():
        pytest.skip(MISSING)
    environ = module_gowsgi("environ_app:app", "--protocol", "uwsgi")
    conformance = module_gowsgi("conformance_app:app", "--protocol", "uwsgi", "-k", "gthread", "--threads", "2")
    server = Nginx(tmp_path_factory.mktemp("nginx-uwsgi"), UWSGI_PASS, params=UWSGI_PARAMS,
                   environ=environ.port, conformance=conformance.port)
    try:
        yield server.url, server.log
    finally:
        server.stop()


def test_nginx_get_with_query(nginx):
    url, log = nginx
    response = requests.get(url + "/shop/items?color=red&size=10", headers={"X-Trace": "t-1"}, timeout=10)
    assert response.status_code == 200, log.read_text()
    env = response.json()["environ"]
    assert (env["REQUEST_METHOD"], env["PATH_INFO"], env["QUERY_STRING"]) == ("GET", "/shop/items", "color=red&size=10")
    assert env["RAW_URI"] == "/shop/items?color=red&size=10"
    assert (env["HTTP_HOST"], env["HTTP_X_TRACE"], env["REMOTE_ADDR"]) == ("127.0.0.1", "t-1", "127.0.0.1")
    assert (env["SERVER_PROTOCOL"], env["wsgi.url_scheme"]) == ("HTTP/1.1", "http")
    assert "CONTENT_LENGTH" not in env


def test_nginx_post_with_body(nginx):
    url, log = nginx
    body = bytes(range(256)) * 4096  # 1 MiB, every byte value
    response = requests.post(url + "/input?ops=read", data=body, timeout=10)
    assert response.status_code == 200, log.read_text()
    assert response.json() == [body.decode("latin-1")]
    # A chunked upload: nginx reads it whole and passes its length.
    response = requests.post(url + "/input?ops=read", data=iter([b"abc", b"defg"]), timeout=10)
    assert response.json() == ["abcdefg"]


def test_nginx_large_streamed_response(nginx):
    url, log = nginx
    chunks, size = 512, 16384
    response = requests.get(url + f"/big-stream?chunks={chunks}&size={size}", timeout=30)
    assert response.status_code == 200, log.read_text()
    assert len(response.content) == chunks * size
    assert all(response.content[i * size] == i % 256 for i in range(chunks))
    assert "upstream prematurely closed" not in log.read_text()
