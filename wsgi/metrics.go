package wsgi

import (
	"time"

	"gowsgi/metrics"
)

// SetMetrics makes h count every request it answers in counts. Call it before serving.
func (h *Handler) SetMetrics(counts *metrics.Recorder) { h.metrics = counts }

// countBegin counts the request in flight, and clears what countEnd reads of the exchange,
// which the access log clears only when there is one.
func (h *Handler) countBegin(ex *exchange) {
	if h.metrics != nil {
		ex.access.answer, ex.status = nil, ex.status[:0]
		h.metrics.Begin()
	}
}

// countEnd counts the request answered, took after the app was called.
func (h *Handler) countEnd(ex *exchange, took time.Duration) {
	if h.metrics != nil {
		status, body := ex.outcome()
		h.metrics.End(ex.req.Method, status, took, body)
	}
}
