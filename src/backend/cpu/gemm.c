#include "backend/cpu/gemm.h"

#include <string.h>

#ifdef CG_HAVE_CBLAS
#include <cblas.h>
#endif

static _Thread_local bool builtin_forced;

bool cg_gemm_has_blas(void) {
#ifdef CG_HAVE_CBLAS
    return true;
#else
    return false;
#endif
}

bool cg_gemm_force_builtin(bool force) {
    bool previous = builtin_forced;
    builtin_forced = force;
    return previous;
}

/* The built-in kernel: blocks of K and N sized for the L1/L2 caches, an i-p-j order whose inner
 * loop streams a row of B into a row of C (vectorised by the compiler). op(A) and op(B) are read
 * through strides, so transposed operands need no copy. */
enum { BLOCK_K = 256, BLOCK_N = 512 };

#define DEFINE_BUILTIN_GEMM(T, SUFFIX)                                                             \
    void cg_gemm_builtin_##SUFFIX(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,     \
                                  const T *a, int64_t lda, const T *b, int64_t ldb, T *c,          \
                                  int64_t ldc) {                                                   \
        const int64_t a_row = trans_a ? 1 : lda, a_col = trans_a ? lda : 1;                        \
        const int64_t b_row = trans_b ? 1 : ldb, b_col = trans_b ? ldb : 1;                        \
        for (int64_t i = 0; i < m; i++)                                                            \
            memset(c + i * ldc, 0, sizeof(T) * (size_t)n);                                         \
        for (int64_t j0 = 0; j0 < n; j0 += BLOCK_N) {                                              \
            const int64_t j1 = j0 + BLOCK_N < n ? j0 + BLOCK_N : n;                                \
            for (int64_t p0 = 0; p0 < k; p0 += BLOCK_K) {                                          \
                const int64_t p1 = p0 + BLOCK_K < k ? p0 + BLOCK_K : k;                            \
                for (int64_t i = 0; i < m; i++) {                                                  \
                    T *crow = c + i * ldc;                                                         \
                    for (int64_t p = p0; p < p1; p++) {                                            \
                        const T av = a[i * a_row + p * a_col];                                     \
                        const T *brow = b + p * b_row;                                             \
                        if (b_col == 1)                                                            \
                            for (int64_t j = j0; j < j1; j++)                                      \
                                crow[j] += av * brow[j];                                           \
                        else                                                                       \
                            for (int64_t j = j0; j < j1; j++)                                      \
                                crow[j] += av * brow[j * b_col];                                   \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

DEFINE_BUILTIN_GEMM(float, f32)
DEFINE_BUILTIN_GEMM(double, f64)

#ifdef CG_HAVE_CBLAS
#define BLAS_TRANSPOSE(flag) ((flag) ? CblasTrans : CblasNoTrans)
#endif

void cg_gemm_f32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float *a,
                 int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc) {
#ifdef CG_HAVE_CBLAS
    if (!builtin_forced && m > 0 && n > 0) {
        cblas_sgemm(CblasRowMajor, BLAS_TRANSPOSE(trans_a), BLAS_TRANSPOSE(trans_b), (int)m, (int)n,
                    (int)k, 1.0f, a, (int)lda, b, (int)ldb, 0.0f, c, (int)ldc);
        return;
    }
#endif
    cg_gemm_builtin_f32(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
}

void cg_gemm_f64(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const double *a,
                 int64_t lda, const double *b, int64_t ldb, double *c, int64_t ldc) {
#ifdef CG_HAVE_CBLAS
    if (!builtin_forced && m > 0 && n > 0) {
        cblas_dgemm(CblasRowMajor, BLAS_TRANSPOSE(trans_a), BLAS_TRANSPOSE(trans_b), (int)m, (int)n,
                    (int)k, 1.0, a, (int)lda, b, (int)ldb, 0.0, c, (int)ldc);
        return;
    }
#endif
    cg_gemm_builtin_f64(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
}
