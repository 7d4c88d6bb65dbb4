"""What the HTTP/1.1 parser refuses, as RFC 9112 and gunicorn 26.1 refuse it: request targets in
a form their method may not use, or a malformed absolute-form; blanks after a chunk size with no
extension; trailer fields that frame, route or authenticate; a second Host or Content-Type;
lower-case methods; header lines over --limit-request-field_size, their CRLF counted.

Each bad request goes on a connection of its own and must be answered with its 4xx status, the
connection closed after it, and the same worker must serve the next connection.
App: apps/echo_app.py, which reads the whole body, so a malformed chunked body is an error it
lets through and the server answers 400.
"""

import json

import pytest

import rawhttp

APP = "echo_app:app"
GOOD = b"GET /good HTTP/1.1\r\nHost: x\r\n\r\n"


def served(server, raw):
    """What the app saw of raw, sent on a connection of its own."""
    response = rawhttp.request(server.port, raw)
    assert response.status == 200, response
    return json.loads(response.body)


def refused(server, raw, status):
    pid = served(server, GOOD)["pid"]
    with rawhttp.Conn(server.port) as conn:
        conn.send(raw)
        response = conn.read_response()
        assert response.status == status, response
        assert response.header("Connection") == "close", response
        rawhttp.wait_closed(conn)
    assert served(server, GOOD)["pid"] == pid


@pytest.fixture(scope="module")
def server(module_gowsgi):
    return module_gowsgi(APP, "-w", "1")


def chunked(body):
    return b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body


# Each case: the request and the status it gets.
REFUSED = {
    # RFC 9112 §3.2: origin-form for all, authority-form for CONNECT, asterisk-form for OPTIONS.
    "relative target": (b"GET foo/bar HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "authority-form with GET": (b"GET example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "asterisk-form with GET": (b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "asterisk-form with CONNECT": (b"CONNECT * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    # RFC 9112 §3.2.2, RFC 3986 §3.2: an absolute-form target must parse.
    "unbalanced bracket in the authority": (b"PUT s://]ufd/: HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 400),
    "unclosed IPv6 literal": (b"GET http://[::1/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "port not a number": (b"GET http://x:8o/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "http URI without a host": (b"GET http:///p HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    # RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF; blanks only before an extension.
    "blank after the last chunk size": (chunked(b"3\r\nabc\r\n0 \r\n\r\n"), 400),
    "tab after a chunk size": (chunked(b"3\t\r\nabc\r\n0\r\n\r\n"), 400),
    # RFC 9110 §6.5.1 and gunicorn's list of fields refused in trailers.
    "Content-Length trailer": (chunked(b"3\r\nabc\r\n0\r\nContent-Length: 10\r\n\r\n"), 400),
    "Transfer-Encoding trailer": (chunked(b"3\r\nabc\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400),
    "Host trailer": (chunked(b"3\r\nabc\r\n0\r\nhost: evil.example\r\n\r\n"), 400),
    "Authorization trailer": (chunked(b"3\r\nabc\r\n0\r\nAuthorization: Basic eA==\r\n\r\n"), 400),
    "trailer that is no field": (chunked(b"3\r\nabc\r\n0\r\nGET /smuggled HTTP/1.1\r\n\r\n"), 400),
    # RFC 9110 §5.3, RFC 9112 §3.2.
    "two Host headers": (b"GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", 400),
    "two Content-Type headers": (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                                 b"content-type: application/json\r\nContent-Length: 2\r\n\r\n{}", 400),
    # Methods are case-sensitive (RFC 9110 §9.1); gunicorn refuses lower-case letters in them.
    "lower-case method": (b"get / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "mixed-case method": (b"Get / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    # The default --limit-request-field_size, 8190, counts the CRLF, as gunicorn does.
    "header line of 8189 bytes and CRLF": (
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + b"v" * (8189 - len("X-Long: ")) + b"\r\n\r\n", 431),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_malformed_request_is_refused_and_the_connection_closed(server, name):
    raw, status = REFUSED[name]
    refused(server, raw, status)


def test_what_the_strict_parser_still_serves(server):
    assert served(server, b"GET http://example.com/p?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n")["path"] == "/p"
    assert served(server, b"GET http://[::1]:8080 HTTP/1.1\r\nHost: x\r\n\r\n")["path"] == "/"
    assert served(server, b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")["path"] == "*"
    got = served(server, chunked(b"3 ;ext=1\r\nabc\r\n0\r\nX-Checksum: 1\r\nContent-Type: text/plain\r\n\r\n"))
    assert got["body"] == "abc"
    fits = b"X-Long: " + b"v" * (8188 - len("X-Long: "))
    assert len(served(server, b"GET / HTTP/1.1\r\nHost: x\r\n" + fits + b"\r\n\r\n")["headers"]["HTTP_X_LONG"]) == 8180


def test_casefolding_comes_before_the_target_form(module_gowsgi):
    """As in gunicorn: with --casefold-http-method, "options" is OPTIONS, and may use "*";
    without it, "options" is some other method, and may not."""
    raw = b"options * HTTP/1.1\r\nHost: x\r\n\r\n"
    permissive = module_gowsgi(APP, "-w", "1", "--permit-unconventional-http-method")
    refused(permissive, raw, 400)
    folding = module_gowsgi(APP, "-w", "1", "--permit-unconventional-http-method", "--casefold-http-method")
    got = served(folding, raw)
    assert (got["method"], got["path"]) == ("OPTIONS", "*")


def test_limit_request_field_size_0_means_gunicorns_default(module_gowsgi):
    """gunicorn turns --limit-request-field_size 0 into its default, 8190, CRLF included."""
    server = module_gowsgi("echo_app:app", "-w", "1", "--limit-request-field_size", "0")
    fits = b"X-Long: " + b"v" * (8188 - len("X-Long: "))
    assert len(served(server, b"GET / HTTP/1.1\r\nHost: x\r\n" + fits + b"\r\n\r\n")["headers"]["HTTP_X_LONG"]) == 8180
    refused(server, b"GET / HTTP/1.1\r\nHost: x\r\n" + fits + b"v\r\n\r\n", 431)
