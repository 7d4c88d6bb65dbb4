"""Targets for app specs: every form gowsgi accepts, and the ones that must fail to load."""

not_callable = 42


def broken_factory():
    raise ValueError("factory exploded 77aa")


def create_app(name="default", debug=False):
    """A factory taking literal arguments; the app reports what it was built with."""
    body = f"name={name!r} debug={debug!r}".encode()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    return app


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"module:application"]


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"module:app"]
