#include "backend/backend.h"

#include "core/error.h"
#ifdef CG_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif

const cg_backend *cg_backend_get(cg_device device) {
    if (device.type == CG_DEVICE_CPU) return &cg_cpu_backend;
    if (device.type != CG_DEVICE_CUDA) {
        cg_error_set("invalid device type %d", (int)device.type);
        return NULL;
    }
#ifdef CG_HAVE_CUDA
    return cg_cuda_backend_get(device.index);
#else
    cg_error_set("cuda:%d is not available: this build of cgrad has no CUDA backend", device.index);
    return NULL;
#endif
}

bool cg_backend_matrix_layout(const cg_tensor *t, bool *transposed, int64_t *leading) {
    const int64_t rows = t->shape[1], cols = t->shape[2];
    const int64_t row_stride = t->strides[1], col_stride = t->strides[2];
    if (col_stride == 1 || cols == 1) {
        *transposed = false;
        *leading = rows == 1 ? (cols > 1 ? cols : 1) : row_stride;
        if (*leading >= (cols > 1 ? cols : 1)) return true;
    }
    if (row_stride == 1 || rows == 1) {
        *transposed = true;
        *leading = cols == 1 ? (rows > 1 ? rows : 1) : col_stride;
        if (*leading >= (rows > 1 ? rows : 1)) return true;
    }
    cg_error_set("matmul: operand of shape %s has an unsupported memory layout", cg_shape_text(t));
    return false;
}
