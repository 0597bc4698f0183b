/* Joining tensors: concat copies each input into its window of a new output along an existing
 * dim; stack concatenates the inputs after giving each a new dim of size 1. */
#include <string.h>

#include "core/alloc.h"
#include "ops/ops.h"

static int concat_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                           cg_tensor **grads) {
    (void)out;
    const int dim = (int)node->params.ints[0];
    int64_t start = 0;
    for (int i = 0; i < node->input_count; i++) {
        const int64_t length = node->inputs[i]->shape[dim];
        grads[i] = cg_narrow(g, dim, start, length);
        if (!grads[i]) return -1;
        start += length;
    }
    return 0;
}

static const cg_op_def concat_op = {"concat", concat_backward};

/* Reports an error naming op unless every tensor matches the first in dtype, device and shape,
 * except along free_dim (-1: no dim is free). */
static bool check_join_inputs(const char *op, cg_tensor *const *tensors, int count, int free_dim) {
    const cg_tensor *first = tensors[0];
    for (int i = 1; i < count; i++) {
        const cg_tensor *t = tensors[i];
        if (!cg_require_same_kind(op, first, t)) return false;
        bool match = t->ndim == first->ndim;
        for (int d = 0; match && d < t->ndim; d++)
            match = d == free_dim || t->shape[d] == first->shape[d];
        if (!match) {
            cg_error_set("%s: tensor %d has shape %s, which does not match tensor 0's %s%s", op, i,
                         cg_shape_text(t), cg_shape_text(first),
                         free_dim >= 0 ? " outside the joined dim" : "");
            return false;
        }
    }
    return true;
}

/* Reports an error naming op and returns false when the list is empty or holds a NULL (silently
 * for NULL, which an earlier failed op has already reported). */
static bool check_join_list(const char *op, cg_tensor *const *tensors, int count) {
    if (count <= 0) {
        cg_error_set("%s: need at least one tensor, got %d", op, count);
        return false;
    }
    if (!tensors) return false;
    for (int i = 0; i < count; i++)
        if (!tensors[i]) return false;
    return true;
}

/* Concatenates validated inputs along d into a new tensor and records one node for them. */
static cg_tensor *concat_recorded(cg_tensor *const *tensors, int count, int d) {
    const cg_tensor *first = tensors[0];
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, first->shape, sizeof shape);
    shape[d] = 0;
    for (int i = 0; i < count; i++)
        shape[d] += tensors[i]->shape[d];
    cg_tensor *out = cg_new_like_shape(first, first->ndim, shape, first->dtype);
    if (!out) return NULL;
    int64_t start = 0;
    for (int i = 0; i < count; i++) {
        cg_tensor *window = cg_narrow(out, d, start, tensors[i]->shape[d]);
        const int status = window ? cg_tensor_backend(out)->copy(window, tensors[i]) : -1;
        cg_release(window);
        if (status != 0) return cg_kernel_failed(out);
        start += tensors[i]->shape[d];
    }
    if (cg_dtype_is_float(first->dtype) && cg_needs_grad(tensors, count)) {
        cg_node *node = cg_node_attach(out, &concat_op, tensors, count);
        if (!node) return cg_kernel_failed(out);
        node->params.ints[0] = d;
    }
    return out;
}

/* A node holds at most CG_NODE_MAX_INPUTS inputs, so a longer list that records a graph is
 * joined in groups of that many, and the groups are joined in turn. */
static cg_tensor *concat_grouped(cg_tensor *const *tensors, int count, int d) {
    if (count <= CG_NODE_MAX_INPUTS || !cg_needs_grad(tensors, count))
        return concat_recorded(tensors, count, d);
    const int group_count = (count + CG_NODE_MAX_INPUTS - 1) / CG_NODE_MAX_INPUTS;
    const size_t bytes = sizeof(cg_tensor *) * (size_t)group_count;
    cg_tensor **groups = cg_alloc(bytes);
    if (!groups) return NULL;
    cg_scope_begin();
    bool ok = true;
    for (int g = 0; g < group_count && ok; g++) {
        const int first = g * CG_NODE_MAX_INPUTS;
        const int size = count - first < CG_NODE_MAX_INPUTS ? count - first : CG_NODE_MAX_INPUTS;
        groups[g] = concat_recorded(tensors + first, size, d);
        ok = groups[g] != NULL;
    }
    cg_tensor *out = ok ? cg_keep(concat_grouped(groups, group_count, d)) : NULL;
    cg_scope_end();
    cg_free(groups, bytes);
    return out;
}

cg_tensor *cg_concat(cg_tensor *const *tensors, int count, int dim) {
    if (!check_join_list("concat", tensors, count)) return NULL;
    const int d = cg_normalize_dim("concat", dim, tensors[0]->ndim);
    if (d < 0 || !check_join_inputs("concat", tensors, count, d)) return NULL;
    return concat_grouped(tensors, count, d);
}

cg_tensor *cg_stack(cg_tensor *const *tensors, int count, int dim) {
    if (!check_join_list("stack", tensors, count)) return NULL;
    const int ndim = tensors[0]->ndim;
    if (ndim == CG_MAX_DIMS) {
        cg_error_set("stack: inputs already have the most dims a tensor can have (%d)",
                     CG_MAX_DIMS);
        return NULL;
    }
    const int d = cg_normalize_dim("stack", dim, ndim + 1);
    if (d < 0 || !check_join_inputs("stack", tensors, count, -1)) return NULL;
    const size_t bytes = sizeof(cg_tensor *) * (size_t)count;
    cg_tensor **unsqueezed = cg_alloc(bytes);
    if (!unsqueezed) return NULL;
    cg_scope_begin();
    bool ok = true;
    for (int i = 0; i < count && ok; i++) {
        unsqueezed[i] = cg_unsqueeze(tensors[i], d);
        ok = unsqueezed[i] != NULL;
    }
    cg_tensor *out = ok ? cg_keep(cg_concat(unsqueezed, count, d)) : NULL;
    cg_scope_end();
    cg_free(unsqueezed, bytes);
    return out;
}
