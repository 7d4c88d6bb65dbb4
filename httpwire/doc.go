// Package httpwire is gowsgi's HTTP/1.1 engine: the bytes of one connection go in, parsed
// requests come out, and responses go back as bytes. It parses request heads, frames request
// bodies (Content-Length, chunked, trailers, 100-continue), writes responses (status line,
// chunked output, sendfile, its own error answers), reads the PROXY protocol header and the
// uwsgi protocol's packets, and keeps the Date header's clock.
//
// Its caller accepts a connection, opens a Conn on it, and drives it: ReadRequest, Begin, the
// application with the Request and ResponseWriter Begin returns, Finish, and again while
// Finish says the connection is kept. Everything else is the caller's: which connections to
// accept and when to stop, whom to trust (which peers may send a PROXY header or uwsgi
// packets), TLS and HTTP/2, logging, and running the application. The package imports no other
// gowsgi package, so it can be read, tested and fuzzed without a worker process or Python.
package httpwire
