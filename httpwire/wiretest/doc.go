// Package wiretest tests the httpwire engine and the servers built on it from the client's
// side. Its behaviour tests (Run) hold a server to what the engine promises: the package's own
// tests run them against the engine alone, and the worker's against its own server, which
// drives the engine its own way. The rest is what those tests and their neighbours share: a
// strict client, small applications to serve, and what a load balancer sends.
package wiretest
