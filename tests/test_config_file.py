"""The YAML config file (-c/--config, ./gowsgi.yaml), GOWSGI_CMD_ARGS, and the order in which
defaults, the file, GOWSGI_CMD_ARGS and the command line override one another."""

import pytest
import requests

from support import free_port, port_accepts, run_gowsgi

# An app that answers with its worker's view of the environment, to show what a worker inherits.
ENV_APP = '''
import os

LABEL = ""


def app(environ, start_response):
    body = (LABEL + repr(sorted(k for k in os.environ if k.startswith("GOWSGI")))).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
'''


@pytest.fixture
def site(tmp_path):
    """A directory holding the app envapp.py, where the tests write config files and start gowsgi."""
    (tmp_path / "envapp.py").write_text(ENV_APP)
    return tmp_path


def get_text(url):
    response = requests.get(url, timeout=15)
    assert response.status_code == 200
    return response.text


def test_default_file_names_the_app_binds_and_workers(gowsgi, site):
    port = free_port()
    (site / "gowsgi.yaml").write_text(f'wsgi_app: "envapp:app"\nbind: "127.0.0.1:{port}"\nworkers: 2\n')
    server = gowsgi(None, bind=False, port=port, cwd=site)
    assert len(server.wait_workers(2)) == 2
    # Workers parse the same settings (they would find no app otherwise), and the app does not
    # see how the master told them which file to read.
    assert get_text(server.url) == "[]"


def test_relative_config_path_and_list_of_binds(gowsgi, site):
    first, second = free_port(), free_port()
    (site / "conf").mkdir()
    (site / "conf" / "site.yaml").write_text(
        f"bind:\n  - 127.0.0.1:{first}\n  - 127.0.0.1:{second}\nworker_class: gthread\nthreads: 2\n")
    server = gowsgi("envapp:app", "-c", "conf/site.yaml", bind=False, port=first, cwd=site)
    assert get_text(server.url) == "[]"
    assert get_text(f"http://127.0.0.1:{second}/") == "[]"


def test_each_source_overrides_the_one_before(gowsgi, site):
    file_port, env_port = free_port(), free_port()
    (site / "gowsgi.yaml").write_text(f"workers: 4\nthreads: 2\nbind: 127.0.0.1:{file_port}\nwsgi_app: envapp:app\n")
    env = {"WEB_CONCURRENCY": "5", "PORT": str(free_port()), "GOWSGI_CMD_ARGS": f"-w 3 -b 127.0.0.1:{env_port}"}

    by_env = gowsgi(None, bind=False, port=env_port, cwd=site, env=env)
    assert len(by_env.wait_workers(3)) == 3
    # A source that binds replaces the binds of the sources before it.
    assert not port_accepts("127.0.0.1", file_port)
    by_env.stop()

    by_command_line = gowsgi(None, "-w", "2", bind=False, port=env_port, cwd=site, env=env)
    assert len(by_command_line.wait_workers(2)) == 2
    by_command_line.stop()

    # WEB_CONCURRENCY and PORT are defaults: the file beats them.
    by_file = gowsgi(None, bind=False, port=file_port, cwd=site, env={"WEB_CONCURRENCY": "5", "PORT": str(env_port)})
    assert len(by_file.wait_workers(4)) == 4
    assert not port_accepts("127.0.0.1", env_port)


def test_app_on_the_command_line_beats_wsgi_app(gowsgi, site):
    (site / "gowsgi.yaml").write_text("wsgi_app: no_such_module:app\n")
    (site / "other.py").write_text(ENV_APP.replace('LABEL = ""', 'LABEL = "other"'))
    server = gowsgi("other:app", cwd=site)
    assert get_text(server.url) == "other[]"


def test_cmd_args_are_split_like_a_shell_would(gowsgi, site):
    spaced = site / "my apps"
    spaced.mkdir()
    (spaced / "envapp.py").write_text(ENV_APP.replace('LABEL = ""', 'LABEL = "spaced"'))
    server = gowsgi("envapp:app", cwd=site, env={"GOWSGI_CMD_ARGS": f"--chdir \"{spaced}\" --name 'a site'"})
    assert get_text(server.url) == "spaced['GOWSGI_CMD_ARGS']"


BAD_FILES = {
    "typo": ("workers: 2\nwokers: 3\n",
             'gowsgi.yaml:2: unknown setting "wokers" (did you mean "workers"?)'),
    "typo with underscores": ("max_request: 3\n",
                              'gowsgi.yaml:1: unknown setting "max_request" (did you mean "max_requests"?)'),
    "wrong type": ("threads: 2\nreuse_port: maybe\n",
                   'gowsgi.yaml:2: setting "reuse_port" must be true or false'),
    "list for a single value": ("workers: [1, 2]\n",
                                'gowsgi.yaml:1: setting "workers" must be a single value, not a list or mapping'),
    "bad number": ("\nworkers: many\n", 'gowsgi.yaml:2: invalid value "many" for workers: not a number'),
    "bad choice": ("worker_class: eventlet\n",
                   'gowsgi.yaml:1: invalid value "eventlet" for worker_class: choose sync, gthread or gevent'),
    "ASGI setting": ("asgi_loop: uvloop\n",
                     'gowsgi.yaml:1: asgi_loop is a gunicorn setting for ASGI, which gowsgi does not support'),
    "bad app": ("wsgi_app: 'envapp:'\n", 'gowsgi.yaml:1: wsgi_app: invalid APP_MODULE "envapp:"'),
    "yaml syntax": ("workers: 2\n  threads: : 3\n", "gowsgi.yaml:2: "),
}


@pytest.mark.parametrize("name", BAD_FILES)
def test_bad_config_file_exits_2_naming_file_line_and_key(site, name):
    text, message = BAD_FILES[name]
    (site / "gowsgi.yaml").write_text(text)
    result = run_gowsgi("envapp:app", cwd=site, timeout=10)
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gowsgi: error: " + message), result.stderr


def test_missing_config_file_and_bad_cmd_args_exit_2(site):
    result = run_gowsgi("-c", "absent.yaml", "envapp:app", cwd=site, timeout=10)
    assert result.returncode == 2 and "absent.yaml" in result.stderr, result
    result = run_gowsgi("envapp:app", cwd=site, env={"GOWSGI_CMD_ARGS": '--name "unfinished'}, timeout=10)
    assert result.returncode == 2 and result.stderr.startswith("gowsgi: error: GOWSGI_CMD_ARGS: "), result
