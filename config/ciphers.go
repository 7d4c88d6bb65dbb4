package config

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
)

// cipherSuite is one TLS 1.2 suite Go implements, with its OpenSSL name and the OpenSSL
// aliases ("kECDHE", "AESGCM", "HIGH", …) that select it.
type cipherSuite struct {
	id      uint16
	openssl string
	aliases []string
}

// Key exchange, authentication, encryption and MAC of a suite, as OpenSSL's aliases name them.
var (
	kxECDHE   = []string{"kECDHE", "ECDHE", "kEECDH", "EECDH"}
	kxRSA     = []string{"kRSA", "RSA"}
	authRSA   = []string{"aRSA", "RSA"}
	authECDSA = []string{"aECDSA", "ECDSA"}
	encAES128 = []string{"AES", "AES128"}
	encAES256 = []string{"AES", "AES256"}
	encGCM128 = []string{"AES", "AES128", "AESGCM"}
	encGCM256 = []string{"AES", "AES256", "AESGCM"}
	encChaCha = []string{"CHACHA20"}
	enc3DES   = []string{"3DES", "MEDIUM"}
	encRC4    = []string{"RC4"}
	macSHA1   = []string{"SHA1", "SHA", "SSLv3", "TLSv1", "TLSv1.0"}
	macSHA256 = []string{"SHA256", "TLSv1.2"}
	macAEAD   = []string{"AEAD", "TLSv1.2"}
)

func suite(id uint16, openssl string, kx, auth, enc, mac []string) cipherSuite {
	aliases := slices.Concat(kx, auth, enc, mac)
	// As in OpenSSL, HIGH leaves out 3DES and RC4. RC4 is also left out of ALL (RFC 7465
	// forbids it): only its own name or RC4 selects it.
	if !slices.Contains(enc, "RC4") {
		aliases = append(aliases, "ALL")
		if !slices.Contains(enc, "3DES") {
			aliases = append(aliases, "HIGH")
		}
	}
	// DEFAULT is Go's own choice: the suites it calls secure.
	for _, s := range tls.CipherSuites() {
		if s.ID == id {
			aliases = append(aliases, "DEFAULT")
		}
	}
	return cipherSuite{id: id, openssl: openssl, aliases: aliases}
}

// cipherSuites are the TLS 1.0–1.2 suites of crypto/tls. TLS 1.3 suites are not configurable in
// Go: every TLS 1.3 connection may use any of them.
var cipherSuites = []cipherSuite{
	suite(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256", kxECDHE, authECDSA, encGCM128, macAEAD),
	suite(tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256", kxECDHE, authRSA, encGCM128, macAEAD),
	suite(tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384", kxECDHE, authECDSA, encGCM256, macAEAD),
	suite(tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384", kxECDHE, authRSA, encGCM256, macAEAD),
	suite(tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305", kxECDHE, authECDSA, encChaCha, macAEAD),
	suite(tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-RSA-CHACHA20-POLY1305", kxECDHE, authRSA, encChaCha, macAEAD),
	suite(tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "ECDHE-ECDSA-AES128-SHA", kxECDHE, authECDSA, encAES128, macSHA1),
	suite(tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "ECDHE-RSA-AES128-SHA", kxECDHE, authRSA, encAES128, macSHA1),
	suite(tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "ECDHE-ECDSA-AES256-SHA", kxECDHE, authECDSA, encAES256, macSHA1),
	suite(tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "ECDHE-RSA-AES256-SHA", kxECDHE, authRSA, encAES256, macSHA1),
	suite(tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "ECDHE-ECDSA-AES128-SHA256", kxECDHE, authECDSA, encAES128, macSHA256),
	suite(tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, "ECDHE-RSA-AES128-SHA256", kxECDHE, authRSA, encAES128, macSHA256),
	suite(tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, "ECDHE-RSA-DES-CBC3-SHA", kxECDHE, authRSA, enc3DES, macSHA1),
	suite(tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA, "ECDHE-ECDSA-RC4-SHA", kxECDHE, authECDSA, encRC4, macSHA1),
	suite(tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA, "ECDHE-RSA-RC4-SHA", kxECDHE, authRSA, encRC4, macSHA1),
	suite(tls.TLS_RSA_WITH_AES_128_GCM_SHA256, "AES128-GCM-SHA256", kxRSA, authRSA, encGCM128, macAEAD),
	suite(tls.TLS_RSA_WITH_AES_256_GCM_SHA384, "AES256-GCM-SHA384", kxRSA, authRSA, encGCM256, macAEAD),
	suite(tls.TLS_RSA_WITH_AES_128_CBC_SHA, "AES128-SHA", kxRSA, authRSA, encAES128, macSHA1),
	suite(tls.TLS_RSA_WITH_AES_256_CBC_SHA, "AES256-SHA", kxRSA, authRSA, encAES256, macSHA1),
	suite(tls.TLS_RSA_WITH_AES_128_CBC_SHA256, "AES128-SHA256", kxRSA, authRSA, encAES128, macSHA256),
	suite(tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA, "DES-CBC3-SHA", kxRSA, authRSA, enc3DES, macSHA1),
	suite(tls.TLS_RSA_WITH_RC4_128_SHA, "RC4-SHA", kxRSA, authRSA, encRC4, macSHA1),
}

// emptyAliases are OpenSSL aliases for algorithms Go's TLS does not have (finite-field DHE,
// anonymous or null suites, PSK, CAMELLIA, …): they select nothing, so that the usual
// exclusions such as "!aNULL:!MD5:!DHE" are accepted.
var emptyAliases = strings.Fields(`aNULL eNULL NULL COMPLEMENTOFALL COMPLEMENTOFDEFAULT LOW EXP EXPORT
	MD5 DES IDEA SEED CAMELLIA CAMELLIA128 CAMELLIA256 ARIA ARIA128 ARIA256 ARIAGCM CCM AESCCM AESCCM8
	DH DHE EDH kDHE kEDH kDH ADH AECDH kECDH aECDH ECDH aDSS DSS aDH PSK kPSK aPSK ECDHEPSK DHEPSK
	RSAPSK kECDHEPSK kDHEPSK kRSAPSK SRP kSRP aSRP GOST kGOST aGOST aGOST01 GOST94 GOST89MAC
	kGOST18 SUITEB128 SUITEB128ONLY SUITEB192 SHA384`)

// tls13Suites are the TLS 1.3 suites by their standard names: a cipher list may name them, as
// OWASP's do, but Go always offers all three to TLS 1.3 clients.
var tls13Suites = []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}

// parseCiphers reads an OpenSSL cipher list ("ECDHE+AESGCM:!aNULL", "HIGH:!RC4") into the TLS
// 1.2 suites it selects. Items are separated by ':', ',' or spaces; "A+B" selects the suites
// that match both; a leading '!' removes suites for good, '-' removes them until an item adds
// them again, '+' only reorders. Order does not matter to Go, which ranks the suites itself, so
// '+' and @STRENGTH change nothing. Suite names may be OpenSSL's or the standard ones.
func parseCiphers(list string) ([]uint16, error) {
	selected := map[uint16]bool{}
	banned := map[uint16]bool{}
	items := strings.FieldsFunc(list, func(r rune) bool { return r == ':' || r == ',' || r == ' ' })
	for _, item := range items {
		op := item[0]
		switch op {
		case '!', '-', '+':
			item = item[1:]
		default:
			op = 0
		}
		if item == "@STRENGTH" || strings.HasPrefix(item, "@SECLEVEL=") {
			continue
		}
		matched, err := matchCiphers(item)
		if err != nil {
			return nil, err
		}
		for _, id := range matched {
			switch op {
			case '!':
				banned[id] = true
				delete(selected, id)
			case '-':
				delete(selected, id)
			case 0:
				if !banned[id] {
					selected[id] = true
				}
			}
		}
	}
	var ids []uint16
	for _, s := range cipherSuites {
		if selected[s.id] {
			ids = append(ids, s.id)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("selects no TLS 1.2 cipher suite")
	}
	return ids, nil
}

// matchCiphers returns the suites an item selects: a suite name, an alias, or aliases joined
// with '+', all of which must match.
func matchCiphers(item string) ([]uint16, error) {
	if item == "" {
		return nil, fmt.Errorf("empty cipher name")
	}
	for _, s := range cipherSuites {
		if item == s.openssl || item == tls.CipherSuiteName(s.id) {
			return []uint16{s.id}, nil
		}
	}
	if slices.Contains(tls13Suites, item) {
		return nil, nil
	}
	var ids []uint16
	words := strings.Split(item, "+")
	for _, word := range words {
		if !knownAlias(word) {
			return nil, fmt.Errorf("cipher %q is unknown or not available in Go's TLS", word)
		}
	}
	for _, s := range cipherSuites {
		all := true
		for _, word := range words {
			all = all && slices.Contains(s.aliases, word)
		}
		if all {
			ids = append(ids, s.id)
		}
	}
	return ids, nil
}

func knownAlias(word string) bool {
	if slices.Contains(emptyAliases, word) {
		return true
	}
	for _, s := range cipherSuites {
		if slices.Contains(s.aliases, word) {
			return true
		}
	}
	return false
}

// opensslCipherName is the OpenSSL name of a suite, for messages.
func opensslCipherName(id uint16) string {
	for _, s := range cipherSuites {
		if s.id == id {
			return s.openssl
		}
	}
	return tls.CipherSuiteName(id)
}
