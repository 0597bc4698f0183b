#include "ops/ops.h"

#include <string.h>

cg_tensor *cg_new_like_shape(const cg_tensor *x, int ndim, const int64_t *shape, cg_dtype dtype) {
    return cg_tensor_new(ndim, shape, dtype, x->storage->device);
}

cg_tensor *cg_empty_like(const cg_tensor *x) {
    return cg_new_like_shape(x, x->ndim, x->shape, x->dtype);
}

bool cg_broadcast_shapes(const char *op, int ndim_a, const int64_t *shape_a, int ndim_b,
                         const int64_t *shape_b, int *ndim_out, int64_t *shape_out) {
    const int ndim = ndim_a > ndim_b ? ndim_a : ndim_b;
    for (int i = 0; i < ndim; i++) {
        const int da = i - (ndim - ndim_a), db = i - (ndim - ndim_b);
        const int64_t sa = da >= 0 ? shape_a[da] : 1, sb = db >= 0 ? shape_b[db] : 1;
        if (sa != sb && sa != 1 && sb != 1) {
            cg_error_set("%s: shapes %s and %s do not broadcast (dim %d: %lld vs %lld)", op,
                         cg_dims_text(ndim_a, shape_a), cg_dims_text(ndim_b, shape_b), i,
                         (long long)sa, (long long)sb);
            return false;
        }
        shape_out[i] = sa == 1 ? sb : sa;
    }
    *ndim_out = ndim;
    return true;
}

void cg_broadcast_strides(const cg_tensor *x, int ndim, const int64_t *shape, int64_t *strides) {
    const int lead = ndim - x->ndim;
    for (int i = 0; i < ndim; i++) {
        const int d = i - lead;
        strides[i] = (d < 0 || (x->shape[d] == 1 && shape[i] != 1)) ? 0 : x->strides[d];
    }
}

cg_tensor *cg_broadcast_view(const cg_tensor *x, int ndim, const int64_t *shape) {
    int64_t strides[CG_MAX_DIMS];
    cg_broadcast_strides(x, ndim, shape, strides);
    return cg_tensor_new_view(x, ndim, shape, strides, x->offset);
}

static int identity_backward(const cg_node *node, const cg_tensor *output,
                             const cg_tensor *grad_output, cg_tensor **grads) {
    (void)node;
    (void)output;
    grads[0] = cg_alias(grad_output);
    return grads[0] ? 0 : -1;
}

static const cg_op_def identity_op = {"identity", identity_backward};

cg_tensor *cg_alias(const cg_tensor *x) {
    if (!x) return NULL;
    cg_tensor *out = cg_tensor_new_view(x, x->ndim, x->shape, x->strides, x->offset);
    if (out && cg_needs_grad((cg_tensor *const[]){(cg_tensor *)x}, 1) &&
        !cg_node_attach(out, &identity_op, (cg_tensor *const[]){(cg_tensor *)x}, 1)) {
        cg_release(out);
        return NULL;
    }
    return out;
}

bool cg_reduction_mask(const char *op, cg_dims dims, int ndim, bool *mask) {
    memset(mask, 0, sizeof(bool) * CG_MAX_DIMS);
    if (dims.count < 0) {
        for (int d = 0; d < ndim; d++)
            mask[d] = true;
        return true;
    }
    if (dims.count > CG_MAX_DIMS) {
        cg_error_set("%s: %d dims listed, at most %d", op, dims.count, CG_MAX_DIMS);
        return false;
    }
    for (int i = 0; i < dims.count; i++) {
        int d = cg_normalize_dim(op, dims.dims[i], ndim);
        if (d < 0) return false;
        if (mask[d]) {
            cg_error_set("%s: dim %d is listed twice", op, dims.dims[i]);
            return false;
        }
        mask[d] = true;
    }
    return true;
}

cg_tensor *cg_kernel_failed(cg_tensor *out) {
    cg_release(out);
    return NULL;
}
