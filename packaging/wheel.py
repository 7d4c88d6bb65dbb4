"""Packages a gowsgi binary as a wheel that pip installs into a virtualenv's bin directory.

    pythonX.Y packaging/wheel.py BINARY DIST_DIR

Run with the Python the binary embeds: the wheel is tagged for that interpreter (cpXY-cpXY and
sysconfig's platform) and requires it, since the binary runs that Python's standard library
and extension modules. gowsgi's version and the embedded Python's are read from the binary's
--version, so the wheel cannot claim what the binary is not. The same binary gives the same
wheel bytes: fixed timestamps and modes, a fixed order. Standard library only (zipfile,
hashlib, base64, csv), per the wheel format (PEP 427, PEP 491); it prints the wheel's path.
"""

import base64
import csv
import hashlib
import io
import os
import re
import subprocess
import sys
import sysconfig
import zipfile

NAME = "gowsgi"
SUMMARY = "A WSGI server written in Go with CPython embedded, run like gunicorn"
DESCRIPTION = """\
gowsgi serves Python WSGI apps (Flask, Django, any PEP 3333 app) with gunicorn's command line:
a Go master starts prefork workers, each with this Python embedded; Go does all the network
work and Python runs only the app.

This wheel carries the gowsgi binary built for one Python version. Installed into a virtualenv
made from that Python, `gowsgi myapp:app` serves the apps and packages of that virtualenv.
"""
# Zip entries carry this date (the earliest a zip can hold), so that rebuilding changes nothing.
FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def embedded_versions(binary):
    """gowsgi's version and the embedded Python's major.minor, from the binary's --version:
    "gowsgi 0.1.0" then "Python 3.12.1 (...)"."""
    out = subprocess.run([binary, "--version"], check=True, capture_output=True, text=True, timeout=60).stdout
    found = re.match(r"gowsgi (\S+)\nPython (\d+)\.(\d+)\.", out)
    if not found:
        raise SystemExit(f"wheel.py: {binary} --version said {out!r}, not gowsgi's and Python's versions")
    return found.group(1), (int(found.group(2)), int(found.group(3)))


def platform_tag():
    """sysconfig's platform as a wheel tag: linux-x86_64 -> linux_x86_64."""
    return re.sub(r"[^A-Za-z0-9_]", "_", sysconfig.get_platform())


def metadata(version, python):
    minor = "%d.%d" % python
    return (
        "Metadata-Version: 2.1\n"
        f"Name: {NAME}\n"
        f"Version: {version}\n"
        f"Summary: {SUMMARY}\n"
        f"Requires-Python: =={minor}.*\n"
        "Description-Content-Type: text/markdown\n"
        "\n"
        f"{DESCRIPTION}"
    )


def wheel_file(tag):
    return f"Wheel-Version: 1.0\nGenerator: gowsgi packaging/wheel.py\nRoot-Is-Purelib: false\nTag: {tag}\n"


def record_hash(data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return f"sha256={digest}"


def record(entries, record_path):
    """RECORD: each file's path, hash and size, and RECORD itself without either."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for path, data, _ in entries:
        writer.writerow([path, record_hash(data), len(data)])
    writer.writerow([record_path, "", ""])
    return out.getvalue()


def add(archive, path, data, mode):
    info = zipfile.ZipInfo(path, date_time=FIXED_DATE)
    info.create_system = 3  # Unix, so that the mode below is read as one
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def build(binary, dist):
    version, python = embedded_versions(binary)
    if python != sys.version_info[:2]:
        raise SystemExit(
            f"wheel.py: {binary} embeds Python {'%d.%d' % python}, but this is Python "
            f"{'%d.%d' % sys.version_info[:2]} ({sys.executable}): build and package with the same Python")
    tag = "cp%d%d" % python
    tag = f"{tag}-{tag}-{platform_tag()}"
    dist_info = f"{NAME}-{version}.dist-info"
    with open(binary, "rb") as f:
        executable = f.read()
    # The script first, then the metadata, RECORD last, as the wheel format recommends.
    entries = [
        (f"{NAME}-{version}.data/scripts/{NAME}", executable, 0o755),
        (f"{dist_info}/METADATA", metadata(version, python).encode(), 0o644),
        (f"{dist_info}/WHEEL", wheel_file(tag).encode(), 0o644),
    ]
    record_path = f"{dist_info}/RECORD"
    entries.append((record_path, record(entries, record_path).encode(), 0o644))
    os.makedirs(dist, exist_ok=True)
    path = os.path.join(dist, f"{NAME}-{version}-{tag}.whl")
    partial = path + ".partial"
    with zipfile.ZipFile(partial, "w") as archive:
        for entry in entries:
            add(archive, *entry)
    os.replace(partial, path)
    return path


def main(argv):
    if len(argv) != 3:
        raise SystemExit(f"usage: {argv[0]} BINARY DIST_DIR")
    print(build(argv[1], argv[2]))


if __name__ == "__main__":
    main(sys.argv)
