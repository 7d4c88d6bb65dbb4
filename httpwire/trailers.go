package httpwire

// skipTrailers reads the trailer section of a chunked body up to its blank line and drops it.
// Its lines follow readLine's rules, but may be longer than the read buffer; trailerScan checks
// them as gunicorn checks trailer fields.
func (c *Conn) skipTrailers() error {
	scan := trailerScan{lim: &c.eng.lim}
	for total := 0; total <= maxTrailerBytes; {
		if c.r == c.w {
			if err := c.fillBody(); err != nil {
				return err
			}
		}
		for c.r < c.w && total <= maxTrailerBytes {
			b := c.buf[c.r]
			c.r++
			total++
			if done, err := scan.step(b); done || err != nil {
				return err
			}
		}
	}
	return errTrailerSize
}

// Trailer scanning states.
const (
	trailerLineStart   = iota // next: a field line, a continuation line or the blank line
	trailerName               // in a field name
	trailerBeforeColon        // in blanks after a field name (--strip-header-spaces)
	trailerValue              // in a field value
	trailerLineCR             // after the CR that ends a field line
	trailerEndCR              // after the CR of the blank line that ends the section
)

// trailerScan checks a trailer section one byte at a time, so that a line needs no room in the
// read buffer. Trailer fields are dropped, but a proxy in front may act on them, so they are
// held to the header rules and limits: each line a field line (or, with
// --permit-obsolete-folding, a continuation), counted with its CRLF against the field size
// limit, no more fields than the field count limit, no second Content-Type, and none of the
// fields RFC 9110 §6.5.1 keeps out of trailers (checkName).
type trailerScan struct {
	lim       *Limits
	state     int
	fields    int
	fieldSize int // bytes of the current field so far, continuation lines and CRLFs included
	typeSeen  bool
	// name holds the start of the current field name, enough for every name checkName looks
	// for; nameLen is the whole name's length.
	name    [len("transfer-encoding")]byte
	nameLen int
}

// step takes the next byte of the section and reports whether it ended it.
func (t *trailerScan) step(b byte) (done bool, err error) {
	switch t.state {
	case trailerEndCR:
		if b != '\n' {
			return false, errChunkLineEnd
		}
		return true, nil
	case trailerLineStart:
		if err := t.startLine(b); err != nil || t.state == trailerEndCR {
			return false, err
		}
	}
	if t.fieldSize++; t.fieldSize > t.lim.FieldSize {
		return false, errTrailerFieldSize
	}
	switch t.state {
	case trailerName:
		switch {
		case tokenByte[b]:
			if t.nameLen < len(t.name) {
				t.name[t.nameLen] = b
			}
			t.nameLen++
		case b == ':':
			t.state = trailerValue
			return false, t.checkName()
		case (b == ' ' || b == '\t') && t.lim.Parsing.StripHeaderSpaces:
			t.state = trailerBeforeColon
		default:
			return false, errTrailerLine
		}
	case trailerBeforeColon:
		switch {
		case b == ':':
			t.state = trailerValue
			return false, t.checkName()
		case b != ' ' && b != '\t':
			return false, errTrailerLine
		}
	case trailerValue:
		switch {
		case b == '\r':
			t.state = trailerLineCR
		case b == '\n':
			return false, errChunkLineEnd
		case !fieldValueByte[b]:
			return false, errChunkLineByte
		}
	case trailerLineCR:
		if b != '\n' {
			return false, errChunkLineEnd
		}
		t.state = trailerLineStart
	}
	return false, nil
}

// startLine sets the state for a line that starts with b: the blank line, a continuation of
// the field before, or a new field.
func (t *trailerScan) startLine(b byte) error {
	switch {
	case b == '\r':
		t.state = trailerEndCR
	case b == ' ' || b == '\t':
		if t.fields == 0 || !t.lim.Parsing.PermitObsoleteFolding {
			return errTrailerFolding
		}
		t.state = trailerValue
	case tokenByte[b]:
		if t.fields++; t.fields > t.lim.Fields {
			return errTrailerSize
		}
		t.fieldSize, t.nameLen, t.state = 0, 0, trailerName
	case b == '\n':
		return errChunkLineEnd
	default:
		return errTrailerLine
	}
	return nil
}

// checkName refuses a field gunicorn refuses in trailers: one RFC 9110 §6.5.1 keeps out of
// them because it frames, routes or authenticates the request (gunicorn's list), or a second
// Content-Type (RFC 9110 §5.3).
func (t *trailerScan) checkName() error {
	if t.nameLen > len(t.name) {
		return nil
	}
	name := t.name[:t.nameLen]
	switch {
	case equalFold(name, "content-type"):
		if t.typeSeen {
			return errTrailerTypeTwice
		}
		t.typeSeen = true
	case equalFold(name, "content-length"), equalFold(name, "transfer-encoding"), equalFold(name, "host"),
		equalFold(name, "trailer"), equalFold(name, "authorization"), equalFold(name, "te"):
		return errTrailerForbidden
	}
	return nil
}
