package httpwire

import (
	"bytes"
	"io"
	"strconv"
	"testing"
)

// chunkedRead is what the engine made of a chunked body: the data it returned, where it
// decided the body ends in the input, and the error that stopped it, if any.
type chunkedRead struct {
	data []byte
	end  int
	err  error
}

// readChunked decodes input as a chunked request body, as an application reading readSize
// bytes at a time sees it, with input arriving piece bytes at a time.
func readChunked(t *testing.T, eng *Engine, input []byte, piece, readSize int) chunkedRead {
	c, conn := openScripted(eng, input, piece)
	defer c.Reset()
	c.body.reset(-1, true, false)
	var out chunkedRead
	p := make([]byte, readSize)
	for {
		n, err := c.body.Read(p)
		out.data = append(out.data, p[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			out.err = err
			return out
		}
		if n == 0 {
			t.Fatalf("Read made no progress after %d bytes", len(out.data))
		}
	}
	out.end = len(input) - len(conn.input) - (c.w - c.r)
	return out
}

// drainChunked lets the engine drain input as the unread body of a request, and reports
// whether it kept the connection and where it decided the body ends.
func drainChunked(eng *Engine, input []byte, piece int) (bool, int) {
	c, conn := openScripted(eng, input, piece)
	defer c.Reset()
	c.body.reset(-1, true, false)
	kept := c.body.drain()
	return kept, len(input) - len(conn.input) - (c.w - c.r)
}

// chunkedGrammar decodes a chunked body by RFC 9112 §7.1's grammar, written apart from the
// engine: each chunk-size line (hexadecimal digits, then nothing or blanks and an extension)
// declares how many data bytes follow it, and the trailer section runs to the first empty line.
// It returns the data, where the body ends, and how many trailer lines it has; ok is false for
// what does not follow the grammar or is cut short.
func chunkedGrammar(input []byte) (data []byte, end, trailers int, ok bool) {
	for i := 0; ; {
		line, _, found := bytes.Cut(input[i:], crlf)
		if !found || bytes.ContainsFunc(line, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			return nil, 0, 0, false
		}
		i += len(line) + len(crlf)
		digits := len(line) - len(bytes.TrimLeft(line, "0123456789abcdefABCDEF"))
		ext := bytes.TrimLeft(line[digits:], " \t")
		if digits == 0 || digits >= 16 || len(line) > maxChunkLine || len(line) > digits && !bytes.HasPrefix(ext, []byte(";")) {
			return nil, 0, 0, false
		}
		size, err := strconv.ParseUint(string(line[:digits]), 16, 64)
		if err != nil {
			return nil, 0, 0, false
		}
		if size == 0 {
			for {
				line, _, found := bytes.Cut(input[i:], crlf)
				if !found {
					return nil, 0, 0, false
				}
				i += len(line) + len(crlf)
				if len(line) == 0 {
					return data, i, trailers, true
				}
				trailers++
			}
		}
		if uint64(len(input)-i) < size+uint64(len(crlf)) || !bytes.Equal(input[i+int(size):i+int(size)+len(crlf)], crlf) {
			return nil, 0, 0, false
		}
		data = append(data, input[i:i+int(size)]...)
		i += int(size) + len(crlf)
	}
}

// encodeChunked frames data as a chunked body in chunks of at most size bytes, with an
// extension and a trailer field that the decoder must skip.
func encodeChunked(data []byte, size int) []byte {
	var b []byte
	for first := true; len(data) > 0; first = false {
		n := min(len(data), size)
		b = strconv.AppendInt(b, int64(n), 16)
		if first {
			b = append(b, " ;ext=\"v\""...)
		}
		b = append(append(append(b, crlf...), data[:n]...), crlf...)
		data = data[n:]
	}
	return append(b, "0\r\nX-Checksum: 1\r\n\r\n"...)
}

// FuzzChunkedBody decodes arbitrary bytes as a chunked request body, arriving piece bytes at a
// time and read readSize bytes at a time, with the parser switches off or (relaxed) all on. It
// must never panic or stall. A body it accepts follows the chunked grammar, holds exactly the
// bytes its chunk sizes declare and ends where the grammar says, whatever the splits, and
// draining it instead of reading it ends at the same place; re-encoded, it decodes to the same
// bytes. A body the grammar accepts and without trailer fields, which are held to further
// rules, the engine must accept too.
func FuzzChunkedBody(f *testing.F) {
	strict := NewEngine(fuzzLimits(parsingSwitches(0)))
	relaxedEngine := NewEngine(fuzzLimits(parsingSwitches(0x1f)))
	f.Fuzz(func(t *testing.T, input []byte, piece uint8, readSize uint16, relaxed bool) {
		eng := strict
		if relaxed {
			eng = relaxedEngine
		}
		// Reads of readBufSize bytes or more skip the read buffer: both ways are covered.
		size := int(readSize)%(2*readBufSize) + 1
		got := readChunked(t, eng, input, int(piece%64)+1, size)
		if whole := readChunked(t, eng, input, len(input)+1, len(input)+1); !bytes.Equal(got.data, whole.data) ||
			got.end != whole.end || got.err != whole.err {
			t.Fatalf("in pieces of %d, reads of %d: %q, end %d, %v\nat once: %q, end %d, %v",
				piece%64+1, size, got.data, got.end, got.err, whole.data, whole.end, whole.err)
		}
		data, end, trailers, ok := chunkedGrammar(input)
		if got.err != nil {
			if ok && trailers == 0 {
				t.Fatalf("a body by the grammar refused: %v", got.err)
			}
			return
		}
		if !ok || !bytes.Equal(got.data, data) || got.end != end {
			t.Fatalf("decoded %q ending at %d; by the grammar %q ending at %d (ok %v)", got.data, got.end, data, end, ok)
		}
		if len(data) <= drainLimit {
			if kept, drained := drainChunked(eng, input, int(piece%64)+1); !kept || drained != end {
				t.Fatalf("draining: kept %v, ended at %d, want %d", kept, drained, end)
			}
		}
		again := encodeChunked(got.data, int(piece)+1)
		if re := readChunked(t, eng, again, len(again)+1, size); re.err != nil || !bytes.Equal(re.data, got.data) ||
			re.end != len(again) {
			t.Fatalf("re-encoded as %q: %q, end %d, %v", again, re.data, re.end, re.err)
		}
	})
}
