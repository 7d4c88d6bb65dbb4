package config

import (
	"crypto/tls"
	"slices"
	"strings"
	"testing"
)

func opensslNames(t *testing.T, list string) []string {
	t.Helper()
	ids, err := parseCiphers(list)
	if err != nil {
		t.Fatalf("parseCiphers(%q): %v", list, err)
	}
	var names []string
	for _, id := range ids {
		names = append(names, opensslCipherName(id))
	}
	slices.Sort(names)
	return names
}

func TestCipherListsSelectSuites(t *testing.T) {
	cases := map[string][]string{
		"ECDHE+AESGCM": {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
			"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"},
		"EECDH+AESGCM:EDH+AESGCM": {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
			"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"},
		"ECDHE-RSA-AES128-GCM-SHA256":                        {"ECDHE-RSA-AES128-GCM-SHA256"},
		"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256":              {"ECDHE-RSA-AES128-GCM-SHA256"},
		"TLS_AES_256_GCM_SHA384:ECDHE-RSA-AES256-GCM-SHA384": {"ECDHE-RSA-AES256-GCM-SHA384"},
		"aRSA+CHACHA20, ECDSA+CHACHA20":                      {"ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"},
		"kRSA+AESGCM":                                        {"AES128-GCM-SHA256", "AES256-GCM-SHA384"},
		"ECDHE+AES256:!SHA1:!aNULL:!MD5:@STRENGTH":           {"ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
		"RC4": {"ECDHE-ECDSA-RC4-SHA", "ECDHE-RSA-RC4-SHA", "RC4-SHA"},
		"ECDHE+AESGCM:-aECDSA:ECDHE-ECDSA-AES128-GCM-SHA256":      {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"},
		"ECDHE+AESGCM:!aECDSA:ECDHE-ECDSA-AES128-GCM-SHA256":      {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"},
		"ECDHE-RSA-AES128-SHA:+ECDHE-RSA-AES128-SHA:@SECLEVEL=2":  {"ECDHE-RSA-AES128-SHA"},
		"ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-AES256-GCM-SHA384": {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"},
		"HIGH:!aNULL:!kRSA:!aECDSA:!SHA1:!SHA256":                 {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305"},
		"ALL:!HIGH:!aECDSA":                                           {"DES-CBC3-SHA", "ECDHE-RSA-DES-CBC3-SHA"},
		"TLSv1.2+kECDHE+aRSA+AES128:!AEAD":                            {"ECDHE-RSA-AES128-SHA256"},
		"DEFAULT:!aECDSA:!AESGCM:!CHACHA20":                           {"ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA"},
		"ECDHE-RSA-AES256-SHA:ECDHE-ECDSA-AES256-SHA:!AES128:!aECDSA": {"ECDHE-RSA-AES256-SHA"},
	}
	for list, want := range cases {
		if got := opensslNames(t, list); !slices.Equal(got, want) {
			t.Errorf("%q selects %q, want %q", list, got, want)
		}
	}
}

func TestDefaultIsGoSecureChoice(t *testing.T) {
	ids, err := parseCiphers("DEFAULT")
	if err != nil {
		t.Fatal(err)
	}
	var want []uint16
	for _, s := range tls.CipherSuites() {
		if !slices.Contains(s.SupportedVersions, tls.VersionTLS13) {
			want = append(want, s.ID)
		}
	}
	slices.Sort(ids)
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("DEFAULT is %v, want %v", ids, want)
	}
}

func TestEverySuiteOfGoIsNamed(t *testing.T) {
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if slices.Contains(s.SupportedVersions, tls.VersionTLS13) {
			continue
		}
		if opensslCipherName(s.ID) == s.Name {
			t.Errorf("%s has no OpenSSL name", s.Name)
		}
	}
}

func TestBadCipherLists(t *testing.T) {
	cases := map[string]string{
		"ECDHE-RSA-AES128-GCM-SHA256:NOPE":  `cipher "NOPE" is unknown`,
		"DHE-RSA-AES256-GCM-SHA384":         `cipher "DHE-RSA-AES256-GCM-SHA384" is unknown or not available`,
		"ECDHE+NOPE":                        `cipher "NOPE" is unknown`,
		"aNULL:eNULL":                       "selects no TLS 1.2 cipher suite",
		"TLS_AES_128_GCM_SHA256":            "selects no TLS 1.2 cipher suite",
		"ECDHE-RSA-AES128-GCM-SHA256::!":    "empty cipher name",
		"ECDHE+AESGCM:!ECDHE+AESGCM:AESGCM": "", // kRSA+AESGCM are left: no error
	}
	for list, want := range cases {
		_, err := parseCiphers(list)
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", list, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q gave %v, want an error with %q", list, err, want)
		}
	}
}
