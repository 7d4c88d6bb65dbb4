package worker

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
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
	srv := newHTTPServer(testLimits, "http", echo)
	gate := &admission{limit: 1, progressing: func(time.Duration) bool { return true }}
	accepting := newAcceptors([]net.Listener{l})
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
