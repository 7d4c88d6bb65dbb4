"""The wheel packaging/wheel.py makes of bin/gowsgi: its name, its layout and RECORD, the same
bytes on every build, and pip installing, showing and uninstalling it in a virtualenv.

pip does not check RECORD's hashes when it installs (pypa/pip#4705), so these tests check them.
"""

import base64
import csv
import email.parser
import hashlib
import io
import re
import subprocess
import sys
import sysconfig
import zipfile

import pytest

from support import GOWSGI, PYTHON, REPO_ROOT, run_gowsgi

WHEEL_SCRIPT = REPO_ROOT / "packaging" / "wheel.py"


def make_wheel(binary, dist, python=PYTHON):
    """Runs packaging/wheel.py; returns the path it printed."""
    result = subprocess.run([python, str(WHEEL_SCRIPT), str(binary), str(dist)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def version():
    return re.match(r"gowsgi (\S+)\n", run_gowsgi("--version").stdout).group(1)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return make_wheel(GOWSGI, tmp_path_factory.mktemp("dist"))


def test_name_has_the_version_and_tags_of_the_embedded_python(wheel, version):
    # The suite runs under the Python bin/gowsgi embeds (PYTHON).
    tag = "cp%d%d" % sys.version_info[:2]
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    assert wheel.endswith(f"/gowsgi-{version}-{tag}-{tag}-{platform}.whl")


def test_layout_metadata_and_record(wheel, version):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        files = {name: archive.read(name) for name in names}
        script = archive.getinfo(f"gowsgi-{version}.data/scripts/gowsgi")
    info = f"gowsgi-{version}.dist-info"
    assert names == [f"gowsgi-{version}.data/scripts/gowsgi", f"{info}/METADATA", f"{info}/WHEEL", f"{info}/RECORD"]
    assert script.external_attr >> 16 == 0o100755
    assert files[script.filename] == GOWSGI.read_bytes()

    metadata = email.parser.BytesParser().parsebytes(files[f"{info}/METADATA"])
    assert metadata["Metadata-Version"] == "2.1"
    assert (metadata["Name"], metadata["Version"]) == ("gowsgi", version)
    assert metadata["Summary"]
    assert metadata["Requires-Python"] == "==%d.%d.*" % sys.version_info[:2]
    assert "gunicorn" in metadata.get_payload()
    wheel_file = email.parser.BytesParser().parsebytes(files[f"{info}/WHEEL"])
    tag = "cp%d%d" % sys.version_info[:2]
    assert (wheel_file["Wheel-Version"], wheel_file["Root-Is-Purelib"]) == ("1.0", "false")
    assert wheel_file["Tag"] == wheel.rsplit("/", 1)[1][len(f"gowsgi-{version}-"):-len(".whl")]
    assert wheel_file["Tag"].startswith(f"{tag}-{tag}-")

    rows = list(csv.reader(io.StringIO(files[f"{info}/RECORD"].decode())))
    assert [row[0] for row in rows] == names
    for path, digest, size in rows[:-1]:
        expected = base64.urlsafe_b64encode(hashlib.sha256(files[path]).digest()).rstrip(b"=").decode()
        assert (digest, size) == (f"sha256={expected}", str(len(files[path]))), path
    assert rows[-1] == [f"{info}/RECORD", "", ""]


def test_same_binary_same_wheel_bytes(wheel, tmp_path):
    again = make_wheel(GOWSGI, tmp_path)
    with open(wheel, "rb") as first, open(again, "rb") as second:
        assert first.read() == second.read()


def test_a_binary_of_another_python_is_refused(tmp_path):
    # A wheel tagged for this Python around a binary of another would install and not run.
    impostor = tmp_path / "gowsgi"
    impostor.write_text("#!/bin/sh\nprintf 'gowsgi 0.1.0\\nPython 3.99.1 (/opt/python3.99, linked statically)\\n'\n")
    impostor.chmod(0o755)
    result = subprocess.run([PYTHON, str(WHEEL_SCRIPT), str(impostor), str(tmp_path / "dist")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "embeds Python 3.99, but this is Python %d.%d" % sys.version_info[:2] in result.stderr
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").iterdir())


def test_pip_installs_shows_and_uninstalls_it(wheel, version, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([PYTHON, "-m", "venv", str(venv)], check=True, timeout=180)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    subprocess.run([*pip, "install", "--no-index", wheel], check=True, capture_output=True, timeout=120)

    installed = venv / "bin" / "gowsgi"
    assert installed.read_bytes() == GOWSGI.read_bytes()
    assert installed.stat().st_mode & 0o777 == 0o755
    assert run_gowsgi("--version", binary=installed).stdout.startswith(f"gowsgi {version}\n")
    shown = subprocess.run([*pip, "show", "--files", "gowsgi"], check=True, capture_output=True, text=True,
                           timeout=60).stdout
    assert f"Name: gowsgi\nVersion: {version}\n" in shown
    assert "../../../bin/gowsgi" in shown.split()

    subprocess.run([*pip, "uninstall", "-y", "gowsgi"], check=True, capture_output=True, timeout=60)
    assert not installed.exists()
    gone = subprocess.run([*pip, "show", "gowsgi"], capture_output=True, text=True, timeout=60)
    assert gone.returncode != 0
