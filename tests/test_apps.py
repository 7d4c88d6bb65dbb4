"""Real applications: examples/flask-hello, a Flask app, a Django project on sqlite, and every
form of app spec."""

import hashlib
import os
import shutil
import sqlite3
import subprocess
from urllib.parse import quote

import pytest
import requests

import rawhttp
from support import APPS, PYTHON, REPO_ROOT, server_env

FLASK_HELLO = REPO_ROOT / "examples" / "flask-hello"


@pytest.mark.needs("flask")
def test_flask_hello_example(gowsgi):
    assert (FLASK_HELLO / "app.py").is_file(), f"{FLASK_HELLO / 'app.py'} is missing"
    server = gowsgi("app:app", cwd=FLASK_HELLO)
    response = requests.get(server.url + "/", timeout=15)
    assert response.status_code == 200
    assert response.text == "Hello world!"


@pytest.mark.parametrize("spec,body", [
    ("spec_app", "module:application"),
    ("spec_app:app", "module:app"),
    ("spec_app:create_app()", "name='default' debug=False"),
    ('spec_app:create_app("x", debug=True)', "name='x' debug=True"),
])
def test_app_spec_forms(gowsgi, spec, body):
    server = gowsgi(spec)
    response = requests.get(server.url + "/", timeout=15)
    assert response.status_code == 200
    assert response.text == body


# Flask


@pytest.fixture(scope="module")
def flask_server(module_gowsgi, worker_class):
    return module_gowsgi("app:app", "-w", "1", *worker_class, cwd=APPS / "flaskapp")


@pytest.mark.needs("flask")
def test_flask_json_in_and_out(flask_server):
    response = requests.post(flask_server.url + "/json", json={"numbers": [1, 2, 39], "name": "caf\u00e9"}, timeout=15)
    assert response.status_code == 200
    assert response.json() == {"received": {"numbers": [1, 2, 39], "name": "caf\u00e9"}, "total": 42}


@pytest.mark.needs("flask")
def test_flask_form_post(flask_server):
    response = requests.post(flask_server.url + "/form", data={"a": ["1", "2"], "b": "x y&z"}, timeout=15)
    assert response.json() == {"fields": {"a": ["1", "2"], "b": ["x y&z"]}}


@pytest.mark.needs("flask")
def test_flask_multipart_upload(flask_server):
    content = os.urandom(300_000)
    response = requests.post(flask_server.url + "/upload", files={"file": ("data.bin", content)},
                             data={"note": "hello"}, timeout=30)
    assert response.json() == {"filename": "data.bin", "size": len(content),
                               "sha256": hashlib.sha256(content).hexdigest(), "note": "hello"}


@pytest.mark.needs("flask")
def test_flask_session_across_requests(flask_server):
    with requests.Session() as client:
        assert client.post(flask_server.url + "/session", data={"name": "ada"}, timeout=15).status_code == 200
        assert client.cookies.get("session")
        visits = [client.get(flask_server.url + "/session", timeout=15).json() for _ in range(3)]
    assert visits == [{"name": "ada", "visits": n} for n in (1, 2, 3)]
    fresh = requests.get(flask_server.url + "/session", timeout=15).json()
    assert fresh == {"name": None, "visits": 1}


@pytest.mark.needs("flask")
def test_flask_streaming_response(flask_server, tmp_path):
    release = tmp_path / "release"
    with rawhttp.Conn(flask_server.port) as conn:
        conn.send(rawhttp.build("GET", "/stream?path=" + quote(str(release))))
        assert conn.read_head().startswith(b"HTTP/1.1 200")
        assert conn.read_chunk() == b"first\n"
        release.touch()
        rest = b""
        while chunk := conn.read_chunk():
            rest += chunk
    assert rest == b"line 0\nline 1\nline 2\nlast\n"


@pytest.mark.needs("flask")
def test_flask_not_found(flask_server):
    assert requests.get(flask_server.url + "/no/such/page", timeout=15).status_code == 404


# Django


@pytest.fixture(scope="module")
def django_project(tmp_path_factory):
    project = tmp_path_factory.mktemp("django") / "djangoproj"
    shutil.copytree(APPS / "djangoproj", project, ignore=shutil.ignore_patterns("__pycache__", "db.sqlite3"))
    migrate = subprocess.run([PYTHON, "manage.py", "migrate", "--noinput"], cwd=project, env=server_env(),
                             capture_output=True, text=True, timeout=120)
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    return project


@pytest.fixture(scope="module")
def django_server(module_gowsgi, django_project, worker_class):
    return module_gowsgi("mysite.wsgi:application", "-w", "1", *worker_class, cwd=django_project)


@pytest.mark.needs("django")
def test_django_writes_and_reads_sqlite(django_server, django_project):
    texts = ["first note", "deuxi\u00e8me note"]
    ids = []
    for text in texts:
        response = requests.post(django_server.url + "/notes/add", data={"text": text}, timeout=15)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    listed = requests.get(django_server.url + "/notes/", timeout=15).json()["notes"]
    assert [n for n in listed if n["id"] in ids] == [{"id": i, "text": t} for i, t in zip(ids, texts)]
    with sqlite3.connect(django_project / "db.sqlite3") as db:
        stored = db.execute("select text from notes_note order by id").fetchall()
    assert [t for (t,) in stored][-2:] == texts


@pytest.mark.needs("django")
def test_django_refuses_the_wrong_method_and_unknown_paths(django_server):
    assert requests.get(django_server.url + "/notes/add", timeout=15).status_code == 405
    assert requests.get(django_server.url + "/nowhere", timeout=15).status_code == 404
