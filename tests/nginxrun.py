"""A real nginx (Debian's package) that a test runs on loopback, with its configuration, prefix
and pid file under the test's temporary directory."""

import os
import shutil
import signal
import subprocess
from pathlib import Path

from support import free_port, port_accepts, wait_for

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/sbin/nginx") if os.access(p, os.X_OK)), None)
MISSING = "nginx is not installed (make test installs Debian's nginx package)"

CONFIG = """
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log notice;
{user}
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
{body}
}}
"""


class Nginx:
    """nginx serving the http block's upstreams and servers in body, a template whose {port} is
    the port nginx listens on and whose other fields come from values."""

    def __init__(self, prefix, body, **values):
        self.prefix = Path(prefix)
        self.port = free_port()
        # As root, nginx would run its worker as nobody, who cannot enter the test's directory.
        user = "user root;" if os.geteuid() == 0 else ""
        config = self.prefix / "nginx.conf"
        config.write_text(CONFIG.format(prefix=self.prefix, user=user, body=body.format(port=self.port, **values)))
        self.log = self.prefix / "error.log"
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.prefix), "-c", str(config), "-e", str(self.log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        if wait_for(lambda: self.proc.poll() is not None or port_accepts("127.0.0.1", self.port), 10) is None \
                or self.proc.poll() is not None:
            raise AssertionError(f"nginx did not start (exit {self.proc.poll()}):\n{self.describe()}")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def describe(self):
        return self.log.read_text(errors="replace") if self.log.exists() else "(no error log)"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
