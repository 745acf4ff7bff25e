//go:build !purego

#include "textflag.h"

// The SHA-1 block function with the SHA extensions (SHA1RNDS4, SHA1NEXTE,
// SHA1MSG1, SHA1MSG2), written for this package from the instructions'
// definitions in the Intel 64 and IA-32 Architectures Software Developer's
// Manual and the algorithm of FIPS 180-4 §6.1.2.
//
// Registers: X0 holds A B C D (A in the high dword), X1 and X2 take turns
// holding E plus the next four message words and the A B C D before the
// last four rounds, X3 to X6 hold the message schedule, four words each
// (the earliest in the high dword), X13 and X14 the chaining value at the
// start of the block, X15 the byte-reversal mask.

// The PSHUFB mask that reverses the 16 octets of a register: four
// big-endian message words become dwords, the first in the high dword.
DATA reverseBytes<>+0(SB)/8, $0x08090a0b0c0d0e0f
DATA reverseBytes<>+8(SB)/8, $0x0001020304050607
GLOBL reverseBytes<>(SB), RODATA|NOPTR, $16

// func blockSHANI(h *[5]uint32, p []byte)
TEXT ·blockSHANI(SB), NOSPLIT, $0-32
	MOVQ h+0(FP), DI
	MOVQ p_base+8(FP), SI
	MOVQ p_len+16(FP), DX
	SHRQ $6, DX // whole blocks only
	JZ done
	MOVOU (DI), X0
	PSHUFD $0x1b, X0, X0 // H0 (A) to the high dword
	PXOR X1, X1
	PINSRD $3, 16(DI), X1 // H4 (E) in the high dword, zeros below
	MOVOU reverseBytes<>(SB), X15

loop:
	MOVOU X0, X13
	MOVOU X1, X14
	MOVOU 0(SI), X3
	PSHUFB X15, X3
	MOVOU 16(SI), X4
	PSHUFB X15, X4
	MOVOU 32(SI), X5
	PSHUFB X15, X5
	MOVOU 48(SI), X6
	PSHUFB X15, X6

	// Rounds 0 to 3 (f and K of rounds 0 to 19).
	PADDD X3, X1
	MOVOU X0, X2
	SHA1RNDS4 $0, X1, X0

	// Rounds 4 to 7.
	// E is ROL30 of the A before the previous four rounds.
	SHA1NEXTE X4, X2
	MOVOU X0, X1
	SHA1RNDS4 $0, X2, X0

	// Rounds 8 to 11.
	SHA1NEXTE X5, X1
	MOVOU X0, X2
	SHA1RNDS4 $0, X1, X0

	// Rounds 12 to 15.
	SHA1NEXTE X6, X2
	MOVOU X0, X1
	SHA1RNDS4 $0, X2, X0

	// Rounds 16 to 19.
	// W[t] = ROL1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16]), four at a time:
	// MSG1 gives W[t-16] ^ W[t-14], PXOR adds W[t-8], MSG2 the rest.
	SHA1MSG1 X4, X3
	PXOR X5, X3
	SHA1MSG2 X6, X3
	SHA1NEXTE X3, X1
	MOVOU X0, X2
	SHA1RNDS4 $0, X1, X0

	// Rounds 20 to 23 (f and K of rounds 20 to 39).
	SHA1MSG1 X5, X4
	PXOR X6, X4
	SHA1MSG2 X3, X4
	SHA1NEXTE X4, X2
	MOVOU X0, X1
	SHA1RNDS4 $1, X2, X0

	// Rounds 24 to 27.
	SHA1MSG1 X6, X5
	PXOR X3, X5
	SHA1MSG2 X4, X5
	SHA1NEXTE X5, X1
	MOVOU X0, X2
	SHA1RNDS4 $1, X1, X0

	// Rounds 28 to 31.
	SHA1MSG1 X3, X6
	PXOR X4, X6
	SHA1MSG2 X5, X6
	SHA1NEXTE X6, X2
	MOVOU X0, X1
	SHA1RNDS4 $1, X2, X0

	// Rounds 32 to 35.
	SHA1MSG1 X4, X3
	PXOR X5, X3
	SHA1MSG2 X6, X3
	SHA1NEXTE X3, X1
	MOVOU X0, X2
	SHA1RNDS4 $1, X1, X0

	// Rounds 36 to 39.
	SHA1MSG1 X5, X4
	PXOR X6, X4
	SHA1MSG2 X3, X4
	SHA1NEXTE X4, X2
	MOVOU X0, X1
	SHA1RNDS4 $1, X2, X0

	// Rounds 40 to 43 (f and K of rounds 40 to 59).
	SHA1MSG1 X6, X5
	PXOR X3, X5
	SHA1MSG2 X4, X5
	SHA1NEXTE X5, X1
	MOVOU X0, X2
	SHA1RNDS4 $2, X1, X0

	// Rounds 44 to 47.
	SHA1MSG1 X3, X6
	PXOR X4, X6
	SHA1MSG2 X5, X6
	SHA1NEXTE X6, X2
	MOVOU X0, X1
	SHA1RNDS4 $2, X2, X0

	// Rounds 48 to 51.
	SHA1MSG1 X4, X3
	PXOR X5, X3
	SHA1MSG2 X6, X3
	SHA1NEXTE X3, X1
	MOVOU X0, X2
	SHA1RNDS4 $2, X1, X0

	// Rounds 52 to 55.
	SHA1MSG1 X5, X4
	PXOR X6, X4
	SHA1MSG2 X3, X4
	SHA1NEXTE X4, X2
	MOVOU X0, X1
	SHA1RNDS4 $2, X2, X0

	// Rounds 56 to 59.
	SHA1MSG1 X6, X5
	PXOR X3, X5
	SHA1MSG2 X4, X5
	SHA1NEXTE X5, X1
	MOVOU X0, X2
	SHA1RNDS4 $2, X1, X0

	// Rounds 60 to 63 (f and K of rounds 60 to 79).
	SHA1MSG1 X3, X6
	PXOR X4, X6
	SHA1MSG2 X5, X6
	SHA1NEXTE X6, X2
	MOVOU X0, X1
	SHA1RNDS4 $3, X2, X0

	// Rounds 64 to 67.
	SHA1MSG1 X4, X3
	PXOR X5, X3
	SHA1MSG2 X6, X3
	SHA1NEXTE X3, X1
	MOVOU X0, X2
	SHA1RNDS4 $3, X1, X0

	// Rounds 68 to 71.
	SHA1MSG1 X5, X4
	PXOR X6, X4
	SHA1MSG2 X3, X4
	SHA1NEXTE X4, X2
	MOVOU X0, X1
	SHA1RNDS4 $3, X2, X0

	// Rounds 72 to 75.
	SHA1MSG1 X6, X5
	PXOR X3, X5
	SHA1MSG2 X4, X5
	SHA1NEXTE X5, X1
	MOVOU X0, X2
	SHA1RNDS4 $3, X1, X0

	// Rounds 76 to 79.
	SHA1MSG1 X3, X6
	PXOR X4, X6
	SHA1MSG2 X5, X6
	SHA1NEXTE X6, X2
	MOVOU X0, X1
	SHA1RNDS4 $3, X2, X0

	// The new chaining value: E from the A before the last four rounds,
	// plus the value at the start of the block.
	SHA1NEXTE X14, X1
	PADDD X13, X0
	ADDQ $64, SI
	DECQ DX
	JNZ loop

	PSHUFD $0x1b, X0, X0
	MOVOU X0, (DI)
	PEXTRD $3, X1, 16(DI)

done:
	RET

// func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL leaf+0(FP), AX
	MOVL sub+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET
