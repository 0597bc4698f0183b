/* Elementwise kernels: copies with dtype conversion, fill, iota, random numbers, the unary ops
 * and their derivatives, the binary ops and where. The arithmetic is ops/scalar_math.h's and the
 * random numbers core/rng.h's, as on the CPU. */
#include "backend/cuda/cuda_kernels.cuh"

extern "C" {
#include "ops/scalar_math.h"
}

/* The shared math under one name for every element type. */
__device__ inline float unary_forward(cg_unary_op op, float x, float p0, float p1) {
    return cg_unary_forward_f32(op, x, p0, p1);
}
__device__ inline double unary_forward(cg_unary_op op, double x, double p0, double p1) {
    return cg_unary_forward_f64(op, x, p0, p1);
}
__device__ inline float unary_derivative(cg_unary_op op, float x, float y, float p0, float p1) {
    return cg_unary_derivative_f32(op, x, y, p0, p1);
}
__device__ inline double unary_derivative(cg_unary_op op, double x, double y, double p0,
                                          double p1) {
    return cg_unary_derivative_f64(op, x, y, p0, p1);
}
__device__ inline float binary_forward(cg_binary_op op, float a, float b) {
    return cg_binary_forward_f32(op, a, b);
}
__device__ inline double binary_forward(cg_binary_op op, double a, double b) {
    return cg_binary_forward_f64(op, a, b);
}
__device__ inline int32_t binary_forward(cg_binary_op op, int32_t a, int32_t b) {
    return cg_binary_forward_i32(op, a, b);
}
__device__ inline int64_t binary_forward(cg_binary_op op, int64_t a, int64_t b) {
    return cg_binary_forward_i64(op, a, b);
}
__device__ inline uint8_t binary_forward(cg_binary_op op, uint8_t a, uint8_t b) {
    return cg_binary_forward_u8(op, a, b);
}

template <typename TD, typename TS>
__global__ void copy_kernel(cg_cuda_walk walk, int64_t n, TD *dst, const TS *src) {
    CG_CUDA_FOR_EACH(i, n) {
        int64_t at[2];
        cg_cuda_offsets<2>(walk, i, at);
        dst[at[0]] = cg_cuda_convert<TD>(src[at[1]]);
    }
}

extern "C" int cg_cuda_copy(cg_tensor *dst, const cg_tensor *src) {
    cg_cuda_device *device = cg_cuda_device_of(dst);
    const int64_t n = cg_numel(dst);
    if (!device || n == 0) return device ? 0 : -1;
    const cg_tensor *operands[] = {dst, src};
    const cg_cuda_walk walk = cg_cuda_walk_tensors(2, operands);
    cg_cuda_any_dispatch(dst->dtype, [&](auto to) {
        cg_cuda_any_dispatch(src->dtype, [&](auto from) {
            using TD = CG_CUDA_TYPE_OF(to);
            using TS = CG_CUDA_TYPE_OF(from);
            copy_kernel<<<cg_cuda_blocks(n), CG_CUDA_THREADS, 0, device->stream>>>(
                walk, n, (TD *)cg_tensor_data(dst), (const TS *)cg_tensor_data(src));
        });
    });
    return cg_cuda_launched("cuda copy");
}

template <typename T> __global__ void fill_kernel(cg_cuda_walk walk, int64_t n, T *dst, T value) {
    CG_CUDA_FOR_EACH(i, n) {
        int64_t at[1];
        cg_cuda_offsets<1>(walk, i, at);
        dst[at[0]] = value;
    }
}

extern "C" int cg_cuda_fill(cg_tensor *dst, double value) {
    cg_cuda_device *device = cg_cuda_device_of(dst);
    const int64_t n = cg_numel(dst);
    if (!device || n == 0) return device ? 0 : -1;
    const cg_tensor *operands[] = {dst};
    const cg_cuda_walk walk = cg_cuda_walk_tensors(1, operands);
    cg_cuda_any_dispatch(dst->dtype, [&](auto type) {
        using T = CG_CUDA_TYPE_OF(type);
        fill_kernel<<<cg_cuda_blocks(n), CG_CUDA_THREADS, 0, device->stream>>>(
            walk, n, (T *)cg_tensor_data(dst), cg_cuda_convert<T>(value));
    });
    return cg_cuda_launched("cuda fill");
}

template <typename T> __global__ void iota_kernel(int64_t n, T *out, double start, double step) {
    CG_CUDA_FOR_EACH(i, n) out[i] = cg_cuda_convert<T>(start + (double)i * step);
}

extern "C" int cg_cuda_iota(cg_tensor *out, double start, double step) {
    cg_cuda_device *device = cg_cuda_device_of(out);
    const int64_t n = cg_numel(out);
    if (!device || n == 0) return device ? 0 : -1;
    cg_cuda_any_dispatch(out->dtype, [&](auto type) {
        using T = CG_CUDA_TYPE_OF(type);
        iota_kernel<<<cg_cuda_blocks(n), CG_CUDA_THREADS, 0, device->stream>>>(
            n, (T *)cg_tensor_data(out), start, step);
    });
    return cg_cuda_launched("cuda iota");
}

/* Element i is drawn at stream position counter + i, as on the CPU, so a seed gives the same
 * tensor (and dropout mask) on every device. */
template <typename T>
__global__ void random_kernel(int64_t n, T *out, cg_random_kind kind, uint64_t key,
                              uint64_t counter, double a, double b) {
    CG_CUDA_FOR_EACH(i, n) {
        const uint64_t position = counter + (uint64_t)i;
        if (kind == CG_RANDOM_UNIFORM)
            out[i] = (T)(a + (b - a) * cg_random_uniform(key, position));
        else if (kind == CG_RANDOM_NORMAL)
            out[i] = (T)(a + b * cg_random_normal(key, position));
        else
            out[i] =
                cg_cuda_convert<T>(a + (double)(cg_random_bits(key, position) % (uint64_t)(b - a)));
    }
}

extern "C" int cg_cuda_random(cg_tensor *out, cg_random_kind kind, uint64_t key, uint64_t counter,
                              double a, double b) {
    cg_cuda_device *device = cg_cuda_device_of(out);
    const int64_t n = cg_numel(out);
    if (!device || n == 0) return device ? 0 : -1;
    cg_cuda_any_dispatch(out->dtype, [&](auto type) {
        using T = CG_CUDA_TYPE_OF(type);
        random_kernel<<<cg_cuda_blocks(n), CG_CUDA_THREADS, 0, device->stream>>>(
            n, (T *)cg_tensor_data(out), kind, key, counter, a, b);
    });
    return cg_cuda_launched("cuda random");
}

template <typename T>
__global__ void unary_kernel(cg_cuda_walk walk, int64_t n, cg_unary_op op, T p0, T p1, const T *x,
                             T *out) {
    CG_CUDA_FOR_EACH(i, n) {
        int64_t at[2];
        cg_cuda_offsets<2>(walk, i, at);
        out[at[1]] = unary_forward(op, x[at[0]], p0, p1);
    }
}

extern "C" int cg_cuda_unary(cg_unary_op op, const double *params, const cg_tensor *x,
                             cg_tensor *out) {
    cg_cuda_device *device = cg_cuda_device_of(out);
    const int64_t n = cg_numel(x);
    if (!device || n == 0) return device ? 0 : -1;
    const cg_tensor *operands[] = {x, out};
    const cg_cuda_walk walk = cg_cuda_walk_tensors(2, operands);
    cg_cuda_float_dispatch(x->dtype, [&](auto type) {
        using T = CG_CUDA_TYPE_OF(type);
        unary_kernel<<<cg_cuda_blocks(n), CG_CUDA_THREADS, 0, device->stream>>>(
            walk, n, op, (T)params[0], (T)params[1], (const T *)cg_tensor_data(x),
            (T *)cg_tensor_data(out));
    });
    return cg_cuda_launched("cuda unary");
}

template <typename T>
__global__ void unary_backward_kernel(cg_cuda_walk walk, int64_t n, cg_unary_op op, T p0, T p1,
                                      const T *x, const T *y, const T *grad_out, T *grad_x) {
    CG_CUDA_FOR_EACH(i, n) {
        int64_t at[4];
        cg_cuda_offsets<4>(walk, i, at);
        grad_x[at[3]] = grad_out[at[2]] * unary_derivative(op, x[at[0]], y[at[1]], p0, p1);
    }
}

extern "C" int cg_cuda_unary_backward(cg_unary_op op, const double *params, const cg_tensor *x,
                                      const cg_tensor *y, const cg_tensor *grad_out,
                                      cg_tensor *grad_x) {
    cg_cuda_device *device = cg_cuda_device_of(grad_x);
    const int64_t n = cg_numel(x);
    if (!device || n == 0) return device ? 0 : -1;
    const cg_tensor *operands[] = {x, y, grad_out, grad_x};
    const cg_cuda_walk walk = cg_cuda_walk_tensors(4, operands);
    cg_cuda_float_dispatch(x->dtype, [&](auto type) {
        using T = CG_CUDA_TYPE_OF(type);
        unary_backward_kernel<<<cg_cuda_blocks(n), CG_CUDA_THREADS, 0, device->stream>>>(
            walk, n, op, (T)params[0], (T)params[1], (const T *)cg_tensor_data(x),
            (const T *)cg_tensor_data(y), (const T *)cg_tensor_data(grad_out),
            (T *)cg_tensor_data(grad_x));
    });
    return cg_cuda_launched("cuda unary backward");
}

/* out may alias a: each element is read and written by the same thread. */
template <typename T>
__global__ void binary_kernel(cg_cuda_walk walk, int64_t n, cg_binary_op op, const T *a, const T *b,
                              T *out) {
    CG_CUDA_FOR_EACH(i, n) {
        int64_t at[3];
        cg_cuda_offsets<3>(walk, i, at);
        out[at[2]] = binary_forward(op, a[at[0]], b[at[1]]);
    }
}

extern "C" int cg_cuda_binary(cg_binary_op op, const cg_tensor *a, const cg_tensor *b,
                              cg_tensor *out) {
    cg_cuda_device *device = cg_cuda_device_of(out);
    const int64_t n = cg_numel(out);
    if (!device || n == 0) return device ? 0 : -1;
    const int64_t *strides[] = {a->strides, b->strides, out->strides};
    const cg_cuda_walk walk = cg_cuda_walk_over(out->ndim, out->shape, 3, strides);
    cg_cuda_any_dispatch(a->dtype, [&](auto type) {
        using T = CG_CUDA_TYPE_OF(type);
        binary_kernel<<<cg_cuda_blocks(n), CG_CUDA_THREADS, 0, device->stream>>>(
            walk, n, op, (const T *)cg_tensor_data(a), (const T *)cg_tensor_data(b),
            (T *)cg_tensor_data(out));
    });
    return cg_cuda_launched("cuda binary");
}

template <typename T>
__global__ void where_kernel(cg_cuda_walk walk, int64_t n, const T *cond, const T *a, const T *b,
                             T *out) {
    CG_CUDA_FOR_EACH(i, n) {
        int64_t at[4];
        cg_cuda_offsets<4>(walk, i, at);
        out[at[3]] = cond[at[0]] != 0 ? a[at[1]] : b[at[2]];
    }
}

extern "C" int cg_cuda_where(const cg_tensor *cond, const cg_tensor *a, const cg_tensor *b,
                             cg_tensor *out) {
    cg_cuda_device *device = cg_cuda_device_of(out);
    const int64_t n = cg_numel(out);
    if (!device || n == 0) return device ? 0 : -1;
    const int64_t *strides[] = {cond->strides, a->strides, b->strides, out->strides};
    const cg_cuda_walk walk = cg_cuda_walk_over(out->ndim, out->shape, 4, strides);
    cg_cuda_any_dispatch(a->dtype, [&](auto type) {
        using T = CG_CUDA_TYPE_OF(type);
        where_kernel<<<cg_cuda_blocks(n), CG_CUDA_THREADS, 0, device->stream>>>(
            walk, n, (const T *)cg_tensor_data(cond), (const T *)cg_tensor_data(a),
            (const T *)cg_tensor_data(b), (T *)cg_tensor_data(out));
    });
    return cg_cuda_launched("cuda where");
}
