"""Hostile load that must not hurt: thousands of idle connections, and a worker out of file
descriptors. How fast the worker stays under them is for bench/hostile.py to measure; these tests
check that it keeps answering, with client timeouts generous enough for a slow CI machine."""

import os
import resource
import socket
import time
from pathlib import Path

import pytest

import rawhttp
from support import wait_for

IDLE_CONNECTIONS = 5000
# Descriptors the test process needs beyond its connections.
FD_MARGIN = 200
# Far above what an idle connection costs (bench/hostile.py measures 7 KiB), far below what a
# thread or a request-sized buffer per connection would.
IDLE_CONNECTION_BUDGET_KIB = 64
STARVED_LIMIT = 256
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Out of descriptors, the worker retries accept every few milliseconds; spinning would use
# all of the CPU_WINDOW in CPU time.
CPU_WINDOW = 2.0
CPU_BUDGET = 0.3
SLOW_CLIENT_TIMEOUT = 10.0


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def settled_fds(pid):
    """The descriptors pid holds once those of connections the client has closed are closed too."""
    count = open_fds(pid)
    for _ in range(50):
        time.sleep(0.1)
        previous, count = count, open_fds(pid)
        if count == previous:
            return count
    raise AssertionError(f"the worker's descriptors kept changing for 5 s without load: {count}")


def memory_kib(pid):
    """Rss and Pss of a process, in KiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:])
    return {name: int(fields[name].split()[0]) for name in ("Rss", "Pss")}


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def answers(port, path):
    response = rawhttp.request(port, rawhttp.build(path=path), timeout=SLOW_CLIENT_TIMEOUT)
    assert response.status == 200, response
    return response


def answers_on(sock, path):
    """Sends a request on a connection that is already open and reads the start of the answer."""
    sock.settimeout(SLOW_CLIENT_TIMEOUT)
    sock.sendall(rawhttp.build(path=path))
    head = sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 200 "), head


@pytest.fixture
def idle_room():
    """Raises the soft limit on open files (which the server inherits) for IDLE_CONNECTIONS,
    and puts it back after the test."""
    needed = IDLE_CONNECTIONS + FD_MARGIN
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"{IDLE_CONNECTIONS} idle connections need {needed} open files; the hard limit is {hard}")
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_idle_connections_cost_little_and_leave_requests_answered(gowsgi, idle_room):
    server = gowsgi("echo_app:app", "-w", "1")
    worker = server.wait_workers(1)[0]
    for _ in range(20):
        answers(server.port, "/warm-up")
    fds_before = settled_fds(worker)
    before = memory_kib(worker)
    idle = []
    try:
        for _ in range(IDLE_CONNECTIONS):
            idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=SLOW_CLIENT_TIMEOUT))
        held = wait_for(lambda: open_fds(worker) >= fds_before + IDLE_CONNECTIONS, 30)
        assert held, f"the worker holds {open_fds(worker) - fds_before} of {IDLE_CONNECTIONS} idle connections"
        after = memory_kib(worker)

        start = time.perf_counter()
        answers(server.port, "/while-idle-connections-wait")
        latency = time.perf_counter() - start

        per_connection = {name: (after[name] - before[name]) / IDLE_CONNECTIONS for name in after}
        print(f"\n{IDLE_CONNECTIONS} idle connections: worker RSS {before['Rss']} -> {after['Rss']} KiB "
              f"({per_connection['Rss']:.1f} KiB each), PSS {before['Pss']} -> {after['Pss']} KiB "
              f"({per_connection['Pss']:.1f} KiB each); a request took {latency * 1000:.1f} ms")
        assert per_connection["Rss"] < IDLE_CONNECTION_BUDGET_KIB, per_connection
        assert open_fds(worker) >= fds_before + IDLE_CONNECTIONS, "the worker dropped idle connections to answer"
        answers_on(idle[0], "/on-an-idle-connection")
    finally:
        for sock in idle:
            sock.close()


def starve(limit):
    """Runs in the server's process before exec: soft and hard limit both, since the Go runtime
    raises a soft limit to the hard one at start."""
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))


def test_out_of_descriptors_logs_once_keeps_serving_and_recovers(gowsgi):
    server = gowsgi("echo_app:app", "-w", "1", "--keep-alive", "60", preexec_fn=starve(STARVED_LIMIT))
    worker = server.wait_workers(1)[0]
    assert resource.prlimit(worker, resource.RLIMIT_NOFILE) == (STARVED_LIMIT, STARVED_LIMIT)
    first = socket.create_connection(("127.0.0.1", server.port), timeout=SLOW_CLIENT_TIMEOUT)
    answers_on(first, "/before")

    # More connections than the worker can take: the kernel queues the rest in the backlog.
    extra = [socket.create_connection(("127.0.0.1", server.port), timeout=SLOW_CLIENT_TIMEOUT)
             for _ in range(STARVED_LIMIT + 100)]
    try:
        server.wait_log("EMFILE")
        assert open_fds(worker) == STARVED_LIMIT
        spent = cpu_seconds(worker)
        time.sleep(CPU_WINDOW)
        spent = cpu_seconds(worker) - spent
        print(f"\nout of descriptors: the worker used {spent:.2f} s of CPU in {CPU_WINDOW:.0f} s")
        assert spent < CPU_BUDGET, f"the worker used {spent:.2f} s of CPU in {CPU_WINDOW} s without descriptors"

        answers_on(first, "/while-out-of-descriptors")
        answers_on(extra[0], "/accepted-before-the-limit")

        for sock in extra[:-1]:
            sock.close()
        answers_on(extra[-1], "/queued-while-out-of-descriptors")
        answers(server.port, "/after")
        log = server.wait_log("accepts connections on")
    finally:
        first.close()
        for sock in extra:
            sock.close()
    failures = [line for line in log.splitlines() if "cannot accept" in line]
    assert len(failures) == 1, "\n".join(failures)
    assert "EMFILE" in failures[0] and f"{STARVED_LIMIT} open files" in failures[0], failures[0]
