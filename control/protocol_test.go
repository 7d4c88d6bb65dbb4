package control

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func frame(payload string) []byte {
	message := binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
	return append(message, payload...)
}

func TestWriteMessageIsALengthPrefixAndTheJSON(t *testing.T) {
	var out bytes.Buffer
	if err := WriteMessage(&out, Request{ID: []byte("7"), Command: "show workers", Args: nil}); err != nil {
		t.Fatal(err)
	}
	want := frame(`{"id":7,"command":"show workers","args":null}`)
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("wrote %q, want %q", out.Bytes(), want)
	}
}

func TestReadMessageReadsOneMessageAtATime(t *testing.T) {
	in := bytes.NewReader(append(frame(`{"a":1}`), frame(`{"b":2}`)...))
	for _, want := range []string{`{"a":1}`, `{"b":2}`} {
		got, err := ReadMessage(in, MaxMessageSize)
		if err != nil || string(got) != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
	if _, err := ReadMessage(in, MaxMessageSize); err != io.EOF {
		t.Fatalf("after the last message: %v, want io.EOF", err)
	}
}

func TestReadMessageRefusesBrokenFraming(t *testing.T) {
	whole := frame(`{"id":1}`)
	for name, input := range map[string][]byte{
		"short prefix":  whole[:2],
		"short payload": whole[:len(whole)-1],
	} {
		if _, err := ReadMessage(bytes.NewReader(input), MaxMessageSize); !errors.Is(err, ErrTruncated) {
			t.Errorf("%s: %v, want ErrTruncated", name, err)
		}
	}
}

func TestReadMessageRefusesALengthAboveTheLimitWithoutReadingOn(t *testing.T) {
	in := bytes.NewReader(append([]byte{0xff, 0xff, 0xff, 0xff}, "rest"...))
	_, err := ReadMessage(in, MaxMessageSize)
	var tooLarge *TooLargeError
	if !errors.As(err, &tooLarge) || tooLarge.Size != 1<<32-1 {
		t.Fatalf("got %v, want a TooLargeError for 4294967295 bytes", err)
	}
	if in.Len() != len("rest") {
		t.Fatalf("read %d bytes past the prefix", len("rest")-in.Len())
	}
}

func TestDecodeRequestSplitsTheCommandAndAppendsTheArguments(t *testing.T) {
	id, words, err := DecodeRequest([]byte(`{"id": "x1", "command": " worker  'add' ", "args": [2, "more", true]}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(id) != `"x1"` || !reflect.DeepEqual(words, []string{"worker", "add", "2", "more", "true"}) {
		t.Fatalf("got id %s, words %q", id, words)
	}
}

func TestDecodeRequestKeepsTheIDOfABadRequest(t *testing.T) {
	for payload, wantErr := range map[string]string{
		`{"id": 5, "command": ""}`:             "empty command",
		`{"id": 5}`:                            "empty command",
		`{"id": 5, "command": 3}`:              "command must be a string",
		`{"id": 5, "command": "x", "args": 1}`: "args must be a list",
		`{"id": 5, "command": "say 'hi"}`:      "unterminated single quote",
	} {
		id, _, err := DecodeRequest([]byte(payload))
		if err == nil || !strings.Contains(err.Error(), wantErr) || string(id) != "5" {
			t.Errorf("%s: id %s, error %v; want id 5 and %q", payload, id, err, wantErr)
		}
	}
	for _, payload := range []string{``, `[1]`, `{"id":`, "\x00\xff"} {
		if id, _, err := DecodeRequest([]byte(payload)); err == nil || id != nil {
			t.Errorf("%q: id %s, error %v; want no id and an error", payload, id, err)
		}
	}
}

func TestResponsesCarryTheRequestIDOrZero(t *testing.T) {
	ok, err := OK([]byte("9"), map[string]int{"n": 1})
	if err != nil || string(ok.ID) != "9" || ok.Status != StatusOK || string(ok.Data) != `{"n":1}` {
		t.Fatalf("OK: %+v, %v", ok, err)
	}
	failure := Failure(nil, "no")
	var out bytes.Buffer
	if err := WriteMessage(&out, failure); err != nil {
		t.Fatal(err)
	}
	if want := frame(`{"id":0,"status":"error","error":"no"}`); !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("wrote %q, want %q", out.Bytes(), want)
	}
}
