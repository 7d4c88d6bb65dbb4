package wiretest

import (
	"bytes"
	"io"
	"strconv"
	"testing"
	"time"

	"gowsgi/httpwire"
)

// App is what a server under test runs for each request, in the application's place.
type App func(req *httpwire.Request, w httpwire.ResponseWriter)

// Echo answers with what the engine parsed, one "key=value" line each (see
// Response.BodyField), so that tests can check the parse from the client's side.
func Echo(req *httpwire.Request, w httpwire.ResponseWriter) {
	var b bytes.Buffer
	b.WriteString("method=" + string(req.Method) + "\n")
	b.WriteString("uri=" + string(req.RawURI) + "\n")
	b.WriteString("path=" + string(req.Path) + "\n")
	b.WriteString("query=" + string(req.Query) + "\n")
	b.WriteString("proto=" + req.Proto + "\n")
	b.WriteString("length=" + strconv.FormatInt(req.ContentLength, 10) + "\n")
	for _, h := range req.Header {
		b.WriteString("header=" + string(h.Name) + ":" + string(h.Value) + "\n")
	}
	b.WriteString("remote=" + req.RemoteAddr + " " + req.RemotePort + "\n")
	b.WriteString("server=" + req.ServerName + " " + req.ServerPort + " " + req.Scheme + "\n")
	body, err := io.ReadAll(req.Body)
	b.WriteString("body=" + string(body) + "\n")
	if err != nil {
		b.WriteString("bodyerror=" + err.Error() + "\n")
	}
	WriteText(w, "200 OK", b.String())
}

// WriteText answers with a Content-Length body.
func WriteText(w httpwire.ResponseWriter, status, text string) {
	code, _ := strconv.Atoi(status[:3])
	w.WriteHeader([]byte(status), code, []httpwire.HeaderField{
		{Name: []byte("Content-Type"), Value: []byte("text/plain")},
		{Name: []byte("Content-Length"), Value: []byte(strconv.Itoa(len(text)))},
	})
	w.Write([]byte(text))
}

// Fields makes header fields of name, value pairs.
func Fields(kv ...string) []httpwire.HeaderField {
	var out []httpwire.HeaderField
	for i := 0; i < len(kv); i += 2 {
		out = append(out, httpwire.HeaderField{Name: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return out
}

// Gate is an App that tells the test it started and waits for permission to go on.
type Gate struct {
	Entered, Proceed chan struct{}
	read             bool // read the body before answering
}

// NewGate makes a Gate that answers with the request body if read, or else with "not read".
func NewGate(read bool) *Gate {
	return &Gate{Entered: make(chan struct{}, 10), Proceed: make(chan struct{}, 10), read: read}
}

func (g *Gate) App(req *httpwire.Request, w httpwire.ResponseWriter) {
	g.Entered <- struct{}{}
	<-g.Proceed
	body := "not read"
	if g.read {
		b, _ := io.ReadAll(req.Body)
		body = string(b)
	}
	WriteText(w, "200 OK", body)
}

// WaitFor waits for a Gate's Entered, for at most 5 s.
func WaitFor(t testing.TB, ch chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("the app was not called")
	}
}
