//go:build !amd64 || purego

package forward

// shaniSupported reports false: the fast HMAC path exists only on amd64.
func shaniSupported() bool { return false }

// blockSHANI is never called where shaniSupported reports false; NewSRS
// then uses the lean or the crypto/hmac path. It leaves h unchanged, which
// the self-test of those paths would reject.
func blockSHANI(h *[5]uint32, p []byte) {}
