package httpwire_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"gowsgi/httpwire"
	"gowsgi/httpwire/wiretest"
)

// The signatures of the two versions, as the specification spells them, and the size of version
// 2's fixed part, which ends with the length of the rest.
var (
	proxyV1Signature = []byte("PROXY ")
	proxyV2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")
)

const proxyV2Fixed = 16

// proxyParse is one outcome of httpwire.ParseProxyHeader.
type proxyParse struct {
	outcome httpwire.ProxyOutcome
	header  httpwire.ProxyHeader
	err     error
}

// FuzzProxyHeader looks at arbitrary bytes as the start of a connection that may send a PROXY
// header of either version, the way prepareConn does: on each longer prefix, up to the bytes it
// peeks at. It must never panic, and a prefix long enough to decide decides for good, and the
// peeked bytes always suffice. A header it accepts is the one its bytes spell, and names a
// client by addresses of its family, without a zone, that both versions can carry unchanged.
func FuzzProxyHeader(f *testing.F) {
	f.Fuzz(func(t *testing.T, input []byte) {
		input = input[:min(len(input), httpwire.ProxyPeekSize)]
		var decided *proxyParse
		for n := 0; n <= len(input); n++ {
			b := input[:n]
			checkDetection(t, b)
			if httpwire.DetectProxyHeader(b, true, true) != httpwire.ProxyFound {
				if decided != nil {
					t.Fatalf("%q: a header at %d bytes, none at %d", input, decided.header.Size, n)
				}
				continue
			}
			outcome, h, err := httpwire.ParseProxyHeader(b)
			switch {
			case decided != nil:
				if got := (proxyParse{outcome, h, err}); got != *decided {
					t.Fatalf("%q: at %d bytes %+v, before %+v", input, n, got, *decided)
				}
			case outcome == httpwire.ProxyFound:
				decided = &proxyParse{outcome, h, err}
				if err == nil {
					checkProxyHeader(t, b, h)
				}
			case n == httpwire.ProxyPeekSize:
				t.Fatalf("%q: still undecided with all the bytes prepareConn peeks at", b)
			}
		}
	})
}

// checkDetection checks that httpwire.DetectProxyHeader, with each version enabled, finds a header
// exactly when b starts with its signature, and waits for more only while b could still.
func checkDetection(t *testing.T, b []byte) {
	t.Helper()
	for _, enabled := range [][2]bool{{true, false}, {false, true}, {true, true}} {
		want := httpwire.ProxyAbsent
		for i, signature := range [][]byte{proxyV1Signature, proxyV2Signature} {
			switch {
			case !enabled[i]:
			case bytes.HasPrefix(b, signature):
				want = httpwire.ProxyFound
			case bytes.HasPrefix(signature, b) && want == httpwire.ProxyAbsent:
				want = httpwire.ProxyNeedMore
			}
		}
		if got := httpwire.DetectProxyHeader(b, enabled[0], enabled[1]); got != want {
			t.Fatalf("%q with v1 %v, v2 %v: detected %d, want %d", b, enabled[0], enabled[1], got, want)
		}
	}
}

// checkProxyHeader holds a header parsed from b to what b says, and encodes it again in both
// versions, which must parse back to it.
func checkProxyHeader(t *testing.T, b []byte, h httpwire.ProxyHeader) {
	t.Helper()
	if bytes.HasPrefix(b, proxyV1Signature) {
		line, _, _ := bytes.Cut(b, []byte("\n"))
		if h.Size != len(line)+1 || !bytes.HasSuffix(line, []byte("\r")) {
			t.Fatalf("%q: header of %d bytes", b, h.Size)
		}
		fields := strings.Split(string(line[len(proxyV1Signature):len(line)-1]), " ")
		if h.Local != (fields[0] == "UNKNOWN") {
			t.Fatalf("%q: local %v", b, h.Local)
		}
		if !h.Local {
			ports := fmt.Sprint(h.Source.Port(), h.Dest.Port())
			if sent := atoi(fields[3]) + " " + atoi(fields[4]); sent != ports {
				t.Fatalf("%q: ports %s", b, ports)
			}
		}
	} else if h.Size != proxyV2Fixed+int(binary.BigEndian.Uint16(b[14:16])) {
		t.Fatalf("%q: header of %d bytes", b, h.Size)
	}
	if h.Local {
		if h.Proto != "" || h.Source.IsValid() || h.Dest.IsValid() {
			t.Fatalf("%q: a local header with addresses %+v", b, h)
		}
		return
	}
	for _, a := range []struct {
		role string
		ok   bool
	}{
		{"source", h.Source.Addr().IsValid() && h.Source.Addr().Zone() == "" && h.Source.Addr().Is4() == (h.Proto == "TCP4")},
		{"destination", h.Dest.Addr().IsValid() && h.Dest.Addr().Zone() == "" && h.Dest.Addr().Is4() == (h.Proto == "TCP4")},
	} {
		if !a.ok || h.Proto != "TCP4" && h.Proto != "TCP6" {
			t.Fatalf("%q: %s address of %+v", b, a.role, h)
		}
	}
	v1 := fmt.Sprintf("PROXY %s %s %s %d %d\r\n", h.Proto, h.Source.Addr(), h.Dest.Addr(), h.Source.Port(), h.Dest.Port())
	family := byte(0x11)
	if h.Proto == "TCP6" {
		family = 0x21
	}
	block := append(h.Source.Addr().AsSlice(), h.Dest.Addr().AsSlice()...)
	block = binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(block, h.Source.Port()), h.Dest.Port())
	for _, again := range [][]byte{[]byte(v1), wiretest.ProxyV2(0x21, family, block, 0)} {
		outcome, back, err := httpwire.ParseProxyHeader(again)
		if outcome != httpwire.ProxyFound || err != nil || back.Size != len(again) {
			t.Fatalf("%q: encoded again as %q: outcome %d, size %d, %v", b, again, outcome, back.Size, err)
		}
		if back.Size = h.Size; back != h {
			t.Fatalf("%q: encoded again as %q: %+v, want %+v", b, again, back, h)
		}
	}
}

// atoi is the decimal value of s without its leading zeros, or s itself if it is not a number.
func atoi(s string) string {
	if n, err := strconv.Atoi(s); err == nil {
		return strconv.Itoa(n)
	}
	return s
}
