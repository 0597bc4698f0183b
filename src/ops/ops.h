/* Helpers shared by the op families: output allocation, broadcasting and dispatch. */
#ifndef CG_OPS_OPS_H
#define CG_OPS_OPS_H

#include "autograd/node.h"
#include "backend/backend.h"
#include "core/error.h"
#include "core/tensor.h"

/* A new contiguous tensor of the given geometry on x's device. */
cg_tensor *cg_new_like_shape(const cg_tensor *x, int ndim, const int64_t *shape, cg_dtype dtype);
/* A new contiguous uninitialised tensor with x's shape, dtype and device. */
cg_tensor *cg_empty_like(const cg_tensor *x);

/* The broadcast shape of a and b (numpy rules); false with an error naming op otherwise. */
bool cg_broadcast_shapes(const char *op, int ndim_a, const int64_t *shape_a, int ndim_b,
                         const int64_t *shape_b, int *ndim_out, int64_t *shape_out);
/* x's strides when broadcast to shape (0 where a dim is expanded or added). */
void cg_broadcast_strides(const cg_tensor *x, int ndim, const int64_t *shape, int64_t *strides);
/* A view of x expanded to shape (x must broadcast to it); no autograd link. */
cg_tensor *cg_broadcast_view(const cg_tensor *x, int ndim, const int64_t *shape);

/* A new tensor header with x's geometry and data, linked to x by an identity node when x
 * requires grad: the "same tensor, new reference" result ops return. */
cg_tensor *cg_alias(const cg_tensor *x);

/* x (2-D, or 3-D batches) itself when its matrices are row- or column-major, the layouts the
 * product kernels take, or a contiguous copy; a new reference either way, NULL on error. */
cg_tensor *cg_matrix_ready(const cg_tensor *x);

/* Normalises dims (CG_ALL_DIMS or a list, negative allowed) into a per-dim mask; false with an
 * error naming op when a dim is out of range or repeated. */
bool cg_reduction_mask(const char *op, cg_dims dims, int ndim, bool *mask);

/* Reports an error naming op and the offending label unless labels is an int32 or int64 tensor
 * of class indices in [0, num_classes). */
bool cg_check_class_labels(const char *op, const cg_tensor *labels, int64_t num_classes);

/* Frees out and returns NULL, for the error path of an op whose kernel (which set the error) or
 * graph recording failed. */
cg_tensor *cg_kernel_failed(cg_tensor *out);

#endif
