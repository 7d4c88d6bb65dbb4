"""What the server makes of the app's answer: start_response, write(), iterables, close(),
file_wrapper and sendfile, and HTTP framing on the wire."""

import email.utils
import os
import re
import socket
import struct
from datetime import datetime, timezone
from urllib.parse import quote

import pytest
import requests

import rawhttp
from support import PYTHON_VERSION, SyscallTrace, wait_for


@pytest.fixture(scope="module")
def server(module_gowsgi, worker_class):
    return module_gowsgi("response_app:app", "-w", "1", *worker_class)


@pytest.fixture(scope="module")
def no_sendfile_server(module_gowsgi, worker_class):
    return module_gowsgi("response_app:app", "-w", "1", "--no-sendfile", *worker_class)


def get(server, path):
    return rawhttp.get(server.port, path)


def state(server):
    response = requests.get(server.url + "/state", timeout=30)
    assert response.status_code == 200
    return response.json()


def wait_new_log(server, since, pattern, timeout=10):
    """Waits until the log written after offset since matches the regex pattern; returns that text."""
    found = wait_for(lambda: re.search(pattern, server.log()[since:], re.S), timeout)
    assert found, f"no {pattern!r} in the error log after the request:\n{server.log()[since:]}"
    return server.log()[since:]


def token(request):
    return re.sub(r"\W", "-", request.node.name)


# Headers every response carries


def test_server_and_date_headers(server):
    response = get(server, "/list")
    assert response.header("Server").startswith("gowsgi")
    date = response.header("Date")
    assert date.endswith(" GMT")
    sent = email.utils.parsedate_to_datetime(date)
    assert abs((datetime.now(timezone.utc) - sent).total_seconds()) < 60


def test_status_and_reason_are_passed_through(server):
    response = get(server, "/status?status=" + quote("418 I'm a teapot"))
    assert response.raw.startswith(b"HTTP/1.1 418 I'm a teapot\r\n")


def test_latin1_header_value_goes_out_as_latin1_bytes(server):
    response = get(server, "/latin1-header")
    assert b"\r\nX-Latin: caf\xe9\r\n" in response.raw


@pytest.mark.skipif(PYTHON_VERSION >= (3, 12), reason="Python 3.12 removed the Py_UNICODE API")
def test_status_and_headers_made_through_the_old_unicode_api_go_out(server):
    response = get(server, "/legacy-strings")
    assert response.raw.startswith(b"HTTP/1.1 203 Legacy\r\n")
    assert b"\r\nX-Legacy: caf\xe9\r\n" in response.raw


def test_repeated_response_headers_stay_separate(server):
    assert get(server, "/cookies").header_all("Set-Cookie") == ["a=1", "b=2"]


# Bodies and framing


def test_list_is_chunked_on_http11(server):
    response = get(server, "/list")
    assert response.status == 200
    assert response.chunked and response.header("Content-Length") is None
    assert response.body == b"abc"


def test_tuple_and_big_list(server):
    assert get(server, "/tuple").body == b"t1t2"
    assert get(server, "/big-list").body == b"".join(b"%06d" % i for i in range(100000))


def test_empty_list_is_an_empty_body(server):
    response = get(server, "/empty")
    assert response.status == 200 and response.body == b""


def test_empty_chunk_from_a_generator_does_not_end_the_body(server):
    with rawhttp.Conn(server.port) as conn:
        conn.send(rawhttp.build("GET", "/generator"))
        response = conn.read_response()
        assert conn.idle() == b""
    assert response.body == b"g1g2"


def test_content_length_from_the_app_is_used(server):
    response = get(server, "/content-length")
    assert response.header("Content-Length") == "11"
    assert not response.chunked and response.body == b"hello world"


@pytest.mark.parametrize("path", ["/content-length-short", "/content-length-split"])
def test_bytes_past_content_length_are_not_sent(server, path):
    with rawhttp.Conn(server.port) as conn:
        conn.send(rawhttp.build("GET", path) + rawhttp.build("GET", "/tuple"))
        first = conn.read_response()
        assert first.body == b"hello"
        second = conn.read_response_or_eof()
        if second is not None:
            assert second.status == 200 and second.body == b"t1t2"


@pytest.mark.parametrize("path,body", [("/list", b"abc"), ("/generator", b"g1g2"), ("/content-length", b"hello world")])
def test_http10_gets_no_chunking_and_a_close(server, path, body):
    with rawhttp.Conn(server.port) as conn:
        conn.send(rawhttp.build("GET", path, "HTTP/1.0"))
        response = conn.read_response()
        assert response.header("Transfer-Encoding") is None
        assert response.body == body
        rawhttp.wait_closed(conn)


@pytest.mark.parametrize("path", ["/list", "/generator", "/content-length", "/write"])
def test_head_has_no_body(server, path):
    with rawhttp.Conn(server.port) as conn:
        conn.send(rawhttp.build("HEAD", path))
        head = conn.read_response("HEAD")
        assert head.status == 200
        assert conn.idle() == b""
        conn.send(rawhttp.build("GET", "/tuple"))
        assert conn.read_response().body == b"t1t2"


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_no_body_for_204_and_304(server, status):
    with rawhttp.Conn(server.port) as conn:
        conn.send(rawhttp.build("GET", "/status?body=1&status=" + quote(status)))
        response = conn.read_response()
        assert response.status == int(status[:3])
        if response.status == 204:
            assert response.header("Transfer-Encoding") is None
            assert response.header("Content-Length") is None
        assert conn.idle() == b""
        conn.send(rawhttp.build("GET", "/tuple"))
        assert conn.read_response().body == b"t1t2"


def test_hop_by_hop_headers_from_the_app_are_dropped(server):
    response = get(server, "/hop-by-hop")
    assert response.status == 200
    assert response.header("X-End-To-End") == "kept"
    assert response.header("Keep-Alive") is None
    assert response.header("Upgrade") is None
    assert response.header_all("Transfer-Encoding") in ([], ["chunked"])
    assert "keep-alive" not in [v.lower() for v in response.header_all("Connection")]
    assert response.body == b"hop body"


def test_app_keep_alive_does_not_keep_an_http10_connection(server):
    with rawhttp.Conn(server.port) as conn:
        conn.send(rawhttp.build("GET", "/hop-by-hop", "HTTP/1.0"))
        response = conn.read_response()
        assert "keep-alive" not in [v.lower() for v in response.header_all("Connection")]
        assert response.body == b"hop body"
        rawhttp.wait_closed(conn)


# write() and streaming


def test_write_callable(server):
    assert get(server, "/write").body == b"hello world"
    assert get(server, "/write-then-iterable").body == b"written-returned"


def test_generator_first_chunk_arrives_before_the_last_is_produced(server, tmp_path):
    release = tmp_path / "release"
    with rawhttp.Conn(server.port) as conn:
        conn.send(rawhttp.build("GET", "/until-file?path=" + quote(str(release))))
        head = conn.read_head()
        assert head.startswith(b"HTTP/1.1 200")
        assert b"chunked" in head.lower()
        first = conn.read_chunk()
        assert first == b"first\n"
        assert not release.exists()
        release.touch()
        rest = b""
        while chunk := conn.read_chunk():
            rest += chunk
        conn.read_trailers()
    assert rest == b"last\n"


def test_a_response_complete_by_its_length_goes_out_before_the_app_finishes(server, tmp_path):
    # PEP 3333: the server must not delay a block; the body is all there once the declared
    # length is, whatever the app does before it stops iterating.
    release = tmp_path / "release"
    with rawhttp.Conn(server.port, timeout=5) as conn:
        conn.send(rawhttp.build("GET", "/complete-then-until-file?path=" + quote(str(release))))
        response = conn.read_response()
        assert not release.exists()
        release.touch()
    assert response.status == 200 and response.body == b"complete\n"


# start_response rules


def test_exc_info_replaces_headers_not_yet_sent(server):
    response = get(server, "/exc-info-before")
    assert response.status == 503
    assert response.header("X-Second") == "1"
    assert response.header("X-First") is None
    assert response.body == b"replacement body"


def test_exc_info_reraises_once_headers_are_sent(server, request):
    name = token(request)
    response = get(server, f"/exc-info-after?token={name}")
    assert response.status == 200
    assert response.body == b"partial-tail"
    assert state(server)["events"][name] == "same exception re-raised"


def test_second_start_response_without_exc_info_raises(server, request):
    name = token(request)
    response = get(server, f"/start-response-twice?token={name}")
    assert response.status == 200 and response.body == b"twice"
    assert state(server)["events"][name].startswith("raised ")


FAILURES = [
    ("/bad-status-number-only", "status"),
    ("/bad-status-letters", "status"),
    ("/bad-header-crlf", "header"),
    ("/bad-header-lf", "header"),
    ("/bad-header-name-crlf", "header"),
    ("/bad-header-non-latin1", "latin|8859"),
    ("/not-bytes", "byte"),
    ("/str-body", "byte"),
    ("/no-start-response", "start_response"),
    ("/raise", "kaboom-3d1f"),
    ("/raise-after-start-response", "kaboom-after-start"),
]


@pytest.mark.parametrize("path,reason", FAILURES)
def test_app_errors_become_500_with_the_reason_logged(server, path, reason):
    workers = server.workers()
    since = len(server.log())
    response = get(server, path)
    assert response.status == 500
    assert b"Injected" not in response.raw and response.header("X-Bad") is None
    log = wait_new_log(server, since, rf"Error handling request GET {re.escape(path)}\b(?!-)")
    assert re.search(reason, log, re.I), log
    assert get(server, "/tuple").body == b"t1t2"
    assert server.workers() == workers


def test_app_exception_logs_the_traceback(server):
    since = len(server.log())
    assert get(server, "/raise?x=1").status == 500
    log = wait_new_log(server, since, r"Error handling request GET /raise")
    assert "Traceback (most recent call last)" in log
    assert "RuntimeError: kaboom-3d1f" in log
    assert "response_app.py" in log


def test_error_after_body_started_never_looks_complete(server, request):
    name = token(request)
    since = len(server.log())
    with rawhttp.Conn(server.port) as conn:
        conn.send(rawhttp.build("GET", f"/closing-fails-later?token={name}"))
        try:
            response = conn.read_response()
        except rawhttp.FramingError:
            response = None
    assert response is None or response.status == 500, response
    wait_new_log(server, since, r"iteration failed on purpose")
    assert get(server, "/tuple").body == b"t1t2"


# close() is always called


@pytest.mark.parametrize("path,status", [
    ("/closing", 200),
    ("/closing-fails-first", 500),
    ("/closing-not-bytes", 500),
])
def test_close_is_called(server, request, path, status):
    name = token(request)
    response = get(server, f"{path}?token={name}")
    assert response.status == status
    if status == 200:
        assert response.body == b"onetwo"
    assert state(server)["closed"].count(name) == 1


def test_close_is_called_after_an_error_mid_body(server, request):
    name = token(request)
    with rawhttp.Conn(server.port) as conn:
        conn.send(rawhttp.build("GET", f"/closing-fails-later?token={name}"))
        try:
            conn.read_until_close()
        except socket.timeout:
            pass
    assert state(server)["closed"].count(name) == 1


def test_close_is_called_when_the_client_disconnects(server, request):
    name = token(request)
    conn = rawhttp.Conn(server.port)
    conn.send(rawhttp.build("GET", f"/closing-endless?token={name}"))
    assert conn.read_head().startswith(b"HTTP/1.1 200")
    received = 0
    while received < 200_000:
        received += len(conn.read_chunk())
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
    # Under gevent /state runs beside the endless response, so it may come before the close.
    seen = wait_for(lambda: (s := state(server))["closed"].count(name) and s, 10) or state(server)
    assert seen["closed"].count(name) == 1
    assert name not in seen["events"], "the app ran to its end: the server did not stop at the disconnect"


# wsgi.file_wrapper


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("files") / "data.bin"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    return path


# worker_class is named so that the server the test picks by name has its class chosen.
@pytest.mark.parametrize("which", ["server", "no_sendfile_server"])
def test_file_wrapper_sends_the_file(request, data_file, which, worker_class):
    srv = request.getfixturevalue(which)
    data = data_file.read_bytes()
    response = get(srv, "/file?path=" + quote(str(data_file)))
    assert response.status == 200 and response.body == data
    assert state(srv)["last_file_closed"] is True


@pytest.mark.parametrize("which", ["server", "no_sendfile_server"])
def test_file_wrapper_starts_at_the_current_position(request, data_file, which, worker_class):
    srv = request.getfixturevalue(which)
    response = get(srv, "/file?seek=1000&path=" + quote(str(data_file)))
    assert response.body == data_file.read_bytes()[1000:]


@pytest.mark.parametrize("which", ["server", "no_sendfile_server"])
def test_file_wrapper_honours_content_length(request, data_file, which, worker_class):
    srv = request.getfixturevalue(which)
    response = get(srv, "/file?length=100&path=" + quote(str(data_file)))
    assert response.header("Content-Length") == "100"
    assert response.body == data_file.read_bytes()[:100]


def test_file_wrapper_over_a_file_like_object(server):
    assert get(server, "/file-like").body == b"from a file-like object " * 1000


@pytest.mark.parametrize("which,expect_sendfile", [("server", True), ("no_sendfile_server", False)])
def test_sendfile_is_used_unless_disabled(request, tmp_path, data_file, which, expect_sendfile, worker_class):
    srv = request.getfixturevalue(which)
    [worker] = srv.workers()
    trace = SyscallTrace(worker, ["sendfile", "write", "writev", "sendto", "sendmsg"], tmp_path)
    try:
        response = get(srv, "/file?path=" + quote(str(data_file)))
    finally:
        calls = trace.stop()
    assert response.body == data_file.read_bytes()
    assert re.search(r"\b(write|writev|sendto|sendmsg|sendfile)\(", calls), "strace saw nothing: not attached?"
    used_sendfile = re.search(r"\bsendfile\(", calls) is not None
    assert used_sendfile == expect_sendfile, calls[-2000:]
