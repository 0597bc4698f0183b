#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/gemm.h"

int cg_cpu_matmul(const cg_tensor *a, const cg_tensor *b, cg_tensor *out) {
    bool ta, tb;
    int64_t lda, ldb;
    if (!cg_backend_matrix_layout(a, &ta, &lda) || !cg_backend_matrix_layout(b, &tb, &ldb))
        return -1;
    const int64_t batch = out->shape[0], m = out->shape[1], n = out->shape[2], k = a->shape[2];
    const size_t esize = cg_dtype_size(out->dtype);
    char *ad = cg_tensor_data(a), *bd = cg_tensor_data(b), *od = cg_tensor_data(out);
    for (int64_t i = 0; i < batch; i++) {
        const void *ai = ad + (size_t)(i * a->strides[0]) * esize;
        const void *bi = bd + (size_t)(i * b->strides[0]) * esize;
        void *oi = od + (size_t)(i * m * n) * esize;
        if (out->dtype == CG_FLOAT32)
            cg_gemm_f32(ta, tb, m, n, k, ai, lda, bi, ldb, oi, n);
        else
            cg_gemm_f64(ta, tb, m, n, k, ai, lda, bi, ldb, oi, n);
    }
    return 0;
}
