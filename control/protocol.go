// Package control is the language of gowsgi's control socket, shared by the master, which
// serves it, and by `gowsgi ctl`, its client, so that the two cannot drift apart. It is
// gunicorn's protocol, so that gunicornc can drive gowsgi and `gowsgi ctl` can drive gunicorn:
// every message is a 4-byte big-endian length followed by that many bytes of JSON; a request is
// {"id", "command", "args"} and its answer {"id", "status": "ok", "data"} or
// {"id", "status": "error", "error"}.
package control

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"gowsgi/config"
)

// MaxMessageSize bounds one message, as gunicorn does; a length above it is refused before
// anything is read, so that a bad length cannot make the reader allocate.
const MaxMessageSize = 16 << 20

// Status values of a response.
const (
	StatusOK    = "ok"
	StatusError = "error"
)

// ErrTruncated is a connection that ended inside a message.
var ErrTruncated = errors.New("the connection closed in the middle of a message")

// TooLargeError is a message whose length prefix exceeds the reader's limit.
type TooLargeError struct{ Size, Limit int }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("message too large: %d bytes, the limit is %d", e.Size, e.Limit)
}

// Request is what a client sends. ID is any JSON value, echoed in the response; gunicorn's
// clients send a number that grows with each request.
type Request struct {
	ID      json.RawMessage   `json:"id"`
	Command string            `json:"command"`
	Args    []json.RawMessage `json:"args"`
}

// Response answers one Request: Data for StatusOK, Error for StatusError.
type Response struct {
	ID     json.RawMessage `json:"id"`
	Status string          `json:"status"`
	Data   json.RawMessage `json:"data,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// noID is the id of an answer to a request whose own id could not be read.
var noID = json.RawMessage("0")

// OK is the success response to the request id with data, which must marshal to a JSON object.
func OK(id json.RawMessage, data any) (Response, error) {
	encoded, err := json.Marshal(data)
	if err != nil {
		return Response{}, err
	}
	return Response{ID: orNoID(id), Status: StatusOK, Data: encoded}, nil
}

// Failure is the error response to the request id.
func Failure(id json.RawMessage, message string) Response {
	return Response{ID: orNoID(id), Status: StatusError, Error: message}
}

func orNoID(id json.RawMessage) json.RawMessage {
	if len(id) == 0 {
		return noID
	}
	return id
}

// ReadMessage reads one message's JSON from r. It returns io.EOF when r ends before a message
// starts, ErrTruncated when it ends inside one, and a *TooLargeError, having read only the
// length, when the message is longer than limit.
func ReadMessage(r io.Reader, limit int) ([]byte, error) {
	var prefix [4]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, ErrTruncated
		}
		return nil, err
	}
	size := int64(binary.BigEndian.Uint32(prefix[:]))
	if size > int64(limit) {
		return nil, &TooLargeError{Size: int(size), Limit: limit}
	}
	// The buffer grows with what arrives, not with what the prefix announces.
	var payload bytes.Buffer
	if _, err := io.CopyN(&payload, r, size); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ErrTruncated
		}
		return nil, err
	}
	return payload.Bytes(), nil
}

// WriteMessage sends v as one message, prefix and JSON in a single write.
func WriteMessage(w io.Writer, v any) error {
	payload, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(payload) > MaxMessageSize {
		return &TooLargeError{Size: len(payload), Limit: MaxMessageSize}
	}
	message := make([]byte, 4, 4+len(payload))
	binary.BigEndian.PutUint32(message, uint32(len(payload)))
	_, err = w.Write(append(message, payload...))
	return err
}

// DecodeRequest reads a request's JSON into its id and the words of its command: the command
// text split as a shell would (config.SplitCommandLine), followed by the arguments. The id is
// returned whenever it could be read, so that even a request refused for its content is
// answered under its own id.
func DecodeRequest(payload []byte) (id json.RawMessage, words []string, err error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(payload, &fields); err != nil {
		return nil, nil, fmt.Errorf("bad request: not a JSON object: %v", err)
	}
	id = fields["id"]
	var command string
	if text, given := fields["command"]; given {
		if err := json.Unmarshal(text, &command); err != nil {
			return id, nil, errors.New("bad request: command must be a string")
		}
	}
	if strings.TrimSpace(command) == "" {
		return id, nil, errors.New("empty command")
	}
	if words, err = config.SplitCommandLine(command); err != nil {
		return id, nil, err
	}
	var args []json.RawMessage
	if text, given := fields["args"]; given && string(text) != "null" {
		if err := json.Unmarshal(text, &args); err != nil {
			return id, nil, errors.New("bad request: args must be a list")
		}
	}
	for _, arg := range args {
		words = append(words, argumentText(arg))
	}
	return id, words, nil
}

// argumentText is an argument as a word: a string as it is, anything else as its JSON text
// (2 for the number 2).
func argumentText(arg json.RawMessage) string {
	var text string
	if err := json.Unmarshal(arg, &text); err == nil {
		return text
	}
	return string(bytes.TrimSpace(arg))
}
