package wiretest

import (
	"testing"
	"time"

	"gowsgi/httpwire"
)

// Server starts a server under test that holds its connections to lim and runs app for each
// request, and returns the TCP address it listens on; it serves until the test ends.
type Server func(t testing.TB, lim httpwire.Limits, app App) (addr string)

// DefaultLimits are gunicorn's default limits with keep-alive and sendfile on: what the tests
// assume unless they say otherwise.
func DefaultLimits() httpwire.Limits {
	return httpwire.Limits{RequestLine: 4094, Fields: 100, FieldSize: 8190, Keepalive: 10 * time.Second, Sendfile: true}
}

// Run runs the engine's behaviour tests, each a subtest, against the servers serve starts: the
// engine alone, or a server that drives it in its own way. Every test speaks to its server as
// a client does, and needs no more of it than one connection's requests answered in order.
func Run(t *testing.T, serve Server) {
	for _, c := range suite {
		t.Run(c.name, func(t *testing.T) { c.test(t, serve) })
	}
}

var suite = []struct {
	name string
	test func(*testing.T, Server)
}{
	// connections (suite_conn.go)
	{"Pipelining", testPipelining},
	{"FlushBeforeWaiting", testFlushBeforeWaiting},
	{"ConnectionCloseRequested", testConnectionCloseRequested},
	{"KeepaliveTimeout", testKeepaliveTimeout},
	{"KeepaliveOff", testKeepaliveOff},
	{"StalledClientsDoNotBlock", testStalledClientsDoNotBlock},
	// request heads (suite_head.go)
	{"MalformedRequests", testMalformedRequests},
	{"HeaderTooLargeWhileSending", testHeaderTooLargeWhileSending},
	{"LimitsAtTheEdge", testLimitsAtTheEdge},
	{"LenientFraming", testLenientFraming},
	{"UnderscoreHeadersDoNotFrame", testUnderscoreHeadersDoNotFrame},
	{"DuplicateIdenticalLength", testDuplicateIdenticalLength},
	{"SingletonHeadersTwice", testSingletonHeadersTwice},
	{"FieldSizeCountsTheLineEnd", testFieldSizeCountsTheLineEnd},
	{"ParseSwitchesInTheServer", testParseSwitchesInTheServer},
	// request bodies (suite_body.go)
	{"ChunkedRequestBody", testChunkedRequestBody},
	{"BadChunkedBodies", testBadChunkedBodies},
	{"TruncatedBody", testTruncatedBody},
	{"BodyReadLazily", testBodyReadLazily},
	{"ExpectContinue", testExpectContinue},
	{"ExpectContinueUnread", testExpectContinueUnread},
	{"UnreadBodyDrained", testUnreadBodyDrained},
	{"LargeBodyReads", testLargeBodyReads},
	{"RequestLineOutlivesBody", testRequestLineOutlivesBody},
	{"ChunkedFramingIsStrict", testChunkedFramingIsStrict},
	{"ChunkedFramingAccepted", testChunkedFramingAccepted},
	{"StrictChunkedFraming", testStrictChunkedFraming},
	// responses (suite_response.go)
	{"ResponseFraming", testResponseFraming},
	{"ResponseHeaders", testResponseHeaders},
	{"ShortContentLengthCloses", testShortContentLengthCloses},
	{"HTTP10Responses", testHTTP10Responses},
	{"Abort", testAbort},
	{"NoResponseIs500", testNoResponseIs500},
	{"HeaderReplacedBeforeFirstByte", testHeaderReplacedBeforeFirstByte},
	{"WriteErrorWhenClientGone", testWriteErrorWhenClientGone},
	{"SendFile", testSendFile},
}
