"""What idle connections cost a gowsgi worker, and whether it still answers while it holds them.

One worker (-w 1) serves bench/hello.py on a free loopback port. The script reads the worker's
memory (RSS, PSS and anonymous memory, from /proc/PID/smaps_rollup), opens --connections
connections to it and leaves them idle, reads the memory again once the worker holds them all
(its descriptor count says so), and divides the growth by the number of connections. Meanwhile
it times requests on fresh connections: a few before the idle ones are opened, and as many
while they are held. It does this for two kinds of idle connection:

  silent      connected and never sent a byte (a slowloris client, or a browser's preconnect);
  keep-alive  sent one request, read the answer, and stays open for the next (--keep-alive 300).

Run, after `make build`, with the Python that gowsgi embeds:

    /usr/bin/python3 bench/hostile.py [--connections 5000] [--samples 50]

The soft limit on open files is raised to the hard limit when it is lower than the connections
need; the script stops with the reason when the hard limit is too low.
"""

import argparse
import http.client
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GOWSGI = REPO / "bin" / "gowsgi"
HOST = "127.0.0.1"
# Descriptors the script needs beyond one per connection (stdio, the server's pipes, sampling).
FD_MARGIN = 100
REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"


def raise_fd_limit(needed):
    """Raises this process's soft limit on open files to needed (the server inherits it);
    returns an error message when the hard limit does not allow it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return None
    if hard != resource.RLIM_INFINITY and hard < needed:
        return f"{needed} open files are needed and the hard limit (ulimit -Hn) is {hard}"
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return None


def free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def children(pid):
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def worker_of(master):
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for pid in children(master):
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"gowsgi: worker"):
                return pid
        time.sleep(0.05)
    raise SystemExit("the worker did not start")


def memory(pid):
    """Rss, Pss and Anonymous of a process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0])
    return {"Rss": fields["Rss"], "Pss": fields["Pss"], "Anon": fields["Anonymous"]}


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def get(port, timeout=10):
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        body = response.read()
        if response.status != 200 or body != b"Hello, World!":
            raise SystemExit(f"unexpected answer {response.status} {body!r}")
    finally:
        conn.close()


def latencies(port, samples):
    """Seconds each of samples requests took, each on a new connection."""
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        get(port)
        times.append(time.perf_counter() - start)
    return times


def open_idle(port, count, kind):
    socks = []
    for _ in range(count):
        sock = socket.create_connection((HOST, port), timeout=10)
        socks.append(sock)
    if kind == "keep-alive":
        for sock in socks:
            sock.sendall(REQUEST)
        for sock in socks:
            answer = b""
            while not answer.endswith(b"Hello, World!"):
                chunk = sock.recv(4096)
                if not chunk:
                    raise SystemExit("the server closed a keep-alive connection")
                answer += chunk
    return socks


def wait_held(worker, fds, timeout=30):
    """Waits until the worker has at least fds descriptors open."""
    deadline = time.monotonic() + timeout
    while open_fds(worker) < fds:
        if time.monotonic() > deadline:
            raise SystemExit(f"the worker holds {open_fds(worker)} descriptors, not the {fds} expected")
        time.sleep(0.05)


def ms(seconds):
    return f"{seconds * 1000:.2f} ms"


def summary(times):
    ordered = sorted(times)
    return (f"median {ms(statistics.median(ordered))}, p90 {ms(ordered[int(len(ordered) * 0.9)])}, "
            f"max {ms(ordered[-1])}")


def measure(kind, connections, samples, log_dir):
    port = free_port()
    log = open(Path(log_dir) / f"gowsgi-{kind}.log", "wb")
    server = subprocess.Popen(
        [str(GOWSGI), "-b", f"{HOST}:{port}", "-w", "1", "--keep-alive", "300", "hello:application"],
        cwd=REPO / "bench", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
    )
    socks = []
    try:
        worker = worker_of(server.pid)
        deadline = time.monotonic() + 15
        while True:
            try:
                get(port, timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        latencies(port, 200)  # warm up: the worker's first requests allocate what later ones reuse
        time.sleep(0.5)
        before, fds_before = memory(worker), open_fds(worker)
        quiet = latencies(port, samples)

        start = time.monotonic()
        socks = open_idle(port, connections, kind)
        wait_held(worker, fds_before + connections)
        opened = time.monotonic() - start
        time.sleep(0.5)
        after = memory(worker)
        loaded = latencies(port, samples)
        still_held = open_fds(worker) - fds_before

        print(f"\n{kind}: {connections} idle connections opened in {opened:.2f} s; "
              f"the worker held {still_held} of them after the timed requests")
        for name in ("Rss", "Pss", "Anon"):
            per = (after[name] - before[name]) * 1024 / connections
            print(f"  {name:4}  {before[name] / 1024:7.1f} MiB -> {after[name] / 1024:7.1f} MiB: "
                  f"{per / 1024:.1f} KiB per idle connection")
        print(f"  request on a new connection, {samples} samples: "
              f"without idle connections {summary(quiet)}; with them {summary(loaded)}")
    finally:
        for sock in socks:
            sock.close()
        server.terminate()
        server.wait(30)
        log.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--kind", choices=("silent", "keep-alive"), action="append",
                        help="which idle connections to measure (default: both)")
    args = parser.parse_args()
    if not GOWSGI.is_file():
        raise SystemExit(f"{GOWSGI} is missing: run `make build` first")
    problem = raise_fd_limit(args.connections + FD_MARGIN)
    if problem:
        raise SystemExit(f"cannot hold {args.connections} connections: {problem}")
    with tempfile.TemporaryDirectory(prefix="gowsgi-hostile-") as log_dir:
        for kind in args.kind or ("silent", "keep-alive"):
            measure(kind, args.connections, args.samples, log_dir)


if __name__ == "__main__":
    sys.exit(main())
