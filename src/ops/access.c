/* Reading and writing single elements, copying out, and printing. */
#include <math.h>
#include <string.h>

#include "core/device.h"
#include "ops/ops.h"

static double load(const void *data, cg_dtype dtype, int64_t i) {
    switch (dtype) {
    case CG_FLOAT32: return ((const float *)data)[i];
    case CG_FLOAT64: return ((const double *)data)[i];
    case CG_INT32: return ((const int32_t *)data)[i];
    case CG_UINT8: return ((const uint8_t *)data)[i];
    default: return (double)((const int64_t *)data)[i];
    }
}

static void store(void *data, cg_dtype dtype, int64_t i, double value) {
    switch (dtype) {
    case CG_FLOAT32: ((float *)data)[i] = (float)value; break;
    case CG_FLOAT64: ((double *)data)[i] = value; break;
    case CG_INT32: ((int32_t *)data)[i] = (int32_t)value; break;
    case CG_UINT8: ((uint8_t *)data)[i] = (uint8_t)(int64_t)value; break; /* wraps, as copies do */
    default: ((int64_t *)data)[i] = (int64_t)value; break;
    }
}

/* The storage offset of the element at index, or -1 with an error. */
static int64_t element_offset(const char *op, const cg_tensor *t, const int64_t *index) {
    int64_t offset = t->offset;
    for (int d = 0; d < t->ndim; d++) {
        if (index[d] < 0 || index[d] >= t->shape[d]) {
            cg_error_set("%s: index %lld is out of range for dim %d of %s", op,
                         (long long)index[d], d, cg_shape_text(t));
            return -1;
        }
        offset += index[d] * t->strides[d];
    }
    return offset;
}

/* The element goes through a host buffer, so one path serves every device. */
double cg_get(const cg_tensor *t, const int64_t *index) {
    if (!t) return NAN;
    if (!index && t->ndim > 0) {
        cg_error_set("get: index is NULL for a tensor of shape %s", cg_shape_text(t));
        return NAN;
    }
    const int64_t offset = element_offset("get", t, index);
    const size_t size = cg_dtype_size(t->dtype);
    unsigned char element[sizeof(double)];
    if (offset < 0 || cg_storage_read(t->storage, (size_t)offset * size, element, size) != 0)
        return NAN;
    return load(element, t->dtype, 0);
}

int cg_set(cg_tensor *t, const int64_t *index, double value) {
    if (!t) return -1;
    if (!index && t->ndim > 0) {
        cg_error_set("set: index is NULL for a tensor of shape %s", cg_shape_text(t));
        return -1;
    }
    const int64_t offset = element_offset("set", t, index);
    const size_t size = cg_dtype_size(t->dtype);
    unsigned char element[sizeof(double)];
    if (offset < 0) return -1;
    store(element, t->dtype, 0, value);
    return cg_storage_write(t->storage, (size_t)offset * size, element, size);
}

double cg_item(const cg_tensor *t) {
    if (!t) return NAN;
    if (cg_numel(t) != 1) {
        cg_error_set("item: expected one element, got shape %s", cg_shape_text(t));
        return NAN;
    }
    const int64_t zeros[CG_MAX_DIMS] = {0};
    return cg_get(t, zeros);
}

/* A GPU tensor is made dense on its device, then read in one transfer. */
static int copy_from_device(const cg_tensor *t, void *dst, size_t nbytes) {
    cg_scope_begin();
    const bool previous = cg_set_grad_enabled(false);
    const cg_tensor *dense = cg_contiguous(t);
    const int status =
        dense ? cg_storage_read(dense->storage, (size_t)dense->offset * cg_dtype_size(t->dtype),
                                dst, nbytes)
              : -1;
    cg_set_grad_enabled(previous);
    cg_scope_end();
    return status;
}

int cg_copy_to_array(const cg_tensor *t, void *dst, size_t dst_bytes) {
    if (!t) return -1;
    const size_t needed = (size_t)cg_numel(t) * cg_dtype_size(t->dtype);
    if (!dst || dst_bytes < needed) {
        cg_error_set("copy_to_array: %s %s needs %zu bytes, the buffer has %zu",
                     cg_dtype_name(t->dtype), cg_shape_text(t), needed, dst ? dst_bytes : 0);
        return -1;
    }
    if (t->storage->device.type != CG_DEVICE_CPU) return copy_from_device(t, dst, needed);
    /* A contiguous tensor header over dst lets the backend's strided copy do the work. */
    cg_storage storage = {.data = dst, .nbytes = needed, .refcount = 1, .device = t->storage->device};
    cg_tensor view = {.refcount = 1, .dtype = t->dtype, .ndim = t->ndim, .storage = &storage};
    memcpy(view.shape, t->shape, sizeof view.shape);
    cg_contiguous_strides(t->ndim, t->shape, view.strides);
    return cg_tensor_backend(t)->copy(&view, t);
}

/* ----- printing ----- */

enum { EDGE_ITEMS = 3, SUMMARY_THRESHOLD = 1000 };

static void print_value(FILE *out, const cg_tensor *t, int64_t offset) {
    const double v = load(t->storage->data, t->dtype, offset);
    if (cg_dtype_is_float(t->dtype))
        fprintf(out, "%10.4g", v);
    else
        fprintf(out, "%lld", (long long)v);
}

static void print_dim(FILE *out, const cg_tensor *t, int dim, int64_t offset, bool summarize,
                      int indent) {
    fputc('[', out);
    const int64_t size = t->shape[dim];
    for (int64_t i = 0; i < size; i++) {
        if (summarize && size > 2 * EDGE_ITEMS && i == EDGE_ITEMS) {
            fprintf(out, dim == t->ndim - 1 ? "..., " : "...,\n%*s", dim == t->ndim - 1 ? 0 : indent + 1, "");
            i = size - EDGE_ITEMS - 1;
            continue;
        }
        const int64_t at = offset + i * t->strides[dim];
        if (dim == t->ndim - 1)
            print_value(out, t, at);
        else
            print_dim(out, t, dim + 1, at, summarize, indent + 1);
        if (i + 1 < size) {
            if (dim == t->ndim - 1)
                fputs(", ", out);
            else
                fprintf(out, ",\n%*s", indent + 1, "");
        }
    }
    fputc(']', out);
}

/* Prints a GPU tensor from a copy on the CPU. */
static int print_from_device(const cg_tensor *t, FILE *out) {
    char name[32];
    cg_scope_begin();
    const bool previous = cg_set_grad_enabled(false);
    const cg_tensor *host = cg_to_device(t, (cg_device){CG_DEVICE_CPU, 0});
    const int status = host ? cg_print(host, out) : -1;
    cg_set_grad_enabled(previous);
    cg_scope_end();
    if (status == 0)
        fprintf(out, "(on %s)\n", cg_device_name(t->storage->device, name, sizeof name));
    return status == 0 && !ferror(out) ? 0 : -1;
}

int cg_print(const cg_tensor *t, FILE *out) {
    if (!t) return -1;
    if (!out) {
        cg_error_set("print: the output stream is NULL");
        return -1;
    }
    if (t->storage->device.type != CG_DEVICE_CPU) return print_from_device(t, out);
    fprintf(out, "tensor(shape=%s, dtype=%s%s)\n", cg_shape_text(t), cg_dtype_name(t->dtype),
            t->requires_grad ? ", requires_grad" : "");
    if (t->ndim == 0)
        print_value(out, t, t->offset);
    else if (cg_numel(t) == 0)
        fputs("[]", out);
    else
        print_dim(out, t, 0, t->offset, cg_numel(t) > SUMMARY_THRESHOLD, 0);
    fputc('\n', out);
    return ferror(out) ? -1 : 0;
}
