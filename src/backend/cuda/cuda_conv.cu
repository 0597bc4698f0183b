/* Convolution through cuDNN where the build has it and cuDNN takes the convolution (float32,
 * padding it can express: cuda_cudnn.c), otherwise by im2col and cuBLAS; and max pooling. For
 * im2col, the samples of a group are unfolded into one scratch matrix with a row per tap
 * (channel, kernel row, kernel column) and a column per output position, and the products run as
 * one batched (or wide) gemm per group; groups hold as many samples as keep the scratch within
 * GROUP_ELEMENTS, so it does not grow with the batch. The bias is added by a kernel either way.
 *   forward:         out_n = weight (F x taps) cols_n
 *   backward input:  cols_n = weight^T grad_out_n, folded back onto the images (col2im)
 *   backward weight: grad_weight += grad_out' cols'^T over the group's columns side by side
 * Max pooling runs a thread per output with the CPU's window walk; its backward pass a thread per
 * input element, which sums the gradients of the windows over it whose maximum it was, in window
 * order: no atomics, so the sums do not depend on timing. */
#include "backend/cuda/cuda_kernels.cuh"

constexpr int64_t GROUP_ELEMENTS = 1 << 24;

static int64_t taps(const cg_window2d *w) {
    return w->channels * w->kernel_height * w->kernel_width;
}

static int64_t positions(const cg_window2d *w) { return w->out_height * w->out_width; }

static int64_t image_size(const cg_window2d *w) { return w->channels * w->height * w->width; }

/* The most samples a group holds, with filters rows of output next to the taps. */
static int64_t group_capacity(const cg_window2d *w, int64_t filters) {
    const int64_t per_sample = (taps(w) + filters) * positions(w);
    const int64_t capacity = per_sample > 0 ? GROUP_ELEMENTS / per_sample : w->batch;
    return capacity < 1 ? 1 : (capacity < w->batch ? capacity : w->batch);
}

/* Unfolds samples [first, first + count) of images into cols: tap k of sample g at output
 * position p goes to cols[g * sample_stride + k * tap_stride + p]; padding reads as zero. */
template <typename T>
__global__ void im2col_kernel(cg_window2d w, int64_t first, int64_t count, const T *images, T *cols,
                              int64_t sample_stride, int64_t tap_stride) {
    const int64_t p_count = w.out_height * w.out_width;
    const int64_t k_count = w.channels * w.kernel_height * w.kernel_width;
    CG_CUDA_FOR_EACH(i, count * k_count * p_count) {
        const int64_t p = i % p_count, k = (i / p_count) % k_count, g = i / (p_count * k_count);
        const int64_t kw = k % w.kernel_width, kh = (k / w.kernel_width) % w.kernel_height;
        const int64_t c = k / (w.kernel_width * w.kernel_height);
        const int64_t ih = (p / w.out_width) * w.stride_h - w.pad_top + kh * w.dilation_h;
        const int64_t iw = (p % w.out_width) * w.stride_w - w.pad_left + kw * w.dilation_w;
        const bool inside = ih >= 0 && ih < w.height && iw >= 0 && iw < w.width;
        const T *image = images + ((first + g) * w.channels + c) * w.height * w.width;
        cols[g * sample_stride + k * tap_stride + p] = inside ? image[ih * w.width + iw] : (T)0;
    }
}

/* The adjoint of im2col (batched layout): each input element of the group sums the columns
 * entries it was unfolded into; the images are overwritten. */
template <typename T>
__global__ void col2im_kernel(cg_window2d w, int64_t first, int64_t count, const T *cols,
                              T *images) {
    const int64_t p_count = w.out_height * w.out_width;
    const int64_t k_count = w.channels * w.kernel_height * w.kernel_width;
    CG_CUDA_FOR_EACH(i, count * w.channels * w.height * w.width) {
        const int64_t iw = i % w.width, ih = (i / w.width) % w.height;
        const int64_t c = (i / (w.width * w.height)) % w.channels;
        const int64_t g = i / (w.width * w.height * w.channels);
        T sum = 0;
        for (int64_t kh = 0; kh < w.kernel_height; kh++) {
            const int64_t row = ih + w.pad_top - kh * w.dilation_h;
            if (row < 0 || row % w.stride_h != 0 || row / w.stride_h >= w.out_height) continue;
            for (int64_t kw = 0; kw < w.kernel_width; kw++) {
                const int64_t column = iw + w.pad_left - kw * w.dilation_w;
                if (column < 0 || column % w.stride_w != 0 || column / w.stride_w >= w.out_width)
                    continue;
                const int64_t k = (c * w.kernel_height + kh) * w.kernel_width + kw;
                const int64_t p = row / w.stride_h * w.out_width + column / w.stride_w;
                sum += cols[(g * k_count + k) * p_count + p];
            }
        }
        images[first * w.channels * w.height * w.width + i] = sum;
    }
}

/* grad_out (N, F, P) samples [first, first + count) into out laid out (F, count, P). */
template <typename T>
__global__ void filters_first_kernel(int64_t first, int64_t count, int64_t filters, int64_t p_count,
                                     const T *grad_out, T *out) {
    CG_CUDA_FOR_EACH(i, filters * count * p_count) {
        const int64_t p = i % p_count, g = (i / p_count) % count, f = i / (p_count * count);
        out[i] = grad_out[((first + g) * filters + f) * p_count + p];
    }
}

/* Scratch of elements of dtype from device's cache (a block the stream reuses in order). */
struct scratch_block {
    cg_cuda_device *device;
    size_t bytes;
    void *data;
    scratch_block(cg_cuda_device *d, cg_dtype dtype, int64_t elements)
        : device(d), bytes(cg_dtype_size(dtype) * (size_t)(elements > 0 ? elements : 1)),
          data(cg_cuda_alloc(d, bytes)) {}
    ~scratch_block() { cg_cuda_free(device, data, bytes); }
};

/* out = the convolution of x with weight, without the bias. */
template <typename T>
static int conv_forward(cg_cuda_device *device, const cg_tensor *x, const cg_tensor *weight,
                        const cg_window2d *w, cg_tensor *out) {
    const int64_t filters = weight->shape[0], k = taps(w), p = positions(w);
    const int64_t capacity = group_capacity(w, filters);
    scratch_block cols(device, x->dtype, k * p * capacity);
    if (!cols.data) return -1;
    const T *images = (const T *)cg_tensor_data(x);
    T *outs = (T *)cg_tensor_data(out);
    for (int64_t first = 0; first < w->batch; first += capacity) {
        const int64_t count = w->batch - first < capacity ? w->batch - first : capacity;
        im2col_kernel<<<cg_cuda_blocks(count * k * p), CG_CUDA_THREADS, 0, device->stream>>>(
            *w, first, count, images, (T *)cols.data, k * p, p);
        cg_cuda_gemm_args product = {};
        product.m = filters;
        product.n = p;
        product.k = k;
        product.a = cg_tensor_data(weight);
        product.lda = k;
        product.b = cols.data;
        product.ldb = p;
        product.stride_b = k * p;
        product.c = outs + first * filters * p;
        product.ldc = p;
        product.stride_c = filters * p;
        product.batch = count;
        if (cg_cuda_launched("cuda im2col") != 0 || cg_cuda_gemm(device, x->dtype, &product) != 0)
            return -1;
    }
    return 0;
}

template <typename T>
static int conv_backward_input(cg_cuda_device *device, const cg_tensor *grad_out,
                               const cg_tensor *weight, const cg_window2d *w, cg_tensor *grad_x) {
    const int64_t filters = weight->shape[0], k = taps(w), p = positions(w);
    const int64_t capacity = group_capacity(w, filters);
    scratch_block cols(device, grad_x->dtype, k * p * capacity);
    if (!cols.data) return -1;
    const T *grads = (const T *)cg_tensor_data(grad_out);
    for (int64_t first = 0; first < w->batch; first += capacity) {
        const int64_t count = w->batch - first < capacity ? w->batch - first : capacity;
        cg_cuda_gemm_args product = {};
        product.transpose_a = true;
        product.m = k;
        product.n = p;
        product.k = filters;
        product.a = cg_tensor_data(weight);
        product.lda = k;
        product.b = grads + first * filters * p;
        product.ldb = p;
        product.stride_b = filters * p;
        product.c = cols.data;
        product.ldc = p;
        product.stride_c = k * p;
        product.batch = count;
        if (cg_cuda_gemm(device, grad_x->dtype, &product) != 0) return -1;
        col2im_kernel<<<cg_cuda_blocks(count * image_size(w)), CG_CUDA_THREADS, 0,
                        device->stream>>>(*w, first, count, (const T *)cols.data,
                                          (T *)cg_tensor_data(grad_x));
        if (cg_cuda_launched("cuda col2im") != 0) return -1;
    }
    return 0;
}

template <typename T>
static int conv_backward_weight(cg_cuda_device *device, const cg_tensor *grad_out,
                                const cg_tensor *x, const cg_window2d *w, cg_tensor *grad_weight) {
    const int64_t filters = grad_weight->shape[0], k = taps(w), p = positions(w);
    const int64_t capacity = group_capacity(w, filters);
    scratch_block cols(device, x->dtype, k * p * capacity);
    scratch_block grads(device, x->dtype, filters * p * capacity);
    if (!cols.data || !grads.data) return -1;
    if (!cg_cuda_ok(cudaMemsetAsync(cg_tensor_data(grad_weight), 0,
                                    (size_t)cg_numel(grad_weight) * sizeof(T), device->stream),
                    "cuda conv2d: zeroing the weight gradient"))
        return -1;
    for (int64_t first = 0; first < w->batch; first += capacity) {
        const int64_t count = w->batch - first < capacity ? w->batch - first : capacity;
        const int64_t columns = count * p;
        im2col_kernel<<<cg_cuda_blocks(count * k * p), CG_CUDA_THREADS, 0, device->stream>>>(
            *w, first, count, (const T *)cg_tensor_data(x), (T *)cols.data, p, columns);
        filters_first_kernel<<<cg_cuda_blocks(filters * columns), CG_CUDA_THREADS, 0,
                               device->stream>>>(
            first, count, filters, p, (const T *)cg_tensor_data(grad_out), (T *)grads.data);
        cg_cuda_gemm_args product = {};
        product.transpose_b = true;
        product.m = filters;
        product.n = k;
        product.k = columns;
        product.a = grads.data;
        product.lda = columns;
        product.b = cols.data;
        product.ldb = columns;
        product.c = cg_tensor_data(grad_weight);
        product.ldc = k;
        product.batch = 1;
        product.beta = 1;
        if (cg_cuda_launched("cuda im2col") != 0 || cg_cuda_gemm(device, x->dtype, &product) != 0)
            return -1;
    }
    return 0;
}

/* The pass through cuDNN when this build has it; CG_CUDNN_NOT_USED when it does not or cuDNN does
 * not take the convolution. */
static int through_cudnn(cg_cuda_device *device, cg_cudnn_pass pass, const cg_window2d *window,
                         int64_t filters, const cg_tensor *first, const cg_tensor *second,
                         cg_tensor *result) {
#ifdef CG_HAVE_CUDNN
    return cg_cudnn_conv2d(device, pass, result->dtype, window, filters, cg_tensor_data(first),
                           cg_tensor_data(second), cg_tensor_data(result));
#else
    (void)device, (void)pass, (void)window, (void)filters, (void)first, (void)second, (void)result;
    return CG_CUDNN_NOT_USED;
#endif
}

extern "C" int cg_cuda_conv2d_forward(const cg_tensor *x, const cg_tensor *weight,
                                      const cg_tensor *bias, const cg_window2d *window,
                                      cg_unary_op op, const double *params, cg_tensor *out) {
    cg_cuda_device *device = cg_cuda_device_of(out);
    if (!device) return -1;
    const int64_t filters = weight->shape[0];
    int status = through_cudnn(device, CG_CUDNN_FORWARD, window, filters, x, weight, out);
    if (status == CG_CUDNN_NOT_USED)
        cg_cuda_float_dispatch(x->dtype, [&](auto type) {
            status = conv_forward<CG_CUDA_TYPE_OF(type)>(device, x, weight, window, out);
        });
    if (status != 0 || (!bias && op == CG_UNARY_IDENTITY)) return status;
    return cg_cuda_bias_activation(out, bias, filters, positions(window), op, params);
}

extern "C" int cg_cuda_conv2d_backward_input(const cg_tensor *grad_out, const cg_tensor *weight,
                                             const cg_window2d *window, cg_tensor *grad_x) {
    cg_cuda_device *device = cg_cuda_device_of(grad_x);
    if (!device) return -1;
    int status = through_cudnn(device, CG_CUDNN_BACKWARD_INPUT, window, weight->shape[0], weight,
                               grad_out, grad_x);
    if (status != CG_CUDNN_NOT_USED) return status;
    cg_cuda_float_dispatch(grad_x->dtype, [&](auto type) {
        status =
            conv_backward_input<CG_CUDA_TYPE_OF(type)>(device, grad_out, weight, window, grad_x);
    });
    return status;
}

extern "C" int cg_cuda_conv2d_backward_weight(const cg_tensor *grad_out, const cg_tensor *x,
                                              const cg_window2d *window, cg_tensor *grad_weight) {
    cg_cuda_device *device = cg_cuda_device_of(grad_weight);
    if (!device) return -1;
    int status = through_cudnn(device, CG_CUDNN_BACKWARD_WEIGHT, window, grad_weight->shape[0], x,
                               grad_out, grad_weight);
    if (status != CG_CUDNN_NOT_USED) return status;
    cg_cuda_float_dispatch(x->dtype, [&](auto type) {
        status =
            conv_backward_weight<CG_CUDA_TYPE_OF(type)>(device, grad_out, x, window, grad_weight);
    });
    return status;
}

/* The outputs [*first, *last) of a line of count outputs whose input index
 * output * stride + offset lies inside [0, size), as in the CPU backend. */
__device__ inline void inside_range(int64_t count, int64_t stride, int64_t offset, int64_t size,
                                    int64_t *first, int64_t *last) {
    const int64_t low = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
    int64_t high = size - offset <= 0 ? 0 : (size - 1 - offset) / stride + 1;
    if (high > count) high = count;
    *first = low < high ? low : high;
    *last = high;
}

/* A NaN wins its window, as in PyTorch and the CPU backend. */
template <typename T>
__global__ void max_pool_kernel(cg_window2d w, int64_t n, const T *images, T *out, int32_t *where) {
    CG_CUDA_FOR_EACH(o, n) {
        const int64_t ow = o % w.out_width, oh = (o / w.out_width) % w.out_height;
        const T *image = images + o / (w.out_width * w.out_height) * w.height * w.width;
        int64_t h0, h1, w0, w1, best = -1;
        inside_range(w.kernel_height, w.dilation_h, oh * w.stride_h - w.pad_top, w.height, &h0,
                     &h1);
        inside_range(w.kernel_width, w.dilation_w, ow * w.stride_w - w.pad_left, w.width, &w0, &w1);
        for (int64_t kh = h0; kh < h1; kh++) {
            const int64_t ih = oh * w.stride_h - w.pad_top + kh * w.dilation_h;
            for (int64_t kw = w0; kw < w1; kw++) {
                const int64_t at = ih * w.width + ow * w.stride_w - w.pad_left + kw * w.dilation_w;
                const T value = image[at], top = best < 0 ? value : image[best];
                if (best < 0 || value > top || (value != value && top == top)) best = at;
            }
        }
        out[o] = image[best];
        where[o] = (int32_t)best;
    }
}

extern "C" int cg_cuda_max_pool2d(const cg_tensor *x, const cg_window2d *window, cg_tensor *out,
                                  cg_tensor *indices) {
    cg_cuda_device *device = cg_cuda_device_of(out);
    const int64_t n = cg_numel(out);
    if (!device || n == 0) return device ? 0 : -1;
    cg_cuda_float_dispatch(x->dtype, [&](auto type) {
        using T = CG_CUDA_TYPE_OF(type);
        max_pool_kernel<<<cg_cuda_blocks(n), CG_CUDA_THREADS, 0, device->stream>>>(
            *window, n, (const T *)cg_tensor_data(x), (T *)cg_tensor_data(out),
            (int32_t *)cg_tensor_data(indices));
    });
    return cg_cuda_launched("cuda max_pool2d");
}

/* The first window (of count, stride apart, extent long) over input index i, and one past the
 * last. */
__device__ inline void windows_over(int64_t i, int64_t count, int64_t stride, int64_t pad,
                                    int64_t extent, int64_t *first, int64_t *last) {
    const int64_t low = i + pad - extent + 1, high = (i + pad) / stride + 1;
    *first = low <= 0 ? 0 : (low + stride - 1) / stride;
    *last = high < count ? high : count;
}

template <typename T>
__global__ void max_pool_backward_kernel(cg_window2d w, int64_t n, const T *grad_out,
                                         const int32_t *where, T *grad_x) {
    CG_CUDA_FOR_EACH(i, n) {
        const int64_t plane_size = w.height * w.width, position = i % plane_size;
        const int64_t windows = w.out_height * w.out_width, plane = i / plane_size;
        int64_t oh0, oh1, ow0, ow1;
        windows_over(position / w.width, w.out_height, w.stride_h, w.pad_top,
                     (w.kernel_height - 1) * w.dilation_h + 1, &oh0, &oh1);
        windows_over(position % w.width, w.out_width, w.stride_w, w.pad_left,
                     (w.kernel_width - 1) * w.dilation_w + 1, &ow0, &ow1);
        T sum = 0;
        for (int64_t oh = oh0; oh < oh1; oh++)
            for (int64_t ow = ow0; ow < ow1; ow++) {
                const int64_t o = plane * windows + oh * w.out_width + ow;
                if (where[o] == position) sum += grad_out[o];
            }
        grad_x[i] = sum;
    }
}

extern "C" int cg_cuda_max_pool2d_backward(const cg_tensor *grad_out, const cg_tensor *indices,
                                           const cg_window2d *window, cg_tensor *grad_x) {
    cg_cuda_device *device = cg_cuda_device_of(grad_x);
    const int64_t n = cg_numel(grad_x);
    if (!device || n == 0) return device ? 0 : -1;
    cg_cuda_float_dispatch(grad_x->dtype, [&](auto type) {
        using T = CG_CUDA_TYPE_OF(type);
        max_pool_backward_kernel<<<cg_cuda_blocks(n), CG_CUDA_THREADS, 0, device->stream>>>(
            *window, n, (const T *)cg_tensor_data(grad_out),
            (const int32_t *)cg_tensor_data(indices), (T *)cg_tensor_data(grad_x));
    });
    return cg_cuda_launched("cuda max_pool2d backward");
}
