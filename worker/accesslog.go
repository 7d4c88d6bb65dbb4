package worker

import (
	"cmp"
	"time"

	"gowsgi/accesslog"
	"gowsgi/config"
	"gowsgi/errorlog"
	"gowsgi/httpwire"
	"gowsgi/wsgi"
)

// startAccessLog opens the access log when --access-logfile asks for one or --log-syslog sends
// it to syslog (as gunicorn does unless --disable-redirect-access-to-syslog, even with no file),
// and gives it to the app's handler and to the HTTP engine.
func startAccessLog(cfg *config.Config, h *wsgi.Handler, srv *httpServer) error {
	var syslog *errorlog.Syslog
	if !cfg.Syslog.DisableRedirectAccess {
		syslog = errorlog.OpenSyslog("access")
	}
	if cfg.AccessLog == "" && syslog == nil {
		return nil
	}
	l, err := accesslog.Open(cfg.AccessLog, cfg.AccessLogFormat, cfg.AccessLogJSON)
	if err != nil {
		return err
	}
	if syslog != nil {
		l.CopyLines(func(line []byte) { syslog.Send(errorlog.LevelInfo, line) })
	}
	h.SetAccessLog(l)
	srv.access = l
	kind, to := "format "+cfg.AccessLogFormat, cmp.Or(cfg.AccessLog, "syslog only")
	if cfg.AccessLogJSON {
		kind = "JSON lines"
	}
	errorlog.Debug("Access log to %s in %s", to, kind)
	return nil
}

// logRefused logs an answer the engine gave in the app's place, for a request it could not
// read: the request's details are unknown then, and show as "-".
func (s *httpServer) logRefused(req *httpwire.Request, rerr *httpwire.Refusal) {
	s.counts.Refused(rerr.Code(), int64(rerr.BodySize()))
	l := s.access
	if l == nil {
		return
	}
	now := time.Now()
	l.Log(&accesslog.Record{
		RemoteAddr: req.RemoteAddr,
		Status:     rerr.Code(),
		BodyBytes:  int64(rerr.BodySize()),
		Start:      now,
		End:        now,
	})
}
