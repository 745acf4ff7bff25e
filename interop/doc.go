// Package interop tests smtpsec against real peers: Postfix, swaks, openssl,
// pyspf, postsrsd and mox, run on 127.0.0.1. Each test skips when its peer is
// missing, unless SMTPSEC_INTEROP is set (as .ci/run does), in which case a
// missing peer fails the test.
package interop
