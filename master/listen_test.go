package master

import (
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
)

func TestParseBindFollowsGunicorn(t *testing.T) {
	cases := []struct{ bind, network, address string }{
		{"127.0.0.1:8000", "tcp4", "127.0.0.1:8000"},
		{"0.0.0.0:5000", "tcp4", "0.0.0.0:5000"},
		{"localhost", "tcp4", "localhost:8000"},
		{"LocalHost:9000", "tcp4", "localhost:9000"},
		{":9000", "tcp4", "0.0.0.0:9000"},
		{"", "tcp4", "0.0.0.0:8000"},
		{"tcp://127.0.0.1:81", "tcp4", "127.0.0.1:81"},
		{"[::1]:8000", "tcp6", "[::1]:8000"},
		{"[::]:8000", "tcp6", "[::]:8000"},
		{"[::1]", "tcp6", "[::1]:8000"},
		{"example.com:0", "tcp4", "example.com:0"},
		{"unix:/run/app.sock", "unix", "/run/app.sock"},
		{"unix:///run/app.sock", "unix", "/run/app.sock"},
		{"fd://3", "fd", "3"},
	}
	for _, c := range cases {
		network, address, err := parseBind(c.bind)
		if err != nil || network != c.network || address != c.address {
			t.Errorf("parseBind(%q) = %q, %q, %v; want %q, %q", c.bind, network, address, err, c.network, c.address)
		}
	}
}

func TestParseBindRejectsWhatItCannotServe(t *testing.T) {
	cases := map[string]string{
		"127.0.0.1:http":  `"http" is not a valid port number`,
		"127.0.0.1:":      `"" is not a valid port number`,
		"127.0.0.1:70000": `"70000" is not a valid port number`,
		"127.0.0.1:-1":    `"-1" is not a valid port number`,
		"::1:8000":        "put an IPv6 address in brackets",
		"[::1:8000":       `missing "]"`,
		"[::1]8000":       `expected ":PORT" after "]"`,
		"unix:":           `no path after "unix:"`,
		"fd://three":      `"three" is not a file descriptor number`,
		"fd://-1":         `"-1" is not a file descriptor number`,
	}
	for bind, want := range cases {
		if _, _, err := parseBind(bind); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseBind(%q) error = %v, want one containing %q", bind, err, want)
		}
	}
}

func TestListenAllLogsTheBoundAddresses(t *testing.T) {
	log := captureLog(t)
	binds := []string{"127.0.0.1:0", "127.0.0.1:0"}
	if probe, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		probe.Close()
		binds = append(binds, "[::1]:0")
	}
	files, ok := listenAll(binds, listenOptions{})
	if !ok {
		t.Fatalf("listenAll failed:\n%s", log)
	}
	defer closeAll(files)
	if len(files) != len(binds) {
		t.Fatalf("%d files for %d binds", len(files), len(binds))
	}
	for _, f := range files {
		l, err := net.FileListener(f)
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().(*net.TCPAddr)
		l.Close()
		want := fmt.Sprintf("[INFO] Listening at: http://%s (%d)\n", net.JoinHostPort(addr.IP.String(), fmt.Sprint(addr.Port)), os.Getpid())
		assertLogged(t, log, want)
		if addr.Port == 0 {
			t.Errorf("listener %v has no port", addr)
		}
	}
}

func TestListenAllReportsAnAddressInUse(t *testing.T) {
	log := captureLog(t)
	taken, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	if files, ok := listenAll([]string{"127.0.0.1:0", taken.Addr().String()}, listenOptions{}); ok {
		closeAll(files)
		t.Fatal("listenAll succeeded on an address in use")
	}
	assertLogged(t, log, fmt.Sprintf("[ERROR] Can't listen at %s: address already in use\n", taken.Addr()))
}

func TestListenAllReportsABadBind(t *testing.T) {
	log := captureLog(t)
	if _, ok := listenAll([]string{"127.0.0.1:http"}, listenOptions{}); ok {
		t.Fatal("listenAll accepted a bad port")
	}
	assertLogged(t, log, `[ERROR] Invalid bind "127.0.0.1:http": "http" is not a valid port number`)
}
