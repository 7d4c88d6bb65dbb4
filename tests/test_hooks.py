"""Server hooks: the functions of a --hooks module run inside each worker with gunicorn-shaped
worker, request and response objects; the master's events run shell commands with their details
in GOWSGI_* variables. A hook that fails is logged and changes nothing else."""

import json
import os
import signal

import pytest
import requests

from support import APPS, alive, free_port, run_gowsgi, wait_for

APP = "hooks_app:app"


def events(path, event=None):
    if not path.exists():
        return []
    found = [json.loads(line) for line in path.read_text().splitlines()]
    return [e for e in found if event is None or e["event"] == event]


def wait_event(out, event, timeout=10, **match):
    def matching():
        return [e for e in events(out, event) if all(e.get(k) == v for k, v in match.items())]
    found = wait_for(matching, timeout)
    assert found, f"no {event} event matching {match} in {events(out)}"
    return found[-1]


def hooked(gowsgi, tmp_path, *args, raising=(), app=APP):
    out = tmp_path / "events.jsonl"
    env = {"HOOKS_OUT": str(out), "HOOKS_RAISE": ",".join(raising)}
    server = gowsgi(app, "--hooks", "hooks_module", *args, env=env)
    return server, out


@pytest.mark.parametrize("worker_class", [["-k", "sync"], ["-k", "gthread", "--threads", "2"], ["-k", "gevent"]],
                         ids=["sync", "gthread", "gevent"])
def test_worker_hooks_get_gunicorns_objects(gowsgi, tmp_path, worker_class):
    server, out = hooked(gowsgi, tmp_path, "-w", "1", *worker_class)
    response = requests.get(server.url + "/a%20b?x=1", headers={"X-Test": "yes"}, timeout=10)
    assert response.status_code == 201
    pid = int(response.text)

    init = wait_event(out, "post_worker_init")
    assert init["pid"] == pid and init["ppid"] == server.pid and init["age"] == 1
    assert init["wsgi_app"] == init["app_uri"] == APP and init["wsgi"] == "app"
    assert init["workers"] == 1 and init["timeout"] == 30 and init["alive"] is True
    assert f"[{pid}] [INFO] hooks_module: worker {pid} (age 1) is ready" in server.log()

    pre = wait_event(out, "pre_request")
    assert pre["method"] == "GET" and pre["uri"] == "/a%20b?x=1"
    assert pre["path"] == "/a%20b" and pre["query"] == "x=1" and pre["version"] == [1, 1]
    assert ["X-TEST", "yes"] in pre["headers"] and pre["headers"][0][0] == "HOST"
    assert pre["peer_addr"][0] == pre["remote_addr"][0] == "127.0.0.1" and isinstance(pre["peer_addr"][1], int)
    assert pre["scheme"] == "http"

    post = wait_event(out, "post_request")
    assert post["same_req"] is True and post["path_info"] == "/a b"
    assert post["status"] == "201 Created" and post["status_code"] == 201
    assert ["X-App", "hooks"] in post["headers"]
    assert post["sent"] == post["response_length"] == len(response.text)
    # Both request hooks run on the thread that ran the app.
    assert pre["thread"] == post["thread"] == post["app_thread"]

    server.stop()
    stopped = wait_event(out, "worker_exit", pid=pid)
    assert stopped["server_pid"] == server.pid


def test_post_request_sees_the_error_answer_of_a_failing_app(gowsgi, tmp_path):
    server, out = hooked(gowsgi, tmp_path)
    assert requests.get(server.url + "/fail", timeout=10).status_code == 500
    post = wait_event(out, "post_request", path="/fail")
    assert post["status"] == "500 Internal Server Error" and post["status_code"] == 500


def test_raising_hooks_are_logged_and_the_worker_serves_on(gowsgi, tmp_path):
    server, out = hooked(gowsgi, tmp_path, "-w", "1", raising=("post_worker_init", "pre_request", "post_request"))
    pids = {requests.get(server.url + f"/{i}", timeout=10).text for i in range(3)}
    assert len(pids) == 1, "the worker was replaced"
    assert len(events(out, "post_request")) == 3
    log = server.wait_log("Exception in post_request hook")
    for event in ("post_worker_init", "pre_request", "post_request"):
        assert f"[ERROR] Exception in {event} hook\nTraceback (most recent call last):" in log
        assert f"RuntimeError: {event} failed on purpose" in log
    assert "hooks_module.py" in log


def test_worker_int_then_worker_exit_on_sigint(gowsgi, tmp_path):
    server, out = hooked(gowsgi, tmp_path, "-w", "1")
    [worker] = server.wait_workers(1)
    wait_event(out, "post_worker_init", pid=worker)
    os.kill(worker, signal.SIGINT)
    assert wait_event(out, "worker_int", pid=worker)["alive"] is False
    wait_event(out, "worker_exit", pid=worker)
    replacement = wait_event(out, "post_worker_init", age=2)
    assert replacement["pid"] != worker


def test_worker_abort_then_worker_exit_on_sigabrt(gowsgi, tmp_path):
    server, out = hooked(gowsgi, tmp_path, "-w", "1")
    [worker] = server.wait_workers(1)
    wait_event(out, "post_worker_init", pid=worker)
    os.kill(worker, signal.SIGABRT)
    assert wait_event(out, "worker_abort", pid=worker)["aborted"] is True
    wait_event(out, "worker_exit", pid=worker)
    log = server.wait_log(f"Worker (pid:{worker}) exited with code 1")
    assert f"Worker (pid {worker}) aborting on SIGABRT" in log
    # SIGABRT from outside is a request to abort, not a crash: no crash report.
    assert "Fatal Python error" not in log and "goroutine" not in log


@pytest.mark.parametrize("worker_class", [["-k", "sync"], ["-k", "gevent"]], ids=["sync", "gevent"])
def test_timed_out_worker_runs_worker_abort_before_it_goes(gowsgi, tmp_path, worker_class):
    server, out = hooked(gowsgi, tmp_path, "-w", "1", *worker_class, "--timeout", "2")
    [worker] = server.wait_workers(1)
    wait_event(out, "post_worker_init", pid=worker)
    # The request ends with its worker, or with a 503 when the signal cuts the C call short.
    try:
        assert requests.get(server.url + "/in-c", timeout=30).status_code == 503
    except requests.ConnectionError:
        pass
    wait_event(out, "worker_abort", pid=worker)
    wait_event(out, "worker_exit", pid=worker)
    log = server.wait_log(f"Worker 1 (pid {worker}) timed out after")
    assert "killing it" not in log
    assert wait_for(lambda: not alive(worker), 5)
    assert requests.get(server.url + "/", timeout=10).status_code == 201


@pytest.mark.parametrize("module,kind", [("no_such_hooks", "module not found"), ("broken_import", "import raised")])
def test_unimportable_hooks_module_stops_the_server(module, kind):
    result = run_gowsgi("-b", f"127.0.0.1:{free_port()}", "--hooks", module, APP, env={"HOOKS_OUT": "/dev/null"})
    assert result.returncode == 4, result.stderr
    assert f'Failed to load hooks module "{module}": {kind}:' in result.stderr
    assert "Traceback (most recent call last):" in result.stderr


@pytest.mark.parametrize("value,reason", [("my-hooks", "expected a Python module name such as mypkg.hooks"),
                                          ("conf/hooks.py", "expected a Python module name such as mypkg.hooks"),
                                          ("hooks.py", "name the module, not its file: hooks")])
def test_bad_hooks_value_exits_2_with_one_line(value, reason):
    result = run_gowsgi("--hooks", value, APP)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f'gowsgi: error: invalid value "{value}" for --hooks: {reason}']


def test_hook_function_in_the_config_file_points_to_the_hooks_module(tmp_path):
    (tmp_path / "gowsgi.yaml").write_text("workers: 2\npre_request: log_it\n")
    result = run_gowsgi(APP, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        'gowsgi: error: gowsgi.yaml:2: setting "pre_request" is a hook function: define it in a Python config file '
        '(gunicorn.conf.py) or in the module named by "hooks"']


SHELL_HOOK = 'echo "$GOWSGI_HOOK master=$GOWSGI_MASTER_PID n=$GOWSGI_NUM_WORKERS old=$GOWSGI_OLD_NUM_WORKERS ' \
             'pid=$GOWSGI_WORKER_PID age=$GOWSGI_WORKER_AGE code=$GOWSGI_WORKER_EXIT_CODE ' \
             'sig=$GOWSGI_WORKER_SIGNAL exit=$GOWSGI_EXIT_CODE binds=$GOWSGI_BINDS" >> {out}'


def test_master_events_run_shell_commands_with_their_details(gowsgi, tmp_path):
    out = tmp_path / "master.log"
    hook = SHELL_HOOK.format(out=out)
    port = free_port()
    config = tmp_path / "gowsgi.yaml"
    config.write_text("\n".join(f"{key}: {json.dumps(hook)}" for key in
                                ("on_starting", "when_ready", "on_reload", "child_exit", "nworkers_changed", "on_exit")))
    server = gowsgi(APP, "-c", config, "--chdir", APPS, port=port, cwd=tmp_path)
    master = server.pid
    lines = lambda: out.read_text().splitlines() if out.exists() else []
    has = lambda prefix: wait_for(lambda: [l for l in lines() if l.startswith(prefix)], 10)

    assert has(f"on_starting master={master} n=1 old= pid= age= code= sig= exit= binds=127.0.0.1:{port}")
    assert has(f"when_ready master={master} n=1 old= pid= age= code= sig= exit= binds=127.0.0.1:{port}")
    [first] = server.wait_workers(1)

    server.signal(signal.SIGTTIN)
    assert has(f"nworkers_changed master={master} n=2 old=1 ")
    server.wait_workers(2)

    os.kill(first, signal.SIGKILL)
    assert has(f"child_exit master={master} n=2 old= pid={first} age=1 code= sig=SIGKILL")
    # HUP reads the settings again, so the number of workers is the configured one again.
    server.signal(signal.SIGHUP)
    assert has(f"on_reload master={master} ")
    assert has(f"nworkers_changed master={master} n=1 old=2 ")
    # The worker the stop ends must have booted: one still importing the app dies of the TERM.
    assert requests.get(server.url + "/", timeout=15).status_code == 201

    server.stop()
    assert server.proc.returncode == 0
    assert has(f"on_exit master={master} n=1 old= pid= age= code= sig= exit=0 ")
    # The hooks' commands run beside the master: the one for the worker's exit may end after on_exit's.
    assert wait_for(lambda: [l for l in lines() if l.startswith("child_exit") and "code=0" in l], 10), \
        "no child_exit for the stop"
    assert sum(l.startswith("when_ready") for l in lines()) == 1


def test_failing_master_hook_is_logged_and_changes_nothing(gowsgi, tmp_path):
    server = gowsgi(APP, "--when-ready", "echo not well >&2; exit 3", "--on-reload", "kill -9 $$")
    server.wait_log('[ERROR] The when_ready hook "echo not well >&2; exit 3" exited with code 3')
    assert "not well" in server.log()
    server.signal(signal.SIGHUP)
    server.wait_log('[ERROR] The on_reload hook "kill -9 $$" was killed by signal SIGKILL')
    assert requests.get(server.url + "/", timeout=10).status_code == 201

