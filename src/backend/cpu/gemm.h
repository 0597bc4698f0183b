/* General matrix products C = op(A) op(B) (C overwritten, row-major, leading dimension ldc), where
 * op transposes when the flag is set. A CBLAS does the work when one was found at build time,
 * on one thread per strip of C, the strips split across cg_get_num_threads() threads as the
 * built-in kernel's are (OpenBLAS is set to one thread of its own); the built-in kernel is always
 * compiled, so tests can compare the two. The built-in kernel packs
 * operands into cache-sized blocks for a register-blocked micro-kernel (AVX2 + FMA where the CPU
 * has them), splits large products across cg_get_num_threads() threads, and multiplies small ones
 * directly. Products with one row of C (m = 1), and those with at most 12 columns of C from
 * op(B) = B^T (an output layer), always take the built-in row kernels, which pack nothing, also
 * when a CBLAS exists. */
#ifndef CG_BACKEND_CPU_GEMM_H
#define CG_BACKEND_CPU_GEMM_H

#include <stdbool.h>
#include <stdint.h>

/* The built-in kernel multiplies products of fewer than CG_GEMM_SMALL_PRODUCT multiply-adds by a
 * direct loop (packing would cost more than it saves), and splits a product across threads only
 * into shares of at least CG_GEMM_MIN_WORK_PER_THREAD multiply-adds, so that waking a worker
 * stays a small part of the time it saves. */
enum { CG_GEMM_SMALL_PRODUCT = 512, CG_GEMM_MIN_WORK_PER_THREAD = 1 << 17 };

void cg_gemm_f32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float *a,
                 int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc);
void cg_gemm_f64(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const double *a,
                 int64_t lda, const double *b, int64_t ldb, double *c, int64_t ldc);

void cg_gemm_builtin_f32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                         const float *a, int64_t lda, const float *b, int64_t ldb, float *c,
                         int64_t ldc);
void cg_gemm_builtin_f64(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                         const double *a, int64_t lda, const double *b, int64_t ldb, double *c,
                         int64_t ldc);

/* True when a CBLAS was found at build time. */
bool cg_gemm_has_blas(void);
/* Forces the built-in kernel on this thread even when a CBLAS exists; returns the old setting. */
bool cg_gemm_force_builtin(bool force);
/* Makes the built-in kernel use its portable micro-kernel on this thread even on a CPU with
 * AVX2 and FMA, so tests reach the path other CPUs take; returns the old setting. */
bool cg_gemm_force_generic(bool force);
/* The name of the micro-kernels the built-in GEMM uses on this thread ("avx2", "generic"). */
const char *cg_gemm_kernel_name(void);

#endif
