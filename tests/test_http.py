"""HTTP/1.x on the wire: keep-alive, pipelining, HTTP/1.0, malformed requests and size limits."""

import json
import time

import pytest

import rawhttp


@pytest.fixture(scope="module")
def server(module_gowsgi, worker_class):
    return module_gowsgi("echo_app:app", "-w", "1", *worker_class)


@pytest.fixture(scope="module")
def small_limits(module_gowsgi):
    return module_gowsgi("echo_app:app", "-w", "1", "--limit-request-line", "100",
                         "--limit-request-fields", "10", "--limit-request-field_size", "100")


def echo(response):
    assert response.status == 200, response
    return json.loads(response.body)


def worker_pid(server):
    return echo(rawhttp.get(server.port, "/pid"))["pid"]


def refused(server, data, statuses):
    """Sends a bad request: the answer is one of statuses with a short body, then the connection
    closes, and the same worker goes on serving."""
    pid = worker_pid(server)
    with rawhttp.Conn(server.port) as conn:
        conn.send(data)
        response = conn.read_response()
        assert response.status in statuses, response
        assert len(response.body) < 1024
        rawhttp.wait_closed(conn)
    assert worker_pid(server) == pid
    return response


def test_keep_alive_serves_several_requests_on_one_connection(server):
    with rawhttp.Conn(server.port) as conn:
        for path in ("/one", "/two", "/three"):
            conn.send(rawhttp.build("GET", path))
            assert echo(conn.read_response())["path"] == path


def test_connection_close_is_honoured(server):
    with rawhttp.Conn(server.port) as conn:
        conn.send(rawhttp.build("GET", "/bye", headers=[("Connection", "close")]))
        assert echo(conn.read_response())["path"] == "/bye"
        rawhttp.wait_closed(conn)


def test_http10_request_is_answered_then_closed(server):
    with rawhttp.Conn(server.port) as conn:
        conn.send(b"GET /old?x=1 HTTP/1.0\r\n\r\n")
        got = echo(conn.read_response())
        assert (got["path"], got["query"]) == ("/old", "x=1")
        rawhttp.wait_closed(conn)


def test_three_pipelined_requests_in_one_send(server):
    data = (rawhttp.build("GET", "/first")
            + rawhttp.build("POST", "/second", body=b"payload")
            + rawhttp.build("GET", "/third"))
    with rawhttp.Conn(server.port) as conn:
        conn.send(data)
        answers = [echo(conn.read_response()) for _ in range(3)]
        assert conn.idle() == b""
    assert [a["path"] for a in answers] == ["/first", "/second", "/third"]
    assert [a["body"] for a in answers] == ["", "payload", ""]


def test_pipelined_chunked_request_then_close(server):
    data = (rawhttp.build("POST", "/chunked", headers=[("Transfer-Encoding", "chunked")], body=b"3\r\nabc\r\n0\r\n\r\n")
            + rawhttp.build("GET", "/last", headers=[("Connection", "close")]))
    with rawhttp.Conn(server.port) as conn:
        conn.send(data)
        assert echo(conn.read_response())["body"] == "abc"
        assert echo(conn.read_response())["path"] == "/last"
        rawhttp.wait_closed(conn)


MALFORMED = {
    "garbage request line": (b"GARBAGE\r\n\r\n", {400}),
    "extra words in request line": (b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n", {400}),
    "bad method token": (b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    "unknown protocol": (b"GET / HTTX/1.1\r\nHost: x\r\n\r\n", {400}),
    "unsupported version": (b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", {400, 505}),
    "space in header name": (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n", {400}),
    "bad character in header name": (b"GET / HTTP/1.1\r\nHost: x\r\nX-Bad(): v\r\n\r\n", {400}),
    "space before colon": (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", {400}),
    "header line without colon": (b"GET / HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", {400}),
    "NUL in header value": (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", {400}),
    "bare CR in header value": (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", {400}),
    "negative Content-Length": (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", {400}),
    "Content-Length with sign": (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", {400}),
    "Content-Length not a number": (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3x\r\n\r\nabc", {400}),
    "two different Content-Lengths": (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", {400}),
    "Content-Length list": (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\nabcd", {400}),
    "Content-Length with Transfer-Encoding": (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", {400}),
    "bad chunk size": (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
                       set(range(400, 500))),
    "chunk size overflow": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
        set(range(400, 500))),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_request_is_refused_and_the_worker_lives(server, name):
    data, statuses = MALFORMED[name]
    refused(server, data, statuses)


def test_obsolete_line_folding_is_refused_or_unfolded(server):
    with rawhttp.Conn(server.port) as conn:
        conn.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n")
        response = conn.read_response()
    assert response.status == 400 or json.loads(response.body)["headers"]["HTTP_X_FOLDED"] in ("a b", "a  b")


def test_request_line_over_the_default_limit_gets_414(server):
    refused(server, rawhttp.build("GET", "/" + "a" * 5000), {414})
    assert echo(rawhttp.get(server.port, "/" + "a" * 4000))["path"] == "/" + "a" * 4000


def test_header_over_the_default_size_gets_431(server):
    refused(server, rawhttp.build("GET", "/", headers=[("X-Long", "v" * 9000)]), {431})
    assert echo(rawhttp.get(server.port, "/", headers=[("X-Long", "v" * 8000)]))["headers"]["HTTP_X_LONG"] == "v" * 8000


def test_too_many_headers_gets_431(server):
    too_many = [(f"X-H{i}", "v") for i in range(100)]
    refused(server, rawhttp.build("GET", "/", headers=too_many), {431})
    fits = [(f"X-H{i}", "v") for i in range(90)]
    assert len(echo(rawhttp.get(server.port, "/", headers=fits))["headers"]) == 91


def test_limit_request_line_flag(small_limits):
    refused(small_limits, rawhttp.build("GET", "/" + "a" * 150), {414})
    assert echo(rawhttp.get(small_limits.port, "/" + "a" * 60))["path"] == "/" + "a" * 60


def test_limit_request_fields_flag(small_limits):
    refused(small_limits, rawhttp.build("GET", "/", headers=[(f"X-H{i}", "v") for i in range(10)]), {431})
    assert len(echo(rawhttp.get(small_limits.port, "/", headers=[(f"X-H{i}", "v") for i in range(8)]))["headers"]) == 9


def test_limit_request_field_size_flag(small_limits):
    refused(small_limits, rawhttp.build("GET", "/", headers=[("X-Long", "v" * 150)]), {431})
    assert echo(rawhttp.get(small_limits.port, "/", headers=[("X-Long", "v" * 50)]))["headers"]["HTTP_X_LONG"] == "v" * 50


def test_keep_alive_flag_sets_the_idle_time(gowsgi):
    """An idle connection closes after --keep-alive seconds, and not after the default 2."""
    short = gowsgi("echo_app:app", "--keep-alive", "1")
    long = gowsgi("echo_app:app", "--keep-alive", "10")
    with rawhttp.Conn(short.port) as idle_short, rawhttp.Conn(long.port) as idle_long:
        for conn in (idle_long, idle_short):
            conn.send(rawhttp.build("GET", "/first"))
            echo(conn.read_response())
        long_idle_since = time.monotonic()
        rawhttp.wait_closed(idle_short, timeout=5)
        time.sleep(max(0.0, long_idle_since + 3.5 - time.monotonic()))
        idle_long.send(rawhttp.build("GET", "/after-idle"))
        assert echo(idle_long.read_response())["path"] == "/after-idle"
