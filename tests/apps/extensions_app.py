"""Uses C extension modules from the standard library's lib-dynload (app) and from site-packages
(site_packages_app): they find the C API in gowsgi itself when libpython is linked in statically."""

import ctypes
import decimal
import hashlib
import json
import os
import pyexpat
import sqlite3
import ssl
import sys
import zlib


def respond(start_response, results):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(results).encode()]


def app(environ, start_response):
    parser = pyexpat.ParserCreate()
    elements = []
    parser.StartElementHandler = lambda name, attrs: elements.append(name)
    parser.Parse(b"<a><b/></a>", True)
    database = sqlite3.connect(":memory:")
    results = {
        "ctypes": ctypes.CDLL(None).strlen(b"gowsgi"),
        "decimal": str(decimal.Decimal("0.1") + decimal.Decimal("0.2")),
        "sha256": hashlib.sha256(b"gowsgi").hexdigest()[:8],
        "pyexpat": elements,
        "sqlite3": database.execute("select 6 * 7").fetchone()[0],
        "ssl": ssl.create_default_context().verify_mode == ssl.CERT_REQUIRED,
        "zlib": zlib.decompress(zlib.compress(b"gowsgi")).decode(),
    }
    database.close()
    return respond(start_response, results)


def site_packages_app(environ, start_response):
    # Imported here: a Python without MarkupSafe still serves app.
    import markupsafe

    # MarkupSafe imports its C extension when it can, and else falls back to Python code.
    speedups = sys.modules.get("markupsafe._speedups")
    return respond(start_response, {"markupsafe": str(markupsafe.escape("<b>")),
                                    "speedups_extension": os.path.splitext(getattr(speedups, "__file__", ""))[1]})
