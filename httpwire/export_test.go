package httpwire

// What the package's tests from outside (package httpwire_test) need of its own test helpers.

// ServeConn is serveConn.
var ServeConn = serveConn

// ServeScripted serves input, arriving piece bytes at a time, as one connection of eng, and
// returns what the engine sent back.
func ServeScripted(eng *Engine, input []byte, piece int, uwsgi bool, app func(*Request, ResponseWriter)) []byte {
	sc := &scriptedConn{input: input, piece: piece}
	serveConn(eng, sc, uwsgi, app)
	return sc.output.Bytes()
}
