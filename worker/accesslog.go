package worker

import (
	"time"

	"gowsgi/accesslog"
	"gowsgi/config"
	"gowsgi/errorlog"
	"gowsgi/wsgi"
)

// startAccessLog opens the access log when --access-logfile asks for one, and gives it to the
// app's handler and to the HTTP engine.
func startAccessLog(cfg *config.Config, h *wsgi.Handler, srv *httpServer) error {
	if cfg.AccessLog == "" {
		return nil
	}
	l, err := accesslog.Open(cfg.AccessLog, cfg.AccessLogFormat, cfg.AccessLogJSON)
	if err != nil {
		return err
	}
	h.SetAccessLog(l)
	srv.access = l
	kind := "format " + cfg.AccessLogFormat
	if cfg.AccessLogJSON {
		kind = "JSON lines"
	}
	errorlog.Debug("Access log to %s in %s", cfg.AccessLog, kind)
	return nil
}

// logRefused logs an answer the engine gave in the app's place, for a request it could not
// read: the request's details are unknown then, and show as "-".
func (c *httpConn) logRefused(rerr *requestError) {
	l := c.srv.access
	if l == nil {
		return
	}
	now := time.Now()
	s := rerr.status
	l.Log(&accesslog.Record{
		RemoteAddr: c.req.RemoteAddr,
		Status:     int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0'),
		BodyBytes:  int64(len(s) - 4 + len(rerr.reason) + 2), // the body appendError writes
		Start:      now,
		End:        now,
	})
}
