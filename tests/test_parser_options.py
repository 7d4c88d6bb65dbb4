"""gunicorn's switches that relax the request parser (--permit-unconventional-http-method,
--casefold-http-method, --permit-unconventional-http-version, --strip-header-spaces,
--permit-obsolete-folding) and its HTTP/2 limits (--http2-max-concurrent-streams,
--http2-initial-window-size, --http2-max-frame-size, --http2-max-header-list-size).

Each request here is refused by default and served with its switch on; HTTP/2 is spoken by a
small raw client, which reads the server's SETTINGS and sends header lists that a real client
would hold back once it has read them. App: apps/tls_app.py, whose "/" answers with the environ.
"""

import json

import pytest

from rawh2 import H2, INITIAL_WINDOW_SIZE, MAX_CONCURRENT_STREAMS, MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE

import rawhttp

APP = "tls_app:app"


def served(server, raw):
    """The environ the app saw for raw, sent on a connection of its own."""
    response = rawhttp.request(server.port, raw)
    assert response.status == 200, response
    assert response.version == "HTTP/1.1"
    return json.loads(response.body)


def refused(server, raw, status):
    """Checks that raw is answered status and its connection closed, and that the same worker
    goes on serving."""
    before = served(server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")["pid"]
    with rawhttp.Conn(server.port) as conn:
        conn.send(raw)
        response = conn.read_response()
        assert response.status == status, response
        rawhttp.wait_closed(conn)
    assert served(server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")["pid"] == before


@pytest.fixture(scope="module")
def strict(module_gowsgi):
    return module_gowsgi(APP, "-w", "1")


# Each case: the switches, a request, the status without them, and what the app sees with them.
SWITCHES = {
    "lower-case method": (["--permit-unconventional-http-method"], b"get / HTTP/1.1\r\nHost: x\r\n\r\n", 400,
                          lambda env: env["REQUEST_METHOD"] == "get"),
    "short method": (["--permit-unconventional-http-method"], b"GE / HTTP/1.1\r\nHost: x\r\n\r\n", 400,
                     lambda env: env["REQUEST_METHOD"] == "GE"),
    "long method": (["--permit-unconventional-http-method"], b"ABCDEFGHIJKLMNOPQRSTU / HTTP/1.1\r\nHost: x\r\n\r\n",
                    400, lambda env: env["REQUEST_METHOD"] == "ABCDEFGHIJKLMNOPQRSTU"),
    "method with #": (["--permit-unconventional-http-method"], b"GE#T / HTTP/1.1\r\nHost: x\r\n\r\n", 400,
                      lambda env: env["REQUEST_METHOD"] == "GE#T"),
    "case-folded method": (["--permit-unconventional-http-method", "--casefold-http-method"],
                           b"get / HTTP/1.1\r\nHost: x\r\n\r\n", 400, lambda env: env["REQUEST_METHOD"] == "GET"),
    "HTTP/1.2": (["--permit-unconventional-http-version"], b"GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505,
                 lambda env: env["SERVER_PROTOCOL"] == "HTTP/1.2"),
    "HTTP/0.9": (["--permit-unconventional-http-version"], b"GET / HTTP/0.9\r\nHost: x\r\n\r\n", 505,
                 lambda env: env["SERVER_PROTOCOL"] == "HTTP/0.9"),
    "space before the colon": (["--strip-header-spaces"], b"GET / HTTP/1.1\r\nHost: x\r\nX-Spaced \t : yes\r\n\r\n",
                               400, lambda env: env["headers"]["HTTP_X_SPACED"] == "yes"),
    "folded header": (["--permit-obsolete-folding"],
                      b"GET / HTTP/1.1\r\nX-Folded: one \r\n  two\r\n\tthree\r\nHost: x\r\n\r\n", 400,
                      lambda env: env["headers"]["HTTP_X_FOLDED"] == "one two three"),
}


@pytest.mark.parametrize("case", sorted(SWITCHES))
def test_switch_serves_what_is_refused_by_default(module_gowsgi, strict, case):
    args, raw, status, seen = SWITCHES[case]
    refused(strict, raw, status)
    server = module_gowsgi(APP, "-w", "1", *args)
    env = served(server, raw)
    assert seen(env), env


def test_casefold_alone_lets_no_lower_case_method_in(gowsgi):
    """As in gunicorn, which checks the method before it case-folds it."""
    server = gowsgi(APP, "-w", "1", "--casefold-http-method")
    refused(server, b"get / HTTP/1.1\r\nHost: x\r\n\r\n", 400)
    assert served(server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")["REQUEST_METHOD"] == "GET"


def test_switches_keep_refusing_what_they_do_not_cover(gowsgi):
    server = gowsgi(APP, "-w", "1", "--permit-unconventional-http-method", "--casefold-http-method",
                    "--permit-unconventional-http-version", "--strip-header-spaces", "--permit-obsolete-folding")
    for raw in (b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n",  # not a token
                b"GET / HTTP/1.10\r\nHost: x\r\n\r\n",  # not HTTP/D.D
                b"GET / HTTP/1.1\r\nX A: v\r\nHost: x\r\n\r\n",  # a blank inside the name
                b"GET / HTTP/1.1\r\n X: v\r\nHost: x\r\n\r\n",  # nothing to fold onto
                # a fold cannot hide a second length from the framing checks
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n 0\r\n\r\nx"):
        refused(server, raw, 400)


# HTTP/2

def test_http2_settings_default_to_gunicorns(gowsgi, cert):
    server = gowsgi(APP, "-w", "1", *cert)
    h2 = H2(server.port)
    try:
        assert {k: h2.settings.get(k) for k in (3, 4, 5, 6)} == {
            MAX_CONCURRENT_STREAMS: 100, INITIAL_WINDOW_SIZE: 65535, MAX_FRAME_SIZE: 16384, MAX_HEADER_LIST_SIZE: 65536}
    finally:
        h2.close()


def test_http2_limits_are_advertised_and_the_header_list_enforced(gowsgi, cert):
    server = gowsgi(APP, "-w", "1", *cert, "--http2-max-concurrent-streams", "7", "--http2-initial-window-size",
                    "70000", "--http2-max-frame-size", "20000", "--http2-max-header-list-size", "1000")
    h2 = H2(server.port)
    try:
        assert {k: h2.settings.get(k) for k in (3, 4, 5, 6)} == {
            MAX_CONCURRENT_STREAMS: 7, INITIAL_WINDOW_SIZE: 70000, MAX_FRAME_SIZE: 20000, MAX_HEADER_LIST_SIZE: 1000}
        # Each field counts its name, its value and 32 bytes (RFC 9113 §6.5.2): the four
        # pseudo-header fields of get make 167, so this value brings the list to exactly 1000.
        fits = 1000 - 167 - 32 - len("x-big")
        env = json.loads(h2.get(1, "/", ("x-big", "b" * fits)))
        assert (env["SERVER_PROTOCOL"], len(env["headers"]["HTTP_X_BIG"])) == ("HTTP/2", fits)
        # One byte more is answered 431 on its stream; the connection goes on.
        assert "Too Large" in h2.get(3, "/", ("x-big", "b" * (fits + 1)))
        assert json.loads(h2.get(5))["REQUEST_METHOD"] == "GET"
    finally:
        h2.close()
