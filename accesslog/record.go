package accesslog

import (
	"bytes"
	"encoding/base64"
	"time"
)

// Header is one request or response header.
type Header struct {
	Name  []byte
	Value []byte
}

// Record is what the log learns of one answered request. Slices need stay valid only for the
// Log call. Fields of the request are empty when the server refused a request it could not
// read (a malformed head, say): those lines show "-" there.
type Record struct {
	RemoteAddr string
	Method     []byte
	// RawURI is the request target as sent; Path is its path part, still percent-encoded.
	RawURI []byte
	Path   []byte
	// PathInfo is the environ's PATH_INFO: decoded, and without the SCRIPT_NAME mount.
	PathInfo []byte
	Query    []byte
	Protocol string
	Status   int
	// BodyBytes is how many body bytes the response had, framing not counted.
	BodyBytes  int64
	Start, End time.Time
	// RequestHeaders holds at least those the format wants (Format.WantsRequestHeader).
	RequestHeaders []Header
	// ResponseHeaders are the app's response headers, when the format wants them.
	ResponseHeaders []Header
	// Environ holds the value of each of Format.EnvironKeys, nil for a missing key.
	Environ [][]byte
}

// requestHeader is the value of the last request header called name (lower case), as
// gunicorn takes the last of repeated headers; nil when there is none.
func (r *Record) requestHeader(name []byte) []byte {
	return lastHeader(r.RequestHeaders, name)
}

func (r *Record) responseHeader(name []byte) []byte {
	return lastHeader(r.ResponseHeaders, name)
}

func lastHeader(headers []Header, name []byte) []byte {
	var found []byte
	for i := range headers {
		if equalFoldLower(headers[i].Name, name) {
			found = headers[i].Value
			if found == nil {
				found = []byte{}
			}
		}
	}
	return found
}

var (
	nameAuthorization = []byte("authorization")
	nameReferer       = []byte("referer")
	nameUserAgent     = []byte("user-agent")
	basicScheme       = []byte("basic ")
)

// appendUser appends the user name of a Basic Authorization header and reports whether there
// was one; dst is returned as it was when there is none or it does not decode.
func (r *Record) appendUser(dst []byte) ([]byte, bool) {
	auth := r.requestHeader(nameAuthorization)
	if len(auth) <= len(basicScheme) || !equalFoldLower(auth[:len(basicScheme)], basicScheme) {
		return dst, false
	}
	encoded := bytes.TrimSpace(auth[len(basicScheme):])
	var scratch [192]byte
	if base64.StdEncoding.DecodedLen(len(encoded)) > len(scratch) {
		return dst, false
	}
	n, err := base64.StdEncoding.Decode(scratch[:], encoded)
	if err != nil {
		return dst, false
	}
	user, _, found := bytes.Cut(scratch[:n], []byte{':'})
	if !found {
		return dst, false
	}
	return append(dst, user...), true
}

// duration is the time the request took, never negative.
func (r *Record) duration() time.Duration {
	return max(r.End.Sub(r.Start), 0)
}
