/* The register-blocked micro-kernels under the built-in GEMM, and the block sizes that go with
 * them. A micro-kernel multiplies a packed panel of op(A) by a packed panel of op(B):
 *
 *   packed A: kc steps of mr elements (column p of an mr-row slice of op(A), one after another)
 *   packed B: kc steps of nr elements (row p of an nr-column slice of op(B))
 *   C (mr x nr, row stride ldc) = A B, or C += A B when accumulate is set.
 *
 * Panels are padded with zeros to whole tiles, so a kernel always computes a full mr x nr tile. */
#ifndef CG_BACKEND_CPU_GEMM_KERNEL_H
#define CG_BACKEND_CPU_GEMM_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*cg_gemm_micro_kernel)(int64_t kc, const void *packed_a, const void *packed_b,
                                     void *c, int64_t ldc, bool accumulate);

/* Packs rows [0, rows) x steps [0, depth) of a matrix X into panels of width rows each (the
 * packed layout above, the last panel zero-padded), where X[i][p] = trans ? x[p * ld + i] :
 * x[i * ld + p]. op(A) is packed as X directly, op(B) as its transpose (panels of columns). */
typedef void (*cg_gemm_pack)(bool trans, const void *x, int64_t ld, int64_t rows, int64_t depth,
                             int width, void *packed);

/* Rows of C without packing, for products with a single row of op(A) or a few columns of C,
 * where packing would cost more than the product: y (m x n, row stride ldy) = x (m rows of k
 * contiguous elements, row stride ldx) op(B), with op(B)[p][j] = trans_b ? b[j * ldb + p] :
 * b[p * ldb + j]. Each element is summed in the same order whatever m, so a split of the rows
 * across threads does not change the result. */
typedef void (*cg_gemm_row_kernel)(bool trans_b, int64_t m, int64_t n, int64_t k, const void *x,
                                   int64_t ldx, const void *b, int64_t ldb, void *y, int64_t ldy);

typedef struct {
    int mr, nr; /* the register tile */
    /* Cache blocks: a kc x nr panel of B stays in L1 while the kernel sweeps an mc x kc block of
     * A held in L2; a kc x nc block of B lives in L3. mc is a multiple of mr, nc of nr. */
    int kc, mc, nc;
    cg_gemm_micro_kernel multiply;
    cg_gemm_pack pack;
    cg_gemm_row_kernel multiply_rows;
} cg_gemm_kernel;

/* One instruction set's kernels, one per floating-point dtype. */
typedef struct {
    const char *name;
    cg_gemm_kernel f32, f64;
} cg_gemm_kernel_set;

/* Plain C kernels that any C11 compiler builds and vectorises for its target. */
extern const cg_gemm_kernel_set cg_gemm_generic_kernels;
/* Their packing, which faster kernels without packing code of their own (float64) use too. */
void cg_gemm_pack_f32(bool trans, const void *x, int64_t ld, int64_t rows, int64_t depth, int width,
                      void *packed);
void cg_gemm_pack_f64(bool trans, const void *x, int64_t ld, int64_t rows, int64_t depth, int width,
                      void *packed);

/* The AVX2 + FMA kernels; NULL when this build has none (not x86-64 GCC or Clang) or this CPU
 * cannot run them. */
const cg_gemm_kernel_set *cg_gemm_avx2_kernels(void);

/* The largest tile any kernel uses, in bytes, for the scratch tile of edge blocks. */
enum { CG_GEMM_MAX_TILE_BYTES = 6 * 16 * 8 };

#endif
