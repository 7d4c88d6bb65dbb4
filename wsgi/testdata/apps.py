"""WSGI apps for the wsgi package's Go tests; each test names one with its PATH_INFO."""
import json
import threading

closed = []


class Closing:
    def __init__(self, chunks):
        self.chunks = chunks

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        closed.append(True)


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "12")])
    return [b"Hello world!"]


def environ_dump(environ, start_response):
    out = {k: v for k, v in environ.items() if isinstance(v, (str, bool, tuple))}
    out["input_type"] = type(environ["wsgi.input"]).__name__
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(out).encode()]


def echo_body(environ, start_response):
    inp = environ["wsgi.input"]
    mode = environ["QUERY_STRING"]
    if mode == "lines":
        body = b"|".join(inp.readlines())
    elif mode == "iter":
        body = b"|".join(line for line in inp)
    elif mode == "readline3":
        body = inp.readline(3) + b"/" + inp.readline() + b"/" + inp.read(2) + b"/" + inp.read()
    else:
        body = inp.read()
    start_response("200 OK", [])
    return [body]


def list_parts(environ, start_response):
    start_response("200 OK", [])
    return [b"a", b"b", b"c"]


def generator(environ, start_response):
    start_response("200 OK", [])
    yield b"one "
    yield b""
    yield b"two"


def closing(environ, start_response):
    start_response("200 OK", [])
    return Closing([b"a", b"b"])


def closed_count(environ, start_response):
    start_response("200 OK", [])
    return [str(len(closed)).encode()]


def raises(environ, start_response):
    raise RuntimeError("boom in app")


def raises_in_body(environ, start_response):
    start_response("200 OK", [])
    yield b"part"
    raise RuntimeError("boom in body")


def bad_item(environ, start_response):
    start_response("200 OK", [])
    return ["text"]


def bad_second_item(environ, start_response):
    start_response("200 OK", [])
    return [b"fine", 2]


def no_start(environ, start_response):
    return [b"x"]


def bad_status(environ, start_response):
    start_response("200", [])
    return [b"x"]


def bad_header(environ, start_response):
    start_response("200 OK", [("X-Bad", "a\r\nInjected: 1")])
    return [b"x"]


def exc_before(environ, start_response):
    start_response("200 OK", [("X-First", "1")])
    try:
        raise ValueError("late")
    except ValueError:
        import sys
        start_response("500 Oops", [("X-Second", "2")], sys.exc_info())
    return [b"replaced"]


def exc_after(environ, start_response):
    start_response("200 OK", [])
    yield b"sent"
    try:
        raise ValueError("too late")
    except ValueError:
        import sys
        start_response("500 Oops", [], sys.exc_info())
    yield b"never"


def writer(environ, start_response):
    write = start_response("200 OK", [("X-W", "1")])
    write(b"written ")
    return [b"returned"]


def file_wrapper(environ, start_response):
    f = open(environ["QUERY_STRING"], "rb")
    f.seek(2)
    start_response("200 OK", [])
    return environ["wsgi.file_wrapper"](f)


def thread_id(environ, start_response):
    start_response("200 OK", [])
    return [str(threading.get_ident()).encode()]



def read_sizes(environ, start_response):
    inp = environ["wsgi.input"]
    parts = [inp.read(10**12 if environ["QUERY_STRING"] == "huge" else 3), inp.read(0), inp.read(None)]
    start_response("200 OK", [])
    return [b"/".join(parts)]



def spin(environ, start_response):
    while True:
        pass


def sleep_in_c(environ, start_response):
    import time
    time.sleep(float(environ["QUERY_STRING"]))
    start_response("200 OK", [])
    return [b"slept"]

def app(environ, start_response):
    name = environ["PATH_INFO"].strip("/").split(" ")[0]
    return globals()[name](environ, start_response)


def environ_none(environ, start_response):
    start_response("200 OK", [])
    return [",".join(sorted(k for k, v in environ.items() if v is None)).encode()]
