package control

import (
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// Client is one connection to a control socket, which answers its requests in order.
type Client struct {
	conn    net.Conn
	timeout time.Duration
	lastID  int
}

// ServerError is a command the server answered with an error.
type ServerError struct{ Message string }

func (e *ServerError) Error() string { return e.Message }

// Dial connects to the control socket at path; timeout bounds the connection and then each
// command's round trip.
func Dial(path string, timeout time.Duration) (*Client, error) {
	conn, err := net.DialTimeout("unix", path, timeout)
	if err != nil {
		return nil, err
	}
	return &Client{conn: conn, timeout: timeout}, nil
}

// Send runs one command line and returns the answer's data, a JSON object. An error answer is
// a *ServerError; any other error means the connection is no longer usable.
func (c *Client) Send(command string) (json.RawMessage, error) {
	c.lastID++
	id := json.RawMessage(fmt.Sprint(c.lastID))
	if err := c.conn.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return nil, err
	}
	if err := WriteMessage(c.conn, Request{ID: id, Command: command, Args: []json.RawMessage{}}); err != nil {
		return nil, err
	}
	payload, err := ReadMessage(c.conn, MaxMessageSize)
	if err != nil {
		return nil, err
	}
	var response Response
	if err := json.Unmarshal(payload, &response); err != nil {
		return nil, fmt.Errorf("the server's answer is not JSON: %v", err)
	}
	if response.Status != StatusOK {
		if response.Error == "" {
			response.Error = "the server answered with an error and no message"
		}
		return nil, &ServerError{Message: response.Error}
	}
	if len(response.Data) == 0 || string(response.Data) == "null" {
		return json.RawMessage("{}"), nil
	}
	return response.Data, nil
}

// Close ends the connection.
func (c *Client) Close() error { return c.conn.Close() }
