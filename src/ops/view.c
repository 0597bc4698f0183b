/* Shape ops: views sharing their input's storage (reshape, transpose, permute, slice, squeeze,
 * unsqueeze, expand) and the copies (contiguous, clone, to_dtype, detach). */
#include <string.h>

#include "ops/ops.h"

static int reshape_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                            cg_tensor **grads) {
    (void)out;
    grads[0] = cg_reshape(g, cg_tensor_shape(node->inputs[0]));
    return grads[0] ? 0 : -1;
}

/* Adding or dropping a dim of size 1 is undone by the other, which keeps the gradient a view
 * where reshaping a strided one would copy it. */
static int unsqueeze_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                              cg_tensor **grads) {
    (void)out;
    grads[0] = cg_squeeze(g, (int)node->params.ints[0]);
    return grads[0] ? 0 : -1;
}

static int squeeze_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                            cg_tensor **grads) {
    (void)out;
    grads[0] = cg_unsqueeze(g, (int)node->params.ints[0]);
    return grads[0] ? 0 : -1;
}

static int permute_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                            cg_tensor **grads) {
    cg_dims inverse = {.count = out->ndim};
    for (int d = 0; d < out->ndim; d++)
        inverse.dims[node->params.ints[d]] = d;
    grads[0] = cg_permute(g, inverse);
    return grads[0] ? 0 : -1;
}

static int slice_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                          cg_tensor **grads) {
    (void)out;
    const int64_t *p = node->params.ints;
    cg_tensor *full = cg_zeros_like(node->inputs[0]);
    cg_tensor *window = cg_slice(full, (int)p[0], p[1], p[2], p[3]);
    if (!window || cg_copy_(window, g) != 0) return -1;
    grads[0] = full;
    return 0;
}

static int expand_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                           cg_tensor **grads) {
    (void)out;
    grads[0] = cg_sum_to_shape(g, node->inputs[0]->ndim, node->inputs[0]->shape);
    return grads[0] ? 0 : -1;
}

static int copy_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                         cg_tensor **grads) {
    (void)out;
    grads[0] = cg_to_dtype(g, node->inputs[0]->dtype);
    return grads[0] ? 0 : -1;
}

static const cg_op_def reshape_op = {"reshape", reshape_backward};
static const cg_op_def unsqueeze_op = {"unsqueeze", unsqueeze_backward};
static const cg_op_def squeeze_op = {"squeeze", squeeze_backward};
static const cg_op_def permute_op = {"permute", permute_backward};
static const cg_op_def slice_op = {"slice", slice_backward};
static const cg_op_def expand_op = {"expand", expand_backward};
static const cg_op_def copy_op = {"copy", copy_backward};

/* A view of x with new geometry, recording def (with params) when x requires grad. */
static cg_tensor *view_of(const cg_tensor *x, int ndim, const int64_t *shape,
                          const int64_t *strides, int64_t offset, const cg_op_def *def,
                          const int64_t *params, int param_count) {
    cg_tensor *out = cg_tensor_new_view(x, ndim, shape, strides, offset);
    if (!out) return NULL;
    if (cg_needs_grad((cg_tensor *const[]){(cg_tensor *)x}, 1)) {
        cg_node *node = cg_node_attach(out, def, (cg_tensor *const[]){(cg_tensor *)x}, 1);
        if (!node) return cg_kernel_failed(out);
        if (param_count > 0) /* params may be NULL then, which memcpy does not accept */
            memcpy(node->params.ints, params, sizeof(int64_t) * (size_t)param_count);
    }
    return out;
}

/* Resolves a -1 entry and checks the element count. */
static bool resolve_shape(const char *op, const cg_tensor *x, cg_shape *shape) {
    if (shape->ndim < 0 || shape->ndim > CG_MAX_DIMS) {
        cg_error_set("%s: %d dims requested, at most %d", op, shape->ndim, CG_MAX_DIMS);
        return false;
    }
    int inferred = -1;
    int64_t known = 1;
    for (int d = 0; d < shape->ndim; d++) {
        if (shape->dims[d] == -1 && inferred < 0) {
            inferred = d;
        } else if (shape->dims[d] < 0) {
            cg_error_set("%s: invalid size %lld in the target shape", op,
                         (long long)shape->dims[d]);
            return false;
        } else {
            known *= shape->dims[d];
        }
    }
    const int64_t numel = cg_numel(x);
    if (inferred >= 0) {
        if (known == 0 || numel % known != 0) {
            cg_error_set("%s: cannot infer the -1 dim to reshape %s (%lld elements)", op,
                         cg_shape_text(x), (long long)numel);
            return false;
        }
        shape->dims[inferred] = numel / known;
        known = numel;
    }
    if (known != numel) {
        cg_error_set("%s: cannot reshape %s (%lld elements) to %s", op, cg_shape_text(x),
                     (long long)numel, cg_dims_text(shape->ndim, shape->dims));
        return false;
    }
    return true;
}

cg_tensor *cg_view(const cg_tensor *x, cg_shape shape) {
    if (!x || !resolve_shape("view", x, &shape)) return NULL;
    if (!cg_tensor_is_contiguous(x)) {
        cg_error_set("view: tensor of shape %s is not contiguous (use cg_reshape)",
                     cg_shape_text(x));
        return NULL;
    }
    int64_t strides[CG_MAX_DIMS];
    cg_contiguous_strides(shape.ndim, shape.dims, strides);
    return view_of(x, shape.ndim, shape.dims, strides, x->offset, &reshape_op, NULL, 0);
}

cg_tensor *cg_reshape(const cg_tensor *x, cg_shape shape) {
    if (!x || !resolve_shape("reshape", x, &shape)) return NULL;
    if (cg_tensor_is_contiguous(x)) return cg_view(x, shape);
    cg_tensor *dense = cg_contiguous(x);
    cg_tensor *out = cg_view(dense, shape);
    cg_release(dense);
    return out;
}

cg_tensor *cg_flatten(const cg_tensor *x, int start_dim, int end_dim) {
    if (!x) return NULL;
    const int ndim = x->ndim ? x->ndim : 1;
    int start = cg_normalize_dim("flatten", start_dim, ndim);
    int end = start < 0 ? -1 : cg_normalize_dim("flatten", end_dim, ndim);
    if (end < 0) return NULL;
    if (x->ndim == 0) return cg_reshape(x, CG_SHAPE(1));
    if (start > end) {
        cg_error_set("flatten: start_dim %d comes after end_dim %d", start_dim, end_dim);
        return NULL;
    }
    cg_shape shape = {.ndim = 0};
    for (int d = 0; d < x->ndim; d++) {
        if (d <= start || d > end)
            shape.dims[shape.ndim++] = x->shape[d];
        else
            shape.dims[shape.ndim - 1] *= x->shape[d];
    }
    return cg_reshape(x, shape);
}

cg_tensor *cg_permute(const cg_tensor *x, cg_dims dims) {
    if (!x) return NULL;
    if (dims.count != x->ndim) {
        cg_error_set("permute: %d dims given for a tensor with %d dims", dims.count, x->ndim);
        return NULL;
    }
    bool mask[CG_MAX_DIMS];
    if (!cg_reduction_mask("permute", dims, x->ndim, mask)) return NULL;
    int64_t shape[CG_MAX_DIMS], strides[CG_MAX_DIMS], order[CG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) {
        order[d] = dims.dims[d] < 0 ? dims.dims[d] + x->ndim : dims.dims[d];
        shape[d] = x->shape[order[d]];
        strides[d] = x->strides[order[d]];
    }
    return view_of(x, x->ndim, shape, strides, x->offset, &permute_op, order, x->ndim);
}

cg_tensor *cg_transpose(const cg_tensor *x, int dim0, int dim1) {
    if (!x) return NULL;
    int a = cg_normalize_dim("transpose", dim0, x->ndim);
    int b = a < 0 ? -1 : cg_normalize_dim("transpose", dim1, x->ndim);
    if (b < 0) return NULL;
    cg_dims order = {.count = x->ndim};
    for (int d = 0; d < x->ndim; d++)
        order.dims[d] = d;
    order.dims[a] = b;
    order.dims[b] = a;
    return cg_permute(x, order);
}

cg_tensor *cg_slice(const cg_tensor *x, int dim, int64_t start, int64_t end, int64_t step) {
    if (!x) return NULL;
    int d = cg_normalize_dim("slice", dim, x->ndim);
    if (d < 0) return NULL;
    const int64_t size = x->shape[d];
    if (step <= 0) {
        cg_error_set("slice: step must be positive, got %lld", (long long)step);
        return NULL;
    }
    if (start < 0) start += size;
    if (end < 0) end += size;
    if (end > size) end = size;
    if (start < 0 || start > size) {
        cg_error_set("slice: start %lld is out of range for dim %d of size %lld", (long long)start,
                     dim, (long long)size);
        return NULL;
    }
    if (end < start) end = start;
    int64_t shape[CG_MAX_DIMS], strides[CG_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    memcpy(strides, x->strides, sizeof strides);
    shape[d] = (end - start + step - 1) / step;
    strides[d] = x->strides[d] * step;
    const int64_t params[4] = {d, start, end, step};
    return view_of(x, x->ndim, shape, strides, x->offset + start * x->strides[d], &slice_op, params,
                   4);
}

cg_tensor *cg_narrow(const cg_tensor *x, int dim, int64_t start, int64_t length) {
    if (!x) return NULL;
    int d = cg_normalize_dim("narrow", dim, x->ndim);
    if (d < 0) return NULL;
    if (start < 0) start += x->shape[d];
    if (start < 0 || length < 0 || start + length > x->shape[d]) {
        cg_error_set("narrow: [%lld, %lld) is out of range for dim %d of size %lld",
                     (long long)start, (long long)(start + length), dim, (long long)x->shape[d]);
        return NULL;
    }
    return cg_slice(x, d, start, start + length, 1);
}

cg_tensor *cg_squeeze(const cg_tensor *x, int dim) {
    if (!x) return NULL;
    int d = cg_normalize_dim("squeeze", dim, x->ndim);
    if (d < 0) return NULL;
    if (x->shape[d] != 1) {
        cg_error_set("squeeze: dim %d of %s has size %lld, not 1", dim, cg_shape_text(x),
                     (long long)x->shape[d]);
        return NULL;
    }
    int64_t shape[CG_MAX_DIMS], strides[CG_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < x->ndim; i++)
        if (i != d) {
            shape[n] = x->shape[i];
            strides[n++] = x->strides[i];
        }
    const int64_t params[1] = {d};
    return view_of(x, n, shape, strides, x->offset, &squeeze_op, params, 1);
}

cg_tensor *cg_squeeze_all(const cg_tensor *x) {
    if (!x) return NULL;
    int64_t shape[CG_MAX_DIMS], strides[CG_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < x->ndim; i++)
        if (x->shape[i] != 1) {
            shape[n] = x->shape[i];
            strides[n++] = x->strides[i];
        }
    return view_of(x, n, shape, strides, x->offset, &reshape_op, NULL, 0);
}

cg_tensor *cg_unsqueeze(const cg_tensor *x, int dim) {
    if (!x) return NULL;
    if (x->ndim == CG_MAX_DIMS) {
        cg_error_set("unsqueeze: a tensor has at most %d dims", CG_MAX_DIMS);
        return NULL;
    }
    int d = cg_normalize_dim("unsqueeze", dim, x->ndim + 1);
    if (d < 0) return NULL;
    int64_t shape[CG_MAX_DIMS], strides[CG_MAX_DIMS];
    for (int i = 0, n = 0; i <= x->ndim; i++) {
        if (i == d) {
            shape[i] = 1;
            strides[i] = d < x->ndim ? x->strides[d] * x->shape[d] : 1;
        } else {
            shape[i] = x->shape[n];
            strides[i] = x->strides[n++];
        }
    }
    const int64_t params[1] = {d};
    return view_of(x, x->ndim + 1, shape, strides, x->offset, &unsqueeze_op, params, 1);
}

cg_tensor *cg_expand(const cg_tensor *x, cg_shape shape) {
    if (!x) return NULL;
    bool ok = shape.ndim >= x->ndim && shape.ndim <= CG_MAX_DIMS;
    for (int i = 0; ok && i < shape.ndim; i++) {
        const int d = i - (shape.ndim - x->ndim);
        if (shape.dims[i] == -1 && d >= 0) shape.dims[i] = x->shape[d];
        if (d >= 0 && x->shape[d] != 1 && x->shape[d] != shape.dims[i]) ok = false;
        if (shape.dims[i] < 0) ok = false;
    }
    if (!ok) {
        cg_error_set("expand: cannot expand %s to %s", cg_shape_text(x),
                     cg_dims_text(shape.ndim, shape.dims));
        return NULL;
    }
    int64_t strides[CG_MAX_DIMS];
    cg_broadcast_strides(x, shape.ndim, shape.dims, strides);
    return view_of(x, shape.ndim, shape.dims, strides, x->offset, &expand_op, NULL, 0);
}

/* A contiguous copy of x in dtype, recording a copy node when x requires grad. */
static cg_tensor *copy_of(const cg_tensor *x, cg_dtype dtype) {
    cg_tensor *out = cg_new_like_shape(x, x->ndim, x->shape, dtype);
    if (!out || cg_tensor_backend(x)->copy(out, x) != 0) return cg_kernel_failed(out);
    cg_tensor *inputs[1] = {(cg_tensor *)x};
    if (cg_dtype_is_float(dtype) && cg_dtype_is_float(x->dtype) && cg_needs_grad(inputs, 1) &&
        !cg_node_attach(out, &copy_op, inputs, 1))
        return cg_kernel_failed(out);
    return out;
}

cg_tensor *cg_contiguous(const cg_tensor *x) {
    if (!x) return NULL;
    return cg_tensor_is_contiguous(x) ? cg_alias(x) : copy_of(x, x->dtype);
}

cg_tensor *cg_clone(const cg_tensor *x) { return x ? copy_of(x, x->dtype) : NULL; }

cg_tensor *cg_to_dtype(const cg_tensor *x, cg_dtype dtype) {
    if (!x) return NULL;
    if ((unsigned)dtype >= CG_DTYPE_COUNT) {
        cg_error_set("to_dtype: invalid dtype %d", (int)dtype);
        return NULL;
    }
    return copy_of(x, dtype);
}

cg_tensor *cg_detach(const cg_tensor *x) {
    if (!x) return NULL;
    return cg_tensor_new_view(x, x->ndim, x->shape, x->strides, x->offset);
}
