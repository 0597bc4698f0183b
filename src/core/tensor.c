#include "core/tensor.h"

#include <stdio.h>
#include <string.h>

#include "autograd/node.h"
#include "backend/backend.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/scope.h"

static const char *const dtype_names[CG_DTYPE_COUNT] = {"float32", "float64", "int32", "int64",
                                                        "uint8"};
static const size_t dtype_sizes[CG_DTYPE_COUNT] = {4, 8, 4, 8, 1};

const char *cg_dtype_name(cg_dtype dtype) {
    return (unsigned)dtype < CG_DTYPE_COUNT ? dtype_names[dtype] : "invalid";
}

size_t cg_dtype_size(cg_dtype dtype) {
    return (unsigned)dtype < CG_DTYPE_COUNT ? dtype_sizes[dtype] : 0;
}

bool cg_dtype_is_float(cg_dtype dtype) { return dtype == CG_FLOAT32 || dtype == CG_FLOAT64; }

bool cg_device_equal(cg_device a, cg_device b) {
    return a.type == b.type && (a.type == CG_DEVICE_CPU || a.index == b.index);
}

const char *cg_device_name(cg_device device, char *buf, size_t size) {
    if (device.type == CG_DEVICE_CPU)
        snprintf(buf, size, "cpu");
    else
        snprintf(buf, size, "cuda:%d", device.index);
    return buf;
}

int64_t cg_shape_numel(int ndim, const int64_t *shape) {
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++)
        numel *= shape[i];
    return numel;
}

void cg_contiguous_strides(int ndim, const int64_t *shape, int64_t *strides) {
    int64_t stride = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = stride;
        stride *= shape[i] > 1 ? shape[i] : 1;
    }
}

bool cg_tensor_is_contiguous(const cg_tensor *t) {
    int64_t expected = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->strides[i] != expected) return false;
        expected *= t->shape[i];
    }
    return true;
}

void *cg_tensor_data(const cg_tensor *t) {
    return (char *)t->storage->data + t->offset * (int64_t)cg_dtype_size(t->dtype);
}

const cg_backend *cg_tensor_backend(const cg_tensor *t) {
    return cg_backend_get(t->storage->device);
}

static cg_tensor *tensor_header(cg_dtype dtype, int ndim, const int64_t *shape) {
    cg_tensor *t = cg_alloc_zeroed(sizeof *t);
    if (!t) return NULL;
    t->refcount = 1;
    t->dtype = dtype;
    t->ndim = ndim;
    memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    return t;
}

static bool valid_geometry(int ndim, const int64_t *shape, cg_dtype dtype) {
    if ((unsigned)dtype >= CG_DTYPE_COUNT) {
        cg_error_set("invalid dtype %d", (int)dtype);
        return false;
    }
    if (ndim < 0 || ndim > CG_MAX_DIMS) {
        cg_error_set("a tensor has 0 to %d dims, not %d", CG_MAX_DIMS, ndim);
        return false;
    }
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            cg_error_set("negative size %lld in shape %s", (long long)shape[i],
                         cg_dims_text(ndim, shape));
            return false;
        }
        if (shape[i] > 0 && numel > (INT64_MAX / 8) / shape[i]) {
            cg_error_set("shape %s is too large", cg_dims_text(ndim, shape));
            return false;
        }
        numel *= shape[i];
    }
    return true;
}

/* t once the current scope owns it; NULL (t freed) when the scope cannot take it, since a
 * tensor made inside a scope that nobody owns would leak. */
static cg_tensor *adopted(cg_tensor *t) {
    if (cg_scope_adopt(t)) return t;
    cg_tensor_decref(t);
    return NULL;
}

/* A contiguous tensor starting offset elements into data, in a new storage that release frees;
 * on failure release frees data at once. */
static cg_tensor *tensor_over(int ndim, const int64_t *shape, cg_dtype dtype, cg_device device,
                              int64_t offset, void *data, size_t nbytes,
                              void (*release)(void *, size_t)) {
    cg_storage *storage = cg_alloc(sizeof *storage);
    cg_tensor *t = storage ? tensor_header(dtype, ndim, shape) : NULL;
    if (!t) {
        release(data, nbytes);
        cg_free(storage, sizeof *storage);
        return NULL;
    }
    *storage = (cg_storage){
        .data = data, .nbytes = nbytes, .refcount = 1, .device = device, .release = release};
    t->storage = storage;
    t->offset = offset;
    cg_contiguous_strides(ndim, shape, t->strides);
    return adopted(t);
}

cg_tensor *cg_tensor_new(int ndim, const int64_t *shape, cg_dtype dtype, cg_device device) {
    if (!valid_geometry(ndim, shape, dtype)) return NULL;
    const cg_backend *backend = cg_backend_get(device);
    if (!backend) return NULL;
    const size_t nbytes = (size_t)cg_shape_numel(ndim, shape) * cg_dtype_size(dtype);
    void *data = backend->alloc(nbytes);
    return data ? tensor_over(ndim, shape, dtype, device, 0, data, nbytes, backend->free) : NULL;
}

cg_tensor *cg_tensor_from_memory(int ndim, const int64_t *shape, cg_dtype dtype, int64_t offset,
                                 void *data, size_t nbytes, void (*release)(void *, size_t)) {
    if (!valid_geometry(ndim, shape, dtype)) {
        release(data, nbytes);
        return NULL;
    }
    const size_t size = cg_dtype_size(dtype);
    const uint64_t end = ((uint64_t)offset + (uint64_t)cg_shape_numel(ndim, shape)) * size;
    if (offset < 0 || (uint64_t)offset > nbytes || end > nbytes) {
        cg_error_set("%s %s starting at element %lld does not fit in %zu bytes of memory",
                     cg_dtype_name(dtype), cg_dims_text(ndim, shape), (long long)offset, nbytes);
        release(data, nbytes);
        return NULL;
    }
    return tensor_over(ndim, shape, dtype, (cg_device){CG_DEVICE_CPU, 0}, offset, data, nbytes,
                       release);
}

cg_tensor *cg_tensor_new_view(const cg_tensor *x, int ndim, const int64_t *shape,
                              const int64_t *strides, int64_t offset) {
    cg_tensor *t = tensor_header(x->dtype, ndim, shape);
    if (!t) return NULL;
    memcpy(t->strides, strides, sizeof(int64_t) * (size_t)ndim);
    t->offset = offset;
    t->storage = x->storage;
    t->storage->refcount++;
    return adopted(t);
}

static void storage_release(cg_storage *storage) {
    if (--storage->refcount > 0) return;
    storage->release(storage->data, storage->nbytes);
    cg_free(storage, sizeof *storage);
}

cg_tensor *cg_tensor_incref(cg_tensor *t) {
    t->refcount++;
    return t;
}

void cg_tensor_decref(cg_tensor *t) {
    if (!t || --t->refcount > 0) return;
    storage_release(t->storage);
    cg_tensor_decref(t->grad);
    cg_tensor_decref(t->pending_grad);
    cg_node_free(t->grad_fn);
    cg_free(t, sizeof *t);
}

cg_tensor *cg_retain(cg_tensor *t) {
    if (t) {
        t->refcount++;
        t->caller_retains++;
    }
    return t;
}

/* A release first pays back a cg_retain; only then does it drop the reference a scope holds (or
 * the creation reference the caller got outside any scope). */
void cg_release(cg_tensor *t) {
    if (!t) return;
    if (t->caller_retains > 0)
        t->caller_retains--;
    else
        cg_tensor_unscope(t);
    cg_tensor_decref(t);
}

/* ----- inspection ----- */

int cg_ndim(const cg_tensor *t) { return t ? t->ndim : -1; }

int cg_normalize_dim(const char *op, int dim, int ndim) {
    int normalized = dim < 0 ? dim + ndim : dim;
    if (normalized < 0 || normalized >= ndim) {
        cg_error_set("%s: dim %d is out of range for a tensor with %d dims", op, dim, ndim);
        return -1;
    }
    return normalized;
}

int64_t cg_dim(const cg_tensor *t, int dim) {
    if (!t) return -1;
    int d = cg_normalize_dim("cg_dim", dim, t->ndim);
    return d < 0 ? -1 : t->shape[d];
}

cg_shape cg_tensor_shape(const cg_tensor *t) {
    cg_shape shape = {0};
    if (!t) return shape;
    shape.ndim = t->ndim;
    memcpy(shape.dims, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    return shape;
}

int64_t cg_numel(const cg_tensor *t) { return t ? cg_shape_numel(t->ndim, t->shape) : 0; }

cg_dtype cg_tensor_dtype(const cg_tensor *t) { return t ? t->dtype : CG_DTYPE_COUNT; }

cg_device cg_tensor_device(const cg_tensor *t) {
    return t ? t->storage->device : (cg_device){CG_DEVICE_CPU, 0};
}

bool cg_is_contiguous(const cg_tensor *t) { return t && cg_tensor_is_contiguous(t); }

char *cg_shape_format(cg_shape shape, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    /* Error messages format shapes the caller got wrong, so a bad ndim must not be read as one. */
    if (shape.ndim < 0 || shape.ndim > CG_MAX_DIMS) {
        snprintf(buf, size, "%d dims", shape.ndim);
        return buf;
    }
    if (shape.ndim == 0) snprintf(buf, size, "scalar");
    for (int i = 0; i < shape.ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i ? "x%lld" : "%lld",
                                 (long long)shape.dims[i]);
    return buf;
}

const char *cg_dims_text(int ndim, const int64_t *shape) {
    static _Thread_local char buffers[4][128];
    static _Thread_local int next;
    char *buf = buffers[next++ % 4];
    cg_shape s = {.ndim = ndim};
    if (ndim > 0 && ndim <= CG_MAX_DIMS) memcpy(s.dims, shape, sizeof(int64_t) * (size_t)ndim);
    buf[0] = '[';
    cg_shape_format(s, buf + 1, sizeof buffers[0] - 2);
    strcat(buf, "]");
    return buf;
}

const char *cg_shape_text(const cg_tensor *t) { return cg_dims_text(t->ndim, t->shape); }

bool cg_require_float(const char *op, const cg_tensor *t) {
    if (cg_dtype_is_float(t->dtype)) return true;
    cg_error_set("%s: expected a float32 or float64 tensor, got %s", op, cg_dtype_name(t->dtype));
    return false;
}

bool cg_require_same_kind(const char *op, const cg_tensor *a, const cg_tensor *b) {
    char da[32], db[32];
    if (!cg_device_equal(a->storage->device, b->storage->device)) {
        cg_error_set("%s: operands are on different devices (%s and %s)", op,
                     cg_device_name(a->storage->device, da, sizeof da),
                     cg_device_name(b->storage->device, db, sizeof db));
        return false;
    }
    if (a->dtype != b->dtype) {
        cg_error_set("%s: dtype mismatch (%s %s and %s %s)", op, cg_dtype_name(a->dtype),
                     cg_shape_text(a), cg_dtype_name(b->dtype), cg_shape_text(b));
        return false;
    }
    return true;
}
