/* General matrix products C = op(A) op(B) (C overwritten, row-major, leading dimension ldc), where
 * op transposes when the flag is set. A CBLAS does the work when one was found at build time;
 * the built-in kernel is always compiled, so tests can compare the two. */
#ifndef CG_BACKEND_CPU_GEMM_H
#define CG_BACKEND_CPU_GEMM_H

#include <stdbool.h>
#include <stdint.h>

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

#endif
