"""wsgi.input: every reading method, Content-Length and chunked bodies, 100-continue, big uploads."""

import hashlib
import io
import json
import os

import pytest
import requests

import rawhttp

BODY = b"line one\nline two\n\nthird line without newline"


@pytest.fixture(scope="module")
def server(module_gowsgi, worker_class):
    return module_gowsgi("input_app:app", "-w", "1", *worker_class)


def post(server, path, body=BODY, headers=()):
    response = rawhttp.get(server.port, path, method="POST", body=body, headers=headers)
    assert response.status == 200, response
    return json.loads(response.body)


def chunked(*pieces, extension=b"", trailer=b""):
    """A chunked body: one chunk per piece, optional chunk extensions and trailer fields."""
    out = b""
    for piece in pieces:
        out += b"%x%s\r\n%s\r\n" % (len(piece), extension, piece)
    return out + b"0\r\n" + trailer + b"\r\n"


def expected(method, n=0):
    stream = io.BytesIO(BODY)
    if method == "readline-n":
        return [line.decode("latin-1") for line in iter(lambda: stream.readline(n), b"")]
    return [line.decode("latin-1") for line in stream.readlines()]


def test_read_all(server):
    got = post(server, "/read")
    assert got["parts"] == [BODY.decode()]
    assert got["types"] == ["bytes"]
    assert got["after_eof"] == ""
    assert got["content_length"] == str(len(BODY))


def test_read_n_returns_n_bytes_until_the_end(server):
    got = post(server, "/read-n?4")
    parts = got["parts"]
    assert "".join(parts) == BODY.decode()
    assert all(len(p) == 4 for p in parts[:-1])
    assert 0 < len(parts[-1]) <= 4
    assert got["after_eof"] == ""


def test_readline(server):
    got = post(server, "/readline")
    assert got["parts"] == expected("readline")
    assert got["parts"][-1] == "third line without newline"


def test_readline_with_size_limit(server):
    got = post(server, "/readline-n?5")
    assert got["parts"] == expected("readline-n", 5)
    assert "line " in got["parts"] and "one\n" in got["parts"]


def test_readlines(server):
    assert post(server, "/readlines")["parts"] == expected("readlines")


def test_iteration_yields_lines(server):
    got = post(server, "/iter")
    assert got["parts"] == expected("readlines")
    assert got["types"] == ["bytes"]


def test_methods_share_one_position(server):
    got = post(server, "/mixed?3")
    assert got["parts"] == ["lin", "e one\n", "line two\n\nthird line without newline"]


def test_empty_body_reads_as_empty(server):
    response = rawhttp.get(server.port, "/read")
    got = json.loads(response.body)
    assert got["parts"] == [""]
    assert got["after_eof"] == ""


def test_chunked_body_with_extensions_and_trailer(server):
    body = chunked(BODY[:5], BODY[5:20], BODY[20:], extension=b";name=value", trailer=b"X-Trailer: t\r\n")
    got = post(server, "/read", body=body, headers=[("Transfer-Encoding", "chunked")])
    assert got["parts"] == [BODY.decode()]
    assert got["content_length"] in (None, "")


def test_chunked_body_read_by_lines(server):
    body = chunked(BODY[:3], BODY[3:11], BODY[11:])
    got = post(server, "/readline-n?5", body=body, headers=[("Transfer-Encoding", "chunked")])
    assert got["parts"] == expected("readline-n", 5)


def test_chunked_body_with_uppercase_hex_size(server):
    piece = b"x" * 26
    body = b"1A\r\n" + piece + b"\r\n0\r\n\r\n"
    got = post(server, "/read", body=body, headers=[("Transfer-Encoding", "chunked")])
    assert got["parts"] == [piece.decode()]


def test_expect_100_continue_is_answered_before_the_body(server):
    head = rawhttp.build("POST", "/read", headers=[("Content-Length", str(len(BODY))), ("Expect", "100-continue")])
    with rawhttp.Conn(server.port) as conn:
        conn.send(head)
        interim = conn.read_head()
        assert interim.startswith(b"HTTP/1.1 100"), interim
        conn.send(BODY)
        response = conn.read_response()
    assert response.status == 200
    assert json.loads(response.body)["parts"] == [BODY.decode()]


def test_unread_body_does_not_leak_into_the_next_request(server):
    smuggled = rawhttp.build("GET", "/read")
    first = rawhttp.build("POST", "/ignore", body=smuggled)
    second = rawhttp.build("POST", "/read", body=b"second body")
    with rawhttp.Conn(server.port) as conn:
        conn.send(first + second)
        one = conn.read_response()
        two = conn.read_response()
        assert conn.idle() == b""
    assert one.status == 200 and json.loads(one.body)["parts"] == []
    assert two.status == 200 and json.loads(two.body)["parts"] == ["second body"]


def test_partly_read_body_does_not_leak_into_the_next_request(server):
    with rawhttp.Conn(server.port) as conn:
        conn.send(rawhttp.build("POST", "/partial?3", body=b"0123456789") + rawhttp.build("POST", "/read", body=b"next"))
        one = conn.read_response()
        two = conn.read_response()
    assert json.loads(one.body)["parts"] == ["012"]
    assert json.loads(two.body)["parts"] == ["next"]


def test_unread_chunked_body_does_not_leak(server):
    body = chunked(b"GET /read HTTP/1.1\r\nHost: x\r\n\r\n")
    with rawhttp.Conn(server.port) as conn:
        conn.send(rawhttp.build("POST", "/ignore", headers=[("Transfer-Encoding", "chunked")], body=body)
                  + rawhttp.build("POST", "/read", body=b"after"))
        one = conn.read_response()
        two = conn.read_response()
        assert conn.idle() == b""
    assert json.loads(one.body)["parts"] == []
    assert json.loads(two.body)["parts"] == ["after"]


def test_ten_megabyte_upload_with_content_length(server):
    data = os.urandom(10 * 1024 * 1024)
    response = requests.post(server.url + "/sha256", data=data, timeout=60)
    assert response.status_code == 200
    assert response.json()["sha256"] == hashlib.sha256(data).hexdigest()
    assert response.json()["length"] == len(data)


def test_ten_megabyte_chunked_upload(server):
    data = os.urandom(10 * 1024 * 1024)

    def pieces():
        for start in range(0, len(data), 300_001):
            yield data[start:start + 300_001]

    response = requests.post(server.url + "/sha256", data=pieces(), timeout=60)
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert response.status_code == 200
    assert response.json()["sha256"] == hashlib.sha256(data).hexdigest()
    assert response.json()["length"] == len(data)
