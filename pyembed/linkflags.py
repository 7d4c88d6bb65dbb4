"""Prints the environment that makes `go build` link pyembed with the Python running this script.

Run by the Makefile with the interpreter gowsgi embeds: `python3.X pyembed/linkflags.py [MODE]`.
MODE static links its libpython archive into the binary (link_static.go), shared links its
shared libpython with a run path to the library's directory (link_shared.go), and no MODE takes
the archive when that Python has one, else the shared library. The output is shell assignments of
GOFLAGS, CGO_CFLAGS and CGO_LDFLAGS; a MODE that Python cannot be linked in is an error.
"""

import os
import shlex
import sys
import sysconfig

config = sysconfig.get_config_var
include = sysconfig.get_path("include")
executable = os.path.join(config("BINDIR"), "python" + config("VERSION"))


def static_environment():
    archive = os.path.join(config("LIBPL") or "", config("LIBRARY") or "")
    if not (archive.endswith(".a") and os.path.isfile(archive)):
        return None
    # The libraries the archive's built-in modules and the interpreter itself need (-lexpat and
    # -lz for pyexpat and zlib on Debian), each once, in the order they first appear.
    needed = dict.fromkeys(" ".join(config(name) or "" for name in ("MODLIBS", "LIBS", "SYSLIBS")).split())
    return {
        "GOFLAGS": f"-tags=pystatic -ldflags=-X=gowsgi/pyembed.staticExecutable={executable}",
        "CGO_CFLAGS": f"-g -O2 -I{include}",
        # Linked as /usr/bin/python3 links it: the objects anything in it reaches, which takes in
        # every C API function that python3 offers extension modules but its main functions.
        "CGO_LDFLAGS": f"{archive} {' '.join(needed)}",
    }


def shared_environment():
    libdir = config("LIBDIR") or ""
    library = os.path.join(libdir, config("LDLIBRARY") or "")
    if not (config("Py_ENABLE_SHARED") and ".so" in library and os.path.isfile(library)):
        return None
    return {
        "GOFLAGS": "-tags=pyshared",
        "CGO_CFLAGS": f"-g -O2 -I{include}",
        # The run path finds the library where this Python keeps it, outside the system's
        # directories for a Python installed under its own prefix, without LD_LIBRARY_PATH.
        "CGO_LDFLAGS": f"{library} -Wl,-rpath,{libdir}",
    }


def main(mode):
    makers = {"static": [static_environment], "shared": [shared_environment],
              "": [static_environment, shared_environment]}
    if mode not in makers:
        sys.exit(f"linkflags.py: link mode {mode!r}: expected static, shared or nothing")
    for make in makers[mode]:
        environment = make()
        if environment is not None:
            print(" ".join(f"{name}={shlex.quote(value)}" for name, value in environment.items()))
            return
    sys.exit(f"linkflags.py: {executable} has no {mode or 'static or shared'} libpython to link "
             f"(static: {config('LIBPL')}/{config('LIBRARY')}, shared: {config('LIBDIR')}/{config('LDLIBRARY')})")


main(sys.argv[1] if len(sys.argv) > 1 else "")
