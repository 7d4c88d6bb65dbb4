package worker

import (
	"net"
	"testing"
	"time"

	"gowsgi/httpwire"
	"gowsgi/httpwire/wiretest"
)

var testLimits = limits{Limits: wiretest.DefaultLimits()}

// startServer serves app on a loopback port until the test ends.
func startServer(t testing.TB, lim limits, app wiretest.App) (string, *httpServer) {
	return startServerVia(t, lim, app, false)
}

// startServerVia is startServer, through the sync class's event loop when loop is set.
func startServerVia(t testing.TB, lim limits, app wiretest.App, loop bool) (string, *httpServer) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(lim, "http", dispatchFunc(app))
	if loop {
		startSyncLoop(t, srv)
	}
	serveOn(t, l, srv)
	return l.Addr().String(), srv
}

// suiteServer is the worker's HTTP server as the engine's behaviour tests start it, through
// the sync class's event loop when loop is set.
func suiteServer(loop bool) wiretest.Server {
	return func(t testing.TB, lim httpwire.Limits, app wiretest.App) string {
		addr, _ := startServerVia(t, limits{Limits: lim}, app, loop)
		return addr
	}
}

// serveOn serves the connections l accepts with srv until the test ends, then checks that srv
// shuts down.
func serveOn(t testing.TB, l net.Listener, srv *httpServer) {
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go srv.serveConn(c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		srv.shutdown()
		if !srv.wait(time.Now().Add(5 * time.Second)) {
			t.Error("connections still open 5 s after shutdown")
		}
	})
}
