package worker

import (
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gowsgi/httpwire"
)

// viaSyncLoop makes startServer serve through the sync class's event loop.
var viaSyncLoop bool

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

// The engine's tests, served by the loop; those left out block in dispatch while other
// connections must make progress, which a sync worker cannot do.
func TestSyncLoopPassesTheEngineTests(t *testing.T) {
	viaSyncLoop = true
	defer func() { viaSyncLoop = false }()
	for name, test := range map[string]func(*testing.T){
		"Pipelining": TestHTTPPipelining, "FlushBeforeWaiting": TestHTTPFlushBeforeWaiting,
		"ConnectionCloseRequested": TestHTTPConnectionCloseRequested,
		"KeepaliveTimeout":         TestHTTPKeepaliveTimeout, "KeepaliveOff": TestHTTPKeepaliveOff,
		"StalledClientsDoNotBlock": TestHTTPStalledClientsDoNotBlock, "Addresses": TestHTTPAddresses,
		"ChunkedRequestBody": TestHTTPChunkedRequestBody, "BadChunkedBodies": TestHTTPBadChunkedBodies,
		"TruncatedBody": TestHTTPTruncatedBody, "BodyReadLazily": TestHTTPBodyReadLazily,
		"ExpectContinue": TestHTTPExpectContinue, "ExpectContinueUnread": TestHTTPExpectContinueUnread,
		"UnreadBodyDrained": TestHTTPUnreadBodyDrained, "LargeBodyReads": TestHTTPLargeBodyReads,
		"RequestLineOutlivesBody": TestHTTPRequestLineOutlivesBody, "ByteAtATime": TestHTTPByteAtATime,
		"SingletonHeadersTwice":      TestHTTPSingletonHeadersTwice,
		"ChunkedFramingIsStrict":     TestHTTPChunkedFramingIsStrict,
		"ChunkedFramingAccepted":     TestHTTPChunkedFramingAccepted,
		"MalformedRequests":          TestHTTPMalformedRequests,
		"HeaderTooLargeWhileSending": TestHTTPHeaderTooLargeWhileSending,
		"LimitsAtTheEdge":            TestHTTPLimitsAtTheEdge, "LenientFraming": TestHTTPLenientFraming,
		"UnderscoreHeadersDoNotFrame": TestHTTPUnderscoreHeadersDoNotFrame,
		"DuplicateIdenticalLength":    TestHTTPDuplicateIdenticalLength,
		"ResponseFraming":             TestHTTPResponseFraming, "ResponseHeaders": TestHTTPResponseHeaders,
		"ShortContentLengthCloses": TestHTTPShortContentLengthCloses, "HTTP10Responses": TestHTTP10Responses,
		"Abort": TestHTTPAbort, "NoResponseIs500": TestHTTPNoResponseIs500,
		"HeaderReplacedBeforeFirstByte": TestHTTPHeaderReplacedBeforeFirstByte,
		"WriteErrorWhenClientGone":      TestHTTPWriteErrorWhenClientGone, "SendFile": TestHTTPSendFile,
	} {
		t.Run(name, test)
	}
}

// Every request on connections the loop owns runs on the loop's thread, whichever connection
// it came on, and keep-alive connections stay with the loop between requests.
func TestSyncLoopRunsRequestsOnItsThread(t *testing.T) {
	var mu sync.Mutex
	threads := map[int]int{}
	addr, _ := startServerWithLoop(t, testLimits, func(req *httpwire.Request, w httpwire.ResponseWriter) {
		mu.Lock()
		threads[syscall.Gettid()]++
		mu.Unlock()
		echo(req, w)
	})
	clients := []*testClient{dial(t, addr), dial(t, addr), dial(t, addr)}
	for round := range 5 {
		for _, c := range clients {
			c.send("GET /r HTTP/1.1\r\n\r\n")
		}
		for _, c := range clients {
			if r := c.read(false); r.code != 200 {
				t.Fatalf("round %d: %q", round, r.status)
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
	addr, _ := startServerWithLoop(t, testLimits, func(req *httpwire.Request, w httpwire.ResponseWriter) {
		if strings.HasPrefix(string(req.Path), "/unread") {
			writeText(w, "200 OK", "not read")
			return
		}
		echo(req, w)
	})
	slow := dial(t, addr)
	slow.send("GET /first HTTP/1.1\r\n\r\n")
	slow.read(false)
	slow.send("GET /pieces HTTP/1.1\r\nHo")
	time.Sleep(50 * time.Millisecond)
	quick := dial(t, addr)
	quick.send("GET /quick HTTP/1.1\r\n\r\n")
	if r := quick.read(false); r.bodyField("path") != "/quick" {
		t.Fatalf("quick: %q", r.body)
	}
	slow.send("st: x\r\n\r\n")
	if r := slow.read(false); r.bodyField("path") != "/pieces" {
		t.Fatalf("pieces: %q", r.body)
	}
	slow.send("POST /unread HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
	if r := slow.read(false); r.body != "not read" {
		t.Fatalf("unread: %q", r.body)
	}
	quick.send("GET /quick2 HTTP/1.1\r\n\r\n")
	if r := quick.read(false); r.bodyField("path") != "/quick2" {
		t.Fatalf("quick2: %q", r.body)
	}
	slow.send("defghij")
	slow.send("GET /after HTTP/1.1\r\n\r\n")
	if r := slow.read(false); r.bodyField("path") != "/after" || r.header("Connection") != "" {
		t.Fatalf("after: %q %v", r.body, r.headers)
	}
}

// A graceful stop closes the connections the loop holds idle, and those busy after their
// response.
func TestSyncLoopShutdown(t *testing.T) {
	addr, srv := startServerWithLoop(t, testLimits, echo)
	idle := dial(t, addr)
	idle.send("GET / HTTP/1.1\r\n\r\n")
	idle.read(false)
	srv.shutdown()
	idle.expectClosed()
	if !srv.wait(time.Now().Add(2 * time.Second)) {
		t.Fatal("connections remain after shutdown")
	}
}

func startServerWithLoop(t *testing.T, lim limits, dispatch func(*httpwire.Request, httpwire.ResponseWriter)) (string, *httpServer) {
	viaSyncLoop = true
	defer func() { viaSyncLoop = false }()
	return startServer(t, lim, dispatch)
}
