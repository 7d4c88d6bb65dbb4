"""Running behind a proxy: which peers are believed about the scheme and the mount point
(--forwarded-allow-ips, secure_scheme_headers, --forwarder-headers), header names with "_"
(--header-map), and SCRIPT_NAME from the environment."""

import json
import socket

import pytest

import rawhttp
from support import run_gowsgi


def environ_from(port, headers=(), path="/", host="127.0.0.1"):
    response = rawhttp.request(port, rawhttp.build("GET", path, headers=headers), host=host)
    assert response.status == 200, response
    return json.loads(response.body)["environ"]


@pytest.fixture(scope="module")
def default_server(module_gowsgi):
    """gunicorn's defaults: loopback peers are trusted."""
    return module_gowsgi("environ_app:app", env={"FORWARDED_ALLOW_IPS": None})


@pytest.fixture(scope="module")
def untrusting_server(module_gowsgi):
    return module_gowsgi("environ_app:app", "--forwarded-allow-ips", "10.0.0.0/8")


@pytest.mark.parametrize("header", [("X-Forwarded-Proto", "https"), ("X-Forwarded-Ssl", "on"), ("X-Forwarded-Protocol", "ssl")])
def test_a_trusted_proxy_sets_the_scheme(default_server, header):
    env = environ_from(default_server.port, [header])
    assert env["wsgi.url_scheme"] == "https"
    assert env["HTTP_" + header[0].upper().replace("-", "_")] == header[1]


def test_without_a_scheme_header_the_scheme_is_http(default_server):
    assert environ_from(default_server.port)["wsgi.url_scheme"] == "http"
    assert environ_from(default_server.port, [("X-Forwarded-Proto", "http")])["wsgi.url_scheme"] == "http"


def test_an_untrusted_peer_cannot_set_the_scheme(untrusting_server):
    env = environ_from(untrusting_server.port, [("X-Forwarded-Proto", "https"), ("X-Forwarded-Ssl", "on")])
    assert env["wsgi.url_scheme"] == "http"
    assert env["HTTP_X_FORWARDED_PROTO"] == "https"


def test_contradictory_scheme_headers_get_400(default_server):
    with rawhttp.Conn(default_server.port) as conn:
        conn.send(rawhttp.build("GET", "/", headers=[("X-Forwarded-Proto", "https"), ("X-Forwarded-Ssl", "off")]))
        response = conn.read_response()
        assert response.status == 400
        assert b"contradictory scheme headers" in response.body
        rawhttp.wait_closed(conn)
    assert environ_from(default_server.port)["wsgi.url_scheme"] == "http"


def test_agreeing_scheme_headers_are_fine(default_server):
    env = environ_from(default_server.port, [("X-Forwarded-Proto", "https"), ("X-Forwarded-Ssl", "on")])
    assert env["wsgi.url_scheme"] == "https"


@pytest.mark.parametrize("allow", ["127.0.0.0/8", "*", "10.0.0.1, 127.0.0.1"])
def test_allow_lists_with_networks_and_star(gowsgi, allow):
    server = gowsgi("environ_app:app", "--forwarded-allow-ips", allow)
    assert environ_from(server.port, [("X-Forwarded-Proto", "https")])["wsgi.url_scheme"] == "https"


def test_an_ipv6_peer_is_matched(gowsgi):
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    trusting = gowsgi("environ_app:app", host="::1")
    untrusting = gowsgi("environ_app:app", "--forwarded-allow-ips", "127.0.0.1", host="::1")
    assert environ_from(trusting.port, [("X-Forwarded-Proto", "https")], host="::1")["wsgi.url_scheme"] == "https"
    assert environ_from(untrusting.port, [("X-Forwarded-Proto", "https")], host="::1")["wsgi.url_scheme"] == "http"


def test_forwarded_allow_ips_from_the_environment_and_the_flag_wins(gowsgi):
    from_env = gowsgi("environ_app:app", env={"FORWARDED_ALLOW_IPS": "10.0.0.1"})
    assert environ_from(from_env.port, [("X-Forwarded-Proto", "https")])["wsgi.url_scheme"] == "http"
    flag_wins = gowsgi("environ_app:app", "--forwarded-allow-ips", "127.0.0.1", env={"FORWARDED_ALLOW_IPS": "10.0.0.1"})
    assert environ_from(flag_wins.port, [("X-Forwarded-Proto", "https")])["wsgi.url_scheme"] == "https"


def test_a_unix_socket_peer_is_trusted(gowsgi, tmp_path):
    path = tmp_path / "app.sock"
    server = gowsgi("environ_app:app", "-b", f"unix:{path}", "--forwarded-allow-ips", "10.0.0.1")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(path))
        sock.sendall(rawhttp.build("GET", "/", headers=[("X-Forwarded-Proto", "https")]))
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
    assert json.loads(data.split(b"\r\n\r\n", 1)[1])["environ"]["wsgi.url_scheme"] == "https"
    assert server.proc.poll() is None


def test_secure_scheme_headers_from_the_config_file(gowsgi, tmp_path):
    config = tmp_path / "proxy.yaml"
    config.write_text("secure_scheme_headers:\n  X-Scheme: secure\n")
    server = gowsgi("environ_app:app", "-c", str(config))
    assert environ_from(server.port, [("X-Scheme", "secure")])["wsgi.url_scheme"] == "https"
    assert environ_from(server.port, [("X-Forwarded-Proto", "https")])["wsgi.url_scheme"] == "http"


def test_secure_scheme_headers_of_the_wrong_shape_are_refused(tmp_path):
    config = tmp_path / "proxy.yaml"
    config.write_text("workers: 1\nsecure_scheme_headers: [X-Forwarded-Proto, https]\n")
    result = run_gowsgi("-c", str(config), "environ_app:app")
    assert result.returncode == 2
    assert f"{config}:2: setting \"secure_scheme_headers\" must be a mapping" in result.stderr


def test_underscore_headers_are_dropped_by_default(default_server):
    env = environ_from(default_server.port, [("X-Auth-User", "good"), ("X_Auth_User", "evil"), ("X_Only", "evil")])
    assert env["HTTP_X_AUTH_USER"] == "good"
    assert "HTTP_X_ONLY" not in env


def test_header_map_refuse(gowsgi):
    server = gowsgi("environ_app:app", "--header-map", "refuse")
    response = rawhttp.get(server.port, headers=[("X_Auth_User", "evil")])
    assert response.status == 400
    assert environ_from(server.port, [("X-Auth-User", "good")])["HTTP_X_AUTH_USER"] == "good"


def test_header_map_dangerous(gowsgi):
    server = gowsgi("environ_app:app", "--header-map=dangerous", "--forwarded-allow-ips", "10.0.0.1")
    env = environ_from(server.port, [("X-Auth-User", "good"), ("X_Auth_User", "evil"), ("X_Only", "alone")])
    assert env["HTTP_X_AUTH_USER"] == "good,evil"
    assert env["HTTP_X_ONLY"] == "alone"


def test_forwarder_headers_from_a_trusted_proxy_mount_the_app(default_server):
    env = environ_from(default_server.port, [("SCRIPT_NAME", "/shop")], path="/shop/cart")
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/shop", "/cart")
    env = environ_from(default_server.port, [("SCRIPT_NAME", "/shop"), ("PATH_INFO", "/basket")], path="/anything")
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/shop", "/basket")


def test_forwarder_headers_from_an_untrusted_peer_are_dropped(untrusting_server):
    env = environ_from(untrusting_server.port, [("SCRIPT_NAME", "/shop"), ("PATH_INFO", "/x")], path="/shop/cart")
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("", "/shop/cart")
    assert "HTTP_SCRIPT_NAME" not in env and "HTTP_PATH_INFO" not in env


def test_forwarder_headers_can_be_chosen(gowsgi):
    server = gowsgi("environ_app:app", "--forwarder-headers", "REMOTE_USER")
    env = environ_from(server.port, [("REMOTE_USER", "alice"), ("SCRIPT_NAME", "/shop")], path="/shop/cart")
    assert env["HTTP_REMOTE_USER"] == "alice"
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("", "/shop/cart")


def test_script_name_from_the_environment_mounts_the_app(gowsgi):
    server = gowsgi("environ_app:app", env={"SCRIPT_NAME": "/app"})
    env = environ_from(server.port, path="/app/page")
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/app", "/page")
    env = environ_from(server.port, path="/elsewhere")
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("", "/elsewhere")
    env = environ_from(server.port, [("SCRIPT_NAME", "/proxy")], path="/proxy/page")
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/proxy", "/page")


@pytest.mark.parametrize("args, message", [
    (["--forwarded-allow-ips", "proxy.local"], 'invalid value "proxy.local" for --forwarded-allow-ips'),
    (["--header-map", "keep"], 'invalid value "keep" for --header-map: choose drop, refuse or dangerous'),
])
def test_bad_values_exit_2(args, message):
    result = run_gowsgi(*args, "environ_app:app")
    assert result.returncode == 2
    assert message in result.stderr
