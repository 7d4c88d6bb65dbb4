package httpwire

import (
	"bytes"
	"time"
)

// readHead reads until buf[r:] starts with a complete request head and returns its length,
// through the blank line that ends it; lineEnds gets the offset of each line's LF. Empty lines
// before the request line are consumed. A head over the limits yields a Refusal; a
// closed, timed-out or shut-down connection yields err, and the connection closes unanswered.
// A header line counts against FieldSize with its CRLF, even when the client sent a bare LF:
// gunicorn counts so, and a limit must let in the same requests there and here.
func (c *Conn) readHead() (n int, rerr *Refusal, err error) {
	lim := &c.eng.lim
	c.head.lim = lim
	scan := 0
	c.lineEnds = c.lineEnds[:0]
	headArmed := false
	for {
		lines := len(c.lineEnds)
		i := bytes.IndexByte(c.buf[c.r+scan:c.w], '\n')
		if i < 0 {
			partial := c.w - c.r - scan
			switch {
			case lines == 0 && partial > lim.RequestLine+1:
				return 0, ErrLineTooLong, nil
			// Of a line still without its LF, all but a last CR is text (a lone CR is the
			// blank line that ends the head).
			case lines > 0 && partial > 1 && partial-1+len(crlf) > lim.FieldSize:
				return 0, ErrFieldTooLarge, nil
			case c.w-c.r >= c.eng.headMax:
				return 0, errHeadTooLarge, nil
			}
			if err := c.fillHead(&headArmed); err != nil {
				return 0, nil, err
			}
			continue
		}
		size := i
		if i > 0 && c.buf[c.r+scan+i-1] == '\r' {
			size--
		}
		switch {
		case lines == 0 && size == 0:
			c.r += i + 1 // an empty line before the request line (RFC 9112 §2.2)
			continue
		case lines == 0 && size > lim.RequestLine:
			return 0, ErrLineTooLong, nil
		case lines > 0 && size > 0 && size+len(crlf) > lim.FieldSize:
			return 0, ErrFieldTooLarge, nil
		case lines > lim.Fields && size > 0:
			return 0, ErrTooManyFields, nil
		}
		c.lineEnds = append(c.lineEnds, int32(scan+i))
		scan += i + 1
		if lines > 0 && size == 0 {
			return scan, nil, nil
		}
	}
}

// fillHead reads more of a request head. With nothing of the next request received yet the
// connection is idle, for as long as GoIdle allows. Once a head has started, it has
// HeaderTimeout in all to arrive.
func (c *Conn) fillHead(headArmed *bool) error {
	if err := c.Flush(); err != nil {
		return err
	}
	idle := c.r == c.w
	switch {
	case idle:
		c.r, c.w = 0, 0
	case c.r > 0:
		c.w = copy(c.buf, c.buf[c.r:c.w])
		c.r = 0
	case c.w == len(c.buf):
		grown := make([]byte, min(2*len(c.buf), c.eng.headMax+1))
		c.w = copy(grown, c.buf[:c.w])
		c.buf = grown
	}
	if idle {
		c.GoIdle()
	} else if !*headArmed {
		*headArmed = true
		c.readDeadline = time.Now().Add(HeaderTimeout)
		c.nc.SetReadDeadline(c.readDeadline)
	}
	err := c.readIn()
	if idle {
		c.idle.Store(false)
	}
	return err
}
