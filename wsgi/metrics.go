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

// countEnd counts the request answered: ran says the app was called, at ex.start, else it took
// no time. The clock is read only when something counts.
func (h *Handler) countEnd(ex *exchange, ran bool) {
	if h.metrics != nil {
		var took time.Duration
		if ran {
			took = time.Since(ex.start)
		}
		status, body := ex.outcome()
		h.metrics.End(ex.req.Method, status, took, body)
	}
}
