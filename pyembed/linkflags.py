"""Prints the environment that makes `go build` link this Python statically (link_static.go).

Run by the Makefile with the interpreter gowsgi embeds. It prints nothing when that Python has
no static library, and the build then links the shared one that pkg-config names.
"""

import os
import shlex
import sysconfig

config = sysconfig.get_config_var
archive = os.path.join(config("LIBPL") or "", config("LIBRARY") or "")
if archive.endswith(".a") and os.path.isfile(archive):
    # The libraries the archive's built-in modules and the interpreter itself need (-lexpat and
    # -lz for pyexpat and zlib on Debian), each once, in the order they first appear.
    needed = dict.fromkeys(" ".join(config(name) or "" for name in ("MODLIBS", "LIBS", "SYSLIBS")).split())
    executable = os.path.join(config("BINDIR"), "python" + config("VERSION"))
    environment = {
        "GOFLAGS": f"-tags=pystatic -ldflags=-X=gowsgi/pyembed.staticExecutable={executable}",
        "CGO_CFLAGS": f"-g -O2 -I{sysconfig.get_path('include')}",
        # Linked as /usr/bin/python3 links it: the objects anything in it reaches, which takes in
        # every C API function that python3 offers extension modules but its main functions.
        "CGO_LDFLAGS": f"{archive} {' '.join(needed)}",
    }
    print(" ".join(f"{name}={shlex.quote(value)}" for name, value in environment.items()))
