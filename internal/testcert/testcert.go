// Package testcert issues throwaway X.509 certificates for tests: a private
// CA, leaf certificates for given host names (valid, expired, not yet valid,
// wrong name), intermediate CAs and self-signed certificates, all in memory.
//
// Keys are ECDSA P-256, so a CA and a leaf cost well under a millisecond
// each. Nothing here is fit for production: the keys are never persisted,
// serial numbers are random, and validity periods default to a window around
// the time of the call.
//
//	ca := testcert.NewCA(t)
//	leaf := ca.Leaf("mx.example.test", "192.0.2.25")
//	srv := &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}
//	cli := &tls.Config{RootCAs: ca.Pool(), ServerName: "mx.example.test"}
//
// Functions that take a testing.TB report failures with t.Fatal; there is no
// error to check.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// DefaultValidity is the validity window of certificates whose Spec leaves
// NotBefore and NotAfter zero: from one hour before issuing to this long after.
const DefaultValidity = 24 * time.Hour

// CA is a certificate authority whose key lives in memory. Its methods are
// safe for concurrent use.
type CA struct {
	// Cert is the CA certificate.
	Cert *x509.Certificate
	// Key is the CA's private key.
	Key *ecdsa.PrivateKey
	// Chain is the chain from this CA up to, but excluding, the root; empty for
	// a root CA, [Cert] for an intermediate issued by a root, and so on. Leaves
	// issued by this CA carry it after their own certificate.
	Chain []*x509.Certificate
	// root is the self-signed root at the top of the chain (Cert for a root).
	root *x509.Certificate
	t    testing.TB
}

// NewCA returns a new self-signed root CA named "smtpsec test CA".
func NewCA(t testing.TB) *CA {
	t.Helper()
	return newCA(t, "smtpsec test CA", nil)
}

func newCA(t testing.TB, name string, parent *CA) *CA {
	t.Helper()
	key := newKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"smtpsec tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatalf("testcert: create CA: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testcert: parse CA: %v", err)
	}
	ca := &CA{Cert: cert, Key: key, root: cert, t: t}
	if parent != nil {
		ca.root = parent.root
		ca.Chain = append([]*x509.Certificate{cert}, parent.Chain...)
	}
	return ca
}

// Intermediate returns a new CA whose certificate is issued by ca. Leaves it
// issues carry the intermediate certificates in their chain, so a client that
// trusts only ca's root can verify them.
func (ca *CA) Intermediate(name string) *CA {
	ca.t.Helper()
	return newCA(ca.t, name, ca)
}

// Pool returns a new certificate pool holding the root CA of ca.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.root)
	return p
}

// Root returns the self-signed root certificate at the top of ca's chain.
func (ca *CA) Root() *x509.Certificate { return ca.root }

// CertPEM returns the root certificate of ca in PEM form, as Postfix's
// smtp_tls_CAfile, openssl's -CAfile and swaks's --tls-ca-path expect.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.root.Raw})
}

// Spec describes a leaf certificate. The zero value is a valid server and
// client certificate with no names.
type Spec struct {
	// Names are DNS names and IP address literals for the subject alternative
	// name extension. The first name is also the subject common name.
	Names []string
	// NotBefore and NotAfter bound the validity period. Zero values mean one
	// hour before issuing and DefaultValidity after it.
	NotBefore, NotAfter time.Time
}

// Leaf is an issued certificate with its private key.
type Leaf struct {
	// Cert is the leaf certificate.
	Cert *x509.Certificate
	// Key is its private key.
	Key *ecdsa.PrivateKey
	// TLS holds the leaf and its chain (excluding the root), ready for
	// tls.Config.Certificates.
	TLS tls.Certificate
}

// Issue returns a leaf certificate for s, signed by ca.
func (ca *CA) Issue(s Spec) *Leaf {
	ca.t.Helper()
	return issue(ca.t, s, ca)
}

// Leaf returns a certificate valid now for names (DNS names or IP literals),
// signed by ca.
func (ca *CA) Leaf(names ...string) *Leaf {
	ca.t.Helper()
	return issue(ca.t, Spec{Names: names}, ca)
}

// Expired returns a certificate for names, signed by ca, that expired an hour
// ago.
func (ca *CA) Expired(names ...string) *Leaf {
	ca.t.Helper()
	now := time.Now()
	return issue(ca.t, Spec{Names: names, NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)}, ca)
}

// NotYetValid returns a certificate for names, signed by ca, whose validity
// starts in one day.
func (ca *CA) NotYetValid(names ...string) *Leaf {
	ca.t.Helper()
	now := time.Now()
	return issue(ca.t, Spec{Names: names, NotBefore: now.Add(24 * time.Hour), NotAfter: now.Add(48 * time.Hour)}, ca)
}

// SelfSigned returns a self-signed certificate for s: no CA vouches for it.
func SelfSigned(t testing.TB, s Spec) *Leaf {
	t.Helper()
	return issue(t, s, nil)
}

func issue(t testing.TB, s Spec, ca *CA) *Leaf {
	t.Helper()
	key := newKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		NotBefore:             s.NotBefore,
		NotAfter:              s.NotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = now.Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = now.Add(DefaultValidity)
	}
	if len(s.Names) > 0 {
		tmpl.Subject.CommonName = s.Names[0]
	}
	for _, n := range s.Names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	parent, parentKey := tmpl, key
	var chain []*x509.Certificate
	if ca != nil {
		parent, parentKey = ca.Cert, ca.Key
		chain = ca.Chain
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatalf("testcert: create leaf: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testcert: parse leaf: %v", err)
	}
	tc := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}
	for _, c := range chain {
		tc.Certificate = append(tc.Certificate, c.Raw)
	}
	return &Leaf{Cert: cert, Key: key, TLS: tc}
}

// CertPEM returns the leaf and its chain in PEM form, leaf first, as Postfix's
// smtpd_tls_cert_file expects.
func (l *Leaf) CertPEM() []byte {
	var out []byte
	for _, der := range l.TLS.Certificate {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return out
}

// KeyPEM returns the private key in PKCS #8 PEM form.
func (l *Leaf) KeyPEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(l.Key)
	if err != nil {
		// An ECDSA P-256 key always marshals.
		panic("testcert: marshal key: " + err.Error())
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// CertSHA256 returns the SHA-256 digest of the DER certificate, as Postfix's
// smtp_tls_fingerprint_cert_match and a DANE "3 0 1" record use.
func (l *Leaf) CertSHA256() [32]byte { return sha256.Sum256(l.Cert.Raw) }

// SPKISHA256 returns the SHA-256 digest of the DER SubjectPublicKeyInfo, as a
// DANE "3 1 1" record and public-key fingerprints use.
func (l *Leaf) SPKISHA256() [32]byte { return sha256.Sum256(l.Cert.RawSubjectPublicKeyInfo) }

// Files names PEM files written by WriteFiles.
type Files struct {
	CA   string // the root CA certificate
	Cert string // the leaf certificate and its chain
	Key  string // the leaf's private key
}

// WriteFiles writes ca's root, the leaf's chain and the leaf's key as PEM
// files under dir, with the given file-name prefix, and returns their paths.
// Key files are mode 0600.
func WriteFiles(t testing.TB, dir, prefix string, ca *CA, l *Leaf) Files {
	t.Helper()
	f := Files{
		CA:   filepath.Join(dir, prefix+"ca.pem"),
		Cert: filepath.Join(dir, prefix+"cert.pem"),
		Key:  filepath.Join(dir, prefix+"key.pem"),
	}
	var caPEM []byte
	if ca != nil {
		caPEM = ca.CertPEM()
	} else {
		caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: l.Cert.Raw})
	}
	for _, w := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{f.CA, caPEM, 0o644}, {f.Cert, l.CertPEM(), 0o644}, {f.Key, l.KeyPEM(), 0o600}} {
		if err := os.WriteFile(w.path, w.data, w.mode); err != nil {
			t.Fatalf("testcert: %v", err)
		}
	}
	return f
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testcert: generate key: %v", err)
	}
	return key
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		t.Fatalf("testcert: serial: %v", err)
	}
	return n.Add(n, big.NewInt(1))
}
