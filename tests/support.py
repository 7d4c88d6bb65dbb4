"""Starting and watching a real gowsgi process for the integration tests.

The suite talks to bin/gowsgi only from outside: it starts the binary on a free port, waits until
the port accepts, and reads the error log the server writes to stderr.
"""

import atexit
import functools
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
# GOWSGI_BINARY runs the suite against another build (an installed one, or one that embeds
# another Python), GOWSGI_TEST_ARGS adds options to every server the fixtures start (--preload,
# say), and GOWSGI_TEST_LINK says how that build was told to link libpython (static or shared)
# when it was not left to choose (`make test-python PYTHON_LINK=...`).
GOWSGI = Path(os.environ.get("GOWSGI_BINARY") or REPO_ROOT / "bin" / "gowsgi")
TEST_ARGS = os.environ.get("GOWSGI_TEST_ARGS", "").split()
TEST_LINK = os.environ.get("GOWSGI_TEST_LINK", "")
APPS = TESTS_DIR / "apps"

START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0

# Servers started and not yet stopped, so that a failing test can show their logs.
RUNNING = []

# Variables from the developer's shell that would change what the server does: each test states
# the ones it wants.
ENV_DROPPED = ("PORT", "WEB_CONCURRENCY", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH", "GOWSGI_CMD_ARGS",
               "GUNICORN_CMD_ARGS", "GOWSGI_BINARY", "GOWSGI_TEST_ARGS", "GOWSGI_TEST_LINK")


def _embedded_python():
    """The version of the Python that GOWSGI embeds, its python executable and how its libpython
    is linked, as --version says them: "Python 3.11.2 (/usr/bin/python3.11, linked statically)",
    or "(…, library /…/libpython3.11.so.1.0)". Debian's python3 when the binary cannot say; the
    session then stops, as the binary is missing (conftest.py)."""
    try:
        out = subprocess.run([str(GOWSGI), "--version"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        out = ""
    match = re.search(r"^Python (\d+)\.(\d+)\S* \((.+), (linked statically|library /.+)\)$", out, re.M)
    if match is None:
        return (0, 0), "/usr/bin/python3", ""
    return (int(match[1]), int(match[2])), match[3], match[4]


# The Python that gowsgi embeds: the apps run in it, so the tests make virtualenvs with it and ask
# it about the interpreter. The tests themselves run under Debian's python3, which has pytest and
# requests; `make test-python` points GOWSGI_BINARY at a build that embeds another Python.
PYTHON_VERSION, PYTHON, LINKAGE = _embedded_python()


@functools.lru_cache(maxsize=None)
def missing_modules(names):
    """Those of names (a tuple) that the embedded Python cannot import: a test whose app needs one
    skips (a Python built from source has no Flask or gevent, say)."""
    if not names:
        return []
    code = ("import importlib, sys\n"
            "for name in sys.argv[1:]:\n"
            "    try:\n"
            "        importlib.import_module(name)\n"
            "    except ImportError:\n"
            "        print(name)\n")
    result = subprocess.run([PYTHON, "-c", code, *names], env=server_env(), capture_output=True, text=True,
                            timeout=120, check=True)
    return result.stdout.split()


def require_binary(binary=None):
    binary = Path(binary or GOWSGI)
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        raise AssertionError(f"{binary} is missing or not executable: run `make build` in {REPO_ROOT} first")


# Each gowsgi gets a directory of its own as XDG_RUNTIME_DIR, where its control socket goes by
# default: servers running at once do not compete for one socket, and none goes in ~/.gunicorn.
RUNTIME_DIRS = tempfile.mkdtemp(prefix="gowsgi-tests-")
atexit.register(shutil.rmtree, RUNTIME_DIRS, True)


def server_env(overrides=None):
    """The environment for a gowsgi process: ours without ENV_DROPPED, plus overrides (None deletes)."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_DROPPED}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(dir=RUNTIME_DIRS)
    for key, value in (overrides or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def free_port(host="127.0.0.1"):
    """A port nothing listens on right now (the server does not accept port 0)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_accepts(host, port, timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def run_gowsgi(*args, cwd=APPS, env=None, timeout=30, binary=None):
    """Runs gowsgi (or another binary of it) to completion (for flags that exit at once, or apps
    that fail to load)."""
    require_binary(binary)
    return subprocess.run(
        [str(binary or GOWSGI), *args],
        cwd=cwd,
        env=server_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def print_config(cwd, *args, env=None):
    """Runs --print-config; returns ({key: (value, source)}, what it wrote to standard error)."""
    result = run_gowsgi("--print-config", *args, cwd=cwd, env=env, timeout=20)
    assert result.returncode == 0, result
    settings = {}
    for line in result.stdout.splitlines():
        key, rest = line.split(" = ", 1)
        value, source = rest.rsplit("  # ", 1)
        settings[key.strip()] = (value.strip(), source)
    return settings, result.stderr


def process_state(pid):
    """The state letter from /proc/PID/stat, or None when the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def alive(pid):
    state = process_state(pid)
    return state is not None and state not in ("Z", "X")


def children(pid):
    """Live child processes of pid (zombies waiting to be reaped are not counted)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            found.append(int(entry.name))
    return sorted(found)


def title(pid):
    """The title a gowsgi process shows in ps ("gowsgi: worker [app:app]"), "" when it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode("utf-8", "replace")
    except OSError:
        return ""


def is_fork_server(pid):
    return title(pid).startswith("gowsgi: fork server")


def is_worker_of_master(pid):
    """Whether a child of the master is a worker: not the fork server of --preload, nor a
    process the master has forked and not yet executed, which still shows the master's title."""
    return not title(pid).startswith(("gowsgi: fork server", "gowsgi: master"))


def workers_of(master):
    """The master's live workers."""
    return [pid for pid in children(master) if is_worker_of_master(pid)]


def fork_server_of(master):
    """The pid of the master's fork server (--preload), or None."""
    return next((pid for pid in children(master) if is_fork_server(pid)), None)


def wait_for(predicate, timeout, interval=0.05):
    """Polls predicate until it returns something true; returns that value, or None on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


class Server:
    """One running gowsgi master, its port and its error log."""

    def __init__(self, args, cwd, env, log_path, host, port, preexec_fn=None, binary=None):
        self.args = [str(a) for a in args]
        self.host = host
        self.port = port
        self.log_path = Path(log_path)
        self.out_path = self.log_path.with_suffix(".stdout")
        self._log_file = open(self.log_path, "wb")
        self._out_file = open(self.out_path, "wb")
        self.proc = subprocess.Popen(
            [str(binary or GOWSGI), *self.args],
            cwd=cwd,
            env=server_env(env),
            stdin=subprocess.DEVNULL,
            stdout=self._out_file,
            stderr=self._log_file,
            preexec_fn=preexec_fn,
        )
        self._known_workers = set()
        RUNNING.append(self)

    @property
    def url(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        """The error log (stderr) so far."""
        return self.log_path.read_bytes().decode("utf-8", "replace")

    def stdout(self):
        return self.out_path.read_bytes().decode("utf-8", "replace")

    def describe(self):
        return f"gowsgi {' '.join(self.args)} (exit {self.proc.poll()})\n--- error log ---\n{self.log()}"

    def wait_ready(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gowsgi exited before accepting connections\n{self.describe()}")
            if port_accepts(self.host, self.port):
                return self
            time.sleep(0.05)
        raise AssertionError(f"gowsgi did not accept on {self.host}:{self.port} within {timeout}s\n{self.describe()}")

    def workers(self):
        pids = children(self.pid)
        self._known_workers.update(pids)
        return [pid for pid in pids if is_worker_of_master(pid)]

    def fork_server(self):
        """The pid of the fork server (--preload), or None."""
        return fork_server_of(self.pid)

    def wait_workers(self, count, timeout=START_TIMEOUT):
        """Waits until the master has exactly count live children and returns their pids."""
        pids = wait_for(lambda: (lambda p: p if len(p) == count else None)(self.workers()), timeout)
        if pids is None:
            raise AssertionError(f"expected {count} workers, have {self.workers()}\n{self.describe()}")
        return pids

    def wait_log(self, text, timeout=10.0):
        """Waits until text appears in the error log; fails with the log otherwise."""
        if wait_for(lambda: text in self.log(), timeout) is None:
            raise AssertionError(f"{text!r} not in the error log after {timeout}s\n{self.describe()}")
        return self.log()

    def signal(self, signum):
        self.proc.send_signal(signum)

    def stop(self):
        """TERM, wait, then KILL the master and whatever workers it had."""
        if self.proc.poll() is None:
            self.workers()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        for pid in self._known_workers:
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self._log_file.close()
        self._out_file.close()
        if self in RUNNING:
            RUNNING.remove(self)


class ServerFactory:
    """Starts servers in one directory for logs and stops them all at the end."""

    def __init__(self, log_dir, extra_args=()):
        """extra_args go on every server's command line, before its own (--preload, say)."""
        self.log_dir = Path(log_dir)
        self.extra_args = [*TEST_ARGS, *extra_args]
        self.servers = []

    def __call__(self, app, *args, cwd=APPS, env=None, host="127.0.0.1", port=None, bind=True, wait=True,
                 preexec_fn=None, binary=None):
        """Starts `gowsgi -b HOST:PORT ARGS APP` (no -b when bind is False) and waits for the port;
        preexec_fn runs in the child before exec (to set resource limits, say); binary is another
        gowsgi to run than the suite's (one installed in a virtualenv, say)."""
        require_binary(binary)
        port = port or free_port(host)
        bind_args = ["-b", f"[{host}]:{port}" if ":" in host else f"{host}:{port}"] if bind else []
        app_args = [app] if app is not None else []
        log_path = self.log_dir / f"gowsgi-{len(self.servers)}-{port}.log"
        server = Server([*bind_args, *self.extra_args, *args, *app_args], cwd, env, log_path, host, port,
                        preexec_fn, binary)
        self.servers.append(server)
        if wait:
            server.wait_ready()
        return server

    def stop_all(self):
        for server in self.servers:
            server.stop()


class SyscallTrace:
    """strace attached to every thread of a running process, to see which syscalls it makes."""

    def __init__(self, pid, syscalls, out_dir):
        if not shutil.which("strace"):
            raise AssertionError("strace is needed to check the sendfile path: install it (apt-get install strace)")
        self.out_path = Path(out_dir) / f"strace-{pid}.out"
        self.err_path = Path(out_dir) / f"strace-{pid}.err"
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(
            ["strace", "-f", "-e", f"trace={','.join(syscalls)}", "-o", str(self.out_path), "-p", str(pid)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._err,
        )
        if wait_for(lambda: "attached" in self.err_path.read_text(), 10) is None:
            self.proc.kill()
            raise AssertionError(f"strace did not attach to {pid}: {self.err_path.read_text()}")

    def stop(self):
        """Detaches and returns the trace."""
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(10)
        self._err.close()
        return self.out_path.read_text()
