package accesslog

import "time"

// stamps are the parts of a log time stamp that change once a second, formatted once per second
// rather than once per line.
type stamps struct {
	second int64
	// clf is the %(t)s atom: "[10/Oct/2000:13:55:36 -0700]", local time as gunicorn writes it.
	clf []byte
	// isoSecond and isoZone frame the milliseconds of the JSON time: "2000-10-10T13:55:36"
	// and "-07:00".
	isoSecond []byte
	isoZone   []byte
}

// clock caches the stamps of the current second; it belongs to one Logger, under its lock.
type clock struct{ current *stamps }

func (c *clock) at(t time.Time) *stamps {
	sec := t.Unix()
	if s := c.current; s != nil && s.second == sec {
		return s
	}
	local := t.Local()
	s := &stamps{
		second:    sec,
		clf:       local.AppendFormat(nil, "[02/Jan/2006:15:04:05 -0700]"),
		isoSecond: local.AppendFormat(nil, "2006-01-02T15:04:05"),
		isoZone:   local.AppendFormat(nil, "Z07:00"),
	}
	c.current = s
	return s
}

// appendISO writes t in ISO 8601 with milliseconds: "2000-10-10T13:55:36.123-07:00".
func (s *stamps) appendISO(dst []byte, t time.Time) []byte {
	ms := t.Nanosecond() / int(time.Millisecond)
	dst = append(dst, s.isoSecond...)
	dst = append(dst, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	return append(dst, s.isoZone...)
}
