package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeKeyPair writes a self-signed certificate and its key as PEM files in dir.
func writeKeyPair(t *testing.T, dir, name string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IsCA:         true,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	writePEM(t, certPath, "CERTIFICATE", der)
	writePEM(t, keyPath, "PRIVATE KEY", keyDER)
	return certPath, keyPath
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTLSSettings(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	certPath, keyPath := writeKeyPair(t, dir, "server")
	caPath, _ := writeKeyPair(t, dir, "ca")
	cfg := mustParse(t, nil, "--certfile", "server.pem", "--keyfile", keyPath, "--ca-certs", "ca.pem",
		"--cert-reqs", "2", "--ciphers", "ECDHE+AESGCM", "--http-protocols", "h2, h1", "a:b")
	got := cfg.TLS
	if !got.Enabled() || got.CertFile != certPath || got.KeyFile != keyPath || got.CACerts != caPath {
		t.Errorf("files: %q %q %q", got.CertFile, got.KeyFile, got.CACerts)
	}
	if len(got.Certificate.Certificate) != 1 || got.ClientCAs == nil {
		t.Error("certificate or CA pool not loaded")
	}
	if got.ClientAuth != tls.RequireAndVerifyClientCert || len(got.CipherSuites) != 4 {
		t.Errorf("client auth %v, ciphers %v", got.ClientAuth, got.CipherSuites)
	}
	if !slices.Equal(got.Protocols, []string{ALPNHTTP2, ALPNHTTP1}) {
		t.Errorf("protocols %q", got.Protocols)
	}
}

func TestTLSDefaultsAndCertReqs(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeKeyPair(t, dir, "server")
	for reqs, want := range []tls.ClientAuthType{tls.NoClientCert, tls.VerifyClientCertIfGiven, tls.RequireAndVerifyClientCert} {
		args := []string{"--certfile", "server.pem", "--keyfile", "server.key", "a:b"}
		if reqs > 0 {
			args = append(args, "--cert-reqs", string(rune('0'+reqs)))
		}
		got := mustParse(t, nil, args...).TLS
		if got.ClientAuth != want || got.CipherSuites != nil || !slices.Equal(got.Protocols, []string{ALPNHTTP1}) {
			t.Errorf("cert-reqs %d: %+v", reqs, got)
		}
	}
}

func TestTLSFilesResolveAgainstChdir(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(t.TempDir())
	certPath, keyPath := writeKeyPair(t, dir, "server")
	got := mustParse(t, nil, "--chdir", dir, "--certfile", "server.pem", "--keyfile", "server.key", "a:b").TLS
	if got.CertFile != certPath || got.KeyFile != keyPath {
		t.Errorf("files %q %q", got.CertFile, got.KeyFile)
	}
}

func TestKeyInsideTheCertificateFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	certPath, keyPath := writeKeyPair(t, dir, "server")
	certPEM, _ := os.ReadFile(certPath)
	keyPEM, _ := os.ReadFile(keyPath)
	os.WriteFile("both.pem", append(keyPEM, certPEM...), 0o600)
	got := mustParse(t, nil, "--certfile", "both.pem", "a:b").TLS
	if got.KeyFile != got.CertFile || len(got.Certificate.Certificate) != 1 {
		t.Errorf("%+v", got)
	}
}

func TestTLSFlagsWithoutACertificateChangeNothing(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg := mustParse(t, nil, "--cert-reqs", "2", "--ciphers", "HIGH", "--ca-certs", "missing.pem",
		"--ssl-version", "TLSv1_2", "--do-handshake-on-connect", "--suppress-ragged-eofs", "a:b")
	if cfg.TLS.Enabled() || cfg.TLS.ClientAuth != tls.NoClientCert {
		t.Errorf("TLS set up without --certfile: %+v", cfg.TLS)
	}
}

func TestBadTLSSettings(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeKeyPair(t, dir, "server")
	writeKeyPair(t, dir, "other")
	os.WriteFile("junk.pem", []byte("junk\n"), 0o600)
	cert := []string{"--certfile", "server.pem", "--keyfile", "server.key"}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--certfile", "missing.pem"},
			`invalid value "missing.pem" for --certfile: cannot read ` + filepath.Join(dir, "missing.pem") + ": no such file"},
		{[]string{"--certfile", "server.pem", "--keyfile", "missing.key"}, `for --keyfile: cannot read`},
		{[]string{"--certfile", "server.pem"}, `"server.pem" for --certfile: no private key in it: give it with --keyfile`},
		{[]string{"--certfile", "server.pem", "--keyfile", "other.key"},
			`"other.key" for --keyfile: the key does not match the certificate in server.pem`},
		{[]string{"--certfile", "junk.pem", "--keyfile", "server.key"}, `"junk.pem" for --certfile: not a PEM file`},
		{[]string{"--certfile", "server.key", "--keyfile", "server.key"}, `for --certfile: no PEM certificate in it`},
		{[]string{"--certfile", "server.pem", "--keyfile", "server.pem"}, `for --keyfile: no PEM private key in it`},
		{append(cert, "--ca-certs", "junk.pem"), `for --ca-certs: no PEM certificate in it`},
		{append(cert, "--cert-reqs", "3"), `invalid value "3" for --cert-reqs: choose 0`},
		{append(cert, "--cert-reqs", "-1"), `for --cert-reqs: must not be negative`},
		{append(cert, "--ciphers", "HIGH:BOGUS"), `for --ciphers: cipher "BOGUS" is unknown`},
		{append(cert, "--http-protocols", "h2", "--ciphers", "AES128-SHA:ECDHE-RSA-AES128-SHA"),
			`for --ciphers: HTTP/2 over TLS 1.2 needs an ECDHE suite with AES-GCM or ChaCha20`},
		{append(cert, "--http-protocols", "h1,spdy"), `invalid value "h1,spdy" for --http-protocols: choose h1, h2 or both`},
		{append(cert, "--http-protocols", "h3"), `HTTP/3 is not supported`},
		{[]string{"--http-protocols", "h2,h1"}, `for --http-protocols: h2 needs TLS`},
		{[]string{"--keyfile", "server.key"}, `"server.key" for --keyfile: needs --certfile`},
	}
	for _, c := range cases {
		if got := parseError(t, nil, append(c.args, "a:b")...); !strings.Contains(got, c.want) {
			t.Errorf("%q:\n got %s\nwant …%s…", c.args, got, c.want)
		}
	}
}

func TestTLSSettingsFromConfigFile(t *testing.T) {
	dir := inTempDirWith(t, "certfile: server.pem\nkeyfile: server.key\nhttp_protocols: \"h2,h1\"\ncert_reqs: 1\n"+
		"ssl_version: TLSv1_2\ndo_handshake_on_connect: false\nsuppress_ragged_eofs: true\n")
	writeKeyPair(t, dir, "server")
	got := mustParse(t, nil, "a:b").TLS
	if !got.Enabled() || got.ClientAuth != tls.VerifyClientCertIfGiven || !slices.Equal(got.Protocols, []string{ALPNHTTP2, ALPNHTTP1}) {
		t.Errorf("%+v", got)
	}
	os.Remove("server.key")
	if err := parseError(t, nil, "a:b"); !strings.HasPrefix(err, `gowsgi.yaml:2: invalid value "server.key" for keyfile: cannot read`) {
		t.Errorf("error %q does not point at the file's line", err)
	}
}
