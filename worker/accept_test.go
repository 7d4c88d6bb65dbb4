package worker

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gowsgi/errorlog"
	"gowsgi/httpwire/wiretest"
)

// lateListener has one connection in hand as it closes, as a listener does whose Accept took
// a connection from the kernel just before another goroutine closed it: that Accept returns
// the connection a little later, and the next one reports the listener closed.
type lateListener struct {
	closed  chan struct{}
	once    sync.Once
	inHand  net.Conn
	handed  bool
	closing time.Duration
}

func (l *lateListener) Accept() (net.Conn, error) {
	<-l.closed
	if l.handed {
		return nil, net.ErrClosed
	}
	l.handed = true
	time.Sleep(l.closing)
	return l.inHand, nil
}

func (l *lateListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *lateListener) Addr() net.Addr { return &net.TCPAddr{} }

func TestGracefulStopServesTheConnectionAcceptedAsTheListenerClosed(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	l := &lateListener{closed: make(chan struct{}), inHand: server, closing: 50 * time.Millisecond}
	srv := newHTTPServer(testLimits, "http", wiretest.Echo)
	gate := &admission{limit: 1, progressing: func(time.Duration) bool { return true }}
	accepting := newAcceptors([]net.Listener{l}, nil)
	accepting.start(srv, gate)

	accepting.close()
	srv.shutdown()
	accepting.wait(time.Now().Add(5 * time.Second))
	if srv.wait(time.Now()) {
		t.Fatal("the server counted no connection after its accept loop returned with one")
	}
	go client.Write([]byte("GET /late HTTP/1.1\r\nHost: x\r\n\r\n"))
	status, err := bufio.NewReader(client).ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 200") {
		t.Fatalf("the late connection got %q, %v", status, err)
	}
	client.Close()
	if !srv.wait(time.Now().Add(5 * time.Second)) {
		t.Error("the connection was still open 5 s after it closed")
	}
}

func TestAcceptOutageIsLoggedOnceUntilAcceptingWorksForAWhile(t *testing.T) {
	var log bytes.Buffer
	errorlog.SetOutput(&log)
	defer errorlog.SetOutput(os.Stderr)
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8000}
	emfile := &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	var outage acceptOutage
	start := time.Now()
	at := func(d time.Duration) time.Time { return start.Add(d) }

	// At the limit: failures, with a connection let in now and then as a descriptor frees up.
	for i := range 5 {
		outage.failed(addr, emfile, at(time.Duration(i)*10*time.Millisecond))
		outage.check(addr, at(time.Duration(i)*10*time.Millisecond+5*time.Millisecond))
	}
	if got := strings.Count(log.String(), "\n"); got != 1 || !strings.Contains(log.String(), "EMFILE") {
		t.Fatalf("want one line naming EMFILE for a run of failures, got:\n%s", log.String())
	}
	outage.check(addr, at(40*time.Millisecond+acceptRecovered))
	if !strings.Contains(log.String(), "again, after 5 failed attempts over 40ms") {
		t.Fatalf("want a line saying accepting works again, got:\n%s", log.String())
	}
	outage.failed(addr, emfile, at(time.Minute))
	if got := strings.Count(log.String(), "cannot accept"); got != 2 {
		t.Errorf("want a new outage logged anew, got:\n%s", log.String())
	}
}
