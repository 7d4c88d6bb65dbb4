package worker

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// proxyParse is one outcome of parseProxyHeader.
type proxyParse struct {
	outcome int
	header  proxyHeader
	err     error
}

// FuzzProxyHeader looks at arbitrary bytes as the start of a connection that may send a PROXY
// header of either version, the way prepareConn does: on each longer prefix, up to the bytes it
// peeks at. It must never panic, and a prefix long enough to decide decides for good, and the
// peeked bytes always suffice. A header it accepts is the one its bytes spell, and names a
// client by addresses of its family, without a zone, that both versions can carry unchanged.
func FuzzProxyHeader(f *testing.F) {
	f.Fuzz(func(t *testing.T, input []byte) {
		input = input[:min(len(input), proxyPeekSize)]
		var decided *proxyParse
		for n := 0; n <= len(input); n++ {
			b := input[:n]
			checkDetection(t, b)
			if detectProxyHeader(b, true, true) != proxyFound {
				if decided != nil {
					t.Fatalf("%q: a header at %d bytes, none at %d", input, decided.header.size, n)
				}
				continue
			}
			outcome, h, err := parseProxyHeader(b)
			switch {
			case decided != nil:
				if got := (proxyParse{outcome, h, err}); got != *decided {
					t.Fatalf("%q: at %d bytes %+v, before %+v", input, n, got, *decided)
				}
			case outcome == proxyFound:
				decided = &proxyParse{outcome, h, err}
				if err == nil {
					checkProxyHeader(t, b, h)
				}
			case n == proxyPeekSize:
				t.Fatalf("%q: still undecided with all the bytes prepareConn peeks at", b)
			}
		}
	})
}

// checkDetection checks that detectProxyHeader, with each version enabled, finds a header
// exactly when b starts with its signature, and waits for more only while b could still.
func checkDetection(t *testing.T, b []byte) {
	t.Helper()
	for _, enabled := range [][2]bool{{true, false}, {false, true}, {true, true}} {
		want := proxyAbsent
		for i, signature := range [][]byte{proxyV1Signature, proxyV2Signature} {
			switch {
			case !enabled[i]:
			case bytes.HasPrefix(b, signature):
				want = proxyFound
			case bytes.HasPrefix(signature, b) && want == proxyAbsent:
				want = proxyNeedMore
			}
		}
		if got := detectProxyHeader(b, enabled[0], enabled[1]); got != want {
			t.Fatalf("%q with v1 %v, v2 %v: detected %d, want %d", b, enabled[0], enabled[1], got, want)
		}
	}
}

// checkProxyHeader holds a header parsed from b to what b says, and encodes it again in both
// versions, which must parse back to it.
func checkProxyHeader(t *testing.T, b []byte, h proxyHeader) {
	t.Helper()
	if bytes.HasPrefix(b, proxyV1Signature) {
		line, _, _ := bytes.Cut(b, []byte("\n"))
		if h.size != len(line)+1 || !bytes.HasSuffix(line, []byte("\r")) {
			t.Fatalf("%q: header of %d bytes", b, h.size)
		}
		fields := strings.Split(string(line[len(proxyV1Signature):len(line)-1]), " ")
		if h.local != (fields[0] == "UNKNOWN") {
			t.Fatalf("%q: local %v", b, h.local)
		}
		if !h.local {
			ports := fmt.Sprint(h.source.Port(), h.dest.Port())
			if sent := atoi(fields[3]) + " " + atoi(fields[4]); sent != ports {
				t.Fatalf("%q: ports %s", b, ports)
			}
		}
	} else if h.size != proxyV2Fixed+int(binary.BigEndian.Uint16(b[14:16])) {
		t.Fatalf("%q: header of %d bytes", b, h.size)
	}
	if h.local {
		if h.proto != "" || h.source.IsValid() || h.dest.IsValid() {
			t.Fatalf("%q: a local header with addresses %+v", b, h)
		}
		return
	}
	for _, a := range []struct {
		role string
		ok   bool
	}{
		{"source", h.source.Addr().IsValid() && h.source.Addr().Zone() == "" && h.source.Addr().Is4() == (h.proto == "TCP4")},
		{"destination", h.dest.Addr().IsValid() && h.dest.Addr().Zone() == "" && h.dest.Addr().Is4() == (h.proto == "TCP4")},
	} {
		if !a.ok || h.proto != "TCP4" && h.proto != "TCP6" {
			t.Fatalf("%q: %s address of %+v", b, a.role, h)
		}
	}
	v1 := fmt.Sprintf("PROXY %s %s %s %d %d\r\n", h.proto, h.source.Addr(), h.dest.Addr(), h.source.Port(), h.dest.Port())
	family := byte(0x11)
	if h.proto == "TCP6" {
		family = 0x21
	}
	block := append(h.source.Addr().AsSlice(), h.dest.Addr().AsSlice()...)
	block = binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(block, h.source.Port()), h.dest.Port())
	for _, again := range [][]byte{[]byte(v1), proxyV2(0x21, family, block, 0)} {
		outcome, back, err := parseProxyHeader(again)
		if outcome != proxyFound || err != nil || back.size != len(again) {
			t.Fatalf("%q: encoded again as %q: outcome %d, size %d, %v", b, again, outcome, back.size, err)
		}
		if back.size = h.size; back != h {
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
