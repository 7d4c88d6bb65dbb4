"""An app for the --preload tests: each import of it adds the importing process's pid to the file
that PRELOAD_IMPORTS names, and each answer says which process answered and which imported it."""

import os
import threading

VERSION = "1"
IMPORTED_BY = os.getpid()
IMPORT_THREAD = threading.get_ident()

with open(os.environ["PRELOAD_IMPORTS"], "a") as imports:
    imports.write(f"{IMPORTED_BY}\n")


def app(environ, start_response):
    main = threading.get_ident() == IMPORT_THREAD
    body = f"{VERSION} {os.getpid()} {IMPORTED_BY} {main}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
