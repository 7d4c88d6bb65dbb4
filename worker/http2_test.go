package worker

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gowsgi/balance"
	"gowsgi/config"
	"gowsgi/httpwire"
	"gowsgi/httpwire/wiretest"
)

// testCertificate is a self-signed certificate for 127.0.0.1 and a pool that trusts it.
func testCertificate(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// startTLSServer serves dispatch over TLS offering protocols (ALPN names) until the test ends,
// and returns the address, a client for the first protocol, and the engine.
func startTLSServer(t *testing.T, lim limits, protocols []string, dispatch dispatchFunc) (string, *http.Client, *httpServer) {
	t.Helper()
	return startTLSServerWith(t, lim, protocols, dispatch, nil)
}

// startTLSServerWith is startTLSServer with setUp, if not nil, changing the engine first.
func startTLSServerWith(t *testing.T, lim limits, protocols []string, dispatch dispatchFunc, setUp func(*httpServer)) (string, *http.Client, *httpServer) {
	t.Helper()
	cert, pool := testCertificate(t)
	settings := &config.TLSSettings{CertFile: "test", Certificate: cert, Protocols: protocols}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(lim, urlScheme(settings), dispatch)
	srv.tls = newTLSLayer(settings, srv)
	if setUp != nil {
		setUp(srv)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go srv.serveConn(c)
		}
	}()
	client := tlsClient(pool, protocols[0])
	t.Cleanup(func() {
		client.CloseIdleConnections() // else the server's GOAWAY waits a second for them
		l.Close()
		srv.shutdown()
		if !srv.wait(time.Now().Add(5 * time.Second)) {
			t.Error("connections still open 5 s after shutdown")
		}
	})
	return l.Addr().String(), client, srv
}

// tlsClient speaks only the given protocol ("h2" or "http/1.1").
func tlsClient(pool *x509.CertPool, protocol string) *http.Client {
	var p http.Protocols
	p.SetHTTP1(protocol == config.ALPNHTTP1)
	p.SetHTTP2(protocol == config.ALPNHTTP2)
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, Protocols: &p}
	return &http.Client{Transport: transport, Timeout: 10 * time.Second}
}

var h2First = []string{config.ALPNHTTP2, config.ALPNHTTP1}

func get(t *testing.T, client *http.Client, req *http.Request) (*http.Response, string, error) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, string(body), err
}

// getFails reports whether the request failed, before or after its response header.
func getFails(client *http.Client, req *http.Request) bool {
	resp, err := client.Do(req)
	if err != nil {
		return true
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	return err != nil
}

func newRequest(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestHTTP2RequestBecomesWSGIRequest(t *testing.T) {
	addr, client, _ := startTLSServer(t, testLimits, h2First, wiretest.Echo)
	req := newRequest(t, "POST", "https://"+addr+"/a%20b?q=1", strings.NewReader("hello"))
	req.Header.Set("X-Test", "1")
	req.Header.Set("X_Under", "2")
	req.Header.Add("Cookie", "a=1")
	req.Header.Add("Cookie", "b=2")
	resp, body, err := get(t, client, req)
	if err != nil || resp.Proto != "HTTP/2.0" {
		t.Fatalf("%s %v", resp.Proto, err)
	}
	for _, want := range []string{"method=POST\n", "uri=/a%20b?q=1\n", "path=/a%20b\n", "query=q=1\n",
		"proto=HTTP/2\n", "length=5\n", "header=Host:" + addr + "\n", "header=X-Test:1\n",
		"header=Content-Length:5\n", "header=Cookie:a=1; b=2\n", "body=hello\n",
		"remote=127.0.0.1 ", "server=127.0.0.1 " + addr[strings.LastIndexByte(addr, ':')+1:] + " https\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %q in\n%s", want, body)
		}
	}
	if strings.Contains(body, "X_Under") {
		t.Errorf("a header name with _ reached the app:\n%s", body)
	}
}

func TestHTTP2ResponseHeadersAndLength(t *testing.T) {
	addr, client, _ := startTLSServer(t, testLimits, h2First, func(req *httpwire.Request, w httpwire.ResponseWriter) {
		w.WriteHeader([]byte("200 OK"), 200, []httpwire.HeaderField{
			{Name: []byte("Connection"), Value: []byte("close")},
			{Name: []byte("Keep-Alive"), Value: []byte("timeout=5")},
			{Name: []byte("Transfer-Encoding"), Value: []byte("chunked")},
			{Name: []byte("Content-Length"), Value: []byte("5")},
			{Name: []byte("Set-Cookie"), Value: []byte("a=1")},
			{Name: []byte("Set-Cookie"), Value: []byte("b=2")},
		})
		w.Write([]byte("hello world"))
	})
	for _, method := range []string{"GET", "HEAD"} {
		resp, body, err := get(t, client, newRequest(t, method, "https://"+addr+"/", nil))
		want := map[string]string{"GET": "hello", "HEAD": ""}[method]
		if err != nil || body != want || resp.ContentLength != 5 {
			t.Errorf("%s: body %q, length %d, %v", method, body, resp.ContentLength, err)
		}
		for _, name := range []string{"Connection", "Keep-Alive", "Transfer-Encoding", "Content-Type"} {
			if v, ok := resp.Header[name]; ok {
				t.Errorf("%s: %s: %q sent", method, name, v)
			}
		}
		if resp.Header.Get("Server") != "gowsgi" || resp.Header.Get("Date") == "" || len(resp.Header["Set-Cookie"]) != 2 {
			t.Errorf("%s: headers %v", method, resp.Header)
		}
	}
}

func TestHTTP2StreamedResponse(t *testing.T) {
	next := make(chan struct{})
	addr, client, _ := startTLSServer(t, testLimits, h2First, func(req *httpwire.Request, w httpwire.ResponseWriter) {
		w.WriteHeader([]byte("200 OK"), 200, nil)
		w.Write([]byte("first\n"))
		w.Flush()
		<-next
		w.Write([]byte("second\n"))
	})
	resp, err := client.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, 6)
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "first\n" {
		t.Fatalf("first chunk %q, %v", first, err)
	}
	close(next)
	if rest, err := io.ReadAll(resp.Body); err != nil || string(rest) != "second\n" {
		t.Errorf("rest %q, %v", rest, err)
	}
}

func TestHTTP2IncompleteResponsesResetTheStream(t *testing.T) {
	cases := map[string]dispatchFunc{
		"fewer bytes than Content-Length": func(req *httpwire.Request, w httpwire.ResponseWriter) {
			w.WriteHeader([]byte("200 OK"), 200, []httpwire.HeaderField{{Name: []byte("Content-Length"), Value: []byte("10")}})
			w.Write([]byte("abc"))
		},
		"aborted after the header": func(req *httpwire.Request, w httpwire.ResponseWriter) {
			w.WriteHeader([]byte("200 OK"), 200, nil)
			w.Write([]byte("partial"))
			w.Flush()
			w.Abort()
		},
	}
	for name, dispatch := range cases {
		t.Run(name, func(t *testing.T) {
			addr, client, _ := startTLSServer(t, testLimits, h2First, dispatch)
			// Twice: the connection serves on after a reset stream.
			for range 2 {
				if !getFails(client, newRequest(t, "GET", "https://"+addr+"/", nil)) {
					t.Error("the client read a complete response")
				}
			}
		})
	}
}

func TestHTTP2Limits(t *testing.T) {
	lim := testLimits
	lim.Fields, lim.FieldSize, lim.RequestLine = 10, 100, 60
	addr, client, _ := startTLSServer(t, lim, h2First, wiretest.Echo)
	cases := map[string]struct {
		path   string
		header http.Header
		status int
	}{
		"within limits":   {"/ok", http.Header{"X-A": {"1"}}, 200},
		"too many":        {"/", http.Header{"X-A": {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}}, 431},
		"too large":       {"/", http.Header{"X-Big": {strings.Repeat("x", 100)}}, 431},
		"target too long": {"/" + strings.Repeat("a", 60), nil, 414},
	}
	for name, c := range cases {
		req := newRequest(t, "GET", "https://"+addr+c.path, nil)
		req.Header = c.header
		resp, body, _ := get(t, client, req)
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d: %s", name, resp.StatusCode, c.status, body)
		}
	}
}

func TestHTTP2RefusesInformationalFinalStatus(t *testing.T) {
	var got error
	addr, client, _ := startTLSServer(t, testLimits, h2First, func(req *httpwire.Request, w httpwire.ResponseWriter) {
		got = w.WriteHeader([]byte("103 Early Hints"), 103, nil)
		wiretest.WriteText(w, "500 Internal Server Error", "no")
	})
	resp, _, _ := get(t, client, newRequest(t, "GET", "https://"+addr+"/", nil))
	if !errors.Is(got, errInformational) || resp.StatusCode != 500 {
		t.Errorf("WriteHeader(103) gave %v, status %d", got, resp.StatusCode)
	}
}

func TestHTTP2NoResponseIs500(t *testing.T) {
	addr, client, _ := startTLSServer(t, testLimits, h2First, func(*httpwire.Request, httpwire.ResponseWriter) {})
	if resp, _, _ := get(t, client, newRequest(t, "GET", "https://"+addr+"/", nil)); resp.StatusCode != 500 {
		t.Errorf("status %d", resp.StatusCode)
	}
}

func sendFileDispatch(path string) dispatchFunc {
	return func(req *httpwire.Request, w httpwire.ResponseWriter) {
		f, err := os.Open(path)
		if err != nil {
			panic(err)
		}
		defer f.Close()
		w.WriteHeader([]byte("200 OK"), 200, []httpwire.HeaderField{{Name: []byte("Content-Length"), Value: []byte("100000")}})
		if err := w.SendFile(f, 10, -1); err != nil {
			w.Abort()
		}
	}
}

func TestFilesOverTLS(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	data := bytes.Repeat([]byte("0123456789abcdef"), 20000)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, protocol := range []string{config.ALPNHTTP2, config.ALPNHTTP1} {
		addr, client, _ := startTLSServer(t, testLimits, []string{protocol}, sendFileDispatch(path))
		_, body, err := get(t, client, newRequest(t, "GET", "https://"+addr+"/", nil))
		if err != nil || body != string(data[10:100010]) {
			t.Errorf("%s: %d bytes, %v", protocol, len(body), err)
		}
	}
}

func TestHTTP1OverTLS(t *testing.T) {
	addr, client, _ := startTLSServer(t, testLimits, []string{config.ALPNHTTP1}, wiretest.Echo)
	for i := range 2 {
		resp, body, err := get(t, client, newRequest(t, "GET", "https://"+addr+"/x", nil))
		if err != nil || resp.Proto != "HTTP/1.1" || !strings.Contains(body, "proto=HTTP/1.1\n") ||
			!strings.Contains(body, " https\n") {
			t.Errorf("request %d: %s %v\n%s", i, resp.Proto, err, body)
		}
	}
}

func TestHTTP2GracefulShutdownFinishesOpenStreams(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	addr, client, srv := startTLSServer(t, testLimits, h2First, func(req *httpwire.Request, w httpwire.ResponseWriter) {
		if string(req.Path) == "/slow" {
			close(entered)
			<-release
		}
		wiretest.WriteText(w, "200 OK", "done")
	})
	// A first request opens the connection the slow one shares.
	get(t, client, newRequest(t, "GET", "https://"+addr+"/", nil))
	result := make(chan string, 1)
	go func() {
		resp, err := client.Get("https://" + addr + "/slow")
		if err != nil {
			result <- err.Error()
			return
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		result <- strconv.Itoa(resp.StatusCode) + " " + string(body) + " " + errString(err)
	}()
	<-entered
	srv.shutdown()
	if srv.wait(time.Now().Add(200 * time.Millisecond)) {
		t.Error("the stop did not wait for the open stream")
	}
	close(release)
	if got := <-result; got != "200 done " {
		t.Errorf("open stream ended with %q", got)
	}
	if !srv.wait(time.Now().Add(5 * time.Second)) {
		t.Error("connections still open after their streams ended")
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// An HTTP/2 connection counts towards the worker's connections for balancing while it is open,
// though the HTTP/2 server, not the HTTP/1.1 engine, serves it.
func TestHTTP2ConnectionsCountForBalancing(t *testing.T) {
	table, err := balance.Create()
	if err != nil {
		t.Fatal(err)
	}
	defer table.File().Close()
	mine, other := table.Slot(table.Claim()), table.Slot(table.Claim())
	other.Publish(0)
	addr, client, srv := startTLSServerWith(t, testLimits, h2First, wiretest.Echo, func(s *httpServer) { s.load = mine })
	srv.publishLoad()
	resp, _, err := get(t, client, newRequest(t, "GET", "https://"+addr+"/", nil))
	if err != nil || resp.Proto != "HTTP/2.0" {
		t.Fatalf("%s %v", resp.Proto, err)
	}
	// 1 connection against none: ahead by 1, not by more.
	if !mine.Ahead(0) || mine.Ahead(1) {
		t.Fatalf("with one HTTP/2 connection open: Ahead(0) = %v, Ahead(1) = %v, want true, false",
			mine.Ahead(0), mine.Ahead(1))
	}
	client.CloseIdleConnections()
	for deadline := time.Now().Add(5 * time.Second); mine.Ahead(0); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a closed HTTP/2 connection still counts after 5 s")
		}
	}
}
