"""Worker classes and processes: sync runs one request at a time on the import thread, gthread
runs --threads requests at once, -w N gives N interpreters, and stalled clients hold no worker."""

import socket
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

import rawhttp


def fetch(server, path):
    response = requests.get(server.url + path, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def fetch_many(server, paths, clients):
    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(lambda p: fetch(server, p), paths))


@pytest.fixture(scope="module")
def sync_server(module_gowsgi):
    return module_gowsgi("workers_app:app", "-w", "1", "-k", "sync")


def test_sync_worker_environ_flags(sync_server):
    info = fetch(sync_server, "/info")
    assert info["multithread"] is False
    assert info["multiprocess"] is False
    assert info["run_once"] is False


def test_python_signal_handlers_are_not_installed(sync_server):
    assert fetch(sync_server, "/info")["python_sigint_handler"] is False


def test_sync_runs_every_request_on_the_thread_that_imported_the_app(sync_server):
    infos = fetch_many(sync_server, ["/info"] * 40, clients=8)
    threads = {i["thread"] for i in infos}
    assert threads == {infos[0]["import_thread"]}


def test_sqlite_connection_from_import_time_works_on_every_request(sync_server):
    hits = [r["hits"] for r in fetch_many(sync_server, ["/sqlite"] * 40, clients=8)]
    assert len(set(hits)) == 40


def test_sync_runs_one_request_at_a_time(sync_server):
    results = fetch_many(sync_server, ["/occupancy?hold=0.1"] * 6, clients=6)
    assert max(r["max"] for r in results) == 1


@pytest.mark.parametrize("args", [
    ["-k", "gthread", "--threads", "4"],
    ["-k", "sync", "--threads", "4"],
    ["--threads", "4"],
], ids=["gthread", "sync-with-threads", "threads-only"])
def test_threads_run_four_requests_inside_the_app_at_once(gowsgi, args):
    server = gowsgi("workers_app:app", "-w", "1", *args)
    assert fetch(server, "/info")["multithread"] is True
    round_id = uuid.uuid4().hex
    results = fetch_many(server, [f"/barrier?parties=4&round={round_id}"] * 4, clients=4)
    assert [r["passed"] for r in results] == [True] * 4


def test_threads_bound_the_requests_inside_the_app(gowsgi):
    server = gowsgi("workers_app:app", "-w", "1", "-k", "gthread", "--threads", "2")
    results = fetch_many(server, ["/occupancy?hold=0.5"] * 6, clients=6)
    assert max(r["max"] for r in results) == 2


def test_four_workers_are_four_interpreters(gowsgi):
    server = gowsgi("workers_app:app", "-w", "4")
    workers = server.wait_workers(4)
    seen = {}
    for _ in range(20):
        for info in fetch_many(server, ["/info"] * 40, clients=8):
            seen[info["pid"]] = info
        if len(seen) == 4:
            break
    assert sorted(seen) == workers
    assert all(info["multiprocess"] is True for info in seen.values())
    assert all(info["multithread"] is False for info in seen.values())


def test_two_workers_report_multiprocess(gowsgi):
    server = gowsgi("workers_app:app", "-w", "2")
    assert fetch(server, "/info")["multiprocess"] is True


def test_stalled_clients_never_delay_a_normal_request(gowsgi):
    server = gowsgi("workers_app:app", "-w", "1", "-k", "sync")
    assert fetch(server, "/info")
    partial = [
        b"GET /info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ",
        b"GET /inf",
        b"",
    ]
    stalled = []
    try:
        for i in range(50):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(partial[i % len(partial)])
            stalled.append(sock)
        for _ in range(3):
            response = rawhttp.request(server.port, rawhttp.build("GET", "/info"), timeout=5)
            assert response.status == 200
    finally:
        for sock in stalled:
            sock.close()
