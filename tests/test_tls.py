"""HTTPS and HTTP/2: --certfile, --keyfile, --ca-certs, --cert-reqs, --ciphers and
--http-protocols, with a CA, a server and a client certificate made by openssl for the module.

HTTP/2 goes through curl (--http2 negotiates it with ALPN); HTTP/1.1 through Python's
http.client and ssl as well.
"""

import http.client
import json
import re
import shutil
import signal
import socket
import ssl
import subprocess

import pytest

from support import APPS, alive, run_gowsgi, wait_for

APP = "tls_app:app"
APP_SOURCE = (APPS / "tls_app.py").read_text()
H2 = ["--http-protocols", "h2,h1"]


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A CA; a server certificate for 127.0.0.1, a renewed one (CN "renewed") and a client
    certificate, all signed by the CA; and a self-signed client certificate from nobody the
    server trusts."""
    if not shutil.which("openssl"):
        raise AssertionError("openssl is needed to make the test certificates: install it (apt-get install openssl)")
    d = tmp_path_factory.mktemp("certs")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=gowsgi test CA", cwd=d)
    (d / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    (d / "renewed.ext").write_text((d / "server.ext").read_text())
    for name, subject in (("server", "/CN=localhost"), ("renewed", "/CN=renewed"), ("client", "/CN=gowsgi test client")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", subject, cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "2", "-out", f"{name}.pem", "-extfile", f"{name}.ext", cwd=d)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "stranger.key", "-out", "stranger.pem",
            "-days", "2", "-subj", "/CN=stranger", "-addext", "extendedKeyUsage=clientAuth", cwd=d)
    return d


def tls_args(certs):
    return ["--certfile", certs / "server.pem", "--keyfile", certs / "server.key"]


def https_url(server, path="/"):
    return f"https://127.0.0.1:{server.port}{path}"


def curl(certs, *args, check=True):
    """Runs curl trusting the test CA; returns the completed process (stdout as text)."""
    result = subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert", str(certs / "ca.pem"), *map(str, args)],
                            capture_output=True, text=True, timeout=30)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def client_context(certs, cert=None):
    context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    if cert:
        context.load_cert_chain(str(certs / f"{cert}.pem"), str(certs / f"{cert}.key"))
    return context


def https_get(server, context, path="/"):
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=15)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# HTTPS with HTTP/1.1


def test_https_with_python_ssl_reaches_the_app_as_https(gowsgi, certs):
    server = gowsgi(APP, *tls_args(certs))
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=client_context(certs), timeout=15)
    conn.request("GET", "/a/b?x=1", headers={"X-Custom": "yes"})
    response = conn.getresponse()
    seen = json.loads(response.read())
    assert response.status == 200
    assert response.getheader("Server") == "gowsgi"
    assert seen["wsgi.url_scheme"] == "https"
    assert seen["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert (seen["PATH_INFO"], seen["QUERY_STRING"]) == ("/a/b", "x=1")
    assert seen["SERVER_PORT"] == str(server.port)
    assert seen["headers"]["HTTP_X_CUSTOM"] == "yes"
    # Keep-alive: the next request comes over the same TLS connection.
    conn.request("GET", "/again")
    again = json.loads(conn.getresponse().read())
    assert again["REMOTE_PORT"] == seen["REMOTE_PORT"]
    conn.close()
    assert "Listening at: https://127.0.0.1:" in server.log()


def test_https_with_curl_and_a_file_wrapper_body(gowsgi, certs):
    server = gowsgi(APP, *tls_args(certs))
    result = curl(certs, "--http1.1", https_url(server, "/file"))
    assert result.stdout == APP_SOURCE


def test_plain_http_to_the_https_port_is_told_so(gowsgi, certs):
    server = gowsgi(APP, *tls_args(certs))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.0 400 ")
    assert b"HTTPS" in answer


def test_the_key_may_be_inside_the_certificate_file(gowsgi, certs, tmp_path):
    combined = tmp_path / "combined.pem"
    combined.write_text((certs / "server.pem").read_text() + (certs / "server.key").read_text())
    server = gowsgi(APP, "--certfile", combined)
    assert https_get(server, client_context(certs))[0] == 200


# HTTP/2


def test_http2_request_reaches_the_app_as_wsgi(gowsgi, certs):
    server = gowsgi(APP, *tls_args(certs), *H2)
    result = curl(certs, "--http2", "-H", "X-Custom: yes", "-H", "X_Smuggled: 1", "-D", "-",
                  https_url(server, "/p%20q?a=1"))
    head, body = result.stdout.split("\n\n", 1)  # text mode turned CRLF into LF
    assert head.startswith("HTTP/2 200")
    header_names = [line.split(":")[0] for line in head.splitlines()[1:]]
    assert "server" in header_names and "date" in header_names
    assert "keep-alive" not in header_names and "connection" not in header_names  # the app set them
    seen = json.loads(body)
    assert seen["SERVER_PROTOCOL"] == "HTTP/2"
    assert seen["wsgi.url_scheme"] == "https"
    assert seen["REQUEST_METHOD"] == "GET"
    assert (seen["PATH_INFO"], seen["QUERY_STRING"]) == ("/p q", "a=1")
    assert seen["headers"]["HTTP_HOST"] == f"127.0.0.1:{server.port}"
    assert seen["headers"]["HTTP_X_CUSTOM"] == "yes"
    assert "HTTP_X_SMUGGLED" not in seen["headers"]  # names with "_" are dropped, as on HTTP/1.1
    assert seen["REMOTE_ADDR"] == "127.0.0.1" and seen["SERVER_PORT"] == str(server.port)


def test_http1_clients_still_served_when_h2_is_offered(gowsgi, certs):
    server = gowsgi(APP, *tls_args(certs), *H2)
    seen = json.loads(curl(certs, "--http1.1", https_url(server)).stdout)
    assert seen["SERVER_PROTOCOL"] == "HTTP/1.1"


def test_protocols_are_offered_in_the_order_given(gowsgi, certs):
    server = gowsgi(APP, *tls_args(certs), "--http-protocols", "h1,h2")
    result = curl(certs, "--http2", "-o", "/dev/null", "-w", "%{http_version}", https_url(server))
    assert result.stdout == "1.1"


def test_h2_only_refuses_http1_clients(gowsgi, certs):
    server = gowsgi(APP, *tls_args(certs), "--http-protocols", "h2")
    assert curl(certs, "--http1.1", https_url(server), check=False).returncode != 0
    assert curl(certs, "--http2", "-o", "/dev/null", "-w", "%{http_version}", https_url(server)).stdout == "2"


def test_http2_post_body_reaches_wsgi_input(gowsgi, certs, tmp_path):
    server = gowsgi(APP, *tls_args(certs), *H2)
    payload = bytes(range(256)) * 4000  # over a megabyte: several flow control windows
    (tmp_path / "payload").write_bytes(payload)
    result = subprocess.run(["curl", "-sS", "--http2", "--cacert", str(certs / "ca.pem"), "--data-binary",
                             f"@{tmp_path / 'payload'}", "-D", str(tmp_path / "head"), https_url(server, "/echo")],
                            capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout == payload
    assert "x-length: %d" % len(payload) in (tmp_path / "head").read_text()


def test_http2_response_is_streamed(gowsgi, certs, tmp_path):
    server = gowsgi(APP, *tls_args(certs), *H2)
    gate = tmp_path / "gate"
    proc = subprocess.Popen(["curl", "-sS", "-N", "--http2", "--cacert", str(certs / "ca.pem"),
                             https_url(server, f"/stream?{gate}")], stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"first\n"
        gate.touch()
        assert proc.stdout.read() == b"second\n"
    finally:
        proc.kill()
        proc.wait()


def test_http2_file_wrapper_body(gowsgi, certs):
    server = gowsgi(APP, *tls_args(certs), *H2)
    result = curl(certs, "--http2", https_url(server, "/file"))
    assert result.stdout == APP_SOURCE


def test_many_http2_requests_share_one_connection(gowsgi, certs):
    server = gowsgi(APP, *tls_args(certs), *H2)
    urls = [https_url(server, f"/n{i}") for i in range(5)]
    result = curl(certs, "--http2", "-w", "\n%{num_connects} %{http_version}\n", *urls)
    parts = result.stdout.strip().split("\n")
    bodies = [json.loads(p) for p in parts[0::2]]
    stats = parts[1::2]
    assert [b["PATH_INFO"] for b in bodies] == [f"/n{i}" for i in range(5)]
    assert stats == ["1 2"] + ["0 2"] * 4
    assert len({b["REMOTE_PORT"] for b in bodies}) == 1


@pytest.mark.parametrize("worker_class", [["-k", "sync"], ["-k", "gthread", "--threads", "3"]])
def test_term_lets_open_http2_streams_finish(gowsgi, certs, tmp_path, worker_class):
    server = gowsgi(APP, *tls_args(certs), *H2, *worker_class)
    started = [tmp_path / f"started{i}" for i in range(3)]
    outputs = [tmp_path / f"body{i}" for i in range(3)]
    transfers = []
    for s, output in zip(started, outputs):
        transfers += [https_url(server, f"/slow?seconds=1&started={s}"), "-o", str(output)]
    proc = subprocess.Popen(["curl", "-sS", "--http2", "--parallel", "--cacert", str(certs / "ca.pem"),
                             "-w", "%{http_code} %{num_connects}\n", *transfers],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # sync runs the three one after another, so only the first has started; gthread all three.
    expect_started = started[:1] if worker_class[1] == "sync" else started
    assert wait_for(lambda: all(s.exists() for s in expect_started), 15), server.describe()
    server.signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert [o.read_text() for o in outputs] == ["done"] * 3
    assert sorted(out.split()) == ["0", "0", "1", "200", "200", "200"], out  # one connection for all three
    assert server.proc.wait(15) == 0


def served_common_name(server, certs):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        with client_context(certs).wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            subject = dict(pair[0] for pair in sock.getpeercert()["subject"])
            return subject["commonName"]


def test_hup_picks_up_a_renewed_certificate_and_keeps_serving_a_broken_one(gowsgi, certs, tmp_path):
    for suffix in ("pem", "key"):
        shutil.copy(certs / f"server.{suffix}", tmp_path / f"site.{suffix}")
    server = gowsgi(APP, "--certfile", tmp_path / "site.pem", "--keyfile", tmp_path / "site.key")
    old = set(server.wait_workers(1))
    assert served_common_name(server, certs) == "localhost"

    (tmp_path / "site.key").write_text((certs / "client.key").read_text())  # a renewal gone wrong
    server.signal(signal.SIGHUP)
    log = server.wait_log("Reload failed", timeout=15)
    assert re.search(r'invalid value ".*site.key" for --keyfile: the key does not match', log), log
    assert wait_for(lambda: set(server.workers()) == old, 10), server.describe()
    assert served_common_name(server, certs) == "localhost"

    for suffix in ("pem", "key"):
        shutil.copy(certs / f"renewed.{suffix}", tmp_path / f"site.{suffix}")
    server.signal(signal.SIGHUP)
    assert wait_for(lambda: (lambda p: p and not p & old)(set(server.workers())), 15), server.describe()
    assert served_common_name(server, certs) == "renewed"
    assert not any(alive(pid) for pid in old)


# Client certificates


def test_cert_reqs_2_refuses_a_client_without_a_certificate(gowsgi, certs):
    server = gowsgi(APP, *tls_args(certs), "--cert-reqs", "2", "--ca-certs", certs / "ca.pem")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        https_get(server, client_context(certs))
    assert curl(certs, https_url(server), check=False).returncode != 0
    assert https_get(server, client_context(certs, "client"))[0] == 200
    with pytest.raises((ssl.SSLError, ConnectionError)):
        https_get(server, client_context(certs, "stranger"))


def test_a_failed_handshake_is_logged_at_debug_level_only(gowsgi, certs):
    quiet = gowsgi(APP, *tls_args(certs), "--cert-reqs", "2", "--ca-certs", certs / "ca.pem")
    verbose = gowsgi(APP, *tls_args(certs), "--cert-reqs", "2", "--ca-certs", certs / "ca.pem", "--log-level", "debug")
    for server in (quiet, verbose):
        with pytest.raises((ssl.SSLError, ConnectionError)):
            https_get(server, client_context(certs))
    verbose.wait_log("TLS handshake with 127.0.0.1:")
    assert "TLS handshake" not in quiet.log()


def test_cert_reqs_2_over_http2(gowsgi, certs):
    server = gowsgi(APP, *tls_args(certs), *H2, "--cert-reqs", "2", "--ca-certs", certs / "ca.pem")
    assert curl(certs, "--http2", https_url(server), check=False).returncode != 0
    result = curl(certs, "--http2", "--cert", certs / "client.pem", "--key", certs / "client.key",
                  https_url(server))
    assert json.loads(result.stdout)["SERVER_PROTOCOL"] == "HTTP/2"


def test_cert_reqs_1_verifies_a_certificate_only_when_sent(gowsgi, certs):
    server = gowsgi(APP, *tls_args(certs), "--cert-reqs", "1", "--ca-certs", certs / "ca.pem")
    assert https_get(server, client_context(certs))[0] == 200
    assert https_get(server, client_context(certs, "client"))[0] == 200
    with pytest.raises((ssl.SSLError, ConnectionError)):
        https_get(server, client_context(certs, "stranger"))


def test_cert_reqs_0_asks_for_no_certificate(gowsgi, certs):
    server = gowsgi(APP, *tls_args(certs), "--ca-certs", certs / "ca.pem")
    assert https_get(server, client_context(certs, "stranger"))[0] == 200


# Ciphers


def tls12_client(certs, cipher):
    context = client_context(certs)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(cipher)
    return context


def negotiated_cipher(server, context):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            return sock.version(), sock.cipher()[0]


def test_ciphers_limit_the_tls12_suites(gowsgi, certs):
    server = gowsgi(APP, *tls_args(certs), "--ciphers", "ECDHE+AES256:!SHA1:!aNULL:!MD5")
    assert negotiated_cipher(server, tls12_client(certs, "ECDHE-RSA-AES256-GCM-SHA384")) == (
        "TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384")
    with pytest.raises(ssl.SSLError):
        negotiated_cipher(server, tls12_client(certs, "ECDHE-RSA-AES128-GCM-SHA256"))
    with pytest.raises(ssl.SSLError):
        negotiated_cipher(server, tls12_client(certs, "ECDHE-RSA-AES256-SHA"))
    # TLS 1.3 suites are Go's to choose, whatever the list says.
    assert negotiated_cipher(server, client_context(certs))[0] == "TLSv1.3"


def test_without_ciphers_go_chooses(gowsgi, certs):
    server = gowsgi(APP, *tls_args(certs))
    assert negotiated_cipher(server, tls12_client(certs, "ECDHE-RSA-AES128-GCM-SHA256")) == (
        "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")


# Start-up errors: one line, no worker started


def start_failure(*args):
    result = run_gowsgi(*map(str, args), APP, timeout=20)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gowsgi: error:"), result.stderr
    return result.returncode, lines[0]


def test_missing_certificate_file(certs):
    code, line = start_failure("--certfile", certs / "missing.pem", "--keyfile", certs / "server.key")
    assert code == 2 and str(certs / "missing.pem") in line and "--certfile" in line


def test_key_that_does_not_match_the_certificate(certs):
    code, line = start_failure("--certfile", certs / "server.pem", "--keyfile", certs / "client.key")
    assert code == 2 and "--keyfile" in line and "does not match" in line


def test_certificate_file_that_is_not_pem(certs, tmp_path):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    code, line = start_failure("--certfile", garbage, "--keyfile", certs / "server.key")
    assert code == 2 and str(garbage) in line


def test_certificate_without_its_key(certs):
    code, line = start_failure("--certfile", certs / "server.pem")
    assert code == 2 and "--keyfile" in line


def test_bad_ca_file(certs):
    code, line = start_failure(*tls_args(certs), "--ca-certs", certs / "server.key")
    assert code == 2 and "--ca-certs" in line


@pytest.mark.parametrize("ciphers, named", [("ECDHE-RSA-AES128-GCM-SHA256:NO-SUCH-CIPHER", "NO-SUCH-CIPHER"),
                                            ("DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES128-GCM-SHA256")])
def test_unknown_cipher_is_named(certs, ciphers, named):
    code, line = start_failure(*tls_args(certs), "--ciphers", ciphers)
    assert code == 2 and f'"{named}"' in line


def test_http2_without_tls_is_refused(certs):
    code, line = start_failure("--http-protocols", "h2,h1")
    assert code == 2 and "--http-protocols" in line and "TLS" in line


def test_cert_reqs_out_of_range(certs):
    code, line = start_failure(*tls_args(certs), "--cert-reqs", "3")
    assert code == 2 and "--cert-reqs" in line


def test_tls_settings_from_the_config_file(gowsgi, certs, tmp_path):
    (tmp_path / "gowsgi.yaml").write_text(
        f'certfile: "{certs / "server.pem"}"\nkeyfile: "{certs / "server.key"}"\nhttp_protocols: "h2,h1"\n'
        f'cert_reqs: 0\nssl_version: "TLSv1_2"\nsuppress_ragged_eofs: true\n')
    server = gowsgi(APP, "--chdir", APPS, cwd=tmp_path)
    result = curl(certs, "--http2", "-o", "/dev/null", "-w", "%{http_version}", https_url(server))
    assert result.stdout == "2"


# A PROXY protocol header comes before the TLS handshake, for both protocols


def test_proxy_header_before_the_handshake_gives_the_client_address_over_https(gowsgi, certs):
    server = gowsgi(APP, *tls_args(certs), "--proxy-protocol", "v1")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(b"PROXY TCP4 203.0.113.7 198.51.100.1 40123 443\r\n")
        with client_context(certs).wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
    seen = json.loads(data.split(b"\r\n\r\n", 1)[1])
    assert (seen["REMOTE_ADDR"], seen["REMOTE_PORT"], seen["PROXY_PROTOCOL"]) == ("203.0.113.7", "40123", "TCP4")
    assert seen["wsgi.url_scheme"] == "https"


def test_proxy_header_before_the_handshake_reaches_http2_requests(gowsgi, certs):
    server = gowsgi(APP, *tls_args(certs), *H2, "--proxy-protocol")
    result = curl(certs, "--http2", "--haproxy-protocol", https_url(server))
    seen = json.loads(result.stdout)
    assert (seen["SERVER_PROTOCOL"], seen["PROXY_PROTOCOL"]) == ("HTTP/2", "TCP4")
