"""--access-logfile, --access-logformat and --access-log-json: every gunicorn atom, JSON lines
that stay valid whatever clients and apps put in them, standard output, the engine's own 4xx
answers, and USR1 reopening the file after logrotate has moved it."""

import json
import re
import signal
from pathlib import Path

import pytest

import rawhttp
from support import APPS, run_gowsgi, wait_for

ATOMS = ["h", "l", "u", "t", "r", "s", "m", "U", "q", "H", "b", "B", "f", "a", "T", "D", "M", "L", "p",
         "{x-in}i", "{X-Trace}o", "{remote_user}e", "{missing}i", "{Content-Length}o", "{nothere}e"]
SEP = "|~|"
CLF_TIME = r"\[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\]"
BASIC_ALICE = "Basic YWxpY2U6cHc="  # alice:pw


def lines_of(path):
    """The complete lines of the log, split at newlines only: a JSON line may hold U+2028, at
    which splitlines() would split it."""
    if not path.exists():
        return []
    return path.read_text(encoding="utf-8", errors="surrogateescape").split("\n")[:-1]


def wait_lines(path, count, timeout=10):
    """Waits until the log holds at least count lines (it is flushed within a fraction of a second)."""
    lines = wait_for(lambda: (lambda found: found if len(found) >= count else None)(lines_of(path)), timeout)
    assert lines is not None, f"{path} holds {lines_of(path)}, expected {count} lines"
    return lines


@pytest.mark.parametrize("worker_class", [["-k", "sync"], ["-k", "gevent"]], ids=["sync", "gevent"])
def test_every_atom(gowsgi, tmp_path, worker_class):
    log = tmp_path / "access.log"
    fmt = SEP.join(f"%({atom})s" for atom in ATOMS)
    server = gowsgi("access_app:app", *worker_class, "--access-logfile", str(log), "--access-logformat", fmt)
    (pid,) = server.wait_workers(1)
    response = rawhttp.get(server.port, "/user/a%20b?k=v", headers=[
        ("User-Agent", 'ua "q"'), ("Referer", "http://ref.example/"), ("Authorization", BASIC_ALICE),
        ("X-In", "in value")])
    assert response.status == 200 and response.body == b"hello"
    (line,) = wait_lines(log, 1)
    values = dict(zip(ATOMS, line.split(SEP)))
    assert re.fullmatch(CLF_TIME, values.pop("t")), line
    durations = {atom: int(values.pop(atom)) for atom in ("T", "D", "M")}
    assert durations["M"] == durations["D"] // 1000 and durations["T"] == durations["D"] // 1000000
    assert values.pop("L") == f"{durations['D'] // 10**6}.{durations['D'] % 10**6:06d}"
    assert values == {
        "h": "127.0.0.1", "l": "-", "u": "alice", "r": "GET /user/a%20b?k=v HTTP/1.1", "s": "200",
        "m": "GET", "U": "/user/a b", "q": "k=v", "H": "HTTP/1.1", "b": "5", "B": "5",
        "f": "http://ref.example/", "a": 'ua \\"q\\"', "p": f"<{pid}>", "{x-in}i": "in value",
        "{X-Trace}o": 't-\\"1\\"\\\\', "{remote_user}e": "mw-user", "{missing}i": "-",
        "{Content-Length}o": "-", "{nothere}e": "-",
    }


@pytest.mark.parametrize("worker_class", [["-k", "sync"], ["-k", "gevent"]], ids=["sync", "gevent"])
def test_default_format_durations_and_byte_counts(gowsgi, tmp_path, worker_class):
    log = tmp_path / "access.log"
    server = gowsgi("access_app:app", *worker_class, "--access-logfile", str(log))
    assert rawhttp.get(server.port, "/slow", headers=[("User-Agent", "curl/8")]).status == 200
    assert rawhttp.get(server.port, "/empty").status == 200
    assert rawhttp.get(server.port, "/", method="HEAD").status == 200
    assert rawhttp.get(server.port, "/nocontent").status == 204
    assert rawhttp.get(server.port, "/boom").status == 500
    assert rawhttp.get(server.port, "/file").status == 200
    lines = wait_lines(log, 6)
    assert re.fullmatch(rf'127\.0\.0\.1 - - {CLF_TIME} "GET /slow HTTP/1\.1" 200 5 "-" "curl/8"', lines[0]), lines[0]
    ends = [line.split('" ', 1)[1].split(' "')[0] for line in lines]
    file_size = (APPS / "access_app.py").stat().st_size
    assert ends == ["200 5", "200 -", "200 -", "204 -", "500 22", f"200 {file_size}"], lines


def test_request_headers_survive_the_app_reading_a_large_body(gowsgi, tmp_path):
    log = tmp_path / "access.log"
    server = gowsgi("access_app:app", "--access-logfile", str(log), "--access-logformat", "%({x-in}i)s|%(a)s|%(B)s")
    body = b"z" * 300_000  # overwrites the engine's read buffer, where the head was parsed
    response = rawhttp.get(server.port, "/read", method="POST", body=body,
                           headers=[("X-In", "in value"), ("User-Agent", "big-poster")])
    assert response.status == 200
    assert wait_lines(log, 1) == ["in value|big-poster|5"]


def test_durations_measure_the_request(gowsgi, tmp_path):
    log = tmp_path / "access.log"
    server = gowsgi("access_app:app", "--access-logfile", str(log), "--access-logformat", "%(T)s %(D)s %(M)s %(L)s")
    assert rawhttp.get(server.port, "/slow").status == 200
    (line,) = wait_lines(log, 1)
    seconds, micros, millis, decimal = line.split()
    assert int(micros) >= 50000, "the app slept 50 ms"
    assert (int(seconds), int(millis), decimal) == (int(micros) // 10**6, int(micros) // 1000,
                                                    f"{int(micros) // 10**6}.{int(micros) % 10**6:06d}")


def test_json_lines_stay_valid_with_hostile_values(gowsgi, tmp_path):
    log = tmp_path / "access.json"
    fmt = ("%({X-Evil}i)s %({x-trace}o)s %({REMOTE_USER}e)s %({gowsgi.test.hostile}e)s "
           "%({gowsgi.test.number}e)s %({nothere}e)s")
    server = gowsgi("access_app:app", "-k", "gthread", "--threads", "2", "--access-logfile", str(log),
                    "--access-log-json", "--access-logformat", fmt)
    (pid,) = server.wait_workers(1)
    evil = b'q"uote \\back\tslash \xff\xe9 caf\xc3\xa9 \xe2\x82'
    response = rawhttp.get(server.port, "/user?a=%22b%22", headers=[
        ("X-Evil", evil), ("User-Agent", b'agent "x" \xfe'), ("Authorization", BASIC_ALICE)])
    assert response.status == 200
    assert rawhttp.get(server.port, "/boom").status == 500
    assert rawhttp.get(server.port, '/q"uote\\', method="HEAD").status == 200
    lines = wait_lines(log, 3)
    records = [json.loads(line) for line in lines]  # every line must parse
    first = records[0]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}([+-]\d{2}:\d{2}|Z)", first.pop("time")), first
    assert isinstance(first.pop("duration"), float)
    assert first == {
        "pid": pid, "remote_addr": "127.0.0.1", "user": "alice", "method": "GET", "path": "/user",
        "query": "a=%22b%22", "protocol": "HTTP/1.1", "status": 200, "bytes": 5, "referer": None,
        "user_agent": 'agent "x" \u00fe',
        "request_headers": {"x-evil": 'q"uote \\back\tslash \u00ff\u00e9 café \u00e2\u0082'},
        "response_headers": {"x-trace": 't-"1"\\'},
        "environ": {
            "REMOTE_USER": "mw-user",
            # the app's lone surrogate \udcff stands for the byte 0xff, shown as U+00FF
            "gowsgi.test.hostile": 'ev"il\\ \n\r\t\x01\x7f caf\xe9 \u2028 \U0001f600 \u00ff',
            "gowsgi.test.number": "42",
            "nothere": None,
        },
    }
    assert (records[1]["status"], records[1]["bytes"], records[1]["environ"]["REMOTE_USER"]) == (500, 22, None)
    assert (records[2]["method"], records[2]["path"], records[2]["bytes"]) == ("HEAD", '/q"uote\\', 0)


def test_access_log_to_standard_output(gowsgi):
    server = gowsgi("access_app:app", "--access-logfile", "-", "--access-logformat", "out %(m)s %(U)s %(s)s")
    assert rawhttp.get(server.port, "/to-stdout").status == 200
    assert wait_for(lambda: "out GET /to-stdout 200\n" in server.stdout(), 10), server.stdout()
    assert "/to-stdout" not in server.log()


def test_requests_the_engine_refuses_are_logged(gowsgi, tmp_path):
    log = tmp_path / "access.log"
    server = gowsgi("access_app:app", "--access-logfile", str(log))
    response = rawhttp.request(server.port, b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
    assert response.status == 400
    (line,) = wait_lines(log, 1)
    assert re.fullmatch(rf'127\.0\.0\.1 - - {CLF_TIME} "-" 400 {len(response.body)} "-" "-"', line), line


def test_usr1_reopens_the_access_log_after_a_rename(gowsgi, tmp_path):
    log, rotated = tmp_path / "access.log", tmp_path / "access.log.1"
    server = gowsgi("access_app:app", "-w", "2", "--access-logfile", str(log), "--access-logformat", "%(p)s %(U)s")
    workers = server.wait_workers(2)
    for _ in range(4):
        assert rawhttp.get(server.port, "/before").status == 200
    wait_lines(log, 4)
    log.rename(rotated)
    server.signal(signal.SIGUSR1)

    # Each worker reopens when it gets the signal: ask until both have written to the new file.
    def both_workers_in_new_file():
        assert rawhttp.get(server.port, "/after").status == 200
        return {line.split()[0] for line in lines_of(log)} >= {f"<{pid}>" for pid in workers}
    assert wait_for(both_workers_in_new_file, 10, interval=0.02), lines_of(log)
    for _ in range(4):
        assert rawhttp.get(server.port, "/late").status == 200
    assert wait_for(lambda: sum(line.endswith(" /late") for line in lines_of(log)) == 4, 10), lines_of(log)
    old = lines_of(rotated)
    assert sum(line.endswith(" /before") for line in old) == 4
    assert not any(line.endswith(" /late") for line in old)
    assert server.workers() == workers, "USR1 stopped a worker"


def test_access_log_that_cannot_be_opened_stops_the_start(tmp_path):
    result = run_gowsgi("-b", "127.0.0.1:1", "--access-logfile", str(tmp_path / "no" / "dir" / "access.log"),
                        "access_app:app", timeout=10)
    assert result.returncode == 1
    assert "Can't open the access log" in result.stderr


def test_bad_access_logformat_exits_2_with_one_line():
    result = run_gowsgi("--access-logformat", "%(h)s %s", "access_app:app", timeout=10)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--access-logformat" in result.stderr, result.stderr


def test_config_file_takes_gunicorns_keys(gowsgi, tmp_path):
    log = tmp_path / "access.log"
    config = tmp_path / "gowsgi.yaml"
    config.write_text(f'accesslog: "{log}"\naccess_log_format: "cfg %(s)s %(U)s"\nloglevel: warning\n')
    server = gowsgi("access_app:app", "-c", str(config))
    assert rawhttp.get(server.port, "/from-config").status == 200
    assert wait_lines(log, 1) == ["cfg 200 /from-config"]
    assert "[INFO]" not in server.log()
