"""Every setting of gunicorn 26.1 (tests/data/gunicorn_settings.txt, taken from its config.py)
is accepted: its flags are in --help (or refused with one clear line, for ASGI and dirty
arbiters), and a Python config file may set it."""

import re
import textwrap
from pathlib import Path

import pytest

from support import run_gowsgi

DATA = Path(__file__).resolve().parent / "data" / "gunicorn_settings.txt"

# gunicorn's settings for ASGI apps and its dirty arbiters, which a WSGI server refuses.
REFUSED = {"asgi_loop", "asgi_lifespan", "asgi_disconnect_grace_period", "http_parser", "dirty_apps",
           "dirty_workers", "dirty_timeout", "dirty_threads", "dirty_graceful_timeout"}
# Hooks are functions of a config file; the dirty arbiters' are accepted and never called.
HOOKS = {"on_starting", "on_reload", "when_ready", "pre_fork", "post_fork", "post_worker_init", "worker_int",
         "worker_abort", "pre_exec", "pre_request", "post_request", "child_exit", "worker_exit",
         "nworkers_changed", "on_exit", "ssl_context"}
DIRTY_HOOKS = {"on_dirty_starting", "dirty_post_fork", "dirty_worker_init", "dirty_worker_exit"}
# Settings that ask for something rather than set it, so --print-config does not list them.
ACTIONS = {"check_config", "print_config"}


def gunicorn_settings():
    settings = {}
    for line in DATA.read_text().splitlines():
        if line and not line.startswith("#"):
            name, *flags = line.split()
            settings[name] = flags
    return settings


def test_the_list_is_gunicorn_26_1s():
    assert len(gunicorn_settings()) == 119


def help_flags():
    result = run_gowsgi("--help", timeout=10)
    assert result.returncode == 0, result
    return set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", result.stdout))


def test_every_gunicorn_flag_is_in_help_or_refused_in_one_line():
    shown = help_flags()
    for name, flags in gunicorn_settings().items():
        for flag in flags:
            if name in REFUSED:
                assert flag not in shown, flag
                result = run_gowsgi(flag, "1", "app:app", timeout=10)
                lines = result.stderr.strip().splitlines()
                assert result.returncode == 2 and len(lines) == 1, (flag, result)
                assert "gowsgi does not support" in lines[0], lines
            else:
                assert flag in shown, f"{flag} ({name}) is missing from gowsgi --help"


def test_every_gunicorn_setting_is_accepted_in_a_python_config_file(tmp_path):
    settings = gunicorn_settings()
    hooks = "".join(f"def {name}(*args):\n    pass\n\n" for name in sorted(HOOKS | DIRTY_HOOKS))
    (tmp_path / "gunicorn.conf.py").write_text("wsgi_app = 'app:app'\n\n" + hooks)
    result = run_gowsgi("--print-config", cwd=tmp_path, timeout=20)
    assert result.returncode == 0, result
    keys = {line.split(" = ", 1)[0].strip() for line in result.stdout.splitlines()}
    for name in settings:
        if name in REFUSED or name in ACTIONS or name in DIRTY_HOOKS:
            continue
        assert name in keys, f"{name} is not in --print-config"
    for name in HOOKS - {"ssl_context"}:
        assert f"{name} = <Python function {name}>" in re.sub(r" +", " ", result.stdout), name
    for name in DIRTY_HOOKS:
        assert f"{name} is a hook of gunicorn's dirty arbiters" in result.stderr, result.stderr
    assert "ssl_context hook is never called" in result.stderr


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_settings_in_a_config_file_name_the_line(tmp_path, name):
    value = "['a:b']" if name == "dirty_apps" else "'x'"
    (tmp_path / "gunicorn.conf.py").write_text(textwrap.dedent(f"""
        wsgi_app = 'app:app'
        {name} = {value}
        """))
    result = run_gowsgi(cwd=tmp_path, timeout=20)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result
    assert lines[0].startswith(f"gowsgi: error: gunicorn.conf.py:3: {name} is a gunicorn setting for"), lines
