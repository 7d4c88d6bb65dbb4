package metrics

import (
	"net"
	"net/http"
	"strconv"
	"time"

	"gowsgi/errorlog"
)

// contentType is Prometheus' text exposition format, version 0.0.4.
const contentType = "text/plain; version=0.0.4; charset=utf-8"

// Serve answers GET /metrics on l with the board's totals, on goroutines of its own, until l
// is closed; any other path gets 404.
func (b *Board) Serve(l net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		var t Totals
		b.Read(&t)
		w.Header().Set("Content-Type", contentType)
		w.Write(AppendExposition(nil, &t))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
}

// AppendExposition appends t in Prometheus' text format to text.
func AppendExposition(text []byte, t *Totals) []byte {
	text = header(text, "gowsgi_http_requests_total", "counter", "Requests answered, by method and status class.")
	for m := range t.Requests {
		for c, count := range t.Requests[m] {
			if count > 0 {
				text = append(text, "gowsgi_http_requests_total{method=\""...)
				text = append(text, methodNames[m]...)
				text = append(text, "\",status=\""...)
				text = append(text, classNames[c]...)
				text = sample(append(text, "\"}"...), count)
			}
		}
	}
	text = header(text, "gowsgi_http_request_duration_seconds", "histogram",
		"Time from calling the app to the end of its response.")
	var cumulative uint64
	for i, count := range t.Latency {
		cumulative += count
		text = append(text, "gowsgi_http_request_duration_seconds_bucket{le=\""...)
		if i < len(bucketBounds) {
			text = strconv.AppendFloat(text, bucketBounds[i].Seconds(), 'f', -1, 64)
		} else {
			text = append(text, "+Inf"...)
		}
		text = sample(append(text, "\"}"...), cumulative)
	}
	text = append(text, "gowsgi_http_request_duration_seconds_sum "...)
	text = strconv.AppendFloat(text, time.Duration(t.LatencySum).Seconds(), 'g', -1, 64)
	text = sample(append(text, "\ngowsgi_http_request_duration_seconds_count"...), cumulative)
	text = header(text, "gowsgi_http_requests_in_flight", "gauge", "Requests being answered now.")
	text = append(strconv.AppendInt(append(text, "gowsgi_http_requests_in_flight "...), int64(t.InFlight), 10), '\n')
	text = header(text, "gowsgi_http_response_body_bytes_total", "counter", "Response body bytes sent.")
	text = sample(append(text, "gowsgi_http_response_body_bytes_total"...), t.BodyBytes)
	text = header(text, "gowsgi_connections_accepted_total", "counter", "Connections the workers accepted.")
	text = sample(append(text, "gowsgi_connections_accepted_total"...), t.Accepted)
	text = header(text, "gowsgi_workers", "gauge", "Worker processes serving or starting.")
	text = append(strconv.AppendInt(append(text, "gowsgi_workers "...), t.Workers, 10), '\n')
	text = header(text, "gowsgi_worker_restarts_total", "counter", "Workers replaced, by reason.")
	for reason, count := range t.Restarts {
		text = append(text, "gowsgi_worker_restarts_total{reason=\""...)
		text = sample(append(append(text, restartNames[reason]...), "\"}"...), count)
	}
	text = header(text, "gowsgi_log_lines_total", "counter", "Error log lines of the master and workers, by level.")
	for kind, count := range t.LogLines {
		text = append(text, "gowsgi_log_lines_total{level=\""...)
		text = sample(append(append(text, lineNames[kind]...), "\"}"...), count)
	}
	if t.Backlog >= 0 {
		text = header(text, "gowsgi_listen_backlog", "gauge", "Connections waiting to be accepted on the TCP sockets.")
		text = append(strconv.AppendInt(append(text, "gowsgi_listen_backlog "...), t.Backlog, 10), '\n')
	}
	return text
}

var lineNames = [errorlog.LineKinds]string{"warning", "error", "exception", "critical"}

func header(text []byte, name, kind, help string) []byte {
	text = append(append(append(append(text, "# HELP "...), name...), ' '), help...)
	return append(append(append(append(text, "\n# TYPE "...), name...), ' '), kind+"\n"...)
}

// sample ends a sample line whose name and labels are in text already.
func sample(text []byte, value uint64) []byte {
	return append(strconv.AppendUint(append(text, ' '), value, 10), '\n')
}
