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

// SCHEDULE computes the next four message words into m from the four
// groups before: W[t] = ROL1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16]). m holds
// W[t-16..t-13]; SHA1MSG1 with m1 (W[t-12..]) gives W[t-16] ^ W[t-14],
// PXOR adds m2 (W[t-8..]), SHA1MSG2 with m3 (W[t-4..]) does the rest.
#define SCHEDULE(m, m1, m2, m3) \
	SHA1MSG1 m1, m; \
	PXOR m2, m; \
	SHA1MSG2 m3, m

// ROUNDS does four rounds with function and constant f (0 to 3 for rounds
// 0-19, 20-39, 40-59, 60-79). e holds the A B C D before the previous four
// rounds: SHA1NEXTE makes E (ROL30 of that A) plus the message words m.
// save keeps the A B C D of now for the next group's E.
#define ROUNDS(f, m, e, save) \
	SHA1NEXTE m, e; \
	MOVOU X0, save; \
	SHA1RNDS4 $f, e, X0

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

	// Rounds 0 to 3: E from the chaining value, plus the first words.
	PADDD X3, X1
	MOVOU X0, X2
	SHA1RNDS4 $0, X1, X0

	// Rounds 4 to 79, four at a time; X2 and X1 take turns.
	ROUNDS(0, X4, X2, X1) // rounds 4 to 7
	ROUNDS(0, X5, X1, X2) // rounds 8 to 11
	ROUNDS(0, X6, X2, X1) // rounds 12 to 15
	SCHEDULE(X3, X4, X5, X6)
	ROUNDS(0, X3, X1, X2) // rounds 16 to 19
	SCHEDULE(X4, X5, X6, X3)
	ROUNDS(1, X4, X2, X1) // rounds 20 to 23
	SCHEDULE(X5, X6, X3, X4)
	ROUNDS(1, X5, X1, X2) // rounds 24 to 27
	SCHEDULE(X6, X3, X4, X5)
	ROUNDS(1, X6, X2, X1) // rounds 28 to 31
	SCHEDULE(X3, X4, X5, X6)
	ROUNDS(1, X3, X1, X2) // rounds 32 to 35
	SCHEDULE(X4, X5, X6, X3)
	ROUNDS(1, X4, X2, X1) // rounds 36 to 39
	SCHEDULE(X5, X6, X3, X4)
	ROUNDS(2, X5, X1, X2) // rounds 40 to 43
	SCHEDULE(X6, X3, X4, X5)
	ROUNDS(2, X6, X2, X1) // rounds 44 to 47
	SCHEDULE(X3, X4, X5, X6)
	ROUNDS(2, X3, X1, X2) // rounds 48 to 51
	SCHEDULE(X4, X5, X6, X3)
	ROUNDS(2, X4, X2, X1) // rounds 52 to 55
	SCHEDULE(X5, X6, X3, X4)
	ROUNDS(2, X5, X1, X2) // rounds 56 to 59
	SCHEDULE(X6, X3, X4, X5)
	ROUNDS(3, X6, X2, X1) // rounds 60 to 63
	SCHEDULE(X3, X4, X5, X6)
	ROUNDS(3, X3, X1, X2) // rounds 64 to 67
	SCHEDULE(X4, X5, X6, X3)
	ROUNDS(3, X4, X2, X1) // rounds 68 to 71
	SCHEDULE(X5, X6, X3, X4)
	ROUNDS(3, X5, X1, X2) // rounds 72 to 75
	SCHEDULE(X6, X3, X4, X5)
	ROUNDS(3, X6, X2, X1) // rounds 76 to 79

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
