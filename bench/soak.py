"""Soak: a million keep-alive requests to one gowsgi worker, to see that its memory stays flat.

One worker (-w 1) serves bench/hello.py on a free loopback port; wrk sends it --requests
keep-alive requests in rounds of --round (ten rounds of 100,000 by default), each round a new
wrk run whose Lua script stops every thread after its share of 200 answers. After each round the
script reads the worker's VmRSS and RssAnon (/proc/PID/status), and at the end compares the last
round with the first: a worker that leaks per request grows by the same amount every round, so
the ratio stays near 1.00 only when nothing is kept.

Run, after `make build` and `make bench-deps` (which installs wrk from Debian), with the Python
that gowsgi embeds:

    /usr/bin/python3 bench/soak.py [--requests 1000000] [--round 100000] [--connections 16]

It takes about a minute on two cores.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GOWSGI = REPO / "bin" / "gowsgi"
HOST = "127.0.0.1"
WRK_THREADS = 2
# The longest a round may take: wrk's own duration, after which it stops whatever the count.
ROUND_LIMIT_SECONDS = 300

# Each thread counts its answers, stops at its share, and says so on standard output; wrk itself
# only stops at the end of its duration, so the script interrupts it once every thread is done.
COUNTING_SCRIPT = """
local share, answered, failed = 0, 0, 0

function init(args)
  share = tonumber(args[1])
end

function response(status, headers, body)
  answered = answered + 1
  if status ~= 200 then
    failed = failed + 1
  end
  if answered == share then
    io.write(string.format("thread done %d %d\\n", answered, failed))
    io.stdout:flush()
    wrk.thread:stop()
  end
end
"""


def free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def worker_of(master):
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if ppid == master and cmdline.startswith(b"gowsgi: worker"):
                return int(entry.name)
        time.sleep(0.05)
    raise SystemExit("the worker did not start")


def memory_kib(pid):
    """VmRSS and RssAnon of a process, in KiB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        raise SystemExit(f"the worker {pid} is gone: its memory can no longer be compared") from None
    fields = dict(line.split(":", 1) for line in status.splitlines())
    return int(fields["VmRSS"].split()[0]), int(fields["RssAnon"].split()[0])


def wait_answering(url):
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not answer within 15 s")
            time.sleep(0.05)


def run_round(url, script, requests, connections):
    """Sends requests keep-alive requests with wrk; returns the seconds they took."""
    share = requests // WRK_THREADS
    wrk = subprocess.Popen(
        ["wrk", "-t", str(WRK_THREADS), "-c", str(connections), "-d", f"{ROUND_LIMIT_SECONDS}s",
         "-s", str(script), url, "--", str(share)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    start = time.monotonic()
    done, failed, output = 0, 0, []
    for line in wrk.stdout:
        output.append(line)
        if line.startswith("thread done "):
            done += 1
            failed += int(line.split()[3])
            if done == WRK_THREADS:
                break
    elapsed = time.monotonic() - start
    wrk.send_signal(signal.SIGINT)
    output.append(wrk.communicate(timeout=30)[0])
    if done < WRK_THREADS:
        raise SystemExit("wrk ended before sending its requests:\n" + "".join(output))
    if failed:
        raise SystemExit(f"{failed} answers were not 200 OK")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--round", type=int, default=100_000, help="requests between two memory readings")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if not GOWSGI.is_file():
        raise SystemExit(f"{GOWSGI} is missing: run `make build` first")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: run `make bench-deps` (or apt-get install wrk)")
    rounds = args.requests // args.round
    if rounds < 2 or args.round % WRK_THREADS:
        raise SystemExit(f"--requests must hold two rounds or more, and --round be a multiple of {WRK_THREADS}")

    port = free_port()
    url = f"http://{HOST}:{port}/"
    with tempfile.TemporaryDirectory(prefix="gowsgi-soak-") as scratch:
        script = Path(scratch) / "count.lua"
        script.write_text(COUNTING_SCRIPT)
        log = open(Path(scratch) / "gowsgi.log", "wb")
        server = subprocess.Popen(
            [str(GOWSGI), "-b", f"{HOST}:{port}", "-w", "1", "hello:application"],
            cwd=REPO / "bench", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
        )
        try:
            worker = worker_of(server.pid)
            wait_answering(url)
            start_rss, start_anon = memory_kib(worker)
            print(f"worker {worker} at start: VmRSS {start_rss} KiB, RssAnon {start_anon} KiB")
            print(f"{'requests':>10} {'seconds':>8} {'req/s':>8} {'VmRSS KiB':>10} {'RssAnon KiB':>12}")
            readings = []
            soak_start = time.monotonic()
            for n in range(1, rounds + 1):
                elapsed = run_round(url, script, args.round, args.connections)
                rss, anon = memory_kib(worker)
                readings.append((rss, anon))
                print(f"{n * args.round:>10} {time.monotonic() - soak_start:>8.1f} {args.round / elapsed:>8.0f} "
                      f"{rss:>10} {anon:>12}", flush=True)
        finally:
            server.terminate()
            server.wait(30)
            log.close()
    (first_rss, first_anon), (last_rss, last_anon) = readings[0], readings[-1]
    print(f"after the first {args.round}: VmRSS {first_rss} KiB, RssAnon {first_anon} KiB")
    print(f"after the last {args.round}:  VmRSS {last_rss} KiB, RssAnon {last_anon} KiB")
    print(f"last / first: VmRSS {last_rss / first_rss:.3f}, RssAnon {last_anon / first_anon:.3f}")


if __name__ == "__main__":
    sys.exit(main())
