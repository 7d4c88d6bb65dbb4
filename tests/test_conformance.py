"""An outside review against the specs: PEP 3333 corners, RFC 9112 framing and smuggling
patterns, and the client behaviours (curl, HTTP/1.0 keep-alive, pipelining, disconnects) the
other modules do not reach. Apps: apps/conformance_app.py and apps/conformance_flask.py.
"""

import json
import re
import shutil
import socket
import struct
import subprocess
import time
import uuid
from urllib.parse import quote

import pytest

import rawhttp


@pytest.fixture(scope="module")
def server(module_gowsgi, worker_class):
    return module_gowsgi("conformance_app:app", "-w", "1", *worker_class)


@pytest.fixture(scope="module")
def mounted(module_gowsgi, worker_class):
    return module_gowsgi("conformance_app:app", "-w", "1", *worker_class, env={"SCRIPT_NAME": "/mount"})


@pytest.fixture(scope="module")
def flask_server(module_gowsgi, worker_class):
    return module_gowsgi("conformance_flask:app", "-w", "1", *worker_class)


def new_token():
    return uuid.uuid4().hex[:12]


def get_json(server, path, **kw):
    response = rawhttp.get(server.port, path, **kw)
    assert response.status == 200, response
    return json.loads(response.body)


def events(server, token):
    return get_json(server, f"/events?{token}")


def input_ops(server, ops, body, chunked=False):
    headers = [("Transfer-Encoding", "chunked")] if chunked else []
    if chunked:
        body = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in (body[:4], body[4:]) if piece)
        body += b"0\r\n\r\n"
    return get_json(server, f"/input?ops={ops}", method="POST", headers=headers, body=body)


# environ (PEP 3333 "environ Variables", "Unicode Issues")


def test_no_body_means_no_content_length_and_query_string_is_always_there(server):
    env = get_json(server, "/environ")
    assert env["has_content_length"] is False or env["content_length"] in ("", "0")
    assert env["has_content_type"] is False
    assert env["has_query"] is True and env["query"] == ""
    assert env["non_str"] == [], "every CGI key must be a native str"
    env = get_json(server, "/environ?", method="POST", body=b"")
    assert (env["has_query"], env["query"], env["raw_uri"]) == (True, "", "/environ?")


def test_non_ascii_path_query_and_header_round_trip_as_latin1(server):
    raw = b"GET /environ/%C3%A9/\xe9%2F?q=\xe9%E9 HTTP/1.1\r\nHost: x\r\nX-Value: \t caf\xe9 \t\r\n\r\n"
    env = json.loads(rawhttp.request(server.port, raw).body)
    # PATH_INFO is the decoded bytes, one code point per byte; "%2F" decodes to "/".
    assert env["path_codepoints"][len("/environ"):] == [0x2F, 0xC3, 0xA9, 0x2F, 0xE9, 0x2F]
    assert env["path_info"].encode("latin-1").decode("utf-8", "replace").startswith("/environ/é/")
    assert env["query"] == "q=\xe9%E9"
    assert env["x_value"] == [ord(c) for c in "caf\xe9"], "OWS around a field value is not part of it"
    assert env["raw_uri"] == "/environ/%C3%A9/\xe9%2F?q=\xe9%E9"


def test_script_name_from_the_environment_is_stripped_from_path_info(mounted):
    env = get_json(mounted, "/mount/environ/x?y=1")
    assert (env["script_name"], env["path_info"], env["query"]) == ("/mount", "/environ/x", "y=1")
    env = get_json(mounted, "/mount")
    assert (env["script_name"], env["path_info"]) == ("/mount", "")


@pytest.mark.parametrize("path", ["/mountain/x", "/other/environ"])
def test_paths_outside_the_mount_point_are_not_mangled(mounted, path):
    """PEP 3333 (CGI PATH_INFO): PATH_INFO is empty or starts with "/", and SCRIPT_NAME +
    PATH_INFO is the requested path. A request outside the mount point may instead be refused."""
    response = rawhttp.get(mounted.port, path)
    if response.status != 200:
        assert 400 <= response.status < 500, response
        return
    env = json.loads(response.body)
    assert env["path_info"] == "" or env["path_info"].startswith("/"), env
    assert env["script_name"] + env["path_info"] == path, env


def test_options_asterisk_and_absolute_form(server):
    env = json.loads(rawhttp.request(server.port, b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").body)
    assert (env["method"], env["path_info"], env["raw_uri"]) == ("OPTIONS", "*", "*")
    env = json.loads(rawhttp.request(
        server.port, b"GET http://example.com:8080/environ/abs?q=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n").body)
    assert (env["path_info"], env["query"]) == ("/environ/abs", "q=1")
    assert env["raw_uri"] == "http://example.com:8080/environ/abs?q=1"


# wsgi.input (PEP 3333 "Input and Error Streams")


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_input_reads_after_the_end_return_empty_bytes(server, chunked):
    got = input_ops(server, "read,read,read:5,readline,readline:3,readlines,iter", b"ab\ncd", chunked)
    assert got == ["ab\ncd", "", "", "", "", [], []]


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_readline_size_stops_at_the_size_or_the_newline(server, chunked):
    ops = "readline:2,readline:1,readline:1,readline:3,readline:10,readline:0,readline:none,readline:-1"
    got = input_ops(server, ops, b"ab\ncdef\ngh", chunked)
    assert got == ["ab", "\n", "c", "def", "\n", "", "gh", ""]


def test_read_and_readline_with_huge_or_default_sizes(server):
    got = input_ops(server, f"read:{2**40},read:none,readline:{2**62},read:-1", b"xy\nz")
    assert got == ["xy\nz", "", "", ""]
    got = input_ops(server, "read:none", b"all of it")
    assert got == ["all of it"]


def test_readlines_hint_and_iteration_continue_from_the_position(server):
    got = input_ops(server, "readline:1,readlines:3,iter", b"ab\ncd\nef\ngh\n")
    assert got == ["a", ["b\n", "cd\n"], ["ef\n", "gh\n"]]


# Responses (PEP 3333 "The start_response() Callable", "Buffering and Streaming")


def test_start_response_called_on_first_iteration(server):
    response = rawhttp.get(server.port, "/late-start")
    assert (response.status, response.header("X-Late"), response.body) == (201, "yes", b"late-body")
    response = rawhttp.get(server.port, "/late-start-empty")
    assert (response.status, response.header("X-Late"), response.body) == (200, "empty", b"")


def test_error_after_the_first_chunk_cuts_the_response_and_calls_close(server):
    for route in ("raise-after-first-chunk", "non-bytes-after-first-chunk"):
        token = new_token()
        with rawhttp.Conn(server.port) as conn:
            conn.send(rawhttp.build("GET", f"/{route}?token={token}"))
            head = conn.read_head()
            assert head.startswith(b"HTTP/1.1 200") and b"chunked" in head
            assert conn.read_chunk() == b"first-chunk"
            # No last chunk: the body must never look complete to the client.
            assert rawhttp.wait_closed(conn) == b""
        assert events(server, token)[-1] == "close", route
        assert events(server, token).count("close") == 1
    server.wait_log("response item must be bytes")


@pytest.mark.parametrize("block", [None, 1, 7, 100000])
def test_file_wrapper_over_bytesio(server, block):
    token = new_token()
    repeat = 8 if block == 1 else 300  # one chunk per block: keep the one-byte case short
    query = f"repeat={repeat}&token={token}" + (f"&block={block}" if block else "")
    response = rawhttp.get(server.port, f"/file-wrapper-bytesio?{query}")
    assert response.status == 200
    assert response.body == bytes(range(256)) * repeat
    assert events(server, token) == ["close"]


@pytest.mark.parametrize("chunks,size", [(3, 1), (64, 4095), (40, 4096), (20, 4097), (4, 65536 + 3), (2, 3 << 20)])
def test_streamed_bodies_are_framed_exactly(server, chunks, size):
    with rawhttp.Conn(server.port, timeout=20) as conn:
        conn.send(rawhttp.build("GET", f"/big-stream?chunks={chunks}&size={size}") + rawhttp.build("GET", "/pid"))
        response = conn.read_response()
        assert response.chunked
        assert response.body == b"".join(bytes([i % 256]) * size for i in range(chunks))
        assert response.trailers == []
        assert conn.read_response().status == 200  # the framing ended exactly where it should


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_no_body_statuses_drop_the_apps_body(server, status):
    query = f"status={quote(status)}&body=must-not-appear"
    with rawhttp.Conn(server.port) as conn:
        conn.send(rawhttp.build("GET", f"/status?{query}") + rawhttp.build("GET", "/pid"))
        first = conn.read_response()
        assert first.status == int(status[:3])
        assert first.header("Transfer-Encoding") is None
        second = conn.read_response()
        assert second.status == 200 and b"must-not-appear" not in first.raw + second.raw


def test_two_content_lengths_from_the_app_become_one(server):
    with rawhttp.Conn(server.port) as conn:
        conn.send(rawhttp.build("GET", "/two-content-lengths") + rawhttp.build("GET", "/pid"))
        response = conn.read_response()
        lengths = response.header_all("Content-Length")
        assert len(lengths) == 1
        assert len(response.body) == int(lengths[0])
        assert conn.read_response().status == 200


def test_app_date_and_server_replace_the_defaults(server):
    response = rawhttp.get(server.port, "/own-date-and-server")
    assert response.header_all("Date") == ["Thu, 01 Jan 2004 00:00:00 GMT"]
    assert response.header_all("Server") == ["app-server/1.0"]
    response = rawhttp.get(server.port, "/pid")
    [date] = response.header_all("Date")
    assert re.fullmatch(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                        r"\d{4} \d\d:\d\d:\d\d GMT", date), date


def test_app_connection_close_closes_after_the_response(server):
    with rawhttp.Conn(server.port) as conn:
        conn.send(rawhttp.build("GET", "/app-connection-close") + rawhttp.build("GET", "/pid"))
        response = conn.read_response()
        assert (response.body, response.header("Connection")) == (b"bye", "close")
        assert rawhttp.wait_closed(conn) == b""


def test_write_and_returned_iterable_share_the_declared_length(server):
    with rawhttp.Conn(server.port) as conn:
        conn.send(rawhttp.build("GET", "/write-and-iterable-sized") + rawhttp.build("GET", "/pid"))
        assert conn.read_response().body == b"abcdefghijkl"
        assert conn.read_response().status == 200


def test_write_refuses_str(server):
    token = new_token()
    assert rawhttp.get(server.port, f"/write-str?token={token}").body == b"ok"
    assert events(server, token) == ["TypeError"]


def test_exc_info_replaces_twice_then_reraises_after_output(server):
    response = rawhttp.get(server.port, "/exc-info-twice")
    assert (response.status, response.header_all("X-Stage"), response.body) == (502, ["third"], b"replaced twice")
    token = new_token()
    with rawhttp.Conn(server.port) as conn:
        conn.send(rawhttp.build("GET", f"/exc-info-after-write?token={token}"))
        assert conn.read_head().startswith(b"HTTP/1.1 200")
        assert conn.read_chunk() == b"already-sent"
        assert rawhttp.wait_closed(conn) == b""
    assert events(server, token) == ["reraised"]


# Connections: HTTP/1.0 keep-alive, pipelining, 100-continue, many requests


def test_http10_keep_alive(server):
    keep = b"Connection: keep-alive\r\n"
    with rawhttp.Conn(server.port) as conn:
        conn.send(b"GET /pid HTTP/1.0\r\n" + keep + b"\r\n" + b"GET /pid HTTP/1.0\r\n" + keep + b"\r\n")
        for _ in range(2):
            response = conn.read_response()
            assert response.status == 200 and response.header("Connection").lower() == "keep-alive"
            assert response.header("Transfer-Encoding") is None
        # A body without a length can only end with the connection.
        conn.send(b"GET /late-start HTTP/1.0\r\n" + keep + b"\r\n")
        response = conn.read_response()
        assert (response.body, response.header("Connection")) == (b"late-body", "close")
        assert conn.read_response_or_eof() is None


def test_pipelined_requests_with_every_kind_of_body(server):
    data = (b"POST /input?ops=read HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
            b"POST /input?ops=read:2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n"
            b"POST /input?ops=readline HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nExpect: 100-continue\r\n\r\nl1\nl2\n"
            b"HEAD /pid HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /input?ops=read HTTP/1.1\r\nHost: x\r\n\r\n")
    with rawhttp.Conn(server.port) as conn:
        conn.send(data)
        bodies = [conn.read_response(method).body for method in ("POST", "POST", "POST", "HEAD", "GET")]
        assert conn.idle() == b"", "no 100 Continue once the body is already there, nothing extra"
    assert [json.loads(b) if b else None for b in bodies] == [["hello"], ["ab"], ["l1\n"], None, [""]]


def test_many_requests_on_one_connection(server):
    with rawhttp.Conn(server.port) as conn:
        for batch in range(20):
            conn.send(rawhttp.build("GET", "/pid") * 100)
            for _ in range(100):
                assert conn.read_response().status == 200


@pytest.mark.skipif(not shutil.which("curl"), reason="curl is installed by `make test`")
@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_curl_large_upload_gets_100_continue(server, tmp_path, chunked):
    upload = tmp_path / "upload.bin"
    upload.write_bytes(bytes(range(256)) * 8192)  # 2 MiB: curl sends Expect: 100-continue
    token = new_token()
    args = ["curl", "-sv", "--max-time", "10", "--expect100-timeout", "5", "-X", "POST",
            "--data-binary", f"@{upload}", f"{server.url}/upload-sink?token={token}"]
    if chunked:
        args[1:1] = ["-H", "Transfer-Encoding: chunked"]
    started = time.monotonic()
    done = subprocess.run(args, capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    assert "> Expect: 100-continue" in done.stderr
    assert "< HTTP/1.1 100 Continue" in done.stderr
    assert done.stdout == "got"
    assert time.monotonic() - started < 4, "curl waited for a 100 Continue that came late"
    assert events(server, token) == [f"read {256 * 8192}"]


def test_long_cookie_within_and_over_the_field_limit(server):
    cookie = "a=" + "b" * 8100
    env = get_json(server, "/environ", headers=[("Cookie", cookie)])
    assert env["cookie_length"] == len(cookie)
    response = rawhttp.get(server.port, "/environ", headers=[("Cookie", "a=" + "b" * 9000)])
    assert response.status == 431


# Malformed input and request smuggling (RFC 9112 §6, §7, §11.2; RFC 9110 §5.3)


SMUGGLING = {
    "CL and TE": b"POST /pid HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "TE and CL": b"POST /pid HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
    "chunked, chunked": b"POST /pid HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
    "chunked then identity": b"POST /pid HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    "obs-fold": b"GET /pid HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
    "folded TE": b"POST /pid HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
    "space before colon": b"POST /pid HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello",
    "tab before colon": b"POST /pid HTTP/1.1\r\nHost: x\r\nTransfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n",
    "space inside length": b"POST /pid HTTP/1.1\r\nHost: x\r\nContent-Length: 1 0\r\n\r\n0123456789",
    "two lengths": b"POST /pid HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 13\r\n\r\nabc",
    "two hosts": b"GET /pid HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n",
    "two content types": b"POST /pid HTTP/1.1\r\nHost: x\r\nContent-Type: a/b\r\nContent-Type: c/d\r\n\r\n",
    "CR in a value": b"GET /pid HTTP/1.1\r\nHost: x\r\nX-A: 1\rContent-Length: 5\r\n\r\nhello",
    "chunked on HTTP/1.0": b"POST /pid HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("name", list(SMUGGLING))
def test_ambiguous_framing_is_refused_and_closes(server, name):
    with rawhttp.Conn(server.port) as conn:
        conn.send(SMUGGLING[name] + b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
        response = conn.read_response()
        assert response.status in (400, 501), response  # 501: a transfer coding not implemented
        assert response.header("Connection") == "close"
        assert rawhttp.wait_closed(conn) == b"", "nothing may follow the refusal"


@pytest.mark.parametrize("tail", [
    b"0\r\n\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",  # bare LF ends the trailers
    b"0\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n\r\n",  # bare LF after the last chunk size
    b"3\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
], ids=["trailers", "last-size", "size"])
def test_bare_lf_in_chunked_framing_is_refused(server, tail):
    with rawhttp.Conn(server.port) as conn:
        conn.send(b"POST /input?ops=read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + tail)
        response = conn.read_response()
        assert response.status == 400, response
        rest = rawhttp.wait_closed(conn)
        assert b"HTTP/1.1" not in rest, "a second request was read out of the body"


def test_worker_serves_after_a_thousand_malformed_requests(server):
    pid = get_json(server, "/pid")["pid"]
    bad = [b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
           b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", b"POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
           b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n\r\n", b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 120 + b"\r\n",
           b"GET / HTTP/1.1\r\nX: \x7f\r\n\r\n", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
           b"POST /input?ops=read HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]
    statuses = set()
    for i in range(1000):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(bad[i % len(bad)])
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        statuses.add(answer[9:12])
    assert statuses <= {b"400", b"414", b"431", b"505"}, statuses
    assert get_json(server, "/pid")["pid"] == pid


# Disconnects


def test_client_gone_mid_upload_and_mid_download(server):
    pid = get_json(server, "/pid")["pid"]
    for framing in (b"Content-Length: 10000000\r\n\r\n" + b"x" * 100000,
                    b"Transfer-Encoding: chunked\r\n\r\n100000\r\n" + b"x" * 1000):
        token = new_token()
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"POST /upload-sink?token=" + token.encode() + b" HTTP/1.1\r\nHost: x\r\n" + framing)
            time.sleep(0.1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        deadline = time.monotonic() + 5
        while not events(server, token) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert events(server, token) == ["error OSError"]
    token = new_token()
    conn = rawhttp.Conn(server.port)
    conn.send(rawhttp.build("GET", f"/endless?token={token}"))
    conn.read_head()
    conn.sock.recv(100000)
    conn.close()
    deadline = time.monotonic() + 5
    while "close" not in events(server, token) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert events(server, token) == ["close"]
    assert get_json(server, "/pid")["pid"] == pid


# A real framework: Flask over the same engine


@pytest.mark.needs("flask")
def test_flask_head_matches_get_without_a_body(flask_server):
    get = rawhttp.get(flask_server.port, "/file")
    with rawhttp.Conn(flask_server.port) as conn:
        conn.send(rawhttp.build("HEAD", "/file") + rawhttp.build("HEAD", "/stream") + rawhttp.build("GET", "/hello"))
        head = conn.read_response("HEAD")
        stream_head = conn.read_response("HEAD")
        hello = conn.read_response()
    assert head.status == 200 and head.body == b""
    assert head.header("Content-Length") == get.header("Content-Length") == str(len(get.body)) == "1048576"
    assert head.header("ETag") == get.header("ETag")
    assert stream_head.status == 200 and stream_head.header("Content-Length") is None
    assert hello.body == b"Hello, conformance!"


@pytest.mark.needs("flask")
def test_flask_conditional_and_range_requests(flask_server):
    data = bytes(range(256)) * 4096
    etag = rawhttp.get(flask_server.port, "/file").header("ETag")
    with rawhttp.Conn(flask_server.port) as conn:
        conn.send(rawhttp.build("GET", "/file", headers=[("If-None-Match", etag)])
                  + rawhttp.build("GET", "/file", headers=[("Range", "bytes=1000-1999")])
                  + rawhttp.build("GET", "/file", headers=[("Range", "bytes=1048000-")])
                  + rawhttp.build("GET", "/hello"))
        not_modified = conn.read_response()
        middle = conn.read_response()
        tail = conn.read_response()
        assert conn.read_response().body == b"Hello, conformance!"
    assert (not_modified.status, not_modified.body) == (304, b"")
    assert (middle.status, middle.body) == (206, data[1000:2000])
    assert (tail.status, tail.body) == (206, data[1048000:])


@pytest.mark.skipif(not shutil.which("curl"), reason="curl is installed by `make test`")
@pytest.mark.needs("flask")
def test_flask_request_stream_with_curl_chunked_upload(flask_server, tmp_path):
    upload = tmp_path / "up.bin"
    upload.write_bytes(b"z" * 1_500_000)
    done = subprocess.run(["curl", "-s", "--max-time", "10", "-H", "Transfer-Encoding: chunked",
                           "--data-binary", f"@{upload}", f"{flask_server.url}/echo-stream"],
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == 0
    assert json.loads(done.stdout) == {"total": 1_500_000, "content_length": None}
    done = subprocess.run(["curl", "-s", "--max-time", "10", "--data-binary", f"@{upload}",
                           f"{flask_server.url}/echo-stream"], capture_output=True, text=True, timeout=20)
    assert json.loads(done.stdout) == {"total": 1_500_000, "content_length": 1_500_000}


@pytest.mark.needs("flask")
def test_flask_crash_is_a_500_and_the_worker_lives(flask_server):
    response = rawhttp.get(flask_server.port, "/crash")
    assert response.status == 500
    flask_server.wait_log("flask route crashed on purpose")
    assert rawhttp.get(flask_server.port, "/hello").status == 200
