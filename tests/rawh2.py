"""HTTP/2 by hand for the tests that speak it raw: frames (RFC 9113 §4.1), HPACK literals
without Huffman coding (RFC 7541), and a client connection over TLS (h2 chosen by ALPN) that
sends and reads them."""

import select
import socket
import ssl
import struct

DATA, HEADERS, RST_STREAM, SETTINGS, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 7, 8, 9
END_STREAM, ACK, END_HEADERS = 1, 1, 4
# SETTINGS identifiers (RFC 9113 §6.5.2)
HEADER_TABLE_SIZE, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE = 1, 3, 4, 5, 6
MAX_FRAME = 16384


def frame(kind, flags, stream, payload=b""):
    return len(payload).to_bytes(3, "big") + struct.pack(">BBI", kind, flags, stream) + payload


def hpack_int(value, prefix_bits, pattern=0):
    """value as an HPACK integer after the bits of pattern in its first byte (RFC 7541 §5.1)."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([pattern | value])
    out = [pattern | limit]
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    return bytes(out + [value])


def hpack_string(text):
    """text as an HPACK string literal without Huffman coding (RFC 7541 §5.2)."""
    data = text.encode("latin-1")
    return hpack_int(len(data), 7) + data


def literal(name, value):
    """A literal field, not indexed, with a literal name (RFC 7541 §6.2.2)."""
    return b"\0" + hpack_string(name) + hpack_string(value)


def request_block(path, *fields):
    return b"".join(literal(name, value) for name, value in
                    ((":method", "GET"), (":scheme", "https"), (":path", path), (":authority", "x"), *fields))


def tls_context(protocol):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols([protocol])
    return context


class Closed(Exception):
    """The server ended the connection: code is its GOAWAY's error code, None when it just closed."""

    def __init__(self, code):
        super().__init__(f"connection ended, GOAWAY code {code}")
        self.code = code


class H2:
    """One HTTP/2 connection: the preface and SETTINGS exchange, then frames as the test writes them."""

    def __init__(self, port, settings=b""):
        self.sock = tls_context("h2").wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
        assert self.sock.selected_alpn_protocol() == "h2"
        self.sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(SETTINGS, 0, 0, settings))
        kind, _, _, payload = self.read()
        assert kind == SETTINGS
        self.settings = dict(struct.unpack(">HI", payload[i:i + 6]) for i in range(0, len(payload), 6))
        self.send(frame(SETTINGS, ACK, 0))

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError:
            raise Closed(None) from None

    def read(self):
        """The next frame as (type, flags, stream, payload); raises Closed at a GOAWAY or the end."""
        head = self._exactly(9)
        kind, flags, stream = struct.unpack(">BBI", head[3:])
        payload = self._exactly(int.from_bytes(head[:3], "big"))
        if kind == GOAWAY:
            raise Closed(struct.unpack(">I", payload[4:8])[0])
        if kind == DATA and payload:
            self.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", len(payload))))  # the connection's window back
        return kind, flags, stream & 0x7FFFFFFF, payload

    def _exactly(self, n):
        data = b""
        while len(data) < n:
            try:
                chunk = self.sock.recv(n - len(data))
            except OSError:
                chunk = b""
            if not chunk:
                raise Closed(None)
            data += chunk
        return data

    def poll(self, timeout):
        """Reads whatever the server sends until it has been quiet for timeout seconds; raises
        Closed at a GOAWAY or the end."""
        while self.sock.pending() or select.select([self.sock], [], [], timeout)[0]:
            self.read()

    def answer(self, stream):
        """The body of the answer on stream, or "reset"."""
        body = b""
        while True:
            kind, flags, sid, payload = self.read()
            if sid != stream:
                continue
            if kind == RST_STREAM:
                return "reset"
            if kind == DATA:
                body += payload
            if kind in (DATA, HEADERS) and flags & END_STREAM:
                return body.decode()

    def get(self, stream, path="/", *fields):
        """GET path with fields ((name, value), lower-case names), in as many frames as its
        header block needs; returns the answer's body, or "reset"."""
        block = request_block(path, *fields)
        pieces = [block[i:i + MAX_FRAME] for i in range(0, len(block), MAX_FRAME)] or [b""]
        for i, piece in enumerate(pieces):
            flags = (END_STREAM if i == 0 else 0) | (END_HEADERS if i == len(pieces) - 1 else 0)
            self.send(frame(HEADERS if i == 0 else CONTINUATION, flags, stream, piece))
        return self.answer(stream)

    def close(self):
        self.sock.close()
