"""gunicorn's Python config files (./gunicorn.conf.py, -c FILE.py, -c python:MODULE,
--config=file:PATH), their hooks, GUNICORN_CMD_ARGS, and gunicorn's command-line habits."""

import json
import multiprocessing
import os
import re
import signal
import socket
import textwrap
import time

import pytest
import requests

from support import alive, free_port, print_config, run_gowsgi, wait_for

# The app shows what a deployment's settings change: the environment the workers got (raw_env),
# the client address (proxy_protocol) and the worker that answered.
SITE_APP = '''
import json
import os


def app(environ, start_response):
    body = json.dumps({"greeting": os.environ.get("GREETING"), "remote": environ["REMOTE_ADDR"],
                       "pid": os.getpid(), "script_name": environ.get("SCRIPT_NAME", "")}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
'''

# A gunicorn.conf.py as deployments write them: computed from the environment and the machine,
# with hooks that log through server.log and worker.log.
PRODUCTION_CONF = '''
import multiprocessing
import os

bind = "127.0.0.1:" + os.environ["SITE_PORT"]
workers = multiprocessing.cpu_count() * 2 + 1
wsgi_app = "site_app:app"
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s conf-format'
raw_env = ["GREETING=" + os.environ.get("SITE_GREETING", "none")]
proxy_protocol = "v1"
timeout = 120
keepalive = 5
pidfile = None


def on_starting(server):
    server.log.info("on_starting: %d workers wanted, app %s", server.num_workers, server.cfg.wsgi_app)


def when_ready(server):
    server.log.info("Server is ready. Spawning workers")


def pre_fork(server, worker):
    server.log.info("pre_fork: worker %d", worker.age)


def post_fork(server, worker):
    server.log.info("Worker spawned (pid: %s)", worker.pid)


def post_worker_init(worker):
    worker.log.info("post_worker_init: timeout %s", worker.cfg.timeout)


def worker_int(worker):
    worker.log.info("worker received INT or QUIT signal")


def child_exit(server, worker):
    server.log.info("child_exit: %s", worker.pid)


def worker_exit(server, worker):
    server.log.info("worker_exit: %s", worker.pid)


def on_exit(server):
    server.log.info("on_exit: bye")
'''


@pytest.fixture
def site(tmp_path):
    (tmp_path / "site_app.py").write_text(SITE_APP)
    return tmp_path


def serve(gowsgi, site, port, *args, env=None):
    return gowsgi(None, *args, bind=False, port=port, cwd=site, env=env)


def get_json(url):
    response = requests.get(url, timeout=15)
    assert response.status_code == 200, response.text
    return response.json()


def non_hook_children(server):
    """The master's children without its hook process, whose title says hooks."""
    pids = []
    for pid in server.workers():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if not f.read().startswith(b"gowsgi: hooks"):
                    pids.append(pid)
        except OSError:
            pass
    return pids


def proxied_request(port, client):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"PROXY TCP4 {client} 127.0.0.1 5000 {port}\r\n".encode()
                  + b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200") or head.startswith(b"HTTP/1.1 200"), data
    return json.loads(body)


def test_gunicorn_conf_py_in_the_directory_is_read_and_every_setting_takes_effect(gowsgi, site):
    port = free_port()
    (site / "gunicorn.conf.py").write_text(PRODUCTION_CONF)
    server = serve(gowsgi, site, port, env={"SITE_PORT": str(port), "SITE_GREETING": "hello"})
    wanted = multiprocessing.cpu_count() * 2 + 1
    pids = wait_for(lambda: (lambda p: p if len(p) == wanted else None)(non_hook_children(server)), 20)
    assert pids, server.describe()
    reply = proxied_request(port, "203.0.113.7")
    assert reply["greeting"] == "hello" and reply["remote"] == "203.0.113.7"
    log = server.wait_log("Server is ready. Spawning workers")
    assert f"on_starting: {wanted} workers wanted, app site_app:app" in log
    for pid in pids:
        server.wait_log(f"Worker spawned (pid: {pid})")
    assert "post_worker_init: timeout 120" in log
    assert "pre_fork: worker 1" in log
    assert wait_for(lambda: "conf-format" in server.stdout() and "GET / HTTP/1.0" in server.stdout(), 5), server.stdout()
    server.stop()
    log = server.log()
    assert "on_exit: bye" in log and "worker_exit: " in log and "child_exit: " in log
    assert f"[{pids[0]}] [INFO] Worker exiting (pid: {pids[0]})" in log


def test_config_file_given_with_c_file_prefix_and_python_module(gowsgi, site):
    port = free_port()
    conf = f'bind = "127.0.0.1:{port}"\nworkers = 2\nwsgi_app = "site_app:app"\nraw_env = ["GREETING=from-c"]\n'
    (site / "conf").mkdir()
    (site / "conf" / "prod.py").write_text(conf)
    server = serve(gowsgi, site, port, "-c", "conf/prod.py")
    assert len(server.wait_workers(2)) == 2
    assert get_json(server.url)["greeting"] == "from-c"
    server.stop()

    # No extension: gunicorn runs any config file as Python.
    (site / "conf" / "prod.conf").write_text(conf.replace("from-c", "from-file-prefix"))
    server = serve(gowsgi, site, port, "--config=file:conf/prod.conf")
    assert get_json(server.url)["greeting"] == "from-file-prefix"
    server.stop()

    (site / "settings").mkdir()
    (site / "settings" / "__init__.py").write_text("")
    (site / "settings" / "gconf.py").write_text(conf.replace("from-c", "from-module"))
    server = serve(gowsgi, site, port, "-c", "python:settings.gconf")
    assert get_json(server.url)["greeting"] == "from-module"


def test_precedence_file_then_gunicorn_cmd_args_then_gowsgi_cmd_args_then_command_line(site):
    (site / "gunicorn.conf.py").write_text(
        "wsgi_app = 'site_app:app'\nworkers = 2\ntimeout = 10\nthreads = 3\nbacklog = 64\ngraceful_timeout = 5\n")
    env = {"GUNICORN_CMD_ARGS": "--timeout 20 --threads 4 --backlog 128",
           "GOWSGI_CMD_ARGS": "--threads 5 --backlog 256"}
    settings, _ = print_config(site, "--backlog", "512", env=env)
    assert settings["config"] == (f"{site}/gunicorn.conf.py (Python)", "default")
    assert settings["workers"] == ("2", "gunicorn.conf.py:2")
    assert settings["graceful_timeout"] == ("5", "gunicorn.conf.py:6")
    assert settings["timeout"] == ("20", "GUNICORN_CMD_ARGS")
    assert settings["threads"] == ("5", "GOWSGI_CMD_ARGS")
    assert settings["backlog"] == ("512", "command line")
    assert settings["wsgi_app"] == ("site_app:app", "gunicorn.conf.py:1")


def test_print_config_shows_hooks_and_warns_of_a_misspelt_setting(site):
    (site / "gunicorn.conf.py").write_text(
        "import os\nworker = 4\nSTATIC_ROOT = '/srv'\n\n\ndef when_ready(server):\n    pass\n")
    settings, stderr = print_config(site, "site_app:app")
    assert settings["when_ready"] == ("<Python function when_ready>", "gunicorn.conf.py:6")
    assert "gunicorn.conf.py:2: worker is not a setting and is ignored (did you mean workers?)" in stderr
    assert "STATIC_ROOT" not in stderr


BAD_PYTHON_FILES = {
    "raises": ("workers = 2\nthreads = 1 / 0\n", "gunicorn.conf.py:2: ZeroDivisionError: division by zero"),
    "syntax": ("workers = 2\nthreads = (\n", "gunicorn.conf.py:2: SyntaxError: "),
    "missing import": ("import not_installed_anywhere\n",
                       "gunicorn.conf.py:1: ModuleNotFoundError: No module named 'not_installed_anywhere'"),
    "bad value": ("workers = 'many'\n", 'gunicorn.conf.py:1: invalid value "many" for workers: not a number'),
    "function for a value": ("def workers():\n    return 2\n",
                             'gunicorn.conf.py:1: setting "workers" must be a value, not a function or class'),
    "hook arity": ("def post_fork(server):\n    pass\n",
                   'gunicorn.conf.py:1: hook "post_fork" must take 2 positional parameters, not 1'),
    "hook that is no function": ("on_starting = 'echo hi'\n",
                                 'gunicorn.conf.py:1: hook "on_starting" must be a function, or the import string of one'),
    "ASGI worker class": ("worker_class = 'uvicorn.workers.UvicornWorker'\n",
                          'gunicorn.conf.py:1: invalid value "uvicorn.workers.UvicornWorker" for worker_class: '
                          'an ASGI worker class, which gowsgi does not support'),
}


@pytest.mark.parametrize("name", BAD_PYTHON_FILES)
def test_bad_python_config_exits_2_with_one_line_naming_file_and_line(site, name):
    text, message = BAD_PYTHON_FILES[name]
    (site / "gunicorn.conf.py").write_text(text)
    result = run_gowsgi("site_app:app", cwd=site, timeout=20)
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gowsgi: error: " + message), result.stderr


def test_hup_reads_the_python_file_again_and_its_new_hooks_run(gowsgi, site):
    port = free_port()
    conf = textwrap.dedent(f'''
        bind = "127.0.0.1:{port}"
        wsgi_app = "site_app:app"
        workers = 1
        raw_env = ["GREETING=first"]

        def on_reload(server):
            server.log.info("on_reload: version %s", VERSION)

        VERSION = 1
        ''')
    (site / "gunicorn.conf.py").write_text(conf)
    server = serve(gowsgi, site, port)
    assert get_json(server.url)["greeting"] == "first"
    (site / "gunicorn.conf.py").write_text(
        conf.replace("workers = 1", "workers = 2").replace("first", "second").replace("VERSION = 1", "VERSION = 2"))
    server.signal(signal.SIGHUP)
    log = server.wait_log("on_reload: version 2")
    assert "Reload: workers = 2 (was 1)" in log
    assert wait_for(lambda: get_json(server.url)["greeting"] == "second", 10), server.describe()


def test_a_raising_hook_is_logged_with_its_traceback_and_serving_goes_on(gowsgi, site):
    port = free_port()
    (site / "gunicorn.conf.py").write_text(textwrap.dedent(f'''
        bind = "127.0.0.1:{port}"
        wsgi_app = "site_app:app"

        def when_ready(server):
            raise RuntimeError("when_ready broke")

        def pre_request(worker, req):
            if req.path == "/boom":
                raise ValueError("pre_request broke")
        '''))
    server = serve(gowsgi, site, port)
    log = server.wait_log("RuntimeError: when_ready broke")
    assert "Traceback (most recent call last)" in log and "in when_ready" in log
    assert requests.get(server.url + "/boom", timeout=10).status_code == 200
    server.wait_log("ValueError: pre_request broke")
    assert get_json(server.url)["greeting"] is None


def test_nworkers_changed_and_child_exit_see_the_master(gowsgi, site):
    port = free_port()
    (site / "gunicorn.conf.py").write_text(textwrap.dedent(f'''
        bind = "127.0.0.1:{port}"
        wsgi_app = "site_app:app"
        workers = 1

        def nworkers_changed(server, new_value, old_value):
            server.log.info("nworkers_changed %s -> %s, %d running", old_value, new_value, len(server.WORKERS))

        def child_exit(server, worker):
            server.log.info("child_exit pid=%s age=%s", worker.pid, worker.age)
        '''))
    server = serve(gowsgi, site, port)
    # The port accepts as soon as the master listens, before its first worker may exist.
    (first,) = wait_for(lambda: non_hook_children(server), 10)
    server.signal(signal.SIGTTIN)
    server.wait_log("nworkers_changed 1 -> 2, 1 running")
    server.signal(signal.SIGTTOU)
    server.wait_log("nworkers_changed 2 -> 1")
    server.wait_log(f"child_exit pid={first} age=1")


def test_the_hook_process_runs_only_for_master_hooks(gowsgi, site):
    port = free_port()
    (site / "gunicorn.conf.py").write_text(
        f'bind = "127.0.0.1:{port}"\nwsgi_app = "site_app:app"\nworkers = 2\nstatsd_host = "localhost:8125"\n\n'
        "def post_worker_init(worker):\n"
        "    cfg = worker.cfg\n"
        "    worker.log.info('worker %s up: %r %r %r', worker.age, cfg.statsd_host, cfg.worker_tmp_dir, cfg.spew)\n")
    server = serve(gowsgi, site, port)
    assert len(server.wait_workers(2)) == 2
    # Every setting is on worker.cfg, those gowsgi makes no use of too.
    server.wait_log("worker 1 up: 'localhost:8125' None False")
    time.sleep(0.3)
    assert len(server.workers()) == 2


def test_gunicorn_command_line_habits(gowsgi, site):
    port = free_port()
    server = serve(gowsgi, site, port, "site_app:app", "stray", "-b", f"127.0.0.1:{port}", "--thread=2",
                   "--worker-tmp-dir", "/dev/shm", "--preload")
    assert requests.get(server.url, timeout=10).status_code == 200
    log = server.log()
    assert "ignoring extra arguments after APP_MODULE site_app:app: stray" in log
    assert "worker_tmp_dir has no effect in gowsgi: workers report to the master through shared memory" in log
    assert "Using worker: gthread" in log


@pytest.mark.parametrize("args", [["-k", "uvicorn.workers.UvicornWorker"], ["--asgi-lifespan", "on"],
                                  ["--dirty-app", "x:y"], ["--http-parser", "fast"]])
def test_asgi_and_dirty_settings_exit_2_with_one_line(site, args):
    result = run_gowsgi(*args, "site_app:app", cwd=site, timeout=10)
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "gowsgi does not support" in lines[0] and "WSGI apps only" in lines[0], result.stderr


def test_gunicorn_cmd_args_alone_is_honoured(gowsgi, site):
    port = free_port()
    server = serve(gowsgi, site, port, env={"GUNICORN_CMD_ARGS": f"--bind=127.0.0.1:{port} --workers=2 site_app:app"})
    assert len(server.wait_workers(2)) == 2
    assert get_json(server.url)["remote"] == "127.0.0.1"


def test_root_path_mounts_the_app(gowsgi, site):
    port = free_port()
    server = serve(gowsgi, site, port, "site_app:app", "-b", f"127.0.0.1:{port}", "--root-path", "/api")
    assert get_json(server.url + "/api/x")["script_name"] == "/api"


def test_hup_with_a_broken_python_file_keeps_the_running_settings(gowsgi, site):
    port = free_port()
    conf = f'bind = "127.0.0.1:{port}"\nwsgi_app = "site_app:app"\nraw_env = ["GREETING=kept"]\n'
    (site / "gunicorn.conf.py").write_text(conf)
    server = serve(gowsgi, site, port)
    (site / "gunicorn.conf.py").write_text(conf + "workers = undefined_name\n")
    server.signal(signal.SIGHUP)
    server.wait_log("gunicorn.conf.py:4: NameError: name 'undefined_name' is not defined")
    assert get_json(server.url)["greeting"] == "kept"


def test_the_master_waits_for_a_slow_hook_as_gunicorn_does(gowsgi, site):
    """A migration in on_starting may take a while: the master waits, saying so, then serves."""
    port = free_port()
    (site / "gunicorn.conf.py").write_text(textwrap.dedent(f'''
        import time
        bind = "127.0.0.1:{port}"
        wsgi_app = "site_app:app"

        def on_starting(server):
            time.sleep(11)
            server.log.info("migrations done")
        '''))
    server = gowsgi(None, bind=False, port=port, cwd=site, wait=False)
    server.wait_log("Still waiting for the on_starting hook after 10s", timeout=20)
    server.wait_log("migrations done", timeout=10)
    server.wait_ready()
    assert requests.get(server.url, timeout=10).status_code == 200


def test_check_config_runs_the_python_file_and_loads_the_app(site):
    (site / "gunicorn.conf.py").write_text("wsgi_app = 'site_app:app'\nworkers = 3\n")
    result = run_gowsgi("--check-config", cwd=site, timeout=30)
    assert result.returncode == 0, result
    (site / "gunicorn.conf.py").write_text("wsgi_app = 'missing_module:app'\n")
    result = run_gowsgi("--check-config", cwd=site, timeout=30)
    assert result.returncode == 4 and "missing_module" in result.stderr, result


def test_a_thread_started_in_when_ready_sees_the_workers_and_can_signal_them(gowsgi, site):
    """The pattern of gunicorn's memory watchers: a thread of when_ready that kills a worker
    through server.kill_worker and watches server.WORKERS."""
    port = free_port()
    (site / "gunicorn.conf.py").write_text(textwrap.dedent(f'''
        import signal
        import threading
        import time

        bind = "127.0.0.1:{port}"
        wsgi_app = "site_app:app"
        workers = 2

        def watch(server):
            # when_ready runs before the workers start, as in gunicorn.
            while len(server.WORKERS) < 2:
                time.sleep(0.05)
            victim = min(server.WORKERS)
            server.kill_worker(victim, signal.SIGTERM)
            while victim in server.WORKERS:
                time.sleep(0.05)
            server.log.info("watcher: %d replaced, timeout %d", victim, server.timeout)

        def when_ready(server):
            threading.Thread(target=watch, args=(server,), daemon=True).start()

        def child_exit(server, worker):
            pass
        '''))
    server = serve(gowsgi, site, port)
    log = server.wait_log("watcher: ")
    assert ", timeout 30" in log
    assert wait_for(lambda: len(non_hook_children(server)) == 2, 10), server.describe()


def test_pre_exec_runs_before_usr2_starts_a_new_master(gowsgi, site):
    port = free_port()
    (site / "gunicorn.conf.py").write_text(textwrap.dedent(f'''
        bind = "127.0.0.1:{port}"
        wsgi_app = "site_app:app"

        def pre_exec(server):
            server.log.info("pre_exec in %d", server.pid)
        '''))
    server = serve(gowsgi, site, port)
    server.signal(signal.SIGUSR2)
    log = server.wait_log("Started new master with pid: ")
    new_master = int(re.search(r"Started new master with pid: (\d+)", log).group(1))
    try:
        assert f"pre_exec in {server.pid}" in log
        assert log.index("pre_exec in") < log.index("Started new master")
    finally:
        os.kill(new_master, signal.SIGTERM)
    assert wait_for(lambda: not alive(new_master), 15)


def test_the_environment_the_file_and_master_hooks_set_reaches_the_workers(gowsgi, site):
    """As in gunicorn, whose workers fork from the master that ran the file and its hooks."""
    port = free_port()
    (site / "env_app.py").write_text(textwrap.dedent('''
        import json, os
        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "application/json")])
            names = ("FROM_FILE", "MULTIPROC_DIR", "FROM_ON_STARTING", "FROM_PRE_FORK")
            return [json.dumps({n: os.environ.get(n) for n in names}).encode()]
        '''))
    (site / "gunicorn.conf.py").write_text(textwrap.dedent(f'''
        import os, tempfile
        bind = "127.0.0.1:{port}"
        wsgi_app = "env_app:app"
        os.environ["FROM_FILE"] = "file"
        os.environ.setdefault("MULTIPROC_DIR", tempfile.mkdtemp())

        def on_starting(server):
            os.environ["FROM_ON_STARTING"] = "yes"

        def pre_fork(server, worker):
            os.environ["FROM_PRE_FORK"] = "age-%d" % worker.age

        def post_fork(server, worker):
            server.log.info("post_fork sees %s", os.environ["MULTIPROC_DIR"])
        '''))
    server = serve(gowsgi, site, port)
    env = get_json(server.url)
    assert env["FROM_FILE"] == "file" and env["FROM_ON_STARTING"] == "yes" and env["FROM_PRE_FORK"] == "age-1"
    # The file runs again in the worker for its hook; setdefault keeps the master's directory.
    server.wait_log(f"post_fork sees {env['MULTIPROC_DIR']}")


def test_hup_reloads_master_hooks_in_place_so_what_they_started_keeps_running(gowsgi, site):
    port, metrics = free_port(), free_port()
    conf = textwrap.dedent(f'''
        import http.server, threading
        bind = "127.0.0.1:{port}"
        wsgi_app = "site_app:app"

        class Metrics(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"metrics")

        def when_ready(server):
            httpd = http.server.HTTPServer(("127.0.0.1", {metrics}), Metrics)
            threading.Thread(target=httpd.serve_forever, daemon=True).start()
            server.log.info("metrics server up")

        def on_reload(server):
            server.log.info("on_reload: %s", MESSAGE)

        MESSAGE = "first"
        ''')
    (site / "gunicorn.conf.py").write_text(conf)
    server = serve(gowsgi, site, port)
    server.wait_log("metrics server up")
    assert requests.get(f"http://127.0.0.1:{metrics}/", timeout=10).text == "metrics"
    (site / "gunicorn.conf.py").write_text(conf.replace('MESSAGE = "first"', 'MESSAGE = "second"'))
    server.signal(signal.SIGHUP)
    server.wait_log("on_reload: second")
    assert requests.get(f"http://127.0.0.1:{metrics}/", timeout=10).text == "metrics"


def test_systemd_is_told_the_master_is_ready(gowsgi, site, tmp_path):
    port = free_port()
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(15)
    try:
        serve(gowsgi, site, port, "site_app:app", "-b", f"127.0.0.1:{port}",
              env={"NOTIFY_SOCKET": str(tmp_path / "notify.sock")})
        assert notify.recv(4096).decode().splitlines()[0] == "READY=1"
    finally:
        notify.close()


def test_hook_logging_takes_what_the_logging_module_takes(gowsgi, site):
    port = free_port()
    (site / "gunicorn.conf.py").write_text(textwrap.dedent(f'''
        bind = "127.0.0.1:{port}"
        wsgi_app = "site_app:app"

        def when_ready(server):
            server.log.info("mapping %(a)s", {{"a": 1}})
            server.log.info("too few %s %s", "one")
            server.log.info("the hook goes on")
        '''))
    server = serve(gowsgi, site, port)
    log = server.wait_log("the hook goes on")
    assert "mapping 1" in log and "--- Logging error" in log
