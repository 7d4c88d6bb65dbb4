"""The PROXY protocol (--proxy-protocol, --proxy-allow-from): a load balancer in front says, before
the first request of each connection, which client the connection is really from."""

import ipaddress
import json
import signal
import struct
import time

import pytest

import rawhttp

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
REQUEST = rawhttp.build("GET", "/")


def v2_header(command=0x21, family=0x11, source=None, dest=None, tlvs=b""):
    """A version 2 header: PROXY (0x21) or LOCAL (0x20), TCP over IPv4 (0x11) or IPv6 (0x21)."""
    block = b""
    if source is not None:
        for address in (source[0], dest[0]):
            block += ipaddress.ip_address(address).packed
        block += struct.pack("!HH", source[1], dest[1])
    block += tlvs
    return V2_SIGNATURE + bytes([command, family]) + struct.pack("!H", len(block)) + block


def exchange(port, data, requests=1):
    """Sends data on one connection; returns the responses, the local port and whether the server closed."""
    with rawhttp.Conn(port) as conn:
        conn.send(data)
        responses = [conn.read_response() for _ in range(requests)]
        closed = responses[-1].header("Connection") == "close" and rawhttp.wait_closed(conn) == b""
        return responses, conn.local_port, closed


def environ_of(response):
    assert response.status == 200, response
    return json.loads(response.body)["environ"]


@pytest.fixture(scope="module")
def auto_server(module_gowsgi):
    """A bare --proxy-protocol means auto, as in gunicorn."""
    return module_gowsgi("environ_app:app", "--proxy-protocol")


def test_v1_tcp4_gives_the_client_address(auto_server):
    (response,), _, _ = exchange(auto_server.port, b"PROXY TCP4 203.0.113.7 198.51.100.1 40123 443\r\n" + REQUEST)
    env = environ_of(response)
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("203.0.113.7", "40123")
    assert (env["PROXY_PROTOCOL"], env["PROXY_ADDR"], env["PROXY_PORT"]) == ("TCP4", "198.51.100.1", "443")
    assert env["SERVER_PORT"] == str(auto_server.port)


def test_v1_tcp6(auto_server):
    (response,), _, _ = exchange(auto_server.port, b"PROXY TCP6 2001:db8::7 2001:db8::1 5000 8443\r\n" + REQUEST)
    env = environ_of(response)
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"], env["PROXY_PROTOCOL"]) == ("2001:db8::7", "5000", "TCP6")


def test_the_address_holds_for_every_request_of_the_connection(auto_server):
    responses, _, _ = exchange(auto_server.port, b"PROXY TCP4 203.0.113.8 198.51.100.1 1000 80\r\n" + REQUEST * 3, requests=3)
    assert [environ_of(r)["REMOTE_ADDR"] for r in responses] == ["203.0.113.8"] * 3


@pytest.mark.parametrize("family, source, dest", [
    (0x11, ("192.0.2.10", 61000), ("192.0.2.1", 443)),
    (0x21, ("2001:db8::10", 61000), ("2001:db8::1", 443)),
])
def test_v2_gives_the_client_address(auto_server, family, source, dest):
    header = v2_header(family=family, source=source, dest=dest, tlvs=b"\x04\x00\x01x")  # a NOOP TLV
    (response,), _, _ = exchange(auto_server.port, header + REQUEST)
    env = environ_of(response)
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == (source[0], str(source[1]))
    assert (env["PROXY_ADDR"], env["PROXY_PORT"]) == (dest[0], str(dest[1]))


def test_v2_local_keeps_the_real_peer(auto_server):
    (response,), local_port, _ = exchange(auto_server.port, v2_header(command=0x20, family=0x00) + REQUEST)
    env = environ_of(response)
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("127.0.0.1", str(local_port))
    assert "PROXY_PROTOCOL" not in env


def test_auto_serves_a_connection_without_header(auto_server):
    (response,), local_port, _ = exchange(auto_server.port, REQUEST)
    assert environ_of(response)["REMOTE_PORT"] == str(local_port)


@pytest.mark.parametrize("header", [
    b"PROXY TCP4 203.0.113.7 198.51.100.1 40123\r\n",
    b"PROXY TCP4 2001:db8::1 198.51.100.1 1 2\r\n",
    b"PROXY TCP4 203.0.113.7 198.51.100.1 70000 443\r\n",
    b"PROXY " + b"x" * 200,
    V2_SIGNATURE + b"\x31\x11\x00\x0c" + bytes(12),
    v2_header(family=0x12, source=("192.0.2.10", 1), dest=("192.0.2.1", 2)),
])
def test_a_malformed_header_gets_400_and_the_connection_closed(auto_server, header):
    (response,), _, closed = exchange(auto_server.port, header + REQUEST)
    assert response.status == 400
    assert b"PROXY" in response.body
    assert closed


def test_a_header_from_a_peer_not_allowed_gets_403(gowsgi):
    server = gowsgi("environ_app:app", "--proxy-protocol", "auto", "--proxy-allow-from", "10.0.0.0/8")
    for header in (b"PROXY TCP4 203.0.113.7 198.51.100.1 40123 443\r\n",
                   v2_header(source=("192.0.2.10", 1), dest=("192.0.2.1", 2))):
        (response,), _, closed = exchange(server.port, header + REQUEST)
        assert response.status == 403
        assert closed
    (response,), local_port, _ = exchange(server.port, REQUEST)
    assert environ_of(response)["REMOTE_PORT"] == str(local_port)


def test_v1_mode_does_not_read_v2(gowsgi):
    server = gowsgi("environ_app:app", "--proxy-protocol", "v1")
    (response,), _, _ = exchange(server.port, b"PROXY TCP4 203.0.113.7 198.51.100.1 40123 443\r\n" + REQUEST)
    assert environ_of(response)["REMOTE_ADDR"] == "203.0.113.7"
    (response,), _, _ = exchange(server.port, v2_header(source=("192.0.2.10", 1), dest=("192.0.2.1", 2)) + REQUEST)
    assert response.status == 400


def test_v2_mode_does_not_read_v1(gowsgi):
    server = gowsgi("environ_app:app", "--proxy-protocol=v2")
    (response,), _, _ = exchange(server.port, v2_header(source=("192.0.2.10", 1), dest=("192.0.2.1", 2)) + REQUEST)
    assert environ_of(response)["REMOTE_ADDR"] == "192.0.2.10"
    (response,), _, _ = exchange(server.port, b"PROXY TCP4 203.0.113.7 198.51.100.1 40123 443\r\n" + REQUEST)
    assert response.status == 400


def test_without_the_flag_a_header_is_a_bad_request(gowsgi):
    server = gowsgi("environ_app:app")
    (response,), _, _ = exchange(server.port, b"PROXY TCP4 203.0.113.7 198.51.100.1 40123 443\r\n" + REQUEST)
    assert response.status == 400


def test_trust_for_scheme_headers_goes_by_the_peer(gowsgi):
    """The peer (the load balancer) is who wrote the headers; the client it names is not asked."""
    server = gowsgi("environ_app:app", "--proxy-protocol", "--forwarded-allow-ips", "127.0.0.1")
    header = b"PROXY TCP4 203.0.113.7 198.51.100.1 40123 443\r\n"
    request = rawhttp.build("GET", "/", headers=[("X-Forwarded-Proto", "https")])
    (response,), _, _ = exchange(server.port, header + request)
    assert environ_of(response)["wsgi.url_scheme"] == "https"


def test_a_graceful_stop_serves_a_connection_still_waiting_for_its_proxy_header(gowsgi):
    server = gowsgi("environ_app:app", "--proxy-protocol", "--graceful-timeout", "10")
    server.wait_workers(1)
    with rawhttp.Conn(server.port) as conn:
        # Accepted, and still in the PROXY stage when the stop begins.
        server.wait_log("Booting worker")
        time.sleep(0.3)
        server.signal(signal.SIGTERM)
        server.wait_log("Handling signal: term")
        time.sleep(0.3)
        conn.send(b"PROXY TCP4 203.0.113.7 198.51.100.1 40123 443\r\n" + REQUEST)
        env = environ_of(conn.read_response())
    assert env["REMOTE_ADDR"] == "203.0.113.7"
