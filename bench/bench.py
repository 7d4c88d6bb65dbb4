"""Benchmark gowsgi against gunicorn (sync, gthread and gevent) and uWSGI, in one run, on one machine.

For each app and each server, one after another: start the server with the same number of worker
processes on a free loopback port, wait until it answers, warm it up, then load it with wrk and
read throughput, latency and the CPU time the server spent per request; serving the Flask app,
also the memory (PSS) of each of its processes. gowsgi runs both ways: each worker importing the
app, and with --preload (gowsgi-preload), where workers are forked from a process that imported it
once, as uWSGI's are by default. Then, for gowsgi, gowsgi-preload, gunicorn sync and uWSGI: bytes
per second through a 10 MiB generator response, a 10 MiB wsgi.file_wrapper response and a 10 MiB
upload (curl), and the time from starting the server to its first 200 with the Flask app. Last,
the ratios, and whether gowsgi meets each target of its performance issue. The gevent worker
classes are also measured on an app that sleeps 200 ms, with many connections: what counts there
is how close they come to connections / 0.2 s requests per second. Run with the Python that
gowsgi embeds (make bench does), so that every server imports the same Flask.
"""

import argparse
import http.client
import importlib.util
import os
import re
import shutil
import statistics
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GOWSGI = REPO / "bin" / "gowsgi"
UWSGI_PYTHON_PLUGIN = Path("/usr/lib/uwsgi/plugins/python3_plugin.so")
SERVERS = ("gowsgi", "gowsgi-accesslog", "gowsgi-metrics", "gowsgi-preload", "gunicorn-sync", "gunicorn-gthread", "uwsgi",
           "gowsgi-gevent", "gunicorn-gevent")
GEVENT_SERVERS = ("gowsgi-gevent", "gunicorn-gevent")
# The servers whose transfer rates and start-up times are measured: gowsgi and those its targets
# name.
EXTRA_SERVERS = ("gowsgi", "gowsgi-preload", "gunicorn-sync", "uwsgi")
# gowsgi with something switched on, measured against gowsgi without it: what it costs.
COST_SERVERS = {"gowsgi-accesslog": "access log", "gowsgi-metrics": "statsd + Prometheus"}
GTHREAD_THREADS = 2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class App:
    directory: Path
    module: str
    callable: str
    expected_body: bytes
    needs_module: str = ""
    # The servers that run this app (all when empty), and wrk's connections (0: --connections).
    servers: tuple = ()
    connections: int = 0
    # Each request of the app waits this long: the best a server can do is connections / wait.
    wait_seconds: float = 0.0

    @property
    def spec(self):
        return f"{self.module}:{self.callable}"


APPS = {
    "hello": App(REPO / "bench", "hello", "application", b"Hello, World!"),
    "flask": App(REPO / "examples" / "flask-hello", "app", "app", b"Hello world!", "flask"),
    "sleep": App(REPO / "bench", "sleep", "application", b"Slept", servers=GEVENT_SERVERS, connections=512,
                 wait_seconds=0.2),
}
TRANSFER_APP = App(REPO / "bench", "stream", "application", b"ok")
TRANSFER_SIZE = 10 << 20
# name: (method, path, what it measures)
TRANSFERS = {
    "stream": ("GET", "/stream", "generator of 64 KiB chunks"),
    "file": ("GET", "/file", "wsgi.file_wrapper"),
    "upload": ("POST", "/upload", "upload read by the app"),
}


@dataclass
class Result:
    server: str
    app: str
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    cpu_us_per_request: float = 0.0
    errors: int = 0
    closed_connections: int = 0
    failure: str = ""
    # (role, PSS in kB) of each process, measured after the load; the master first
    memory: list = None


class ServerFailed(Exception):
    pass


def server_command(server, app, port, workers, log_directory):
    bind = f"127.0.0.1:{port}"
    gunicorn = [sys.executable, "-m", "gunicorn", app.spec, "-b", bind, "-w", str(workers)]
    if server == "gowsgi":
        return [str(GOWSGI), app.spec, "-b", bind, "-w", str(workers)]
    if server == "gowsgi-preload":
        return [str(GOWSGI), app.spec, "-b", bind, "-w", str(workers), "--preload"]
    if server == "gowsgi-accesslog":
        # gowsgi with its access log on, in the default format, to a file: what logging costs.
        access_log = Path(log_directory) / f"access-{app.module}.log"
        return [str(GOWSGI), app.spec, "-b", bind, "-w", str(workers), "--access-logfile", str(access_log)]
    if server == "gowsgi-metrics":
        # gowsgi sending statsd to a listener that drains it, and serving Prometheus' /metrics.
        return [str(GOWSGI), app.spec, "-b", bind, "-w", str(workers), "--statsd-host", statsd_drain(),
                "--metrics-bind", f"127.0.0.1:{free_port()}"]
    if server == "gunicorn-sync":
        return gunicorn
    if server == "gunicorn-gthread":
        return gunicorn + ["-k", "gthread", "--threads", str(GTHREAD_THREADS)]
    if server == "gowsgi-gevent":
        return [str(GOWSGI), app.spec, "-b", bind, "-w", str(workers), "-k", "gevent"]
    if server == "gunicorn-gevent":
        return gunicorn + ["-k", "gevent"]
    uwsgi = ["uwsgi", "--plugin", "python3", "--http-socket", bind, "--master", "--die-on-term",
             "--disable-logging", "--processes", str(workers)]
    if app.directory == REPO / "bench":
        return uwsgi + ["--wsgi-file", f"{app.module}.py"]
    return uwsgi + ["--module", app.spec]


def missing_servers():
    """Maps each server that cannot run here to the reason, saying what to install."""
    missing = {}
    if not os.access(GOWSGI, os.X_OK):
        for server in ("gowsgi", *COST_SERVERS, "gowsgi-preload"):
            missing[server] = f"{GOWSGI.relative_to(REPO)} not found: run make build"
    if importlib.util.find_spec("gunicorn") is None:
        reason = f"gunicorn is not installed for {sys.executable}: apt-get install gunicorn"
        missing["gunicorn-sync"] = missing["gunicorn-gthread"] = missing["gunicorn-gevent"] = reason
    if importlib.util.find_spec("gevent") is None:
        reason = f"gevent is not installed for {sys.executable}: apt-get install python3-gevent"
        missing["gowsgi-gevent"] = missing["gunicorn-gevent"] = reason
    if shutil.which("uwsgi") is None or not UWSGI_PYTHON_PLUGIN.exists():
        missing["uwsgi"] = "uWSGI or its Python 3 plugin is missing: apt-get install uwsgi uwsgi-plugin-python3"
    return missing


_statsd_drain = None


def statsd_drain():
    """The address of a UDP socket that reads and drops every datagram, as a statsd server takes
    them, started on first use."""
    global _statsd_drain
    if _statsd_drain is None:
        _statsd_drain = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        _statsd_drain.bind(("127.0.0.1", 0))
        _statsd_drain.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)

        def drain():
            while True:
                _statsd_drain.recv(65536)

        threading.Thread(target=drain, daemon=True).start()
    host, port = _statsd_drain.getsockname()
    return f"{host}:{port}"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RunningServer:
    """A server in its own process group, so that stopping it stops every process it started."""

    def __init__(self, argv, cwd, log):
        self.process = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def stop(self):
        """Stops the server as an operator would, with TERM to its master, then kills whatever
        is left of its process group."""
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def wait_until_serving(self, port, expected_body, timeout=30, poll=0.1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(f"exited with code {self.process.returncode} before serving")
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                connection.request("GET", "/")
                response = connection.getresponse()
                body = response.read()
            except OSError:
                time.sleep(poll)
                continue
            finally:
                connection.close()
            if response.status != 200 or expected_body not in body:
                raise ServerFailed(f"answered {response.status} {body[:80]!r}")
            return
        raise ServerFailed(f"did not answer within {timeout} s")

    def cpu_ticks(self):
        """User plus system time of the server and all its descendants, in clock ticks.

        Read while the server runs: a live process's own time is only in its own /proc entry,
        and reaches its parent's cutime/cstime when the parent reaps it. Summing utime, stime,
        cutime and cstime over the live tree counts every process exactly once, including
        workers that died and were reaped between two readings.
        """
        pids, ticks = self.tree()
        return sum(ticks.get(pid, 0) for pid in pids)

    def tree(self):
        """The server's live processes, the master first, and the CPU ticks of each."""
        children, ticks = {}, {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    text = stat.read()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2:].split()
            pid, parent = int(entry.name), int(fields[1])
            children.setdefault(parent, []).append(pid)
            ticks[pid] = sum(int(value) for value in fields[11:15])
        pids, pending = [], [self.process.pid]
        while pending:
            pid = pending.pop(0)
            pids.append(pid)
            pending.extend(sorted(children.get(pid, ())))
        return pids, ticks

    def memory(self):
        """(role, PSS in kB) of each process: what it costs the machine, its share of pages it
        shares with others (copy-on-write, libraries) counted in proportion."""
        out = []
        for index, pid in enumerate(self.tree()[0]):
            try:
                with open(f"/proc/{pid}/smaps_rollup") as rollup:
                    pss = int(re.search(r"^Pss:\s+(\d+) kB", rollup.read(), re.MULTILINE).group(1))
            except (OSError, AttributeError):
                continue
            out.append(("master" if index == 0 else role(pid), pss))
        return out


def role(pid):
    """What a process below the master is: gowsgi's fork server (--preload) names itself."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            title = cmdline.read().split(b"\0")[0]
    except OSError:
        return "worker"
    return "fork server" if title.startswith(b"gowsgi: fork server") else "worker"


def run_wrk(url, duration, connections):
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise ServerFailed(f"wrk failed: {completed.stderr.strip() or completed.stdout.strip()}")
    return completed.stdout


TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_wrk(output):
    """Returns (requests, rps, p50 ms, p99 ms, errors, read errors) from wrk --latency output.

    Read errors are apart: a server that closes the connection after each response without
    saying "Connection: close" (uWSGI's --http-socket does) makes one per request.
    """
    def number(pattern):
        match = re.search(pattern, output, re.MULTILINE)
        return match.groups() if match else None

    requests = int(number(r"^\s*(\d+) requests in")[0])
    rps = float(number(r"^Requests/sec:\s*([\d.]+)")[0])
    p50 = number(r"^\s*50(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\b")
    p99 = number(r"^\s*99(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\b")
    connect, read, write, timeout = map(int, number(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)") or (0, 0, 0, 0))
    non_2xx = number(r"Non-2xx or 3xx responses: (\d+)")
    errors = connect + write + timeout + (int(non_2xx[0]) if non_2xx else 0)
    return (requests, rps, float(p50[0]) * TIME_UNITS_MS[p50[1]],
            float(p99[0]) * TIME_UNITS_MS[p99[1]], errors, read)


def benchmark(server, app_name, options, log_directory):
    app = APPS[app_name]
    result = Result(server, app_name)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log_path = Path(log_directory) / f"{server}-{app_name}.log"
    connections = app.connections or options.connections
    with open(log_path, "wb") as log:
        try:
            with RunningServer(server_command(server, app, port, options.workers, log_directory),
                               app.directory, log) as running:
                running.wait_until_serving(port, app.expected_body)
                run_wrk(url, options.warmup, connections)
                before = running.cpu_ticks()
                output = run_wrk(url, options.duration, connections)
                cpu_seconds = (running.cpu_ticks() - before) / CLOCK_TICKS
                if app_name == "flask":
                    result.memory = running.memory()
        except ServerFailed as failure:
            result.failure = str(failure)
            tail = log_path.read_text(errors="replace").splitlines()[-15:]
            print(f"  {server} on {app_name} failed: {failure}", *tail, sep="\n    ", flush=True)
            return result
    (requests, result.rps, result.p50_ms, result.p99_ms, result.errors,
     result.closed_connections) = parse_wrk(output)
    result.cpu_us_per_request = cpu_seconds * 1e6 / requests if requests else 0.0
    return result


def run_curl(urls, upload=None):
    """Fetches each URL with one curl process (one connection where the server keeps it) and
    returns per transfer (seconds, bytes down, bytes up, status)."""
    command = ["curl", "-s", "-w", "%{time_total} %{size_download} %{size_upload} %{http_code}\\n"]
    if upload is not None:
        command += ["--data-binary", f"@{upload}", "-H", "Expect:",
                    "-H", "Content-Type: application/octet-stream"]
    for url in urls:
        command += ["-o", "/dev/null", url]
    completed = subprocess.run(command, capture_output=True, text=True)
    lines = completed.stdout.split()
    return [(float(t), int(down), int(up), int(code))
            for t, down, up, code in zip(lines[0::4], lines[1::4], lines[2::4], lines[3::4])]


def measure_transfers(server, options, log_directory):
    """Median bytes per second of each transfer (see TRANSFERS), or a failure message."""
    port = free_port()
    upload = Path(log_directory) / "upload.bin"
    if not upload.exists():
        upload.write_bytes(b"u" * TRANSFER_SIZE)
    rates = {}
    log_path = Path(log_directory) / f"{server}-transfers.log"
    with open(log_path, "wb") as log:
        try:
            with RunningServer(server_command(server, TRANSFER_APP, port, options.workers, log_directory),
                               TRANSFER_APP.directory, log) as running:
                running.wait_until_serving(port, TRANSFER_APP.expected_body)
                for name, (method, path, _) in TRANSFERS.items():
                    url = f"http://127.0.0.1:{port}{path}"
                    runs = run_curl([url] * (options.transfer_runs + 2),
                                    upload if method == "POST" else None)
                    moved = [down if method == "GET" else up for _, down, up, _ in runs]
                    if len(runs) != options.transfer_runs + 2 or any(
                            code != 200 for *_, code in runs) or any(m != TRANSFER_SIZE for m in moved):
                        raise ServerFailed(f"{name}: transfers failed: {runs[:3]}")
                    rates[name] = statistics.median(TRANSFER_SIZE / t for t, *_ in runs[2:])
        except ServerFailed as failure:
            print(f"  {server} transfers failed: {failure}", flush=True)
            return str(failure)
    return rates


def measure_startup(server, options, log_directory):
    """Median seconds from starting the server to its first 200 with the Flask app."""
    app = APPS["flask"]
    times = []
    for run in range(options.startup_runs):
        port = free_port()
        with open(Path(log_directory) / f"{server}-startup-{run}.log", "wb") as log:
            start = time.monotonic()
            with RunningServer(server_command(server, app, port, options.workers, log_directory),
                               app.directory, log) as running:
                try:
                    running.wait_until_serving(port, app.expected_body, poll=0.002)
                except ServerFailed as failure:
                    print(f"  {server} start-up failed: {failure}", flush=True)
                    return None
                times.append(time.monotonic() - start)
        time.sleep(0.5)
    return statistics.median(times)


BURST_REQUESTS = 50
BURST_SECONDS = 0.5


def measure_burst(server, options, log_directory):
    """Seconds to answer BURST_REQUESTS requests of BURST_SECONDS each, sent at once on new
    connections, as a page of slow database calls would be: the best is their total time over
    the workers."""
    app = APPS["sleep"]
    port = free_port()
    url = f"http://127.0.0.1:{port}/?seconds={BURST_SECONDS}"
    with open(Path(log_directory) / f"{server}-burst.log", "wb") as log:
        with RunningServer(server_command(server, app, port, options.workers, log_directory),
                           app.directory, log) as running:
            try:
                running.wait_until_serving(port, app.expected_body)
            except ServerFailed as failure:
                print(f"  {server} burst failed: {failure}", flush=True)
                return None
            failures = []

            def fetch():
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                try:
                    connection.request("GET", url[len(f"http://127.0.0.1:{port}"):])
                    if connection.getresponse().status != 200:
                        failures.append("status")
                except OSError as error:
                    failures.append(repr(error))
                finally:
                    connection.close()

            clients = [threading.Thread(target=fetch) for _ in range(BURST_REQUESTS)]
            start = time.monotonic()
            for client in clients:
                client.start()
            for client in clients:
                client.join()
            took = time.monotonic() - start
    if failures:
        print(f"  {server} burst failed: {failures[:3]}", flush=True)
        return None
    return took


def print_burst(burst, workers):
    if not burst:
        return
    ideal = BURST_REQUESTS * BURST_SECONDS / workers
    print(f"\nburst: {BURST_REQUESTS} requests of {BURST_SECONDS} s sent at once, {workers} sync workers;"
          f" seconds to answer all (ideal {ideal:.1f})")
    for server, seconds in burst.items():
        print(f"{server:<18}" + (f"{seconds:>7.2f}  {seconds / ideal:.2f}x the ideal" if seconds else "  failed"))


def print_table(results):
    print()
    print(f"{'server':<18}{'app':<7}{'rps':>10}{'p50 ms':>9}{'p99 ms':>9}{'CPU us/req':>12}"
          f"{'errors':>8}{'read err':>10}")
    for r in results:
        if r.failure:
            print(f"{r.server:<18}{r.app:<7}  failed: {r.failure}")
            continue
        print(f"{r.server:<18}{r.app:<7}{r.rps:>10.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}"
              f"{r.cpu_us_per_request:>12.1f}{r.errors:>8}{r.closed_connections:>10}")
    print("errors: non-2xx answers and connect, write and timeout errors. read err: connections the\n"
          "server closed unannounced; one per request is uWSGI --http-socket's normal way, no fault.")


def print_ratios(results):
    measured = {(r.server, r.app): r for r in results if not r.failure}
    lines = []
    for app in APPS:
        gowsgi = measured.get(("gowsgi", app))
        for server, what in COST_SERVERS.items():
            on = measured.get((server, app))
            if gowsgi is not None and on is not None and gowsgi.rps and gowsgi.cpu_us_per_request:
                lines.append(f"  {app:<6} gowsgi {what} on / off rps {on.rps / gowsgi.rps:5.2f}x"
                             f"   CPU/req {on.cpu_us_per_request / gowsgi.cpu_us_per_request:5.2f}x")
        for other in (s for s in SERVERS if not s.startswith("gowsgi") and s not in GEVENT_SERVERS):
            baseline = measured.get((other, app))
            if gowsgi is None or baseline is None or not baseline.rps:
                continue
            cpu = (gowsgi.cpu_us_per_request / baseline.cpu_us_per_request
                   if baseline.cpu_us_per_request else float("nan"))
            p99 = gowsgi.p99_ms / baseline.p99_ms if baseline.p99_ms else float("nan")
            lines.append(f"  {app:<6} gowsgi / {other:<17} rps {gowsgi.rps / baseline.rps:5.2f}x"
                         f"   CPU/req {cpu:5.2f}x   p99 {p99:5.2f}x")
    lines += gevent_ratios(measured)
    if lines:
        print("\nratios (gowsgi / other): rps higher is better, CPU/req and p99 lower is better")
        print(*lines, sep="\n")


def gevent_ratios(measured):
    """gowsgi's gevent worker against gunicorn's, and each against the most an app that waits
    allows: connections / wait requests per second."""
    lines = []
    for name, app in APPS.items():
        ours, theirs = measured.get(("gowsgi-gevent", name)), measured.get(("gunicorn-gevent", name))
        if ours is not None and theirs is not None and theirs.rps and theirs.cpu_us_per_request:
            lines.append(f"  {name:<6} gowsgi-gevent / gunicorn-gevent rps {ours.rps / theirs.rps:5.2f}x"
                         f"   CPU/req {ours.cpu_us_per_request / theirs.cpu_us_per_request:5.2f}x")
        if not app.wait_seconds:
            continue
        bound = app.connections / app.wait_seconds
        for server in GEVENT_SERVERS:
            result = measured.get((server, name))
            if result is not None:
                lines.append(f"  {name:<6} {server:<15} rps / ({app.connections} / {app.wait_seconds} s) "
                             f"{result.rps / bound:5.2f}")
    return lines


def print_memory(results):
    rows = [r for r in results if r.memory]
    if not rows:
        return
    print("\nmemory serving the Flask app, after the load: PSS in MiB, total and per process")
    for r in rows:
        total = sum(kb for _, kb in r.memory) / 1024
        parts = "  ".join(f"{role} {kb / 1024:.1f}" for role, kb in r.memory)
        print(f"{r.server:<18}{total:>7.1f}   {parts}")


def print_transfers(transfers):
    if not transfers:
        return
    print(f"\ntransfers of {TRANSFER_SIZE >> 20} MiB with curl, GB/s (median): "
          + "; ".join(f"{name}: {what}" for name, (_, _, what) in TRANSFERS.items()))
    print(f"{'server':<18}" + "".join(f"{name:>10}" for name in TRANSFERS))
    for server, rates in transfers.items():
        if isinstance(rates, str):
            print(f"{server:<18}  failed: {rates}")
            continue
        print(f"{server:<18}" + "".join(f"{rates[name] / 1e9:>10.2f}" for name in TRANSFERS))


def print_startup(startup):
    if not startup:
        return
    print("\nstart-up: seconds from starting the server to its first 200 with the Flask app (median)")
    for server, seconds in startup.items():
        print(f"{server:<18}" + (f"{seconds:>7.3f}" if seconds is not None else "  failed"))


def print_targets(results, transfers, startup, burst, workers):
    """Checks gowsgi against each target of its performance issue, from this run."""
    measured = {(r.server, r.app): r for r in results if not r.failure}
    checks = []

    def check(what, value, met):
        checks.append(f"  {'met    ' if met else 'NOT met'}  {what}: {value}")

    def compare(app, other, what, field, bound, higher_is_better):
        gowsgi, baseline = measured.get(("gowsgi", app)), measured.get((other, app))
        if gowsgi is None or baseline is None or not getattr(baseline, field):
            return
        ratio = getattr(gowsgi, field) / getattr(baseline, field)
        check(what, f"{ratio:.2f}x", ratio >= bound if higher_is_better else ratio <= bound)

    hello = measured.get(("gowsgi", "hello"))
    if hello is not None:
        check("hello CPU per request <= 20 us", f"{hello.cpu_us_per_request:.1f} us",
              hello.cpu_us_per_request <= 20)
    compare("hello", "uwsgi", "hello rps >= 1.3x uWSGI's", "rps", 1.3, True)
    observed = measured.get(("gowsgi-metrics", "hello"))
    if hello is not None and observed is not None and hello.rps:
        ratio = observed.rps / hello.rps
        check("hello rps with statsd and Prometheus on >= 0.97x off", f"{ratio:.2f}x", ratio >= 0.97)
    compare("hello", "gunicorn-sync", "hello rps >= 2.5x gunicorn sync's", "rps", 2.5, True)
    compare("flask", "uwsgi", "Flask rps >= 1.1x uWSGI's", "rps", 1.1, True)
    compare("flask", "uwsgi", "Flask CPU per request <= 0.9x uWSGI's", "cpu_us_per_request", 0.9, False)
    compare("hello", "uwsgi", "hello p99 <= uWSGI's", "p99_ms", 1.0, False)
    compare("flask", "uwsgi", "Flask p99 <= uWSGI's", "p99_ms", 1.0, False)
    rates = transfers.get("gowsgi")
    if isinstance(rates, dict):
        for name, bound in (("stream", 1e9), ("file", 1e9), ("upload", 5e8)):
            check(f"{name} ({TRANSFERS[name][2]}) >= {bound / 1e9:g} GB/s",
                  f"{rates[name] / 1e9:.2f} GB/s", rates[name] >= bound)
    def no_more_than(what, ours, theirs, unit):
        if ours is not None and theirs is not None:
            digits = 1 if unit == "MiB" else 3
            check(what, f"{ours:.{digits}f} {unit} against {theirs:.{digits}f}", ours <= theirs)

    def pss_mib(server):
        result = measured.get((server, "flask"))
        return sum(kb for _, kb in result.memory) / 1024 if result is not None and result.memory else None

    no_more_than("Flask PSS of master and workers <= gunicorn's", pss_mib("gowsgi"), pss_mib("gunicorn-sync"), "MiB")
    no_more_than("start-up to the first 200 <= gunicorn's", startup.get("gowsgi"), startup.get("gunicorn-sync"), "s")
    no_more_than("Flask PSS of every process with --preload <= uWSGI's", pss_mib("gowsgi-preload"), pss_mib("uwsgi"),
                 "MiB")
    no_more_than("start-up to the first 200 with --preload <= uWSGI's", startup.get("gowsgi-preload"),
                 startup.get("uwsgi"), "s")
    if burst.get("gowsgi"):
        ideal = BURST_REQUESTS * BURST_SECONDS / workers
        check(f"a burst of {BURST_REQUESTS} requests of {BURST_SECONDS} s <= 1.1x the ideal {ideal:.1f} s",
              f"{burst['gowsgi']:.2f} s", burst["gowsgi"] <= 1.1 * ideal)
    if checks:
        print("\ntargets (shared issues 6, 12, 13 and 15), from this run:")
        print(*checks, sep="\n")


def name_list(choices):
    def parse(text):
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in choices]
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(unknown)}; choose from {', '.join(choices)}")
        return names
    return parse


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of measured load (10)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of load before measuring (2)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per server (2)")
    parser.add_argument("--only", type=name_list(SERVERS), action="extend", metavar="SERVER",
                        help=f"servers to run, comma-separated or repeated: {', '.join(SERVERS)}")
    parser.add_argument("--apps", type=name_list(tuple(APPS)), action="extend", metavar="APP",
                        help=f"apps to serve, comma-separated or repeated: {', '.join(APPS)}")
    parser.add_argument("--transfer-runs", type=int, default=10,
                        help="measured transfers of each kind per server (10)")
    parser.add_argument("--startup-runs", type=int, default=3, help="start-ups per server (3)")
    parser.add_argument("--no-extras", action="store_true",
                        help="skip the transfer and start-up measurements")
    return parser.parse_args()


def stop_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def main():
    options = parse_arguments()
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk is not installed: apt-get install wrk (or make bench-deps)")
    servers = options.only or list(SERVERS)
    apps = options.apps or list(APPS)
    for server, reason in missing_servers().items():
        if server in servers:
            print(f"skipping {server}: {reason}")
            servers.remove(server)
    for app in list(apps):
        needed = APPS[app].needs_module
        if needed and importlib.util.find_spec(needed) is None:
            print(f"skipping the {app} app: {needed} is not installed for {sys.executable}")
            apps.remove(app)
    print(f"wrk -t1 -c{options.connections} -d{options.duration}s after a {options.warmup} s warm-up;"
          f" {options.workers} workers each; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}")
    for name in apps:
        if APPS[name].connections:
            print(f"the {name} app: -c{APPS[name].connections}, {', '.join(APPS[name].servers)} only")
    results, transfers, startup, burst = [], {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="gowsgi-bench-") as log_directory:
        for app in apps:
            for server in (s for s in servers if not APPS[app].servers or s in APPS[app].servers):
                print(f"  {server} on {app} ...", flush=True)
                results.append(benchmark(server, app, options, log_directory))
                time.sleep(1)
        for server in [] if options.no_extras else [s for s in EXTRA_SERVERS if s in servers]:
            print(f"  {server} transfers ...", flush=True)
            transfers[server] = measure_transfers(server, options, log_directory)
            if "flask" in apps:
                print(f"  {server} start-up ...", flush=True)
                startup[server] = measure_startup(server, options, log_directory)
            print(f"  {server} burst ...", flush=True)
            burst[server] = measure_burst(server, options, log_directory)
    print_table(results)
    print_ratios(results)
    print_memory(results)
    print_transfers(transfers)
    print_startup(startup)
    print_burst(burst, options.workers)
    print_targets(results, transfers, startup, burst, options.workers)
    if any(r.failure for r in results) or any(isinstance(t, str) for t in transfers.values()) \
            or None in startup.values() or None in burst.values():
        sys.exit(1)


def run(entry):
    """Runs a benchmark's main; Ctrl-C ends it with the servers it started stopped."""
    try:
        entry()
    except KeyboardInterrupt:
        sys.exit("\nbench: interrupted; every server it started is stopped")


if __name__ == "__main__":
    run(main)
