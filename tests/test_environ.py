"""The WSGI environ (PEP 3333 plus gunicorn's RAW_URI and REMOTE_PORT), seen from the app."""

import json
import subprocess

import pytest

import rawhttp
import support


@pytest.fixture(scope="module")
def server(module_gowsgi, worker_class):
    return module_gowsgi("environ_app:app", "-w", "1", *worker_class)


def environ_of(server, raw_request):
    """Sends raw request bytes and returns (payload, local port of the client socket)."""
    with rawhttp.Conn(server.port) as conn:
        conn.send(raw_request)
        response = conn.read_response()
        assert response.status == 200, response
        payload = json.loads(response.body)
        return payload, conn.local_port


def environ(server, path="/", headers=(), method="GET", body=b"", version="HTTP/1.1", host="127.0.0.1"):
    payload, _ = environ_of(server, rawhttp.build(method, path, version, headers, body, host=host))
    return payload["environ"]


def test_cgi_keys_for_a_simple_get(server):
    payload, client_port = environ_of(server, rawhttp.build("GET", "/hello/world?a=1&b=two", host=f"127.0.0.1:{server.port}"))
    env = payload["environ"]
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SCRIPT_NAME"] == ""
    assert env["PATH_INFO"] == "/hello/world"
    assert env["QUERY_STRING"] == "a=1&b=two"
    assert env["RAW_URI"] == "/hello/world?a=1&b=two"
    assert env["SERVER_NAME"] == "127.0.0.1"
    assert env["SERVER_PORT"] == str(server.port)
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["REMOTE_PORT"] == str(client_port)
    assert env["HTTP_HOST"] == f"127.0.0.1:{server.port}"
    # RFC 3875 4.1.17: the server's name and version, as --version says them.
    version = subprocess.run([str(support.GOWSGI), "--version"], capture_output=True, text=True).stdout.split()[1]
    assert env["SERVER_SOFTWARE"] == f"gowsgi/{version}"
    for key in ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "RAW_URI", "SERVER_NAME",
                "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR", "REMOTE_PORT", "HTTP_HOST", "SERVER_SOFTWARE"):
        assert payload["types"][key] == "str", key


def test_other_methods_reach_the_app(server):
    assert environ(server, "/x", method="DELETE")["REQUEST_METHOD"] == "DELETE"
    assert environ(server, "/x", method="PATCH", body=b"abc")["REQUEST_METHOD"] == "PATCH"


def test_path_info_is_percent_decoded_as_latin1(server):
    env = environ(server, "/caf%C3%A9/a%20b%2Fc?q=%C3%A9%20x")
    assert env["PATH_INFO"] == b"/caf\xc3\xa9/a b/c".decode("latin-1")
    assert env["QUERY_STRING"] == "q=%C3%A9%20x"
    assert env["RAW_URI"] == "/caf%C3%A9/a%20b%2Fc?q=%C3%A9%20x"


def test_query_string_is_empty_without_query(server):
    env = environ(server, "/plain")
    assert env["QUERY_STRING"] == ""
    assert env["RAW_URI"] == "/plain"


def test_query_string_split_at_first_question_mark(server):
    env = environ(server, "/p?x=1?y=2")
    assert env["PATH_INFO"] == "/p"
    assert env["QUERY_STRING"] == "x=1?y=2"


def test_absolute_form_request_target(server):
    """RFC 9112 §3.2.2: a server must accept the absolute form; the path comes from it."""
    env = environ(server, f"http://127.0.0.1:{server.port}/abs/path?k=v")
    assert env["PATH_INFO"] == "/abs/path"
    assert env["QUERY_STRING"] == "k=v"


def test_content_type_and_length_are_not_http_keys(server):
    env = environ(server, "/post", method="POST", body=b"hello",
                  headers=[("Content-Type", "text/plain; charset=utf-8")])
    assert env["CONTENT_TYPE"] == "text/plain; charset=utf-8"
    assert env["CONTENT_LENGTH"] == "5"
    assert "HTTP_CONTENT_TYPE" not in env
    assert "HTTP_CONTENT_LENGTH" not in env


def test_headers_become_http_keys(server):
    env = environ(server, headers=[("X-Custom-Thing", "v1"), ("x-lower-case", "v2"), ("User-Agent", "raw/1")])
    assert env["HTTP_X_CUSTOM_THING"] == "v1"
    assert env["HTTP_X_LOWER_CASE"] == "v2"
    assert env["HTTP_USER_AGENT"] == "raw/1"


def test_repeated_headers_are_joined_with_comma(server):
    env = environ(server, headers=[("X-Multi", "a"), ("X-Other", "o"), ("X-Multi", "b"), ("x-multi", "c")])
    assert env["HTTP_X_MULTI"] == "a,b,c"
    assert env["HTTP_X_OTHER"] == "o"


def test_header_names_with_underscore_are_dropped(server):
    env = environ(server, headers=[("X-Auth-User", "good"), ("X_Auth_User", "evil"), ("X_Only_Underscore", "evil")])
    assert env["HTTP_X_AUTH_USER"] == "good"
    assert "HTTP_X_ONLY_UNDERSCORE" not in env
    assert not [k for k, v in env.items() if isinstance(v, str) and "evil" in v]


def test_header_values_are_latin1_native_strings(server):
    env = environ(server, headers=[("X-Latin", b"caf\xe9")])
    assert env["HTTP_X_LATIN"] == "caf\xe9"


def test_http10_protocol(server):
    env = environ(server, "/old", version="HTTP/1.0")
    assert env["SERVER_PROTOCOL"] == "HTTP/1.0"
    assert env["PATH_INFO"] == "/old"


def test_wsgi_keys(server, worker_class):
    payload, _ = environ_of(server, rawhttp.build("POST", "/w", body=b"x"))
    env, types = payload["environ"], payload["types"]
    assert env["wsgi.version"] == [1, 0] and types["wsgi.version"] == "tuple"
    assert env["wsgi.url_scheme"] == "http"
    # Greenlets run requests at once, as threads do: gunicorn's gevent worker says so too.
    assert env["wsgi.multithread"] is (worker_class == ("-k", "gevent"))
    assert env["wsgi.multiprocess"] is False
    assert env["wsgi.run_once"] is False
    assert env["wsgi.input_terminated"] is True
    assert payload["input_methods"] == ["read", "readline", "readlines", "__iter__"]
    assert payload["errors_methods"] == ["write", "writelines", "flush"]
    assert payload["file_wrapper_callable"] is True
    for key in ("wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once", "wsgi.input_terminated"):
        assert types[key] == "bool", key


def test_wsgi_errors_reaches_the_error_log(server):
    marker = "marker-7f3a9c"
    environ(server, f"/errors?{marker}")
    log = server.wait_log(f"errors-writelines {marker}")
    assert f"errors-write {marker}" in log


def test_every_request_gets_a_fresh_environ(server):
    first = environ(server, "/one", headers=[("X-Only-First", "1")])
    second = environ(server, "/two")
    assert first["HTTP_X_ONLY_FIRST"] == "1"
    assert "HTTP_X_ONLY_FIRST" not in second
    assert second["PATH_INFO"] == "/two"
