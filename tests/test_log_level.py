"""--log-level filters the error log, and --capture-output sends the app's print() to the
error log file, also after USR1 has reopened it."""

import signal

import rawhttp
from support import run_gowsgi, wait_for


def test_log_level_warning_drops_info_lines(gowsgi):
    server = gowsgi("access_app:app", "--log-level", "WARNING")
    assert rawhttp.get(server.port, "/boom").status == 500
    log = server.wait_log("Error handling request")
    assert "[ERROR]" in log
    assert "[INFO]" not in log and "Booting worker" not in log, log


def test_log_level_debug_adds_debug_lines(gowsgi, tmp_path):
    server = gowsgi("access_app:app", "--log-level", "debug", "--access-logfile", str(tmp_path / "a.log"))
    server.wait_log("[DEBUG] Access log to")
    assert "[INFO] Booting worker" in server.log()


def test_log_level_info_has_no_debug_lines(gowsgi, tmp_path):
    server = gowsgi("access_app:app", "--access-logfile", str(tmp_path / "a.log"))
    server.wait_workers(1)
    server.wait_log("Booting worker")
    assert rawhttp.get(server.port, "/").status == 200
    assert "[DEBUG]" not in server.log()


def test_bad_log_level_exits_2_with_one_line():
    result = run_gowsgi("--log-level", "loud", "access_app:app", timeout=10)
    assert result.returncode == 2
    assert result.stderr == ('gowsgi: error: invalid value "loud" for --log-level: '
                             "choose debug, info, warning, error or critical\n")


def text_of(path):
    return path.read_text(errors="replace") if path.exists() else ""


def test_capture_output_sends_print_to_the_error_log_and_follows_usr1(gowsgi, tmp_path):
    log = tmp_path / "error.log"
    server = gowsgi("access_app:app", "--error-logfile", str(log), "--capture-output")
    assert rawhttp.get(server.port, "/print?one").status == 200
    assert wait_for(lambda: "printed one" in text_of(log) and "stderr one" in text_of(log), 10), text_of(log)
    assert "printed one" not in server.stdout()

    log.rename(tmp_path / "error.log.1")
    server.signal(signal.SIGUSR1)
    # The worker reopens when it gets the signal: ask until its output reaches the new file.
    assert wait_for(lambda: rawhttp.get(server.port, "/print?two").status == 200 and "printed two" in text_of(log),
                    10, interval=0.02), text_of(log)


def test_without_capture_output_print_stays_on_standard_output(gowsgi, tmp_path):
    log = tmp_path / "error.log"
    server = gowsgi("access_app:app", "--error-logfile", str(log))
    assert rawhttp.get(server.port, "/print?three").status == 200
    assert wait_for(lambda: "stderr three" in text_of(log), 10), text_of(log)
    assert wait_for(lambda: "printed three" in server.stdout(), 10)
    assert "printed three" not in text_of(log)
