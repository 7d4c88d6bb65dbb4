package httpwire

// gunicorn's switches that relax the request parser (Parsing). Each runs only once
// a strict check has failed, so a request that passes them pays nothing for the switches.

// parsing returns the switches in force.
func (h *headInfo) parsing() Parsing {
	if h.lim == nil {
		return Parsing{}
	}
	return h.lim.Parsing
}

// isConventionalMethod is gunicorn's rule for methods, stricter than RFC 9110's token: 3 to 20
// characters, no lower-case letter and no "#", which every registered method meets.
func isConventionalMethod(b []byte) bool {
	if len(b) < 3 || len(b) > 20 {
		return false
	}
	for _, c := range b {
		if !methodByte[c] {
			return false
		}
	}
	return true
}

// unconventionalMethod lets any token be a method with --permit-unconventional-http-method, and
// with --casefold-http-method too, upper-cases it in place. As in gunicorn, case-folding alone
// lets no lower-case method through: methods are case-sensitive, "get" is not GET.
func (h *headInfo) unconventionalMethod(method []byte) *Refusal {
	p := h.parsing()
	if !p.PermitUnconventionalMethod || !isToken(method) {
		return errMethod
	}
	if p.CasefoldMethod {
		for i, c := range method {
			if 'a' <= c && c <= 'z' {
				method[i] = c - ('a' - 'A')
			}
		}
	}
	return nil
}

// unconventionalVersion takes a version other than HTTP/1.0 and HTTP/1.1. One of the form
// HTTP/D.D gets 505, unless --permit-unconventional-http-version serves it, as gunicorn does,
// whatever its digits: from 1.1 up by HTTP/1.1's rules, below by HTTP/1.0's. SERVER_PROTOCOL is
// what the client sent (a string allocated on this rare path), the answer says HTTP/1.1 (RFC
// 9110 §2.5). Anything else is no version at all: 400.
func (h *headInfo) unconventionalVersion(version []byte, req *Request) *Refusal {
	if len(version) != 8 || string(version[:5]) != "HTTP/" || !isDigit(version[5]) ||
		version[6] != '.' || !isDigit(version[7]) {
		return errVersion
	}
	if !h.parsing().PermitUnconventionalVersion {
		return errVersionSupport
	}
	req.Proto = string(version)
	h.http11 = string(version[5:]) >= "1.1"
	return nil
}

// colonAfterBlanks returns where the colon is when only blanks part it from the header name
// that ends at i and --strip-header-spaces is on, else -1. Off by default, as RFC 9112 §5.1
// demands: a proxy that passes "Name : value" on unchanged may have read another name.
func (h *headInfo) colonAfterBlanks(line []byte, i int) int {
	if !h.parsing().StripHeaderSpaces {
		return -1
	}
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	if i < len(line) && line[i] == ':' {
		return i
	}
	return -1
}

// unfold joins the lines that continue line i (obs-fold, RFC 9112 §5.2) onto it in place, each
// fold with the blanks around it made one space, and returns the joined line and the index of
// its last line, so that the header is checked and noted whole: a folded Content-Length cannot
// slip past noteHeader. Refused unless --permit-obsolete-folding, and after the request line
// always. Like gunicorn, the field size limit counts the lines as sent, blanks and CRLFs
// included, not the joined line.
func (h *headInfo) unfold(head []byte, ends []int32, i int, line []byte) ([]byte, int, *Refusal) {
	if i == 0 || !h.parsing().PermitObsoleteFolding {
		return nil, i, errFolding
	}
	sent := len(line) + len(crlf)
	line = trimOWS(line)
	for start := int(ends[i]) + 1; start < len(head) && (head[start] == ' ' || head[start] == '\t'); start = int(ends[i]) + 1 {
		i++
		part := trimCR(head[start:ends[i]])
		sent += len(part) + len(crlf)
		part = trimOWS(part)
		if n := len(line); len(part) > 0 {
			line = line[:n+1+len(part)] // into the bytes of the fold, which precede part
			line[n] = ' '
			copy(line[n+1:], part)
		}
	}
	if sent > h.lim.FieldSize {
		return nil, i, ErrFieldTooLarge
	}
	return line, i, nil
}
