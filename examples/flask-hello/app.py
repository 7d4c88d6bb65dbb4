"""The smallest Flask app: one route that answers "Hello world!".

Serve it from this directory with: gowsgi app:app
"""

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello world!"
