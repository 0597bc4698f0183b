/* Indexing: gather (its adjoint is scatter_add into zeros), index_select as a gather with the
 * index broadcast over the other dims, and one_hot as a scatter of ones. */
#include <math.h>
#include <string.h>

#include "ops/ops.h"

static bool is_index_dtype(cg_dtype dtype) { return dtype == CG_INT32 || dtype == CG_INT64; }

static bool require_same_device(const char *op, const cg_tensor *x, const cg_tensor *index) {
    char dx[32], di[32];
    if (cg_device_equal(x->storage->device, index->storage->device)) return true;
    cg_error_set("%s: input on %s, index on %s", op,
                 cg_device_name(x->storage->device, dx, sizeof dx),
                 cg_device_name(index->storage->device, di, sizeof di));
    return false;
}

static int gather_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                           cg_tensor **grads) {
    (void)out;
    grads[0] = cg_zeros_like(node->inputs[0]);
    if (!grads[0]) return -1;
    return cg_tensor_backend(g)->scatter_add(grads[0], (int)node->params.ints[0], node->saved[0],
                                             g);
}

static const cg_op_def gather_op = {"gather", gather_backward};

cg_tensor *cg_gather(const cg_tensor *x, int dim, const cg_tensor *index) {
    if (!x || !index) return NULL;
    const int d = cg_normalize_dim("gather", dim, x->ndim);
    if (d < 0 || !require_same_device("gather", x, index)) return NULL;
    if (!is_index_dtype(index->dtype)) {
        cg_error_set("gather: index must be int32 or int64, got %s", cg_dtype_name(index->dtype));
        return NULL;
    }
    if (index->ndim != x->ndim) {
        cg_error_set("gather: index of shape %s must have as many dims as the input %s",
                     cg_shape_text(index), cg_shape_text(x));
        return NULL;
    }
    for (int k = 0; k < x->ndim; k++)
        if (k != d && index->shape[k] > x->shape[k]) {
            cg_error_set("gather: index of shape %s is larger than the input %s in dim %d",
                         cg_shape_text(index), cg_shape_text(x), k);
            return NULL;
        }
    cg_tensor *out = cg_new_like_shape(x, index->ndim, index->shape, x->dtype);
    if (!out || cg_tensor_backend(x)->gather(x, d, index, out) != 0) return cg_kernel_failed(out);
    cg_tensor *inputs[1] = {(cg_tensor *)x};
    if (cg_dtype_is_float(x->dtype) && cg_needs_grad(inputs, 1)) {
        cg_node *node = cg_node_attach(out, &gather_op, inputs, 1);
        if (!node) return cg_kernel_failed(out);
        node->params.ints[0] = d;
        cg_node_save(node, (cg_tensor *)index);
    }
    return out;
}

cg_tensor *cg_index_select(const cg_tensor *x, int dim, const cg_tensor *index) {
    if (!x || !index) return NULL;
    const int d = cg_normalize_dim("index_select", dim, x->ndim);
    if (d < 0) return NULL;
    if (!is_index_dtype(index->dtype) || index->ndim != 1) {
        cg_error_set("index_select: index must be a 1-D int32 or int64 tensor, got %s of shape %s",
                     cg_dtype_name(index->dtype), cg_shape_text(index));
        return NULL;
    }
    cg_shape along = {.ndim = x->ndim}, picked = cg_tensor_shape(x);
    for (int k = 0; k < x->ndim; k++)
        along.dims[k] = 1;
    along.dims[d] = picked.dims[d] = index->shape[0];
    cg_scope_begin();
    cg_tensor *out = cg_keep(cg_gather(x, d, cg_expand(cg_reshape(index, along), picked)));
    cg_scope_end();
    return out;
}

bool cg_check_class_labels(const char *op, const cg_tensor *labels, int64_t num_classes) {
    if (!is_index_dtype(labels->dtype)) {
        cg_error_set("%s: labels must be int32 or int64, got %s", op, cg_dtype_name(labels->dtype));
        return false;
    }
    if (cg_numel(labels) == 0) return true;
    /* On a GPU a read would wait for the queued kernels, at every training step: there the gather
     * or scatter_add that takes the labels records one out of range, and the next read reports
     * it. */
    if (labels->storage->device.type != CG_DEVICE_CPU) return true;
    /* Both extremes in one read. */
    double extremes[2] = {NAN, NAN};
    cg_scope_begin();
    cg_tensor *pair[2] = {cg_min(labels, CG_ALL_DIMS, false), cg_max(labels, CG_ALL_DIMS, false)};
    const cg_tensor *stacked = cg_to_dtype(cg_stack(pair, 2, 0), CG_FLOAT64);
    const bool read = stacked && cg_copy_to_array(stacked, extremes, sizeof extremes) == 0;
    cg_scope_end();
    const double lowest = extremes[0], highest = extremes[1];
    if (!read) return false;
    if (lowest < 0 || highest >= (double)num_classes) {
        cg_error_set("%s: label %lld is out of range for %lld classes", op,
                     (long long)(lowest < 0 ? lowest : highest), (long long)num_classes);
        return false;
    }
    return true;
}

cg_tensor *cg_one_hot(const cg_tensor *labels, int64_t num_classes, cg_dtype dtype) {
    if (!labels) return NULL;
    if ((unsigned)dtype >= CG_DTYPE_COUNT) {
        cg_error_set("one_hot: invalid dtype %d", (int)dtype);
        return NULL;
    }
    if (num_classes <= 0) {
        cg_error_set("one_hot: num_classes must be positive, got %lld", (long long)num_classes);
        return NULL;
    }
    if (labels->ndim == CG_MAX_DIMS) {
        cg_error_set("one_hot: labels of shape %s leave no room for the class dim",
                     cg_shape_text(labels));
        return NULL;
    }
    if (!cg_check_class_labels("one_hot", labels, num_classes)) return NULL;
    const int ndim = labels->ndim + 1;
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, labels->shape, sizeof(int64_t) * (size_t)labels->ndim);
    const cg_backend *backend = cg_tensor_backend(labels);
    cg_scope_begin();
    shape[ndim - 1] = 1;
    cg_tensor *ones = cg_new_like_shape(labels, ndim, shape, dtype);
    shape[ndim - 1] = num_classes;
    cg_tensor *out = cg_new_like_shape(labels, ndim, shape, dtype);
    cg_tensor *index = cg_unsqueeze(labels, -1);
    const bool ok = ones && out && index && backend->fill(ones, 1.0) == 0 &&
                    backend->fill(out, 0.0) == 0 &&
                    backend->scatter_add(out, ndim - 1, index, ones) == 0;
    out = ok ? cg_keep(out) : NULL;
    cg_scope_end();
    return out;
}
