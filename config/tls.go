package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

// TLSSettings is the resolved TLS set-up, with the certificate already loaded so that a bad
// file stops gowsgi before any worker starts. The zero value means plain HTTP.
type TLSSettings struct {
	// CertFile, KeyFile and CACerts are absolute paths; KeyFile is CertFile when the key is
	// in the certificate file. CACerts is "" when the system's roots verify client certificates.
	CertFile, KeyFile, CACerts string
	Certificate                tls.Certificate
	ClientCAs                  *x509.CertPool
	// ClientAuth is --cert-reqs: 0 asks for no client certificate, 1 verifies one when sent,
	// 2 requires one.
	ClientAuth tls.ClientAuthType
	// CipherSuites are the TLS 1.2 suites of --ciphers; nil leaves the choice to Go.
	CipherSuites []uint16
	// Protocols are the ALPN names offered, in order of preference ("h2", "http/1.1").
	Protocols []string
}

// Enabled reports whether gowsgi serves HTTPS.
func (t *TLSSettings) Enabled() bool { return t.CertFile != "" }

// ALPN protocol names of --http-protocols' h1 and h2.
const (
	ALPNHTTP1 = "http/1.1"
	ALPNHTTP2 = "h2"
)

// tlsOptions are the TLS flags as typed.
type tlsOptions struct {
	certfile, keyfile, caCerts string
	certReqs                   numberFlag
	ciphers                    string
	httpProtocols              string
	// Accepted so that gunicorn command lines keep working; they change nothing (see declare).
	sslVersion                              string
	doHandshakeOnConnect, suppressRaggedEOF bool
}

func (o *tlsOptions) declare(fs *pflag.FlagSet) {
	fs.StringVar(&o.certfile, "certfile", "", "serve HTTPS with the PEM certificate (chain) in `FILE`")
	fs.StringVar(&o.keyfile, "keyfile", "", "the PEM private key of --certfile in `FILE` (default: the key inside --certfile)")
	fs.StringVar(&o.caCerts, "ca-certs", "", "verify client certificates against the PEM CA certificates in `FILE` (default the system's)")
	fs.Var(&o.certReqs, "cert-reqs", "client certificates, `INT`: 0 not asked for, 1 verified when sent, 2 required (default 0)")
	fs.StringVar(&o.ciphers, "ciphers", "",
		"TLS 1.2 cipher suites as an OpenSSL cipher `LIST`, e.g. ECDHE+AESGCM (default Go's choice; TLS 1.3 suites are not configurable)")
	fs.StringVar(&o.httpProtocols, "http-protocols", "h1",
		"`LIST` of protocols offered over TLS, most preferred first: h1, h2, h2,h1 (default h1)")
	fs.StringVar(&o.sslVersion, "ssl-version", "", "accept `VERSION` and ignore it, as gunicorn does since 21.0: TLS 1.2 and 1.3 are offered")
	fs.BoolVar(&o.doHandshakeOnConnect, "do-handshake-on-connect", false,
		"accepted for gunicorn; no effect (the handshake runs before the first request, off the accept loop)")
	fs.BoolVar(&o.suppressRaggedEOF, "suppress-ragged-eofs", true,
		"accepted for gunicorn; no effect (a close without TLS close_notify is a normal close)")
}

// resolveTLS checks the TLS flags and loads the certificate, key and CA file. Without
// --certfile the other TLS flags are checked but change nothing, as in gunicorn.
func resolveTLS(cfg *Config, o *tlsOptions) error {
	certReqs := o.certReqs.get()
	if certReqs > 2 {
		return invalidValue("cert-reqs", o.certReqs.String(), "choose 0 (none), 1 (optional) or 2 (required)")
	}
	var ciphers []uint16
	if o.ciphers != "" {
		var err error
		if ciphers, err = parseCiphers(o.ciphers); err != nil {
			return invalidValue("ciphers", o.ciphers, err.Error())
		}
	}
	protocols, err := parseHTTPProtocols(o.httpProtocols)
	if err != nil {
		return invalidValue("http-protocols", o.httpProtocols, err.Error())
	}
	if o.certfile == "" {
		switch {
		case o.keyfile != "":
			return invalidValue("keyfile", o.keyfile, "needs --certfile")
		case slices.Contains(protocols, ALPNHTTP2):
			return invalidValue("http-protocols", o.httpProtocols, "h2 needs TLS: give --certfile and --keyfile")
		}
		return nil
	}
	if slices.Contains(protocols, ALPNHTTP2) && ciphers != nil && !slices.ContainsFunc(ciphers, allowedForHTTP2) {
		return invalidValue("ciphers", o.ciphers, "HTTP/2 over TLS 1.2 needs an ECDHE suite with AES-GCM or ChaCha20, such as "+
			opensslCipherName(tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256))
	}
	t := TLSSettings{
		CertFile:     absolute(cfg.Chdir, o.certfile),
		ClientAuth:   [...]tls.ClientAuthType{tls.NoClientCert, tls.VerifyClientCertIfGiven, tls.RequireAndVerifyClientCert}[certReqs],
		CipherSuites: ciphers,
		Protocols:    protocols,
	}
	t.KeyFile = t.CertFile
	if o.keyfile != "" {
		t.KeyFile = absolute(cfg.Chdir, o.keyfile)
	}
	if t.Certificate, err = loadCertificate(o, t.CertFile, t.KeyFile); err != nil {
		return err
	}
	if o.caCerts != "" {
		t.CACerts = absolute(cfg.Chdir, o.caCerts)
		if t.ClientCAs, err = loadCAs(t.CACerts); err != nil {
			return invalidValue("ca-certs", o.caCerts, err.Error())
		}
	}
	cfg.TLS = t
	return nil
}

// parseHTTPProtocols turns "h2,h1" into ALPN names in the same order.
func parseHTTPProtocols(list string) ([]string, error) {
	var protocols []string
	for _, name := range strings.Split(list, ",") {
		var alpn string
		switch strings.TrimSpace(name) {
		case "h1":
			alpn = ALPNHTTP1
		case "h2":
			alpn = ALPNHTTP2
		case "h3":
			return nil, errors.New("HTTP/3 is not supported; choose h1, h2 or both")
		default:
			return nil, errors.New("choose h1, h2 or both, comma-separated, most preferred first")
		}
		if !slices.Contains(protocols, alpn) {
			protocols = append(protocols, alpn)
		}
	}
	return protocols, nil
}

// allowedForHTTP2 reports whether HTTP/2 may run over a TLS 1.2 suite: RFC 9113 §9.2.2 allows
// only ephemeral key exchange with an AEAD cipher.
func allowedForHTTP2(id uint16) bool {
	for _, s := range cipherSuites {
		if s.id == id {
			return slices.Contains(s.aliases, "kECDHE") && slices.Contains(s.aliases, "AEAD")
		}
	}
	return false
}

// loadCertificate reads the certificate chain and its key, blaming the file at fault.
func loadCertificate(o *tlsOptions, certPath, keyPath string) (tls.Certificate, error) {
	keyFlag, keyValue := "keyfile", o.keyfile
	if o.keyfile == "" {
		keyFlag, keyValue = "certfile", o.certfile
	}
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return tls.Certificate{}, invalidValue("certfile", o.certfile, readError(err))
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return tls.Certificate{}, invalidValue(keyFlag, keyValue, readError(err))
	}
	certs, err := pemBlocks(certPEM, func(kind string) bool { return kind == "CERTIFICATE" })
	if err != nil {
		return tls.Certificate{}, invalidValue("certfile", o.certfile, err.Error())
	}
	if len(certs) == 0 {
		return tls.Certificate{}, invalidValue("certfile", o.certfile, "no PEM certificate in it")
	}
	for _, der := range certs {
		if _, err := x509.ParseCertificate(der); err != nil {
			return tls.Certificate{}, invalidValue("certfile", o.certfile, "bad certificate: "+err.Error())
		}
	}
	keys, err := pemBlocks(keyPEM, func(kind string) bool { return strings.HasSuffix(kind, "PRIVATE KEY") })
	switch {
	case err != nil:
		return tls.Certificate{}, invalidValue(keyFlag, keyValue, err.Error())
	case len(keys) == 0 && o.keyfile == "":
		return tls.Certificate{}, invalidValue("certfile", o.certfile, "no private key in it: give it with --keyfile")
	case len(keys) == 0:
		return tls.Certificate{}, invalidValue("keyfile", o.keyfile, "no PEM private key in it")
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		reason := strings.TrimPrefix(err.Error(), "tls: ")
		if strings.Contains(reason, "does not match") {
			reason = "the key does not match the certificate in " + o.certfile
		}
		return tls.Certificate{}, invalidValue(keyFlag, keyValue, reason)
	}
	return pair, nil
}

// pemBlocks returns the DER bytes of the blocks whose type wanted accepts; text that is not
// PEM at all is an error.
func pemBlocks(data []byte, wanted func(kind string) bool) ([][]byte, error) {
	var found [][]byte
	seen := false
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		seen = true
		if wanted(block.Type) {
			found = append(found, block.Bytes)
		}
	}
	if !seen {
		return nil, errors.New("not a PEM file")
	}
	return found, nil
}

func loadCAs(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.New(readError(err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, errors.New("no PEM certificate in it")
	}
	return pool, nil
}

// readError says which file could not be read, by its absolute path, and why.
func readError(err error) string {
	var pathErr *os.PathError
	if errors.As(err, &pathErr) {
		return fmt.Sprintf("cannot read %s: %v", pathErr.Path, pathErr.Err)
	}
	return err.Error()
}
