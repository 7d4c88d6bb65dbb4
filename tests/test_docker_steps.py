"""The steps of examples/flask-hello/Dockerfile, run outside Docker (there is no engine here) with
packaging/docker-steps.sh, the script the Dockerfile runs: the wheel built against a
python.org-layout 3.12 (the layout of the python:3.12 images' /usr/local) and linked with its
shared libpython, as the slim image needs, then installed by pip from requirements.txt into a
fresh virtualenv, whose gowsgi answers a request.

Flask is not installable here (no PyPI), so requirements.txt names gowsgi only and the app is
plain WSGI; the Flask path through a pip-installed gowsgi is the version matrix's (tests/matrix.py,
Debian's virtualenv).
"""

import glob
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import requests

from support import APPS, REPO_ROOT, run_gowsgi

STEPS = REPO_ROOT / "packaging" / "docker-steps.sh"
EXAMPLE = REPO_ROOT / "examples" / "flask-hello"
PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"

# The Dockerfile a Flask user starts from; the example must be it with gunicorn replaced by
# gowsgi in CMD, plus the lines that bring gowsgi's wheel in.
SEED = """\
FROM python:3.12-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
CMD ["gunicorn", "-b", "0.0.0.0:8000", "app:app"]
"""
WHEEL_LINES = ["COPY --from=gowsgi /dist/ /wheels/", "ENV PIP_FIND_LINKS=/wheels"]


def instructions(dockerfile):
    return [line for line in dockerfile.splitlines() if line.strip() and not line.startswith("#")]


def test_the_dockerfile_is_the_seed_with_one_line_changed():
    lines = instructions((EXAMPLE / "Dockerfile").read_text())
    final = lines[lines.index("FROM python:3.12-slim"):]
    seed = instructions(SEED)
    assert [line for line in final if line not in WHEEL_LINES] == \
        [line.replace('"gunicorn"', '"gowsgi"') for line in seed]
    assert final.index(WHEEL_LINES[1]) < final.index("RUN pip install --no-cache-dir -r requirements.txt")
    # The build stage runs the script these tests run, for the same Python as the final stage.
    build = lines[:lines.index("FROM python:3.12-slim")]
    assert build[0] == "FROM python:3.12 AS gowsgi"
    assert "RUN /src/packaging/docker-steps.sh build /dist" in build
    requirements = [line for line in (EXAMPLE / "requirements.txt").read_text().splitlines()
                    if line and not line.startswith("#")]
    assert requirements == ["flask", "gowsgi"]


@pytest.fixture(scope="module")
def python312():
    found = sorted(p for p in glob.glob(str(PYENV_VERSIONS / "3.12.*")) if re.search(r"/3\.12\.\d+$", p))
    if not found:
        pytest.skip(f"no python.org-layout Python 3.12 under {PYENV_VERSIONS} to run the image's steps with")
    return Path(found[-1]) / "bin" / "python3"


def test_build_and_install_steps_serve_from_a_fresh_virtualenv(python312, gowsgi, tmp_path):
    env = dict(os.environ, PYTHON=str(python312), WHEEL_BUILD=str(tmp_path / "build"))
    subprocess.run([STEPS, "build", tmp_path / "dist"], check=True, env=env, timeout=900)
    [wheel] = (tmp_path / "dist").glob("gowsgi-*-cp312-cp312-*.whl")

    venv = tmp_path / "venv"
    subprocess.run([python312, "-m", "venv", venv], check=True, timeout=180)
    (tmp_path / "requirements.txt").write_text("gowsgi\n")
    env = dict(os.environ, PATH=f"{venv / 'bin'}:{os.environ['PATH']}", PIP_NO_INDEX="1")
    subprocess.run([STEPS, "install", wheel.parent, "requirements.txt"], cwd=tmp_path, check=True, env=env,
                   timeout=300)

    installed = venv / "bin" / "gowsgi"
    version = run_gowsgi("--version", binary=installed).stdout
    library = python312.parent.parent / "lib" / "libpython3.12.so"
    assert f"library {library}" in version, \
        f"the wheel must link the shared libpython (PYTHON_LINK=shared); the slim image has no static one:\n{version}"
    server = gowsgi("matrix_app:app", cwd=APPS, binary=installed)
    response = requests.get(server.url + "/", timeout=15)
    assert response.status_code == 200
    answer = json.loads(response.text)
    assert answer["served_by"] == "wsgi"
    assert answer["version"].startswith("3.12.")
    assert os.path.realpath(answer["prefix"]) == os.path.realpath(venv)
