"""Uses C extension modules from the standard library's lib-dynload and from dist-packages: they
find the C API in gowsgi itself when libpython is linked in statically."""

import ctypes
import decimal
import hashlib
import json
import pyexpat
import sqlite3
import ssl
import zlib

import markupsafe


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
        "markupsafe": str(markupsafe.escape("<b>")),
        "markupsafe_speedups": markupsafe.escape.__module__,
    }
    database.close()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(results).encode()]
