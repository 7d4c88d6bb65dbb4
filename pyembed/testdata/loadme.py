import sys


def application(environ, start_response):
    start_response("200 OK", [])
    return [b"default"]


not_a_function = 42


def create_app(name="none", debug=False):
    def app(environ, start_response):
        start_response("200 OK", [])
        return [("%s %s" % (name, debug)).encode()]
    return app


def broken_factory():
    raise RuntimeError("factory exploded")


def returns_int():
    return 7


path0 = sys.path[0]
