/* Tensor creation: constants, ranges, copies of C arrays and random tensors. */
#include <math.h>
#include <string.h>

#include "core/rng.h"
#include "ops/ops.h"

static const cg_device cpu = {CG_DEVICE_CPU, 0};

cg_tensor *cg_empty_on(cg_shape shape, cg_dtype dtype, cg_device device) {
    return cg_tensor_new(shape.ndim, shape.dims, dtype, device);
}

cg_tensor *cg_full_on(cg_shape shape, double value, cg_dtype dtype, cg_device device) {
    cg_tensor *t = cg_empty_on(shape, dtype, device);
    if (t && cg_tensor_backend(t)->fill(t, value) != 0) return cg_kernel_failed(t);
    return t;
}

cg_tensor *cg_zeros_on(cg_shape shape, cg_dtype dtype, cg_device device) {
    return cg_full_on(shape, 0.0, dtype, device);
}

cg_tensor *cg_empty(cg_shape shape, cg_dtype dtype) { return cg_empty_on(shape, dtype, cpu); }

cg_tensor *cg_full(cg_shape shape, double value, cg_dtype dtype) {
    return cg_full_on(shape, value, dtype, cpu);
}

cg_tensor *cg_zeros(cg_shape shape, cg_dtype dtype) { return cg_full(shape, 0.0, dtype); }
cg_tensor *cg_ones(cg_shape shape, cg_dtype dtype) { return cg_full(shape, 1.0, dtype); }
cg_tensor *cg_scalar(double value, cg_dtype dtype) {
    return cg_full(CG_SCALAR_SHAPE, value, dtype);
}

static cg_tensor *filled_like(const cg_tensor *t, double value) {
    if (!t) return NULL;
    cg_tensor *out = cg_empty_like(t);
    if (out && cg_tensor_backend(out)->fill(out, value) != 0) return cg_kernel_failed(out);
    return out;
}

cg_tensor *cg_zeros_like(const cg_tensor *t) { return filled_like(t, 0.0); }
cg_tensor *cg_ones_like(const cg_tensor *t) { return filled_like(t, 1.0); }

static cg_tensor *sequence(int64_t count, double start, double step, cg_dtype dtype) {
    cg_tensor *t = cg_empty(CG_SHAPE(count), dtype);
    if (t && cg_tensor_backend(t)->iota(t, start, step) != 0) return cg_kernel_failed(t);
    return t;
}

cg_tensor *cg_arange(double start, double end, double step, cg_dtype dtype) {
    if (step == 0 || !isfinite(start) || !isfinite(end) || !isfinite(step)) {
        cg_error_set("arange: need finite bounds and a non-zero step (got %g, %g, %g)", start, end,
                     step);
        return NULL;
    }
    const double span = ceil((end - start) / step);
    if (span > (double)(INT64_MAX / 16)) {
        cg_error_set("arange: %g elements is too many", span);
        return NULL;
    }
    return sequence(span > 0 ? (int64_t)span : 0, start, step, dtype);
}

cg_tensor *cg_linspace(double start, double end, int64_t steps, cg_dtype dtype) {
    if (steps < 0) {
        cg_error_set("linspace: steps must be non-negative, got %lld", (long long)steps);
        return NULL;
    }
    return sequence(steps, start, steps > 1 ? (end - start) / (double)(steps - 1) : 0.0, dtype);
}

cg_tensor *cg_eye(int64_t n, cg_dtype dtype) {
    cg_tensor *t = cg_zeros(CG_SHAPE(n, n), dtype);
    if (!t) return NULL;
    /* The diagonal is a strided view with step n + 1. */
    int64_t shape[1] = {n}, strides[1] = {n + 1};
    cg_tensor *diagonal = cg_tensor_new_view(t, 1, shape, strides, 0);
    int status = diagonal ? cg_tensor_backend(t)->fill(diagonal, 1.0) : -1;
    cg_release(diagonal);
    return status == 0 ? t : cg_kernel_failed(t);
}

cg_tensor *cg_from_array(const void *data, cg_shape shape, cg_dtype dtype) {
    if (!data) {
        cg_error_set("from_array: data is NULL");
        return NULL;
    }
    cg_tensor *t = cg_empty(shape, dtype);
    if (t) memcpy(cg_tensor_data(t), data, t->storage->nbytes);
    return t;
}

static cg_tensor *random_tensor(cg_shape shape, cg_dtype dtype, cg_random_kind kind, double a,
                                double b) {
    cg_tensor *t = cg_empty(shape, dtype);
    if (!t) return NULL;
    uint64_t key;
    const uint64_t counter = cg_rng_reserve((uint64_t)cg_numel(t), &key);
    if (cg_tensor_backend(t)->random(t, kind, key, counter, a, b) != 0) return cg_kernel_failed(t);
    return t;
}

cg_tensor *cg_rand(cg_shape shape, cg_dtype dtype) {
    if (!cg_dtype_is_float(dtype)) {
        cg_error_set("rand: dtype must be float32 or float64, got %s", cg_dtype_name(dtype));
        return NULL;
    }
    return random_tensor(shape, dtype, CG_RANDOM_UNIFORM, 0.0, 1.0);
}

cg_tensor *cg_randn(cg_shape shape, cg_dtype dtype) {
    if (!cg_dtype_is_float(dtype)) {
        cg_error_set("randn: dtype must be float32 or float64, got %s", cg_dtype_name(dtype));
        return NULL;
    }
    return random_tensor(shape, dtype, CG_RANDOM_NORMAL, 0.0, 1.0);
}

cg_tensor *cg_randint(int64_t low, int64_t high, cg_shape shape, cg_dtype dtype) {
    if (high <= low) {
        cg_error_set("randint: the range [%lld, %lld) is empty", (long long)low, (long long)high);
        return NULL;
    }
    return random_tensor(shape, dtype, CG_RANDOM_INTEGER, (double)low, (double)high);
}
