"""The version matrix of `make test`: gowsgi built, packaged and installed with pip for each
Python present, then serving from the virtualenv it was installed in.

    python3 tests/matrix.py [PYTHON ...]

Without arguments it takes Debian's /usr/bin/python3 and each pyenv build of 3.9 to 3.13 under
$PYENV_ROOT/versions (~/.pyenv by default), and says which of those versions are absent. For
each Python, one after another, in build/matrix/LABEL (its own binary and wheel: Debian's 3.11
and a pyenv 3.11 make wheels of the same name):

1. `make test-python-go PYTHON=...`: the Go tests of the packages that call the C API, linked
   with that Python, so that what differs between versions is tested on each;
   then `make wheel PYTHON=...`;
2. a fresh virtualenv of that Python (Debian's with --system-site-packages, which has Flask and
   gevent) and `pip install --no-index` of the wheel;
3. VENV/bin/gowsgi, with no virtualenv named, serves tests/apps/matrix_app.py and answers one
   request through each worker class the virtualenv allows: sync, gthread, and gevent where it
   imports; the app runs through Flask where Flask imports. The answer must come from that
   Python and the virtualenv's prefix;
4. tests/test_environ.py, test_input.py and test_response.py with GOWSGI_BINARY set to
   VENV/bin/gowsgi, their sync half (gevent is not in most of these virtualenvs, and Debian's
   gevent half is the main suite's), under Debian's python3, which runs the whole suite.

It prints the seconds each step took for each Python and exits 1 if any Python failed. What a
failed Python left is kept in build/matrix/LABEL: its log, wheel, binary and virtualenv.
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support import APPS, PYTHON, REPO_ROOT, ServerFactory  # noqa: E402

WORK = REPO_ROOT / "build" / "matrix"
PYENV_MINORS = range(9, 14)
SUBSET = ["tests/test_environ.py", "tests/test_input.py", "tests/test_response.py"]
STEPS = ("go tests", "wheel", "install", "requests", "pytest")


class StepFailed(Exception):
    pass


def pythons_present():
    """(label, interpreter) for Debian's python3 and each pyenv 3.9-3.13; prints the absent ones."""
    found = [("debian", PYTHON)] if os.access(PYTHON, os.X_OK) else []
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    absent = []
    for minor in PYENV_MINORS:
        builds = sorted(p for p in glob.glob(str(root / f"3.{minor}.*")) if re.search(rf"/3\.{minor}\.\d+$", p))
        found += [("pyenv", str(Path(build) / "bin" / "python3")) for build in builds]
        if not builds:
            absent.append(f"3.{minor}")
    if not os.access(PYTHON, os.X_OK):
        absent.insert(0, f"Debian's {PYTHON}")
    print(f"matrix: absent: {', '.join(absent) or 'none'} (pyenv builds looked for in {root})", flush=True)
    return found


def run(command, log, step, **kwargs):
    """Runs command with its output appended to log; raises StepFailed with its tail."""
    with open(log, "ab") as out:
        out.write(f"$ {' '.join(map(str, command))}\n".encode())
        out.flush()
        result = subprocess.run([str(c) for c in command], stdout=out, stderr=subprocess.STDOUT, **kwargs)
    if result.returncode != 0:
        tail = log.read_bytes().decode("utf-8", "replace")[-3000:]
        raise StepFailed(f"{step}: {command[0]} exited {result.returncode}; end of {log}:\n{tail}")


def python_version(python):
    out = subprocess.run([python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    return out.strip()


def imports(venv_python, module):
    return subprocess.run([venv_python, "-c", f"import {module}"], capture_output=True, timeout=120).returncode == 0


def go_tests(python, log):
    run(["make", "--no-print-directory", "test-python-go", f"PYTHON={python}"], log, "go tests", cwd=REPO_ROOT)


def build_wheel(python, work, log):
    run(["make", "--no-print-directory", "wheel", f"PYTHON={python}", f"WHEEL_BUILD={work / 'build'}",
         f"DIST={work / 'dist'}"], log, "wheel", cwd=REPO_ROOT)
    wheels = list((work / "dist").glob("gowsgi-*.whl"))
    if len(wheels) != 1:
        raise StepFailed(f"wheel: expected one wheel in {work / 'dist'}, found {wheels}")
    return wheels[0]


def install(python, label, wheel, venv, log):
    """Makes the virtualenv and installs the wheel with pip, as a user of that Python would."""
    site = ["--system-site-packages"] if label == "debian" else []
    run([python, "-m", "venv", *site, venv], log, "install")
    # Only the wheel named: not the machine's pip find-links.
    env = {k: v for k, v in os.environ.items() if k != "PIP_FIND_LINKS"}
    run([venv / "bin" / "python", "-m", "pip", "install", "--no-index", wheel], log, "install", env=env)
    installed = venv / "bin" / "gowsgi"
    if not os.access(installed, os.X_OK):
        raise StepFailed(f"install: pip left no executable {installed}")
    return installed


def serve_each_class(installed, venv, version, work):
    """One request through each worker class the virtualenv allows; returns what was served."""
    venv_python = venv / "bin" / "python"
    classes = [("sync",), ("gthread", "--threads", "2")]
    if imports(venv_python, "gevent"):
        classes.append(("gevent",))
    expected = "flask" if imports(venv_python, "flask") else "wsgi"
    servers = ServerFactory(work)
    try:
        for worker_class, *options in classes:
            server = servers("matrix_app:app", "-w", "1", "-k", worker_class, *options, cwd=APPS,
                             binary=installed)
            with urllib.request.urlopen(server.url + "/", timeout=15) as response:
                status, answer = response.status, json.loads(response.read())
            want = {"served_by": expected, "version": version, "prefix": os.path.realpath(venv)}
            answer["prefix"] = os.path.realpath(answer["prefix"])
            if status != 200 or answer != want:
                raise StepFailed(f"requests: -k {worker_class} answered {status} {answer}, want 200 {want}\n"
                                 f"{server.describe()}")
            server.stop()
    finally:
        servers.stop_all()
    return f"{'+'.join(c[0] for c in classes)} via {expected}"


def run_subset(installed, log):
    env = dict(os.environ, GOWSGI_BINARY=str(installed))
    run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SUBSET, "-k", "not gevent"], log, "pytest",
        cwd=REPO_ROOT, env=env)
    summary = log.read_text(errors="replace").strip().splitlines()[-1]
    return summary.strip("= ")


def check(label, python):
    """Runs the steps for one Python; returns (name, {step: seconds}, notes, error or None)."""
    version = python_version(python)
    name = f"{label}-{version}"
    work = WORK / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log = work / "log"
    times, notes = {}, []
    started = time.monotonic()

    def timed(step, action, *args):
        begun = time.monotonic()
        try:
            return action(*args)
        finally:
            times[step] = time.monotonic() - begun

    try:
        timed("go tests", go_tests, python, log)
        wheel = timed("wheel", build_wheel, python, work, log)
        notes.append(wheel.name)
        installed = timed("install", install, python, label, wheel, work / "venv", log)
        notes.append(timed("requests", serve_each_class, installed, work / "venv", version, work))
        notes.append(timed("pytest", run_subset, installed, log))
        error = None
        # The wheel and the log stay; the binary and the virtualenv, 100 MB, only on a failure.
        for done in ("build", "venv"):
            shutil.rmtree(work / done)
    except (StepFailed, subprocess.SubprocessError, OSError, AssertionError) as failure:
        error = str(failure)
    times["total"] = time.monotonic() - started
    return name, python, times, notes, error


def main(argv):
    targets = [("debian" if os.path.realpath(p).startswith("/usr/bin/") else "python", p) for p in argv] \
        if argv else pythons_present()
    results = []
    for label, python in targets:
        print(f"matrix: {python}", flush=True)
        result = check(label, python)
        results.append(result)
        name, _, times, notes, error = result
        steps = ", ".join(f"{step} {times[step]:.0f}s" for step in (*STEPS, "total") if step in times)
        print(f"matrix: {name}: {'FAILED' if error else 'ok'}: {steps}; {'; '.join(notes)}", flush=True)
        if error:
            print(error, file=sys.stderr, flush=True)
    failed = [name for name, _, _, _, error in results if error]
    print(f"matrix: {len(results) - len(failed)} of {len(results)} Pythons passed"
          + (f"; failed: {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
