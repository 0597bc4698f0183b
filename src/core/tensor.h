/* The tensor behind the opaque cg_tensor handle: a strided view of a reference-counted storage,
 * plus the autograd links (gradient, the node that made it). */
#ifndef CG_CORE_TENSOR_H
#define CG_CORE_TENSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "cgrad.h"

typedef struct cg_node cg_node;
typedef struct cg_backend cg_backend;

typedef struct cg_storage {
    void *data;
    size_t nbytes;
    int refcount;
    cg_device device;
    /* Frees data once no view holds the storage: the device allocator's free for storages made by
     * cg_tensor_new, the lender's function for memory lent by cg_tensor_from_memory. */
    void (*release)(void *data, size_t nbytes);
} cg_storage;

struct cg_tensor {
    int refcount;       /* every owner: scope, caller, graph nodes, views' gradients */
    int caller_retains; /* how many of those came from cg_retain */
    cg_dtype dtype;
    int ndim;
    int64_t shape[CG_MAX_DIMS];
    int64_t strides[CG_MAX_DIMS]; /* in elements */
    int64_t offset;               /* in elements, into storage */
    cg_storage *storage;

    bool requires_grad;
    cg_tensor *grad;  /* accumulated gradient of a leaf, owned by this tensor */
    cg_node *grad_fn; /* the op that made this tensor, NULL for leaves */

    int scope_depth; /* 1-based scope that owns a reference, 0 when none */
    int64_t scope_slot;

    /* Backward-pass bookkeeping. */
    cg_tensor *pending_grad;
    uint64_t visit_mark;
};

/* A new contiguous tensor with uninitialised data, registered with the current scope. */
cg_tensor *cg_tensor_new(int ndim, const int64_t *shape, cg_dtype dtype, cg_device device);
/* A new contiguous CPU tensor over memory the allocator did not make (a mapped file): the given
 * shape and dtype, starting offset elements into data, which must hold them within its nbytes.
 * The tensor takes the memory over: release(data, nbytes) runs once no view holds it, or at once
 * when this fails (NULL with an error). Registered with the current scope. */
cg_tensor *cg_tensor_from_memory(int ndim, const int64_t *shape, cg_dtype dtype, int64_t offset,
                                 void *data, size_t nbytes, void (*release)(void *, size_t));
/* A new tensor header viewing x's storage with the given geometry (no autograd link). */
cg_tensor *cg_tensor_new_view(const cg_tensor *x, int ndim, const int64_t *shape,
                              const int64_t *strides, int64_t offset);
/* Adds a reference held inside the library (a graph node, a gradient); returns t. */
cg_tensor *cg_tensor_incref(cg_tensor *t);
/* Drops one reference without touching scopes (for references held inside the library). */
void cg_tensor_decref(cg_tensor *t);
/* Takes t out of whatever scope owns it; the reference becomes the caller's. */
void cg_tensor_unscope(cg_tensor *t);

int64_t cg_shape_numel(int ndim, const int64_t *shape);
void cg_contiguous_strides(int ndim, const int64_t *shape, int64_t *strides);
bool cg_tensor_is_contiguous(const cg_tensor *t);
/* Address of element 0 of the view. */
void *cg_tensor_data(const cg_tensor *t);
const cg_backend *cg_tensor_backend(const cg_tensor *t);
bool cg_dtype_is_float(cg_dtype dtype);
bool cg_device_equal(cg_device a, cg_device b);
/* "cpu" or "cuda:N". */
const char *cg_device_name(cg_device device, char *buf, size_t size);

/* Normalises a possibly negative dim against ndim; -1 with an error naming op otherwise. */
int cg_normalize_dim(const char *op, int dim, int ndim);
/* Text of t's shape for error messages (a per-thread rotating buffer, valid for a few calls). */
const char *cg_shape_text(const cg_tensor *t);
const char *cg_dims_text(int ndim, const int64_t *shape);

/* Reports an error and returns false unless t is a floating-point tensor. */
bool cg_require_float(const char *op, const cg_tensor *t);
/* Reports an error and returns false unless a and b share dtype and device. */
bool cg_require_same_kind(const char *op, const cg_tensor *a, const cg_tensor *b);

#endif
