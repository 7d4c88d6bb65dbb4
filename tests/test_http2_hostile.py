"""HTTP/2 clients that try to wear a worker out, each spoken in raw frames over TLS (h2 chosen
by ALPN): rapid stream resets (CVE-2023-44487), HPACK dynamic tables larger than the server
allows, header blocks that decode to more than the header list limit, and header blocks that
never end. Each is cut off or refused, the app does not run for what it sent, and an HTTP/2
client and an HTTP/1.1 client on their own connections are served all along.

App: apps/h2_hostile_app.py in one worker, which counts its calls to /work.
"""

import http.client
import struct

import pytest

from rawh2 import (CONTINUATION, END_HEADERS, END_STREAM, HEADER_TABLE_SIZE, HEADERS, MAX_CONCURRENT_STREAMS,
                   MAX_FRAME, MAX_HEADER_LIST_SIZE, RST_STREAM, H2, Closed, frame, hpack_int, hpack_string, literal,
                   request_block, tls_context)

APP = "h2_hostile_app:app"

# Error codes (RFC 9113 §7)
PROTOCOL_ERROR, CANCEL, COMPRESSION_ERROR, ENHANCE_YOUR_CALM = 1, 8, 9, 11
# RFC 7541's initial size of an HPACK dynamic table, which the server never lets grow.
HPACK_TABLE_SIZE = 4096


def start(gowsgi, cert, *args):
    """One worker, whose idle connections stay open for the length of a test."""
    return gowsgi(APP, "-w", "1", "--keep-alive", "30", *cert, *args)


def table_size_updates(block):
    """The sizes that the dynamic table size updates at the start of a header block set (RFC 7541 §6.3)."""
    sizes, i = [], 0
    while i < len(block) and block[i] & 0xE0 == 0x20:
        value, i = block[i] & 0x1F, i + 1
        if value == 0x1F:
            shift = 0
            while True:
                value += (block[i] & 0x7F) << shift
                shift, i = shift + 7, i + 1
                if not block[i - 1] & 0x80:
                    break
        sizes.append(value)
    return sizes


def https_get(port, path="/"):
    """GET over HTTP/1.1 and TLS, on a connection of its own; returns the body."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=tls_context("http/1.1"), timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        assert response.status == 200
        return response.read().decode()
    finally:
        conn.close()


class Bystanders:
    """An HTTP/2 client on a connection opened before the hostile one, and HTTP/1.1 clients:
    check() asserts that both are served, by the worker that was there at the start."""

    def __init__(self, server):
        self.port = server.port
        self.h2 = H2(server.port)
        self.stream = 1
        self.worker = https_get(server.port)

    def check(self):
        assert self.h2.get(self.stream) == self.worker
        self.stream += 2
        assert https_get(self.port) == self.worker

    def close(self):
        self.h2.close()


@pytest.fixture
def bystanders():
    """Makes Bystanders(server) that the end of the test closes."""
    made = []

    def make(server):
        made.append(Bystanders(server))
        return made[-1]

    yield make
    for b in made:
        b.close()


def work_calls(server):
    return int(https_get(server.port, "/count"))


def peak_rss(pid):
    """The most memory the process has had resident, in bytes."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for {pid}")


def test_rapid_reset_is_cut_off(gowsgi, cert, bystanders):
    """A client that opens streams and resets them at once is cut off within twice its
    stream limit of resets, and the app runs for few of them. The client waits for an answer
    after every 20 resets, which keeps net/http's own bound (4 times the stream limit of
    handlers waiting to start) from tripping: only a count of resets stops it."""
    server = start(gowsgi, cert)
    others = bystanders(server)
    attacker = H2(server.port)
    streams = attacker.settings[MAX_CONCURRENT_STREAMS]
    budget, tries = 2 * streams, 20 * streams
    work, plain = request_block("/work"), request_block("/")
    cancel = struct.pack(">I", CANCEL)
    stream, resets = 1, 0
    with pytest.raises(Closed) as closed:
        while resets < tries:
            batch = b""
            for _ in range(20):
                batch += frame(HEADERS, END_STREAM | END_HEADERS, stream, work) + frame(RST_STREAM, 0, stream, cancel)
                stream += 2
            attacker.send(batch + frame(HEADERS, END_STREAM | END_HEADERS, stream, plain))
            assert attacker.answer(stream).startswith("ok")
            resets, stream = resets + 20, stream + 2
            if resets % (5 * 20) == 0:
                others.check()
    assert closed.value.code in (None, ENHANCE_YOUR_CALM)
    assert budget <= resets < tries
    assert work_calls(server) <= budget + streams
    others.check()


def test_huge_hpack_table_in_settings_is_held_to_the_initial_size(gowsgi, cert, bystanders):
    """SETTINGS_HEADER_TABLE_SIZE lets the server's encoder use a table that large: the server
    keeps to 4096 bytes whatever the client offers, and says so in its next header block."""
    server = start(gowsgi, cert)
    others = bystanders(server)
    client = H2(server.port, settings=struct.pack(">HI", HEADER_TABLE_SIZE, 0xFFFFFFFF))
    try:
        client.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, request_block("/")))
        while True:
            kind, _, stream, payload = client.read()
            if kind == HEADERS and stream == 1:
                break
        assert all(size <= HPACK_TABLE_SIZE for size in table_size_updates(payload)), table_size_updates(payload)
        assert client.answer(1).startswith("ok")
        assert client.get(3).startswith("ok")
    finally:
        client.close()
    others.check()


def test_hpack_table_grown_past_the_advertised_size_is_a_compression_error(gowsgi, cert, bystanders):
    """A header block may resize the server's decoding table only up to the size the server
    advertised; one that asks for a gigabyte ends its connection with COMPRESSION_ERROR."""
    server = start(gowsgi, cert)
    others = bystanders(server)
    client = H2(server.port)
    assert client.settings.get(HEADER_TABLE_SIZE, HPACK_TABLE_SIZE) <= HPACK_TABLE_SIZE
    try:
        block = hpack_int(1 << 30, 5, 0x20) + request_block("/work")
        client.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block))
        with pytest.raises(Closed) as closed:
            client.answer(1)
        assert closed.value.code == COMPRESSION_ERROR
    finally:
        client.close()
    assert work_calls(server) == 0
    others.check()


def test_indexed_field_bomb_is_refused_without_the_worker_growing(gowsgi, cert, bystanders):
    """A block that puts a 4000-byte field in the dynamic table and then names it by its index
    12000 times is 16 KB on the wire and 48 MB decoded. Twenty of them are each answered 431
    before the app runs, and the worker's peak memory stays far below one of them decoded."""
    server = start(gowsgi, cert)
    [pid] = server.wait_workers(1)
    others = bystanders(server)
    client = H2(server.port)
    entry = b"\x40" + hpack_string("x-bomb") + hpack_string("b" * 4000)  # literal, indexed (RFC 7541 §6.2.1)
    block = request_block("/work") + entry + bytes([0x80 | 62]) * 12000  # 62: the newest entry
    assert len(block) <= MAX_FRAME
    before = peak_rss(pid)
    try:
        for stream in range(1, 41, 2):
            client.send(frame(HEADERS, END_STREAM | END_HEADERS, stream, block))
            assert "Too Large" in client.answer(stream)
        assert client.get(41).startswith("ok")
    finally:
        client.close()
    assert peak_rss(pid) - before < 24 << 20
    assert work_calls(server) == 0
    others.check()


def test_header_string_longer_than_the_list_limit_is_a_compression_error(gowsgi, cert, bystanders):
    """A field value whose length prefix says 10 MB is refused as soon as the prefix is read,
    not buffered while the rest arrives: COMPRESSION_ERROR, though no more bytes come."""
    server = start(gowsgi, cert)
    others = bystanders(server)
    client = H2(server.port)
    try:
        assert client.settings[MAX_HEADER_LIST_SIZE] < 10 << 20
        start_of_field = b"\0" + hpack_string("x-big") + hpack_int(10 << 20, 7) + b"b" * 1000
        client.send(frame(HEADERS, END_STREAM, 1, request_block("/work") + start_of_field))
        with pytest.raises(Closed) as closed:
            client.answer(1)
        assert closed.value.code == COMPRESSION_ERROR
    finally:
        client.close()
    assert work_calls(server) == 0
    others.check()


def test_header_block_that_never_ends_is_cut_off(gowsgi, cert, bystanders):
    """CONTINUATION frames without END_HEADERS, each within the limits, add up past the header
    list limit: the connection ends with a GOAWAY soon after, instead of reading on for as
    long as the client sends (CVE-2024-27316 and its kin). The client gives the server time to
    answer each frame, so that what it has sent is what the server has read."""
    server = start(gowsgi, cert)
    others = bystanders(server)
    client = H2(server.port)
    limit = client.settings[MAX_HEADER_LIST_SIZE]
    fragment = literal("x-more", "m" * 15000)
    sent = 0
    try:
        with pytest.raises(Closed) as closed:
            client.send(frame(HEADERS, END_STREAM, 1, request_block("/work")))
            while sent < 200:
                client.send(frame(CONTINUATION, 0, 1, fragment))
                sent += 1
                client.poll(0.02)
        assert closed.value.code in (PROTOCOL_ERROR, COMPRESSION_ERROR, ENHANCE_YOUR_CALM)
        assert sent * len(fragment) < 4 * limit
    finally:
        client.close()
    assert work_calls(server) == 0
    others.check()


def test_too_many_or_too_long_fields_are_refused_before_the_app(gowsgi, cert):
    """--limit-request-fields and --limit-request-field_size hold on HTTP/2 as on HTTP/1.1:
    the stream is answered 431, the app does not run, and the connection serves on."""
    server = start(gowsgi, cert, "--limit-request-fields", "20", "--limit-request-field_size", "1000")
    client = H2(server.port)
    try:
        many = [(f"x-field-{i}", "v") for i in range(30)]
        assert "Too Large" in client.get(1, "/work", *many)
        assert "Too Large" in client.get(3, "/work", ("x-long", "l" * 1000))
        assert client.get(5, "/work", *many[:10], ("x-long", "l" * 900)) == "done"
    finally:
        client.close()
    assert work_calls(server) == 1
