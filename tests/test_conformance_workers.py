"""Conformance of the process side as clients see it: graceful stop on keep-alive connections,
several sync workers under one slow request, gthread shared state, and memory over many
requests. App: apps/conformance_app.py.
"""

import json
import signal
import threading
import time
from pathlib import Path

import rawhttp


def anonymous_kib(pid):
    """The process's resident anonymous memory: what a leak grows (code pages come and go)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    raise AssertionError(f"no RssAnon for {pid}")


def pipelined(port, path, count, batch=250, method="GET"):
    """Sends count requests for path in pipelined batches on one connection; returns the statuses."""
    statuses = []
    with rawhttp.Conn(port, timeout=20) as conn:
        while len(statuses) < count:
            n = min(batch, count - len(statuses))
            conn.send(rawhttp.build(method, path) * n)
            statuses += [conn.read_response(method).status for _ in range(n)]
    return statuses


def test_term_answers_keep_alive_requests_with_close_and_finishes_the_busy_one(gowsgi):
    server = gowsgi("conformance_app:app", "-w", "1")
    reused, silent = rawhttp.Conn(server.port), rawhttp.Conn(server.port)
    for conn in (reused, silent):
        conn.send(rawhttp.build("GET", "/pid"))
        assert conn.read_response().status == 200
    busy = rawhttp.Conn(server.port)
    busy.send(rawhttp.build("GET", "/slow?s=1"))
    time.sleep(0.3)
    server.signal(signal.SIGTERM)
    time.sleep(0.1)
    # A request that was on its way when the stop began is answered, not cut off.
    reused.send(rawhttp.build("GET", "/pid"))
    response = reused.read_response()
    assert response.status == 200 and response.header("Connection") == "close"
    assert reused.read_response_or_eof() is None
    response = busy.read_response()
    assert response.status == 200 and response.body.startswith(b"slept 1.0")
    assert response.header("Connection") == "close", "a stopping worker must not promise another request"
    assert busy.read_response_or_eof() is None
    assert silent.read_response_or_eof() is None  # an idle connection is closed, after a grace
    server.proc.wait(10)


def test_second_sync_worker_serves_while_the_first_is_busy(gowsgi):
    """A worker whose only Python thread is busy must not take new connections: they belong to
    the idle worker, as under gunicorn's sync workers, which accept only when they can work."""
    server = gowsgi("conformance_app:app", "-w", "2")
    server.wait_workers(2)
    for _ in range(2):  # both workers answer before the slow request starts
        rawhttp.get(server.port, "/pid")
    slow = rawhttp.Conn(server.port, timeout=10)
    slow.send(rawhttp.build("GET", "/slow?s=2"))
    time.sleep(0.3)
    waits = []
    for _ in range(8):
        started = time.monotonic()
        assert rawhttp.get(server.port, "/pid").status == 200
        waits.append(time.monotonic() - started)
    assert slow.read_response().status == 200
    slow.close()
    assert max(waits) < 0.5, f"requests waited behind the slow one: {[round(w, 2) for w in waits]}"


def test_gthread_threads_share_state_and_run_together(gowsgi):
    server = gowsgi("conformance_app:app", "-w", "1", "-k", "gthread", "--threads", "4")
    started = time.monotonic()
    results = []

    def slow_request():
        results.append(rawhttp.get(server.port, "/slow?s=0.5").status)

    threads = [threading.Thread(target=slow_request) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 4
    assert time.monotonic() - started < 1.4, "four threads should have slept at the same time"

    counts = []

    def count_requests():
        counts.extend(pipelined(server.port, "/count", 100, batch=20))

    threads = [threading.Thread(target=count_requests) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counts == [200] * 800
    final = json.loads(rawhttp.get(server.port, "/count").body)["value"]
    assert final == 801, "a lost update means requests ran outside the app's lock, or twice"


def test_memory_is_stable_over_many_requests(gowsgi):
    """A generator body, write(), exc_info replacement, file_wrapper over BytesIO and the error
    paths: the worker's RSS must not grow with the number of requests."""
    # A small GC target keeps Go's own garbage from looking like growth: Go collects only once
    # its heap doubles (4 MiB at first), which takes tens of thousands of requests.
    server = gowsgi("conformance_app:app", "-w", "1", env={"GOGC": "10"})
    [worker] = server.wait_workers(1)
    paths = ["/leak-mix", "/file-wrapper-bytesio?block=100", "/late-start", "/exc-info-twice"]

    def round_of_requests():
        for path in paths:
            assert set(pipelined(server.port, path, 4000)) <= {200, 201, 502}  # 201, 502: by design
        for path in ("/raise-after-first-chunk?token=", "/exc-info-after-write?token="):
            for _ in range(150):
                with rawhttp.Conn(server.port) as conn:
                    conn.send(rawhttp.build("GET", path))
                    conn.read_until_close()

    # Warm-up: caches, arenas and pools reach their working size, which takes two rounds (the
    # second still grew by 300-600 KiB, the later ones by -200 to +100 KiB).
    for _ in range(2):
        round_of_requests()
    before = anonymous_kib(worker)
    for _ in range(2):
        round_of_requests()
    grown = anonymous_kib(worker) - before
    # 32,600 requests: 1 MiB of growth is about 32 bytes a request.
    assert grown < 1024, f"worker RSS grew by {grown} KiB"
