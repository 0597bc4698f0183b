/* Convolution by im2col: the inputs of a group of samples are unfolded into one matrix with a row
 * per tap (channel, kernel row, kernel column) and a column per (sample, output position), so the
 * group's convolution is one gemm with the weight as an F x (C KH KW) matrix. The backward passes
 * are the transposed products, and col2im (the adjoint of the unfolding) folds the input gradient
 * back onto the images. A group holds as many samples as keep its matrices within GROUP_ELEMENTS:
 * the scratch memory (from the caching allocator) does not grow with the batch, while the products
 * stay wide enough for the BLAS to be efficient, also on late layers with few output positions.
 * Max pooling walks its windows directly. */
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/gemm.h"
#include "core/alloc.h"

/* The matrix product of the C type T, named as GEMM_##T inside the per-dtype macros. */
#define GEMM_float cg_gemm_f32
#define GEMM_double cg_gemm_f64

enum { GROUP_ELEMENTS = 1 << 20 };

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

static int64_t taps(const cg_window2d *w) {
    return w->channels * w->kernel_height * w->kernel_width;
}

static int64_t positions(const cg_window2d *w) { return w->out_height * w->out_width; }

static int64_t image_size(const cg_window2d *w) { return w->channels * w->height * w->width; }

/* Samples [first, first + count); its matrices have columns = count * positions columns. */
typedef struct {
    int64_t first, count, columns;
} sample_group;

/* The most samples a group holds: the batch split evenly into the fewest groups whose matrices
 * (the unfolded taps and an F-row product, each a column per sample position) stay within
 * GROUP_ELEMENTS; one sample per group when a single one exceeds it. */
static int64_t group_capacity(const cg_window2d *w, int64_t filters) {
    const int64_t total = w->batch * (taps(w) + filters) * positions(w);
    int64_t groups = (total + GROUP_ELEMENTS - 1) / GROUP_ELEMENTS;
    if (groups > w->batch) groups = w->batch;
    return groups > 0 ? (w->batch + groups - 1) / groups : 1;
}

static sample_group group_at(const cg_window2d *w, int64_t first, int64_t capacity) {
    const int64_t count = w->batch - first < capacity ? w->batch - first : capacity;
    return (sample_group){first, count, count * positions(w)};
}

/* Scratch for a group's unfolded matrix (taps rows) and F-row product, plus extra elements;
 * NULL with an error when out of memory. */
static void *group_scratch(const cg_window2d *w, cg_dtype dtype, int64_t filters, int64_t extra,
                           size_t *bytes) {
    const int64_t columns = group_capacity(w, filters) * positions(w);
    const int64_t elements = (taps(w) + filters) * columns + extra;
    *bytes = cg_dtype_size(dtype) * (size_t)(elements > 0 ? elements : 1);
    return cg_alloc(*bytes);
}

/* Per dtype T:
 * unfold moves one sample between its image (C x H x W) and its block of the group's unfolded
 * matrix (taps rows, positions columns, rows ld apart): with to_cols the taps are copied into the
 * matrix, padding as zeros (im2col); otherwise the block is added onto the image (col2im).
 * unfold_group does so for every sample of a group, zeroing the images first for col2im.
 * regroup moves a group's slice of an (N, F, positions) tensor to or from an F x columns matrix
 * (to_matrix), adding bias (when not NULL) on the way back. */
#define DEFINE_GROUP_KERNELS(T)                                                                    \
    static void unfold_##T(const cg_window2d *w, T *image, T *cols, int64_t ld, bool to_cols) {    \
        const int64_t out_h = w->out_height, out_w = w->out_width;                                 \
        const int64_t sh = w->stride_h, sw = w->stride_w;                                          \
        T *row = cols;                                                                             \
        for (int64_t c = 0; c < w->channels; c++)                                                  \
            for (int64_t kh = 0; kh < w->kernel_height; kh++)                                      \
                for (int64_t kw = 0; kw < w->kernel_width; kw++, row += ld) {                      \
                    const int64_t row_offset = kh * w->dilation_h - w->pad_top;                    \
                    const int64_t col_offset = kw * w->dilation_w - w->pad_left;                   \
                    int64_t oh0, oh1, ow0, ow1;                                                    \
                    inside_range(out_h, sh, row_offset, w->height, &oh0, &oh1);                    \
                    inside_range(out_w, sw, col_offset, w->width, &ow0, &ow1);                     \
                    /* A tap that reads padding anywhere starts from zeros. */                     \
                    if (to_cols && (oh0 > 0 || oh1 < out_h || ow0 > 0 || ow1 < out_w))             \
                        memset(row, 0, sizeof(T) * (size_t)(out_h * out_w));                       \
                    for (int64_t oh = oh0; ow0 < ow1 && oh < oh1; oh++) {                          \
                        T *segment = row + oh * out_w + ow0;                                       \
                        T *pixels = image + (c * w->height + oh * sh + row_offset) * w->width +    \
                                    col_offset + ow0 * sw;                                         \
                        const int64_t count = ow1 - ow0;                                           \
                        /* Unit stride, the common case, as copies and adds that vectorise. */     \
                        if (to_cols && sw == 1)                                                    \
                            memcpy(segment, pixels, sizeof(T) * (size_t)count);                    \
                        else if (to_cols)                                                          \
                            for (int64_t i = 0; i < count; i++)                                    \
                                segment[i] = pixels[i * sw];                                       \
                        else if (sw == 1)                                                          \
                            for (int64_t i = 0; i < count; i++)                                    \
                                pixels[i] += segment[i];                                           \
                        else                                                                       \
                            for (int64_t i = 0; i < count; i++)                                    \
                                pixels[i * sw] += segment[i];                                      \
                    }                                                                              \
                }                                                                                  \
    }                                                                                              \
                                                                                                   \
    static void unfold_group_##T(const cg_window2d *w, T *images, sample_group group, T *cols,     \
                                 bool to_cols) {                                                   \
        for (int64_t g = 0; g < group.count; g++) {                                                \
            T *image = images + (group.first + g) * image_size(w);                                 \
            if (!to_cols) memset(image, 0, sizeof(T) * (size_t)image_size(w));                     \
            unfold_##T(w, image, cols + g * positions(w), group.columns, to_cols);                 \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    static void regroup_##T(const cg_window2d *w, int64_t filters, sample_group group, T *tensor,  \
                            T *matrix, bool to_matrix, const T *bias) {                            \
        const int64_t p = positions(w);                                                            \
        for (int64_t g = 0; g < group.count; g++)                                                  \
            for (int64_t f = 0; f < filters; f++) {                                                \
                T *slice = tensor + ((group.first + g) * filters + f) * p;                         \
                T *line = matrix + f * group.columns + g * p;                                      \
                const T shift = bias ? bias[f] : (T)0;                                             \
                if (to_matrix)                                                                     \
                    memcpy(line, slice, sizeof(T) * (size_t)p);                                    \
                else                                                                               \
                    for (int64_t i = 0; i < p; i++)                                                \
                        slice[i] = line[i] + shift;                                                \
            }                                                                                      \
    }

DEFINE_GROUP_KERNELS(float)
DEFINE_GROUP_KERNELS(double)

/* Each group: product = weight cols, moved into the output with the bias added. */
int cg_cpu_conv2d_forward(const cg_tensor *x, const cg_tensor *weight, const cg_tensor *bias,
                          const cg_window2d *w, cg_tensor *out) {
    const int64_t filters = weight->shape[0], k = taps(w), capacity = group_capacity(w, filters);
    size_t bytes;
    void *scratch = group_scratch(w, x->dtype, filters, 0, &bytes);
    if (!scratch) return -1;
#define FORWARD(T)                                                                                 \
    do {                                                                                           \
        T *images = cg_tensor_data(x), *outs = cg_tensor_data(out),                                \
          *weights = cg_tensor_data(weight);                                                       \
        const T *biases = bias ? cg_tensor_data(bias) : NULL;                                      \
        T *cols = scratch, *product = cols + k * capacity * positions(w);                          \
        for (int64_t first = 0; first < w->batch; first += capacity) {                             \
            const sample_group group = group_at(w, first, capacity);                               \
            unfold_group_##T(w, images, group, cols, true);                                        \
            GEMM_##T(false, false, filters, group.columns, k, weights, k, cols, group.columns,     \
                     product, group.columns);                                                      \
            regroup_##T(w, filters, group, outs, product, false, biases);                          \
        }                                                                                          \
    } while (0)
    CG_CPU_FLOAT_DISPATCH(x->dtype, FORWARD);
#undef FORWARD
    cg_free(scratch, bytes);
    return 0;
}

/* Each group: grad_cols = weight^T grad_out, folded back onto the images. */
int cg_cpu_conv2d_backward_input(const cg_tensor *grad_out, const cg_tensor *weight,
                                 const cg_window2d *w, cg_tensor *grad_x) {
    const int64_t filters = weight->shape[0], k = taps(w), capacity = group_capacity(w, filters);
    size_t bytes;
    void *scratch = group_scratch(w, grad_x->dtype, filters, 0, &bytes);
    if (!scratch) return -1;
#define BACKWARD_INPUT(T)                                                                          \
    do {                                                                                           \
        T *grads = cg_tensor_data(grad_out), *weights = cg_tensor_data(weight);                    \
        T *images = cg_tensor_data(grad_x), *cols = scratch;                                       \
        T *grad_matrix = cols + k * capacity * positions(w);                                       \
        for (int64_t first = 0; first < w->batch; first += capacity) {                             \
            const sample_group group = group_at(w, first, capacity);                               \
            regroup_##T(w, filters, group, grads, grad_matrix, true, NULL);                        \
            GEMM_##T(true, false, k, group.columns, filters, weights, k, grad_matrix,              \
                     group.columns, cols, group.columns);                                          \
            unfold_group_##T(w, images, group, cols, false);                                       \
        }                                                                                          \
    } while (0)
    CG_CPU_FLOAT_DISPATCH(grad_x->dtype, BACKWARD_INPUT);
#undef BACKWARD_INPUT
    cg_free(scratch, bytes);
    return 0;
}

/* Each group: its share grad_out cols^T, summed in (the gemm overwrites its output). */
int cg_cpu_conv2d_backward_weight(const cg_tensor *grad_out, const cg_tensor *x,
                                  const cg_window2d *w, cg_tensor *grad_weight) {
    const int64_t filters = grad_weight->shape[0], k = taps(w),
                  capacity = group_capacity(w, filters);
    size_t bytes;
    void *scratch = group_scratch(w, x->dtype, filters, filters * k, &bytes);
    if (!scratch) return -1;
#define BACKWARD_WEIGHT(T)                                                                         \
    do {                                                                                           \
        T *grads = cg_tensor_data(grad_out), *images = cg_tensor_data(x);                          \
        T *total = cg_tensor_data(grad_weight), *cols = scratch;                                   \
        T *grad_matrix = cols + k * capacity * positions(w);                                       \
        T *share = grad_matrix + filters * capacity * positions(w);                                \
        memset(total, 0, sizeof(T) * (size_t)(filters * k));                                       \
        for (int64_t first = 0; first < w->batch; first += capacity) {                             \
            const sample_group group = group_at(w, first, capacity);                               \
            unfold_group_##T(w, images, group, cols, true);                                        \
            regroup_##T(w, filters, group, grads, grad_matrix, true, NULL);                        \
            GEMM_##T(false, true, filters, k, group.columns, grad_matrix, group.columns, cols,     \
                     group.columns, share, k);                                                     \
            for (int64_t i = 0; i < filters * k; i++)                                              \
                total[i] += share[i];                                                              \
        }                                                                                          \
    } while (0)
    CG_CPU_FLOAT_DISPATCH(x->dtype, BACKWARD_WEIGHT);
#undef BACKWARD_WEIGHT
    cg_free(scratch, bytes);
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
