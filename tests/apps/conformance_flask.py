"""A Flask app for the conformance suite: HEAD, conditional requests, send_file, streaming, errors."""

import os
import tempfile

from flask import Flask, Response, abort, request, send_file, stream_with_context, url_for

app = Flask(__name__)

DATA_FILE = os.path.join(tempfile.gettempdir(), "gowsgi-conformance-flask.bin")
if not os.path.exists(DATA_FILE):
    with open(f"{DATA_FILE}.{os.getpid()}", "wb") as out:
        out.write(bytes(range(256)) * 4096)
    os.replace(f"{DATA_FILE}.{os.getpid()}", DATA_FILE)


@app.get("/hello")
def hello():
    return "Hello, conformance!"


@app.get("/file")
def file():
    return send_file(DATA_FILE, mimetype="application/octet-stream", conditional=True, etag=True)


@app.get("/stream")
def stream():
    count = int(request.args.get("n", "5"))

    @stream_with_context
    def lines():
        for i in range(count):
            yield f"line {i} {request.path}\n"

    return Response(lines(), mimetype="text/plain")


@app.get("/where")
def where():
    return {"url": request.url, "url_for": url_for("where", _external=True), "script_root": request.script_root}


@app.post("/echo-stream")
def echo_stream():
    """Reads the body through request.stream in small pieces (what streaming uploads do)."""
    total = 0
    while True:
        piece = request.stream.read(1000)
        if not piece:
            break
        total += len(piece)
    return {"total": total, "content_length": request.content_length}


@app.get("/abort/<int:code>")
def aborted(code):
    abort(code)


@app.get("/crash")
def crash():
    raise RuntimeError("flask route crashed on purpose")
