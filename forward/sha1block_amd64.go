//go:build !purego

package forward

// blockSHANI hashes the whole 64-octet blocks of p into the SHA-1 chaining
// value h (FIPS 180-4 §6.1.2), with the x86 SHA extensions. Call it only
// when shaniSupported reports true.
//
//go:noescape
func blockSHANI(h *[5]uint32, p []byte)

// cpuid executes CPUID with EAX=leaf and ECX=sub.
func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

// shaniSupported reports whether the CPU has what blockSHANI uses: the SHA
// extensions (CPUID.(EAX=7,ECX=0):EBX bit 29), SSSE3 for PSHUFB
// (CPUID.1:ECX bit 9) and SSE4.1 for PINSRD and PEXTRD (CPUID.1:ECX bit
// 19). SSE2 is part of amd64.
func shaniSupported() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	_, ebx7, _, _ := cpuid(7, 0)
	return ecx1&(1<<9) != 0 && ecx1&(1<<19) != 0 && ebx7&(1<<29) != 0
}
