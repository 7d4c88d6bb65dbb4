// Package wiretest helps test the httpwire engine and the servers built on it, from the
// client's side: it builds what a client or a load balancer sends.
package wiretest
