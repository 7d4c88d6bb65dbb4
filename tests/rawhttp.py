"""HTTP/1.x over a plain socket, for tests that must see the exact bytes the server sends.

The parser here is strict on purpose: a response whose framing is wrong (a bad chunk line, a
body shorter than its Content-Length) raises instead of being repaired.
"""

import socket

DEFAULT_TIMEOUT = 5.0


class FramingError(AssertionError):
    pass


class Response:
    def __init__(self, version, status, reason, headers, body, raw, chunked, trailers):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.raw = raw
        self.chunked = chunked
        self.trailers = trailers

    def header(self, name):
        """The first value of header name (case-insensitive), or None."""
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def __repr__(self):
        return f"<Response {self.status} {self.reason!r} headers={self.headers} body={self.body[:200]!r}>"


def _parse_head(head):
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise FramingError(f"bad status line {lines[0]!r}")
    reason = parts[2].decode("latin-1") if len(parts) == 3 else ""
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            raise FramingError(f"bad header line {line!r}")
        headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
    return parts[0].decode(), int(parts[1]), reason, headers


class Conn:
    """One client connection with a read buffer, so pipelined responses can be read one by one."""

    def __init__(self, port, host="127.0.0.1", timeout=DEFAULT_TIMEOUT):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.buf = b""
        self.eof = False
        # wire collects the bytes of the response being parsed, exactly as they arrived.
        self.wire = b""

    @property
    def local_port(self):
        return self.sock.getsockname()[1]

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        """Reads more bytes into the buffer; returns False at end of stream."""
        if self.eof:
            return False
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _take_until(self, marker):
        while marker not in self.buf:
            if not self._fill():
                raise FramingError(f"connection closed before {marker!r}; have {self.buf[:300]!r}")
        index = self.buf.index(marker)
        self.wire += self.buf[: index + len(marker)]
        data, self.buf = self.buf[:index], self.buf[index + len(marker):]
        return data

    def _take(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise FramingError(f"connection closed after {len(self.buf)} of {n} body bytes")
        data, self.buf = self.buf[:n], self.buf[n:]
        self.wire += data
        return data

    def read_head(self):
        """The next status line and headers, raw, without the blank line."""
        return self._take_until(b"\r\n\r\n")

    def read_response(self, method="GET"):
        """Parses the next complete response (an interim 1xx response is returned on its own)."""
        self.wire = b""
        head = self.read_head()
        version, status, reason, headers = _parse_head(head)
        lower = {k.lower(): v for k, v in headers}
        chunked = False
        trailers = []
        if method == "HEAD" or 100 <= status < 200 or status in (204, 304):
            body = b""
        elif "transfer-encoding" in lower:
            if lower["transfer-encoding"].lower() != "chunked":
                raise FramingError(f"unexpected Transfer-Encoding {lower['transfer-encoding']!r}")
            chunked = True
            body, trailers = self._read_chunked()
        elif "content-length" in lower:
            body = self._take(int(lower["content-length"]))
        else:
            body = self.read_until_close()
        return Response(version, status, reason, headers, body, self.wire, chunked, trailers)

    def read_response_or_eof(self, method="GET"):
        """Like read_response, but None when the server closed the connection between responses."""
        if not self.buf and not self._fill():
            return None
        return self.read_response(method)

    def read_chunk(self):
        """The data of the next chunk of a chunked body (b"" for the last chunk, trailers left unread)."""
        line = self._take_until(b"\r\n")
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise FramingError(f"bad chunk size line {line!r}") from None
        if size == 0:
            return b""
        data = self._take(size)
        if self._take(2) != b"\r\n":
            raise FramingError("chunk not followed by CRLF")
        return data

    def _read_chunked(self):
        body = b""
        while True:
            data = self.read_chunk()
            if not data:
                break
            body += data
        return body, self.read_trailers()

    def read_trailers(self):
        """The trailer lines after the last chunk, up to and including the blank line."""
        trailers = []
        while True:
            line = self._take_until(b"\r\n")
            if not line:
                return trailers
            trailers.append(line)

    def read_until_close(self):
        """Everything until the server closes the connection (socket timeout if it never does)."""
        while self._fill():
            pass
        data, self.buf = self.buf, b""
        self.wire += data
        return data

    def idle(self, wait=0.3):
        """Waits a little and returns any bytes the server sent unasked (b"" when none)."""
        self.sock.settimeout(wait)
        try:
            self._fill()
        except socket.timeout:
            pass
        finally:
            self.sock.settimeout(DEFAULT_TIMEOUT)
        data, self.buf = self.buf, b""
        return data

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def request(port, data, method="GET", host="127.0.0.1", timeout=DEFAULT_TIMEOUT):
    """Sends data on a new connection and returns the first complete response."""
    with Conn(port, host, timeout) as conn:
        conn.send(data)
        return conn.read_response(method)


def get(port, path="/", version="HTTP/1.1", headers=(), method="GET", body=b""):
    """A raw request built from parts, read back as one response."""
    return request(port, build(method, path, version, headers, body), method)


def build(method="GET", path="/", version="HTTP/1.1", headers=(), body=b"", host="127.0.0.1"):
    """Request bytes; Content-Length is added for a body unless headers already frame it."""
    lines = [f"{method} {path} {version}".encode("latin-1")]
    if host is not None:
        lines.append(b"Host: " + host.encode("latin-1"))
    for name, value in headers:
        lines.append(name.encode("latin-1") + b": " + (value if isinstance(value, bytes) else value.encode("latin-1")))
    if body and not any(n.lower() in ("content-length", "transfer-encoding") for n, _ in headers):
        lines.append(f"Content-Length: {len(body)}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def wait_closed(conn, timeout=DEFAULT_TIMEOUT):
    """Reads until EOF; returns the trailing bytes, or raises if the server keeps the connection."""
    conn.sock.settimeout(timeout)
    try:
        return conn.read_until_close()
    except socket.timeout:
        raise AssertionError(f"server did not close the connection within {timeout}s") from None
