/* Convolution by im2col: one sample's input is unfolded into a matrix with a row per tap (channel,
 * kernel row, kernel column) and a column per output position, so the convolution is one gemm with
 * the weight as an F x (C KH KW) matrix. The backward passes are the transposed products, and
 * col2im (the adjoint of the unfolding) folds the input gradient back onto the image. The
 * unfolded matrix holds one sample at a time, in a scratch block from the caching allocator, so
 * the extra memory does not grow with the batch. Max pooling walks its windows directly. */
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/gemm.h"
#include "core/alloc.h"

#define GEMM(T) _Generic((T)0, float : cg_gemm_f32, double : cg_gemm_f64)

/* The outputs [*first, *last) of a line of count outputs whose input index
 * output * stride + offset lies inside [0, size): the ones that read no padding. */
static void inside_range(int64_t count, int64_t stride, int64_t offset, int64_t size,
                         int64_t *first, int64_t *last) {
    int64_t low = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
    int64_t high = size - offset <= 0 ? 0 : (size - 1 - offset) / stride + 1;
    if (high > count) high = count;
    *first = low < high ? low : high;
    *last = high;
}

/* A 1x1 kernel at stride 1 without padding: the unfolded matrix is the image itself. */
static bool unfold_is_identity(const cg_window2d *w) {
    return w->kernel_height == 1 && w->kernel_width == 1 && w->stride_h == 1 && w->stride_w == 1 &&
           w->pad_top == 0 && w->pad_left == 0;
}

static int64_t taps(const cg_window2d *w) {
    return w->channels * w->kernel_height * w->kernel_width;
}

static int64_t positions(const cg_window2d *w) { return w->out_height * w->out_width; }

static int64_t image_size(const cg_window2d *w) { return w->channels * w->height * w->width; }

/* Moves one sample between its image (C x H x W) and its unfolded matrix (taps x positions): with
 * to_cols the taps are copied into the matrix, padding as zeros (im2col); otherwise the matrix is
 * added onto the image (col2im). */
#define DEFINE_UNFOLD(T)                                                                           \
    static void unfold_##T(const cg_window2d *w, T *image, T *cols, bool to_cols) {                \
        const int64_t out_h = w->out_height, out_w = w->out_width;                                 \
        const int64_t sh = w->stride_h, sw = w->stride_w;                                          \
        T *row = cols;                                                                             \
        for (int64_t c = 0; c < w->channels; c++)                                                  \
            for (int64_t kh = 0; kh < w->kernel_height; kh++)                                      \
                for (int64_t kw = 0; kw < w->kernel_width; kw++, row += out_h * out_w) {           \
                    const int64_t row_offset = kh * w->dilation_h - w->pad_top;                    \
                    const int64_t col_offset = kw * w->dilation_w - w->pad_left;                   \
                    int64_t oh0, oh1, ow0, ow1;                                                    \
                    inside_range(out_h, sh, row_offset, w->height, &oh0, &oh1);                    \
                    inside_range(out_w, sw, col_offset, w->width, &ow0, &ow1);                     \
                    if (to_cols) {                                                                 \
                        memset(row, 0, sizeof(T) * (size_t)(oh0 * out_w));                         \
                        memset(row + oh1 * out_w, 0, sizeof(T) * (size_t)((out_h - oh1) * out_w)); \
                    }                                                                              \
                    for (int64_t oh = oh0; oh < oh1; oh++) {                                       \
                        T *line = row + oh * out_w;                                                \
                        const int64_t base =                                                       \
                            (c * w->height + oh * sh + row_offset) * w->width + col_offset;        \
                        if (to_cols) {                                                             \
                            memset(line, 0, sizeof(T) * (size_t)ow0);                              \
                            memset(line + ow1, 0, sizeof(T) * (size_t)(out_w - ow1));              \
                            for (int64_t ow = ow0; ow < ow1; ow++)                                 \
                                line[ow] = image[base + ow * sw];                                  \
                        } else {                                                                   \
                            for (int64_t ow = ow0; ow < ow1; ow++)                                 \
                                image[base + ow * sw] += line[ow];                                 \
                        }                                                                          \
                    }                                                                              \
                }                                                                                  \
    }

/* The unfolded matrix of sample n: scratch filled by im2col, or the image itself. */
#define DEFINE_SAMPLE_COLS(T)                                                                      \
    static T *sample_cols_##T(const cg_window2d *w, T *images, int64_t n, T *scratch) {            \
        T *image = images + n * image_size(w);                                                     \
        if (unfold_is_identity(w)) return image;                                                   \
        unfold_##T(w, image, scratch, true);                                                       \
        return scratch;                                                                            \
    }

DEFINE_UNFOLD(float)
DEFINE_UNFOLD(double)
DEFINE_SAMPLE_COLS(float)
DEFINE_SAMPLE_COLS(double)

int cg_cpu_conv2d_forward(const cg_tensor *x, const cg_tensor *weight, const cg_tensor *bias,
                          const cg_window2d *w, cg_tensor *out) {
    const int64_t filters = weight->shape[0], k = taps(w), p = positions(w);
    const size_t scratch_bytes =
        cg_dtype_size(x->dtype) * (size_t)(unfold_is_identity(w) ? 1 : k * p);
    void *scratch = cg_alloc(scratch_bytes);
    if (!scratch) return -1;
#define FORWARD(T)                                                                                 \
    do {                                                                                           \
        T *images = cg_tensor_data(x), *outs = cg_tensor_data(out);                                \
        const T *weights = cg_tensor_data(weight), *biases = bias ? cg_tensor_data(bias) : NULL;   \
        for (int64_t n = 0; n < w->batch; n++) {                                                   \
            T *sample_out = outs + n * filters * p;                                                \
            GEMM(T)                                                                                \
            (false, false, filters, p, k, weights, k, sample_cols_##T(w, images, n, scratch), p,   \
             sample_out, p);                                                                       \
            for (int64_t f = 0; biases && f < filters; f++)                                        \
                for (int64_t i = 0; i < p; i++)                                                    \
                    sample_out[f * p + i] += biases[f];                                            \
        }                                                                                          \
    } while (0)
    CG_CPU_FLOAT_DISPATCH(x->dtype, FORWARD);
#undef FORWARD
    cg_free(scratch, scratch_bytes);
    return 0;
}

int cg_cpu_conv2d_backward_input(const cg_tensor *grad_out, const cg_tensor *weight,
                                 const cg_window2d *w, cg_tensor *grad_x) {
    const int64_t filters = weight->shape[0], k = taps(w), p = positions(w);
    const bool identity = unfold_is_identity(w);
    const size_t scratch_bytes = cg_dtype_size(grad_x->dtype) * (size_t)(identity ? 1 : k * p);
    void *scratch = cg_alloc(scratch_bytes);
    if (!scratch) return -1;
        /* Each sample: grad_cols = weight^T grad_out[n], folded back onto a zeroed image. */
#define BACKWARD_INPUT(T)                                                                          \
    do {                                                                                           \
        const T *grads = cg_tensor_data(grad_out), *weights = cg_tensor_data(weight);              \
        T *images = cg_tensor_data(grad_x), *cols = scratch;                                       \
        for (int64_t n = 0; n < w->batch; n++) {                                                   \
            T *image = images + n * image_size(w);                                                 \
            GEMM(T)                                                                                \
            (true, false, k, p, filters, weights, k, grads + n * filters * p, p,                   \
             identity ? image : cols, p);                                                          \
            if (!identity) {                                                                       \
                memset(image, 0, sizeof(T) * (size_t)image_size(w));                               \
                unfold_##T(w, image, cols, false);                                                 \
            }                                                                                      \
        }                                                                                          \
    } while (0)
    CG_CPU_FLOAT_DISPATCH(grad_x->dtype, BACKWARD_INPUT);
#undef BACKWARD_INPUT
    cg_free(scratch, scratch_bytes);
    return 0;
}

int cg_cpu_conv2d_backward_weight(const cg_tensor *grad_out, const cg_tensor *x,
                                  const cg_window2d *w, cg_tensor *grad_weight) {
    const int64_t filters = grad_weight->shape[0], k = taps(w), p = positions(w);
    /* The unfolded sample, then the sample's share of the weight gradient (the gemm overwrites
     * its output, so shares after the first are summed in). */
    const int64_t cols_size = unfold_is_identity(w) ? 0 : k * p;
    const size_t scratch_bytes = cg_dtype_size(x->dtype) * (size_t)(cols_size + filters * k);
    void *scratch = cg_alloc(scratch_bytes);
    if (!scratch) return -1;
#define BACKWARD_WEIGHT(T)                                                                         \
    do {                                                                                           \
        const T *grads = cg_tensor_data(grad_out);                                                 \
        T *images = cg_tensor_data(x), *total = cg_tensor_data(grad_weight);                       \
        T *cols = scratch, *share = cols + cols_size;                                              \
        memset(total, 0, sizeof(T) * (size_t)(filters * k));                                       \
        for (int64_t n = 0; n < w->batch; n++) {                                                   \
            GEMM(T)                                                                                \
            (false, true, filters, k, p, grads + n * filters * p, p,                               \
             sample_cols_##T(w, images, n, cols), p, n == 0 ? total : share, k);                   \
            for (int64_t i = 0; n > 0 && i < filters * k; i++)                                     \
                total[i] += share[i];                                                              \
        }                                                                                          \
    } while (0)
    CG_CPU_FLOAT_DISPATCH(x->dtype, BACKWARD_WEIGHT);
#undef BACKWARD_WEIGHT
    cg_free(scratch, scratch_bytes);
    return 0;
}

int cg_cpu_max_pool2d(const cg_tensor *x, const cg_window2d *w, cg_tensor *out,
                      cg_tensor *indices) {
    const int64_t planes = w->batch * w->channels, plane_size = w->height * w->width;
    int64_t *where = cg_tensor_data(indices);
    /* A NaN wins its window, as in PyTorch, so it is not hidden by the pooling. */
#define MAX_POOL(T)                                                                                \
    do {                                                                                           \
        const T *images = cg_tensor_data(x);                                                       \
        T *outs = cg_tensor_data(out);                                                             \
        for (int64_t plane = 0, o = 0; plane < planes; plane++) {                                  \
            const T *image = images + plane * plane_size;                                          \
            for (int64_t oh = 0; oh < w->out_height; oh++)                                         \
                for (int64_t ow = 0; ow < w->out_width; ow++, o++) {                               \
                    int64_t h0, h1, w0, w1, best = -1;                                             \
                    inside_range(w->kernel_height, w->dilation_h, oh * w->stride_h - w->pad_top,   \
                                 w->height, &h0, &h1);                                             \
                    inside_range(w->kernel_width, w->dilation_w, ow * w->stride_w - w->pad_left,   \
                                 w->width, &w0, &w1);                                              \
                    for (int64_t kh = h0; kh < h1; kh++) {                                         \
                        const int64_t ih = oh * w->stride_h - w->pad_top + kh * w->dilation_h;     \
                        for (int64_t kw = w0; kw < w1; kw++) {                                     \
                            const int64_t at = ih * w->width + ow * w->stride_w - w->pad_left +    \
                                               kw * w->dilation_w;                                 \
                            const T value = image[at], top = best < 0 ? value : image[best];       \
                            if (best < 0 || value > top || (value != value && top == top))         \
                                best = at;                                                         \
                        }                                                                          \
                    }                                                                              \
                    outs[o] = image[best];                                                         \
                    where[o] = best;                                                               \
                }                                                                                  \
        }                                                                                          \
    } while (0)
    CG_CPU_FLOAT_DISPATCH(x->dtype, MAX_POOL);
#undef MAX_POOL
    return 0;
}
