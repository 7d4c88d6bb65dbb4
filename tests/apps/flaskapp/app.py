"""A Flask app that uses what real apps use: JSON, forms, file uploads, sessions, streaming."""

import hashlib
import os
import time

from flask import Flask, Response, jsonify, request, session

app = Flask(__name__)
app.secret_key = "only-for-the-gowsgi-tests"


@app.post("/json")
def json_echo():
    data = request.get_json()
    return jsonify(received=data, total=sum(data["numbers"]))


@app.post("/form")
def form_echo():
    return jsonify(fields=request.form.to_dict(flat=False))


@app.post("/upload")
def upload():
    uploaded = request.files["file"]
    content = uploaded.read()
    return jsonify(filename=uploaded.filename, size=len(content),
                   sha256=hashlib.sha256(content).hexdigest(), note=request.form.get("note"))


@app.post("/session")
def session_start():
    session["name"] = request.form["name"]
    session["visits"] = 0
    return jsonify(started=True)


@app.get("/session")
def session_visit():
    session["visits"] = session.get("visits", 0) + 1
    return jsonify(name=session.get("name"), visits=session["visits"])


@app.get("/stream")
def stream():
    """Yields "first", then waits until the file named by ?path= exists before the last line."""
    path = request.args["path"]

    def lines():
        yield "first\n"
        deadline = time.monotonic() + 10
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.01)
        for i in range(3):
            yield f"line {i}\n"
        yield "last\n" if os.path.exists(path) else "timeout\n"

    return Response(lines(), mimetype="text/plain")
