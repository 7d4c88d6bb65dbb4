"""--timeout in sync and gthread workers: a request that runs too long is interrupted with its
stack in the error log, or, when it is blocked where no exception reaches it, its worker is
replaced; other requests are answered throughout."""

import threading
import time

import pytest
import requests

TIMEOUT = 2


@pytest.fixture
def gowsgi(either_gowsgi):
    """Every test here runs twice: with workers that import the app, and with --preload."""
    return either_gowsgi


def answer(server, path, timeout=30):
    started = time.monotonic()
    response = requests.get(server.url + path, timeout=timeout)
    return response, time.monotonic() - started


@pytest.mark.parametrize("worker_class", [["-k", "sync"], ["-k", "gthread", "--threads", "2"]])
def test_python_loop_is_interrupted_and_the_worker_lives_on(gowsgi, worker_class):
    server = gowsgi("timeout_app:app", "-w", "1", "--timeout", str(TIMEOUT), *worker_class)
    pid = requests.get(server.url + "/", timeout=10).text
    response, took = answer(server, "/spin")
    assert response.status_code == 503
    assert TIMEOUT <= took < TIMEOUT + 3
    assert requests.get(server.url + "/", timeout=10).text == pid, "the worker was replaced"
    log = server.wait_log("Request timed out after")
    assert "GET /spin" in log and 'timeout_app.py", line 12, in app' in log and "while True: pass" in log


@pytest.mark.parametrize("path", ["/sleep", "/in-c"])
def test_blocked_request_gets_its_worker_replaced_while_others_are_served(gowsgi, path):
    server = gowsgi("timeout_app:app", "-w", "2", "--timeout", str(TIMEOUT))
    server.wait_workers(2)
    outcome = {}

    def blocked():
        try:
            outcome["response"], outcome["took"] = answer(server, path)
        except requests.ConnectionError as exc:
            outcome["error"] = exc

    client = threading.Thread(target=blocked)
    started = time.monotonic()
    client.start()
    # A worker stops taking connections once its request has run 20 ms without an end in
    # sight; requests from then on must all be answered.
    time.sleep(0.2)
    served = 0
    while client.is_alive() and time.monotonic() - started < 20:
        assert requests.get(server.url + "/", timeout=10).status_code == 200
        served += 1
        time.sleep(0.05)
    client.join(1)
    assert not client.is_alive(), "the blocked request was never dealt with"
    assert time.monotonic() - started < 3 * TIMEOUT + 4
    assert served > 0
    log = server.wait_log("timed out after")
    assert f"while serving GET {path}" in log
    assert "perhaps out of memory" not in log
    server.wait_workers(2)
