/* Matrix products through cuBLAS: full float32 by default, TF32 tensor cores when the calling
 * thread enabled them (cg_set_tf32_enabled). cuBLAS is column-major, so the row-major product
 * C = A B is computed as C^T = B^T A^T, which is the same memory. */
#include <limits.h>

#include "backend/cuda/cuda_internal.h"
#include "core/error.h"

static bool fits_int(const cg_cuda_gemm_args *g) {
    const int64_t sizes[] = {g->m, g->n, g->k, g->lda, g->ldb, g->ldc, g->batch};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i] > INT_MAX) {
            cg_error_set("matmul: a matrix of %lld x %lld x %lld (batch %lld) is too large for "
                         "cuBLAS",
                         (long long)g->m, (long long)g->n, (long long)g->k, (long long)g->batch);
            return false;
        }
    return true;
}

static cublasStatus_t gemm(cublasHandle_t handle, cg_dtype dtype, const cg_cuda_gemm_args *g) {
    const cublasOperation_t op_a = g->transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_b = g->transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const int m = (int)g->m, n = (int)g->n, k = (int)g->k, batch = (int)g->batch;
    if (dtype == CG_FLOAT32) {
        const float one = 1, beta = (float)g->beta;
        return cublasSgemmStridedBatched(handle, op_b, op_a, n, m, k, &one, g->b, (int)g->ldb,
                                         g->stride_b, g->a, (int)g->lda, g->stride_a, &beta, g->c,
                                         (int)g->ldc, g->stride_c, batch);
    }
    const double one = 1, beta = g->beta;
    return cublasDgemmStridedBatched(handle, op_b, op_a, n, m, k, &one, g->b, (int)g->ldb,
                                     g->stride_b, g->a, (int)g->lda, g->stride_a, &beta, g->c,
                                     (int)g->ldc, g->stride_c, batch);
}

int cg_cuda_gemm(cg_cuda_device *device, cg_dtype dtype, const cg_cuda_gemm_args *args) {
    if (args->m == 0 || args->n == 0 || args->batch == 0) return 0;
    if (args->k == 0) {
        const size_t bytes = (size_t)(args->batch * args->m * args->n) * cg_dtype_size(dtype);
        return args->beta != 0 || cg_cuda_ok(cudaMemsetAsync(args->c, 0, bytes, device->stream),
                                             "matmul: zeroing an empty product")
                   ? 0
                   : -1;
    }
    if (!fits_int(args)) return -1;
    const bool tf32 = dtype == CG_FLOAT32 && cg_is_tf32_enabled();
    pthread_mutex_lock(&device->cublas_lock);
    const bool ok = cg_cublas_ok(cublasSetMathMode(device->cublas, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                                        : CUBLAS_DEFAULT_MATH),
                                 "matmul: setting the cuBLAS math mode") &&
                    cg_cublas_ok(gemm(device->cublas, dtype, args), "matmul: cuBLAS gemm");
    pthread_mutex_unlock(&device->cublas_lock);
    return ok ? 0 : -1;
}

int cg_cuda_matmul(const cg_tensor *a, const cg_tensor *b, cg_tensor *out) {
    cg_cuda_device *device = cg_cuda_device_of(out);
    bool transpose_a, transpose_b;
    int64_t lda, ldb;
    if (!device || !cg_backend_matrix_layout(a, &transpose_a, &lda) ||
        !cg_backend_matrix_layout(b, &transpose_b, &ldb))
        return -1;
    const int64_t m = out->shape[1], n = out->shape[2];
    const cg_cuda_gemm_args args = {
        .transpose_a = transpose_a,
        .transpose_b = transpose_b,
        .m = m,
        .n = n,
        .k = a->shape[2],
        .a = cg_tensor_data(a),
        .lda = lda,
        .stride_a = a->strides[0],
        .b = cg_tensor_data(b),
        .ldb = ldb,
        .stride_b = b->strides[0],
        .c = cg_tensor_data(out),
        .ldc = n,
        .stride_c = m * n,
        .batch = out->shape[0],
        .beta = 0,
    };
    return cg_cuda_gemm(device, out->dtype, &args);
}
