package worker

import (
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gowsgi/httpwire"
	"gowsgi/httpwire/wiretest"
)

// startSyncLoop runs the sync class's loop for srv on a thread of its own until the test ends.
// Requests go straight to srv's dispatch function, on the loop's thread.
func startSyncLoop(t testing.TB, srv *httpServer) *syncClass {
	t.Helper()
	s := &syncClass{epfd: -1, wakefd: -1, gate: admission{limit: 1}}
	if err := s.attach(srv); err != nil {
		t.Fatal(err)
	}
	exit := make(chan int)
	stopped := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		s.run(exit)
		close(stopped)
	}()
	t.Cleanup(func() {
		exit <- 0
		<-stopped
		syscall.Close(s.epfd)
		syscall.Close(s.wakefd)
	})
	return s
}

// The engine's behaviour tests, served by the loop.
func TestSyncLoopPassesTheEngineTests(t *testing.T) { wiretest.Run(t, suiteServer(true)) }

// The engine's benchmarks, served by the loop: the sync worker's path.
func BenchmarkSyncLoopHello(b *testing.B) { wiretest.BenchmarkHello(b, suiteServer(true)) }
func BenchmarkSyncLoopHelloRoundTrip(b *testing.B) {
	wiretest.BenchmarkHelloRoundTrip(b, suiteServer(true))
}

// Every request on connections the loop owns runs on the loop's thread, whichever connection
// it came on, and keep-alive connections stay with the loop between requests.
func TestSyncLoopRunsRequestsOnItsThread(t *testing.T) {
	var mu sync.Mutex
	threads := map[int]int{}
	addr, _ := startServerVia(t, testLimits, func(req *httpwire.Request, w httpwire.ResponseWriter) {
		mu.Lock()
		threads[syscall.Gettid()]++
		mu.Unlock()
		wiretest.Echo(req, w)
	}, true)
	clients := []*wiretest.Client{wiretest.Dial(t, addr), wiretest.Dial(t, addr), wiretest.Dial(t, addr)}
	for round := range 5 {
		for _, c := range clients {
			c.Send("GET /r HTTP/1.1\r\n\r\n")
		}
		for _, c := range clients {
			if r := c.Read(false); r.Code != 200 {
				t.Fatalf("round %d: %q", round, r.Status)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(threads) != 1 {
		t.Fatalf("requests ran on %d threads: %v", len(threads), threads)
	}
}

// A head that arrives in pieces, and a body the app leaves unread while it is still on its way,
// are waited for off the loop, and the connection comes back to it for the next request.
func TestSyncLoopWaitsForNoClient(t *testing.T) {
	addr, _ := startServerVia(t, testLimits, func(req *httpwire.Request, w httpwire.ResponseWriter) {
		if strings.HasPrefix(string(req.Path), "/unread") {
			wiretest.WriteText(w, "200 OK", "not read")
			return
		}
		wiretest.Echo(req, w)
	}, true)
	slow := wiretest.Dial(t, addr)
	slow.Send("GET /first HTTP/1.1\r\n\r\n")
	slow.Read(false)
	slow.Send("GET /pieces HTTP/1.1\r\nHo")
	time.Sleep(50 * time.Millisecond)
	quick := wiretest.Dial(t, addr)
	quick.Send("GET /quick HTTP/1.1\r\n\r\n")
	if r := quick.Read(false); r.BodyField("path") != "/quick" {
		t.Fatalf("quick: %q", r.Body)
	}
	slow.Send("st: x\r\n\r\n")
	if r := slow.Read(false); r.BodyField("path") != "/pieces" {
		t.Fatalf("pieces: %q", r.Body)
	}
	slow.Send("POST /unread HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
	if r := slow.Read(false); r.Body != "not read" {
		t.Fatalf("unread: %q", r.Body)
	}
	quick.Send("GET /quick2 HTTP/1.1\r\n\r\n")
	if r := quick.Read(false); r.BodyField("path") != "/quick2" {
		t.Fatalf("quick2: %q", r.Body)
	}
	slow.Send("defghij")
	slow.Send("GET /after HTTP/1.1\r\n\r\n")
	if r := slow.Read(false); r.BodyField("path") != "/after" || r.Header("Connection") != "" {
		t.Fatalf("after: %q %v", r.Body, r.Headers)
	}
}

// A graceful stop closes the connections the loop holds idle, and those busy after their
// response.
func TestSyncLoopShutdown(t *testing.T) {
	addr, srv := startServerVia(t, testLimits, wiretest.Echo, true)
	idle := wiretest.Dial(t, addr)
	idle.Send("GET / HTTP/1.1\r\n\r\n")
	idle.Read(false)
	srv.shutdown()
	idle.ExpectClosed()
	if !srv.wait(time.Now().Add(2 * time.Second)) {
		t.Fatal("connections remain after shutdown")
	}
}
