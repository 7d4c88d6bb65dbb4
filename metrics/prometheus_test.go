package metrics

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"gowsgi/errorlog"
)

func TestExposition(t *testing.T) {
	var totals Totals
	totals.Requests[0][1] = 5 // GET 2xx
	totals.Requests[2][4] = 2 // POST 5xx
	totals.Latency[0], totals.Latency[3], totals.Latency[buckets-1] = 4, 2, 1
	totals.LatencySum = uint64(1500 * time.Millisecond)
	totals.InFlight = 2
	totals.BodyBytes, totals.Accepted, totals.Workers, totals.Backlog = 1234, 6, 2, -1
	totals.Restarts[RestartCrash] = 1
	totals.LogLines[errorlog.ExceptionLine] = 2
	text := string(AppendExposition(nil, &totals))
	for _, line := range []string{
		"# HELP gowsgi_http_requests_total Requests answered, by method and status class.",
		"# TYPE gowsgi_http_requests_total counter",
		`gowsgi_http_requests_total{method="GET",status="2xx"} 5`,
		`gowsgi_http_requests_total{method="POST",status="5xx"} 2`,
		"# TYPE gowsgi_http_request_duration_seconds histogram",
		`gowsgi_http_request_duration_seconds_bucket{le="0.001"} 4`,
		`gowsgi_http_request_duration_seconds_bucket{le="0.0025"} 4`,
		`gowsgi_http_request_duration_seconds_bucket{le="0.01"} 6`,
		`gowsgi_http_request_duration_seconds_bucket{le="10"} 6`,
		`gowsgi_http_request_duration_seconds_bucket{le="+Inf"} 7`,
		"gowsgi_http_request_duration_seconds_sum 1.5",
		"gowsgi_http_request_duration_seconds_count 7",
		"# TYPE gowsgi_http_requests_in_flight gauge",
		"gowsgi_http_requests_in_flight 2",
		"gowsgi_http_response_body_bytes_total 1234",
		"gowsgi_connections_accepted_total 6",
		"# TYPE gowsgi_workers gauge",
		"gowsgi_workers 2",
		`gowsgi_worker_restarts_total{reason="crash"} 1`,
		`gowsgi_worker_restarts_total{reason="max-requests"} 0`,
		`gowsgi_log_lines_total{level="exception"} 2`,
	} {
		if !strings.Contains(text, "\n"+line+"\n") && !strings.HasPrefix(text, line+"\n") {
			t.Errorf("missing line %q in\n%s", line, text)
		}
	}
	if strings.Contains(text, `method="GET",status="4xx"`) {
		t.Error("a series for a count that is zero")
	}
	if strings.Contains(text, "backlog") {
		t.Error("the backlog shown though it was not measured")
	}
	totals.Backlog = 3
	if text := string(AppendExposition(nil, &totals)); !strings.HasSuffix(text, "\ngowsgi_listen_backlog 3\n") {
		t.Errorf("backlog:\n%s", text)
	}
}

func TestTheMetricsPortAnswersOnlyMetrics(t *testing.T) {
	b, table := newBoard(t, false)
	r, _ := startWorker(t, b, table)
	r.Begin()
	r.End([]byte("GET"), 200, time.Millisecond, 1)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	b.Serve(l)
	base := "http://" + l.Addr().String()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != contentType ||
		!strings.Contains(string(body), `gowsgi_http_requests_total{method="GET",status="2xx"} 1`) {
		t.Errorf("%d %q:\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	for _, path := range []string{"/", "/metrics/x", "/debug/pprof/"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, resp.StatusCode)
		}
	}
}
