"""--preload measured against uWSGI and gunicorn --preload, in one run, with 4 workers each.

For the Flask example and a Django project with its admin (bench/djangoadmin, SQLite): the memory
(PSS) of every process after 400 requests, and the time from starting the server to its first
200 (median of 5). Then, serving bench/whoami.py, which answers with the pid of the worker: how
long after TTIN a new worker answers its first request, and how many requests a worker serves
under --max-requests 20 with a client that sends one request at a time, on new connections and
on one keep-alive connection, with 1 and 4 workers. Last, whether gowsgi --preload meets each
target of its issue. Run with the Python that gowsgi embeds (make bench-preload does).
"""

import argparse
import http.client
import importlib.util
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import bench

REPO = bench.REPO
SERVERS = ("gowsgi", "gowsgi-preload", "gunicorn-preload", "uwsgi")
# What TTIN and --max-requests are measured on: uWSGI has neither signal nor the same limit.
LIFECYCLE_SERVERS = ("gowsgi", "gowsgi-preload", "gunicorn-preload")
MAX_REQUESTS = 20


@dataclass(frozen=True)
class App:
    directory: Path
    spec: str
    path: str
    expected_body: bytes
    needs_module: str


APPS = {
    "flask": App(REPO / "examples" / "flask-hello", "app:app", "/", b"Hello world!", "flask"),
    "django": App(REPO / "bench" / "djangoadmin", "adminsite.wsgi:application", "/admin/login/",
                  b"Log in", "django"),
}
WHOAMI = App(REPO / "bench", "whoami:application", "/", b"", "")


def command(server, app, port, workers, *extra):
    bind = f"127.0.0.1:{port}"
    if server.startswith("gowsgi"):
        argv = [str(bench.GOWSGI), app.spec, "-b", bind, "-w", str(workers)]
        return argv + (["--preload"] if server == "gowsgi-preload" else []) + list(extra)
    if server == "gunicorn-preload":
        return [sys.executable, "-m", "gunicorn", app.spec, "-b", bind, "-w", str(workers), "--preload",
                *extra]
    return ["uwsgi", "--plugin", "python3", "--http-socket", bind, "--master", "--die-on-term",
            "--disable-logging", "--processes", str(workers), "--module", app.spec, *extra]


def get(port, path, connection=None):
    """(status, body) of one GET, on connection if given, else on a new one."""
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        if connection is None:
            conn.close()


def wait_until_serving(running, port, app, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise bench.ServerFailed(f"exited with code {running.process.returncode} before serving")
        try:
            status, body = get(port, app.path)
        except OSError:
            time.sleep(0.002)
            continue
        if status != 200 or app.expected_body not in body:
            raise bench.ServerFailed(f"answered {status} {body[:80]!r}")
        return
    raise bench.ServerFailed(f"did not answer within {timeout} s")


def serve(server, app, workers, logs, *extra):
    """A started server that answers, and its port."""
    port = bench.free_port()
    log = open(Path(logs) / f"{server}-{app.spec.replace(':', '-')}.log", "ab")
    running = bench.RunningServer(command(server, app, port, workers, *extra), app.directory, log)
    try:
        wait_until_serving(running, port, app)
    except bench.ServerFailed:
        running.stop()
        raise
    return running, port


def measure_memory(server, app, options, logs):
    """(role, PSS in kB) of each process after options.requests requests."""
    running, port = serve(server, app, options.workers, logs)
    with running:
        for _ in range(options.requests):
            get(port, app.path)
        time.sleep(0.5)
        return running.memory()


def measure_startup(server, app, options, logs):
    times = []
    for _ in range(options.startup_runs):
        start = time.monotonic()
        running, _ = serve(server, app, options.workers, logs)
        times.append(time.monotonic() - start)
        running.stop()
        time.sleep(0.3)
    return statistics.median(times)


def whoami(port, connection=None):
    status, body = get(port, "/", connection)
    if status != 200:
        raise bench.ServerFailed(f"whoami answered {status}")
    return int(body)


def workers_of(running):
    return [pid for pid in running.tree()[0][1:] if bench.role(pid) == "worker"]


def measure_ttin(server, logs):
    """Milliseconds from TTIN to the first answer of the worker it adds (median of 5)."""
    times = []
    running, port = serve(server, WHOAMI, 1, logs)
    with running:
        for _ in range(5):
            before = set(workers_of(running))
            asked = time.monotonic()
            running.process.send_signal(signal.SIGTTIN)
            while True:
                if time.monotonic() - asked > 10:
                    raise bench.ServerFailed("no new worker answered within 10 s of TTIN")
                try:
                    if whoami(port) not in before:
                        break
                except OSError:
                    pass
            times.append((time.monotonic() - asked) * 1000)
            time.sleep(0.3)
    return statistics.median(times)


def measure_max_requests(server, workers, keep_alive, logs, requests=20 * MAX_REQUESTS):
    """The most requests one worker served, out of requests sent one at a time."""
    running, port = serve(server, WHOAMI, workers, logs, "--max-requests", str(MAX_REQUESTS))
    served = {}
    with running:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10) if keep_alive else None
        for _ in range(requests):
            try:
                pid = whoami(port, connection)
            except (OSError, http.client.HTTPException):
                if connection is None:
                    raise
                # The server closed the keep-alive connection after its last answer.
                connection.close()
                pid = whoami(port, connection)
            served[pid] = served.get(pid, 0) + 1
    return max(served.values())


def total_mib(memory):
    return sum(kb for _, kb in memory) / 1024


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4, help="worker processes per server (4)")
    parser.add_argument("--requests", type=int, default=400, help="requests before memory is read (400)")
    parser.add_argument("--startup-runs", type=int, default=5, help="start-ups per server and app (5)")
    return parser.parse_args()


def main():
    options = parse_arguments()
    missing = bench.missing_servers()
    missing["gunicorn-preload"] = missing.get("gunicorn-sync")
    servers = [s for s in SERVERS if not missing.get(s)]
    for server in SERVERS:
        if missing.get(server):
            print(f"skipping {server}: {missing[server]}")
    apps = {name: app for name, app in APPS.items() if importlib.util.find_spec(app.needs_module)}
    print(f"{options.workers} workers each; PSS after {options.requests} requests; Python {sys.version.split()[0]}")
    memory, startup, ttin, limits, failures = {}, {}, {}, {}, []
    with tempfile.TemporaryDirectory(prefix="gowsgi-bench-preload-") as logs:
        for name, app in apps.items():
            for server in servers:
                print(f"  {server} on {name} ...", flush=True)
                try:
                    memory[server, name] = measure_memory(server, app, options, logs)
                    startup[server, name] = measure_startup(server, app, options, logs)
                except bench.ServerFailed as failure:
                    failures.append(f"{server} on {name}: {failure}")
        for server in (s for s in LIFECYCLE_SERVERS if s in servers):
            print(f"  {server} TTIN and --max-requests ...", flush=True)
            try:
                ttin[server] = measure_ttin(server, logs)
                for workers in (1, 4):
                    for keep_alive in (False, True):
                        limits[server, workers, keep_alive] = measure_max_requests(server, workers, keep_alive, logs)
            except bench.ServerFailed as failure:
                failures.append(f"{server} lifecycle: {failure}")

    print("\nmemory: PSS in MiB, total and per process; start-up: seconds to the first 200 (median)")
    for (server, name), rows in memory.items():
        parts = "  ".join(f"{role} {kb / 1024:.1f}" for role, kb in rows)
        print(f"{name:<7}{server:<18}{total_mib(rows):>7.1f} MiB {startup[server, name]:>7.3f} s   {parts}")
    print(f"\nTTIN to the new worker's first answer, ms (median of 5); most requests one worker served "
          f"of {20 * MAX_REQUESTS} sent one at a time with --max-requests {MAX_REQUESTS}")
    for server, ms in ttin.items():
        served = "  ".join(f"-w {w} {'keep-alive' if k else 'new conns'} {limits[server, w, k]}"
                           for w in (1, 4) for k in (False, True))
        print(f"{server:<18}{ms:>7.1f} ms   {served}")

    checks = []

    def check(what, value, met):
        checks.append(f"  {'met    ' if met else 'NOT met'}  {what}: {value}")

    for name in apps:
        ours, theirs = memory.get(("gowsgi-preload", name)), memory.get(("uwsgi", name))
        if ours and theirs:
            check(f"{name} PSS with --preload <= uWSGI's", f"{total_mib(ours):.1f} MiB against "
                  f"{total_mib(theirs):.1f} ({total_mib(ours) / total_mib(theirs):.2f}x)",
                  total_mib(ours) <= total_mib(theirs))
        ours, theirs = startup.get(("gowsgi-preload", name)), startup.get(("uwsgi", name))
        if ours and theirs:
            check(f"{name} start-up with --preload <= uWSGI's", f"{ours:.3f} s against {theirs:.3f} s "
                  f"({ours / theirs:.2f}x)", ours <= theirs)
    if "gowsgi-preload" in ttin:
        check("a worker added by TTIN answers within 50 ms", f"{ttin['gowsgi-preload']:.1f} ms",
              ttin["gowsgi-preload"] <= 50)
        most = max(v for (s, *_), v in limits.items() if s == "gowsgi-preload")
        check(f"no worker serves more than {2 * MAX_REQUESTS} with --max-requests {MAX_REQUESTS}",
              f"at most {most}", most <= 2 * MAX_REQUESTS)
    print("\ntargets (issue 12), from this run:")
    print(*checks, sep="\n")
    if failures:
        print("\nfailed:", *failures, sep="\n  ")
        sys.exit(1)


if __name__ == "__main__":
    bench.run(main)
