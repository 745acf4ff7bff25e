package mtasts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"time"

	"github.com/smtpsec/smtpsec/internal/dnsname"
)

// FetchTimeout bounds a policy fetch, from dialing to the last body octet
// (RFC 8461 §3.3 suggests about one minute).
const FetchTimeout = time.Minute

// PolicyURL returns the URL of domain's policy file,
// https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 §3.2). domain
// must be normalised.
func PolicyURL(domain string) string {
	return "https://" + PolicyHost(domain) + "/.well-known/mta-sts.txt"
}

// PolicyHost returns mta-sts.<domain>, the host serving domain's policy and
// the name its certificate must be valid for (RFC 8461 §3.3).
func PolicyHost(domain string) string { return "mta-sts." + domain }

// NewHTTPClient returns the HTTP client that Fetch uses when given nil: no
// proxy, no redirects, TLS 1.2 or later with the system roots, no
// keep-alive, and FetchTimeout overall. Fetch applies its own limits to any
// client, so this is only a starting point for callers who want to change,
// say, the dialer.
func NewHTTPClient() *http.Client {
	dialer := &net.Dialer{Timeout: 30 * time.Second}
	return &http.Client{
		Timeout:       FetchTimeout,
		CheckRedirect: noRedirect,
		Transport: &http.Transport{
			DialContext:            dialer.DialContext,
			TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:    30 * time.Second,
			ResponseHeaderTimeout:  FetchTimeout,
			MaxResponseHeaderBytes: MaxPolicySize,
			DisableKeepAlives:      true,
		},
	}
}

// RFC 8461 §3.3: "HTTP 3xx redirects MUST NOT be followed". With this, the
// client returns the 3xx response, which Fetch then rejects.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Fetch fetches and parses domain's policy file over HTTPS (RFC 8461 §3.3)
// with client, or with NewHTTPClient() when client is nil. Whatever the
// client, Fetch:
//
//   - never follows redirects (it uses a copy of client with its own
//     CheckRedirect);
//   - accepts only status 200 and the media type text/plain;
//   - reads at most MaxPolicySize octets and gives up after FetchTimeout
//     or when ctx ends;
//   - requires a TLS response whose certificate chain was verified and is
//     valid for mta-sts.<domain>, so a client that skips verification
//     fails rather than trusting an unauthenticated policy.
//
// Errors are a *FetchError whose Kind is ErrPolicyFetch, ErrWebPKI or
// ErrPolicySyntax, or a plain error wrapping ErrDomain.
func Fetch(ctx context.Context, client *http.Client, domain string) (*Policy, error) {
	d, err := dnsname.Normalize(domain)
	if err != nil {
		return nil, errors.Join(ErrDomain, err)
	}
	host := PolicyHost(d)
	url := PolicyURL(d)
	fail := func(kind error, status int, cause error) (*Policy, error) {
		return nil, &FetchError{Domain: d, URL: url, StatusCode: status, Kind: kind, Err: cause}
	}
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
	defer cancel()

	var cl http.Client
	if client != nil {
		cl = *client
	} else {
		cl = *NewHTTPClient()
	}
	cl.CheckRedirect = noRedirect

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fail(ErrPolicyFetch, 0, err)
	}
	req.Header.Set("Accept", "text/plain")
	resp, err := cl.Do(req)
	if err != nil {
		if isCertError(err) {
			return fail(ErrWebPKI, 0, err)
		}
		return fail(ErrPolicyFetch, 0, err)
	}
	defer resp.Body.Close()

	// RFC 8461 §3.3: the certificate must be PKIX-valid for mta-sts.<domain>
	// and SNI must have been sent; check what the transport did.
	if resp.TLS == nil {
		return fail(ErrWebPKI, resp.StatusCode, errors.New("response not received over TLS"))
	}
	if len(resp.TLS.VerifiedChains) == 0 || len(resp.TLS.PeerCertificates) == 0 {
		return fail(ErrWebPKI, resp.StatusCode, errors.New("certificate chain not verified by the HTTP client"))
	}
	if resp.TLS.ServerName != host {
		return fail(ErrWebPKI, resp.StatusCode, errors.New("SNI was not "+host))
	}
	if err := resp.TLS.PeerCertificates[0].VerifyHostname(host); err != nil {
		return fail(ErrWebPKI, resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		// RFC 8461 §3.3: only 200 counts; 3xx arrive here unfollowed.
		return fail(ErrPolicyFetch, resp.StatusCode, nil)
	}
	// RFC 8461 §3.3: senders SHOULD check the media type is text/plain.
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "text/plain" {
		return fail(ErrPolicyFetch, resp.StatusCode, errors.New("media type is not text/plain"))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxPolicySize+1))
	if err == nil && ctx.Err() != nil {
		// The deadline may end the body early without a read error;
		// a policy cut short is no policy.
		err = ctx.Err()
	}
	if err != nil {
		return fail(ErrPolicyFetch, resp.StatusCode, err)
	}
	if len(body) > MaxPolicySize {
		return fail(ErrPolicyFetch, resp.StatusCode, errors.New("policy larger than 64 KiB"))
	}
	p, err := ParsePolicy(string(body))
	if err != nil {
		return fail(ErrPolicySyntax, resp.StatusCode, err)
	}
	return p, nil
}

// isCertError reports whether err comes from certificate verification.
func isCertError(err error) bool {
	var (
		cve *tls.CertificateVerificationError
		hn  x509.HostnameError
		ua  x509.UnknownAuthorityError
		ci  x509.CertificateInvalidError
	)
	return errors.As(err, &cve) || errors.As(err, &hn) || errors.As(err, &ua) || errors.As(err, &ci)
}
