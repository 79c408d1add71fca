//go:build !noasm

#include "textflag.h"

// AVX2+FMA kernels for amd64. See doc.go for the design and kernel_amd64.go
// for the Go declarations and the blocked driver around sgemmKernel6x16.

// STEP does one rank-1 update of the 6×16 accumulator tile Y4..Y15:
// Y0,Y1 hold one row (16 floats) of B, at b0 and b1, and Y2/Y3 alternate as
// the broadcast of one element of each of the 6 rows of A.
// A rows: 0 (SI), 1 (SI)(R9), 2 (SI)(R9*2), 3 (SI)(R10), 4 (R11), 5 (R11)(R9).
#define STEP(ao, b0, b1) \
	VMOVUPS      b0, Y0                \
	VMOVUPS      b1, Y1                \
	VBROADCASTSS ao(SI), Y2            \
	VFMADD231PS  Y0, Y2, Y4            \
	VFMADD231PS  Y1, Y2, Y5            \
	VBROADCASTSS ao(SI)(R9*1), Y3      \
	VFMADD231PS  Y0, Y3, Y6            \
	VFMADD231PS  Y1, Y3, Y7            \
	VBROADCASTSS ao(SI)(R9*2), Y2      \
	VFMADD231PS  Y0, Y2, Y8            \
	VFMADD231PS  Y1, Y2, Y9            \
	VBROADCASTSS ao(SI)(R10*1), Y3     \
	VFMADD231PS  Y0, Y3, Y10           \
	VFMADD231PS  Y1, Y3, Y11           \
	VBROADCASTSS ao(R11), Y2           \
	VFMADD231PS  Y0, Y2, Y12           \
	VFMADD231PS  Y1, Y2, Y13           \
	VBROADCASTSS ao(R11)(R9*1), Y3     \
	VFMADD231PS  Y0, Y3, Y14           \
	VFMADD231PS  Y1, Y3, Y15

// func sgemmKernel6x16(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, acc int)
//
// C[0:6, 0:16] (=|+=) A[0:6, 0:kc] · B[0:kc, 0:16], all row-major with row
// strides lda, ldb, ldc elements (ldb = 16 for a packed sliver). C is read only
// when acc != 0.
TEXT ·sgemmKernel6x16(SB), NOSPLIT, $0-64
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R9
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), AX
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R12
	SHLQ $2, R9               // lda in bytes
	SHLQ $2, AX               // ldb in bytes
	SHLQ $2, R12              // ldc in bytes
	LEAQ (R9)(R9*2), R10      // 3·lda
	LEAQ (SI)(R9*4), R11      // row 4 of A

	// The C tile is touched only after the k loop: start fetching it now.
	LEAQ       (R12)(R12*2), R13 // 3·ldc
	LEAQ       (DX)(R12*4), R8   // row 4 of C
	PREFETCHT0 (DX)
	PREFETCHT0 (DX)(R12*1)
	PREFETCHT0 (DX)(R12*2)
	PREFETCHT0 (DX)(R13*1)
	PREFETCHT0 (R8)
	PREFETCHT0 (R8)(R12*1)

	LEAQ (AX)(AX*2), R13      // 3·ldb
	LEAQ (DI)(AX*4), R8       // 4·ldb: B advance per 4 k steps
	SUBQ DI, R8

	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15

	MOVQ CX, BX
	SHRQ $2, BX
	JZ   ktail

kloop4:
	STEP(0, (DI), 32(DI))
	STEP(4, (DI)(AX*1), 32(DI)(AX*1))
	STEP(8, (DI)(AX*2), 32(DI)(AX*2))
	STEP(12, (DI)(R13*1), 32(DI)(R13*1))
	ADDQ $16, SI
	ADDQ $16, R11
	ADDQ R8, DI
	DECQ BX
	JNZ  kloop4

ktail:
	ANDQ $3, CX
	JZ   tile

kloop1:
	STEP(0, (DI), 32(DI))
	ADDQ $4, SI
	ADDQ $4, R11
	ADDQ AX, DI
	DECQ CX
	JNZ  kloop1

tile:
	LEAQ (R12)(R12*2), R13    // 3·ldc
	LEAQ (DX)(R12*4), R8      // row 4 of C

store:
	MOVQ  acc+56(FP), AX
	TESTQ AX, AX
	JZ    write
	VADDPS (DX), Y4, Y4
	VADDPS 32(DX), Y5, Y5
	VADDPS (DX)(R12*1), Y6, Y6
	VADDPS 32(DX)(R12*1), Y7, Y7
	VADDPS (DX)(R12*2), Y8, Y8
	VADDPS 32(DX)(R12*2), Y9, Y9
	VADDPS (DX)(R13*1), Y10, Y10
	VADDPS 32(DX)(R13*1), Y11, Y11
	VADDPS (R8), Y12, Y12
	VADDPS 32(R8), Y13, Y13
	VADDPS (R8)(R12*1), Y14, Y14
	VADDPS 32(R8)(R12*1), Y15, Y15

write:
	VMOVUPS Y4, (DX)
	VMOVUPS Y5, 32(DX)
	VMOVUPS Y6, (DX)(R12*1)
	VMOVUPS Y7, 32(DX)(R12*1)
	VMOVUPS Y8, (DX)(R12*2)
	VMOVUPS Y9, 32(DX)(R12*2)
	VMOVUPS Y10, (DX)(R13*1)
	VMOVUPS Y11, 32(DX)(R13*1)
	VMOVUPS Y12, (R8)
	VMOVUPS Y13, 32(R8)
	VMOVUPS Y14, (R8)(R12*1)
	VMOVUPS Y15, 32(R8)(R12*1)
	VZEROUPPER
	RET

// func dotAVX(x, y []float32) float32
//
// Σ x[i]·y[i] over len(x) elements with eight 8-wide accumulators (64 floats
// per iteration: two FMA pipes × 4-cycle latency need ≥ 8 independent chains),
// then one 8-wide accumulator, then a scalar tail. len(y) ≥ len(x) is checked
// by the caller.
TEXT ·dotAVX(SB), NOSPLIT, $0-52
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ y_base+24(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

	MOVQ CX, BX
	SHRQ $6, BX
	JZ   dtail8

dloop64:
	VMOVUPS     (SI), Y8
	VMOVUPS     32(SI), Y9
	VMOVUPS     64(SI), Y10
	VMOVUPS     96(SI), Y11
	VMOVUPS     128(SI), Y12
	VMOVUPS     160(SI), Y13
	VMOVUPS     192(SI), Y14
	VMOVUPS     224(SI), Y15
	VFMADD231PS (DI), Y8, Y0
	VFMADD231PS 32(DI), Y9, Y1
	VFMADD231PS 64(DI), Y10, Y2
	VFMADD231PS 96(DI), Y11, Y3
	VFMADD231PS 128(DI), Y12, Y4
	VFMADD231PS 160(DI), Y13, Y5
	VFMADD231PS 192(DI), Y14, Y6
	VFMADD231PS 224(DI), Y15, Y7
	ADDQ        $256, SI
	ADDQ        $256, DI
	DECQ        BX
	JNZ         dloop64

dtail8:
	MOVQ CX, BX
	ANDQ $63, BX
	SHRQ $3, BX
	JZ   dreduce

dloop8:
	VMOVUPS     (SI), Y8
	VFMADD231PS (DI), Y8, Y0
	ADDQ        $32, SI
	ADDQ        $32, DI
	DECQ        BX
	JNZ         dloop8

dreduce:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y5, Y4, Y4
	VADDPS       Y7, Y6, Y6
	VADDPS       Y2, Y0, Y0
	VADDPS       Y6, Y4, Y4
	VADDPS       Y4, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VMOVHLPS     X0, X0, X1
	VADDPS       X1, X0, X0
	VPSHUFD      $1, X0, X1
	VADDSS       X1, X0, X0

	ANDQ $7, CX
	JZ   ddone

dloop1:
	VMOVSS      (SI), X1
	VFMADD231SS (DI), X1, X0
	ADDQ        $4, SI
	ADDQ        $4, DI
	DECQ        CX
	JNZ         dloop1

ddone:
	VMOVSS     X0, ret+48(FP)
	VZEROUPPER
	RET

// func subAVX(dst, x, y *float32, n8 int)
//
// dst[i] = x[i] − y[i] for i < 8·n8 (n8 ≥ 1): 32 floats per iteration, then
// 8 at a time. The caller does the last len mod 8 elements.
TEXT ·subAVX(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ n8+24(FP), CX
	MOVQ CX, BX
	SHRQ $2, BX
	JZ   stail

sloop32:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VSUBPS  (DX), Y0, Y0
	VSUBPS  32(DX), Y1, Y1
	VSUBPS  64(DX), Y2, Y2
	VSUBPS  96(DX), Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DX
	ADDQ    $128, DI
	DECQ    BX
	JNZ     sloop32

stail:
	ANDQ $3, CX
	JZ   sdone

sloop8:
	VMOVUPS (SI), Y0
	VSUBPS  (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     sloop8

sdone:
	VZEROUPPER
	RET

// func minMaxAVX(x *float32, n8 int) (lo, hi float32, nan bool)
//
// The smallest and largest of x[0:8·n8] (n8 ≥ 1), and whether any is NaN
// (VMINPS/VMAXPS do not propagate NaN reliably, so an unordered compare is
// ORed into Y2/Y5). Two independent sets of accumulators (Y0–Y2, Y3–Y5)
// halve the 3-cycle latency chains.
TEXT ·minMaxAVX(SB), NOSPLIT, $0-25
	MOVQ    x+0(FP), SI
	MOVQ    n8+8(FP), CX
	VMOVUPS (SI), Y0
	VMOVAPS Y0, Y1
	VCMPPS  $3, Y0, Y0, Y2
	VMOVAPS Y0, Y3
	VMOVAPS Y0, Y4
	VXORPS  Y5, Y5, Y5
	ADDQ    $32, SI
	DECQ    CX
	MOVQ    CX, BX
	SHRQ    $1, BX
	JZ      mtail

mloop16:
	VMOVUPS (SI), Y8
	VMOVUPS 32(SI), Y9
	VMINPS  Y8, Y0, Y0
	VMAXPS  Y8, Y1, Y1
	VCMPPS  $3, Y8, Y8, Y10
	VORPS   Y10, Y2, Y2
	VMINPS  Y9, Y3, Y3
	VMAXPS  Y9, Y4, Y4
	VCMPPS  $3, Y9, Y9, Y11
	VORPS   Y11, Y5, Y5
	ADDQ    $64, SI
	DECQ    BX
	JNZ     mloop16

mtail:
	ANDQ $1, CX
	JZ   mreduce
	VMOVUPS (SI), Y8
	VMINPS  Y8, Y0, Y0
	VMAXPS  Y8, Y1, Y1
	VCMPPS  $3, Y8, Y8, Y10
	VORPS   Y10, Y2, Y2

mreduce:
	VMINPS       Y3, Y0, Y0
	VMAXPS       Y4, Y1, Y1
	VORPS        Y5, Y2, Y2
	VEXTRACTF128 $1, Y0, X3
	VMINPS       X3, X0, X0
	VMOVHLPS     X0, X0, X3
	VMINPS       X3, X0, X0
	VPSHUFD      $1, X0, X3
	VMINSS       X3, X0, X0
	VEXTRACTF128 $1, Y1, X4
	VMAXPS       X4, X1, X1
	VMOVHLPS     X1, X1, X4
	VMAXPS       X4, X1, X1
	VPSHUFD      $1, X1, X4
	VMAXSS       X4, X1, X1
	VMOVSS       X0, lo+16(FP)
	VMOVSS       X1, hi+20(FP)
	VPTEST       Y2, Y2
	SETNE        nan+24(FP)
	VZEROUPPER
	RET
