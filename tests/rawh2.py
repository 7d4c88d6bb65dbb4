"""HTTP/2 by hand for the tests that speak it raw: frames (RFC 9113 §4.1) and HPACK literals
without Huffman coding (RFC 7541)."""

import struct


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
