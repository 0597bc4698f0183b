/* Convolution by im2col, one sample at a time: a sample's input is unfolded into a matrix with a
 * row per tap (channel, kernel row, kernel column) and a column per output position, so that its
 * convolution is one gemm with the weight as an F x (C KH KW) matrix, written straight into the
 * sample's (F, positions) slice of the NCHW output, where the bias and the activation are applied
 * while the slice is in cache. The backward passes are the transposed
 * products: the input gradient folds weight^T grad_out back onto the image (col2im, the adjoint
 * of the unfolding), and the weight gradient sums grad_out cols^T over the samples.
 *
 * The batch is split into at most one chunk per thread (fewer when the work is small), each with
 * its own scratch from the caching allocator, so the unfolded matrix of a sample stays in cache
 * between the unfolding and the product. Inside a chunk the built-in gemm runs on the chunk's
 * thread. With fewer samples than threads (predicting one sample), the forward pass cuts each
 * sample's output rows into bands, unfolded and multiplied on their own, so one sample's
 * convolution spreads over the threads too. Each chunk sums its own share of the weight gradient
 * and the shares are added in chunk order, so the result depends on the thread count only, never on
 * timing. */
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_window.h"
#include "backend/cpu/gemm.h"
#include "cgrad.h"
#include "core/alloc.h"
#include "core/thread_pool.h"

/* The matrix product of the C type T, named as GEMM_##T inside the per-dtype macros. */
#define GEMM_float cg_gemm_builtin_f32
#define GEMM_double cg_gemm_builtin_f64
/* The dtype of the C type T. */
#define DTYPE_float CG_FLOAT32
#define DTYPE_double CG_FLOAT64

/* The fewest multiply-adds worth a chunk on a thread of its own: small enough that the first
 * convolution of a small network (32 filters of 3x3 over 28x28) splits across two threads when
 * predicting one sample, where latency counts. */
enum { MIN_WORK_PER_CHUNK = 1 << 16 };

static int64_t taps(const cg_window2d *w) {
    return w->channels * w->kernel_height * w->kernel_width;
}

static int64_t positions(const cg_window2d *w) { return w->out_height * w->out_width; }

static int64_t image_size(const cg_window2d *w) { return w->channels * w->height * w->width; }

/* How many chunks items of work_per_item each are split into: one per thread at most, and no
 * more than give each MIN_WORK_PER_CHUNK. */
static int64_t chunk_count(int64_t items, int64_t work_per_item) {
    const int64_t threads = cg_get_num_threads();
    int64_t chunks = work_per_item > 0 ? items / (MIN_WORK_PER_CHUNK / work_per_item + 1) : 1;
    if (chunks > threads) chunks = threads;
    return chunks > 1 ? chunks : 1;
}

/* The items [*first, *last) of chunk of chunks, the items split as evenly as they go. */
static void chunk_items(int64_t items, int64_t chunks, int64_t chunk, int64_t *first,
                        int64_t *last) {
    *first = items * chunk / chunks;
    *last = items * (chunk + 1) / chunks;
}

/* One convolution pass over a batch: its operands (typed by the kernels; matrix is the one that
 * multiplies the unfolded input: the weight, or grad_out for the weight gradient) and the chunks'
 * scratch, stride elements apart. */
typedef struct {
    const cg_window2d *w;
    int64_t filters, chunks, stride;
    int64_t bands; /* the forward pass's items: bands of output rows per sample */
    const void *input, *matrix, *bias;
    void *output, *scratch;
    cg_unary_op op; /* the forward pass's activation, with its params */
    const double *params;
} conv_job;

/* The output rows [first, last) of a sample that a pass unfolds. */
typedef struct {
    int64_t first, last;
} output_rows;

/* Per dtype T:
 * unfold moves one sample between its image (C x H x W) and its unfolded matrix (taps rows, the
 * positions of output rows [rows->first, rows->last) columns): with to_cols the taps are copied
 * into the matrix, padding as zeros (im2col); otherwise the matrix is added onto the image
 * (col2im).
 * forward_##T, backward_input_##T and backward_weight_##T run chunks [begin, end) of a conv_job. */
#define DEFINE_CONV_KERNELS(T)                                                                     \
    static void unfold_##T(const cg_window2d *w, T *image, T *cols, bool to_cols,                  \
                           const output_rows *rows) {                                              \
        const int64_t out_h = w->out_height, out_w = w->out_width;                                 \
        const int64_t sh = w->stride_h, sw = w->stride_w;                                          \
        const int64_t band = (rows->last - rows->first) * out_w;                                   \
        T *row = cols;                                                                             \
        for (int64_t c = 0; c < w->channels; c++)                                                  \
            for (int64_t kh = 0; kh < w->kernel_height; kh++)                                      \
                for (int64_t kw = 0; kw < w->kernel_width; kw++, row += band) {                    \
                    const int64_t row_offset = kh * w->dilation_h - w->pad_top;                    \
                    const int64_t col_offset = kw * w->dilation_w - w->pad_left;                   \
                    int64_t oh0, oh1, ow0, ow1;                                                    \
                    cg_cpu_inside_range(out_h, sh, row_offset, w->height, &oh0, &oh1);             \
                    cg_cpu_inside_range(out_w, sw, col_offset, w->width, &ow0, &ow1);              \
                    /* A tap that reads padding anywhere starts from zeros. */                     \
                    if (to_cols &&                                                                 \
                        (oh0 > rows->first || oh1 < rows->last || ow0 > 0 || ow1 < out_w))         \
                        memset(row, 0, sizeof(T) * (size_t)band);                                  \
                    if (oh0 < rows->first) oh0 = rows->first;                                      \
                    if (oh1 > rows->last) oh1 = rows->last;                                        \
                    const int64_t count = ow1 - ow0;                                               \
                    /* Whole rows of unit stride are copied in 16-byte groups, the last partly     \
                     * past the row's end: that part lands where the next row goes before the      \
                     * next row is written, and is read from the image's next row (the tap's       \
                     * last row is copied exactly). */                                             \
                    const int64_t group = 16 / (int64_t)sizeof(T);                                 \
                    const bool whole_rows =                                                        \
                        to_cols && sw == 1 && ow0 == 0 && ow1 == out_w && w->width >= group;       \
                    for (int64_t oh = oh0; count > 0 && oh < oh1; oh++) {                          \
                        T *restrict segment = row + (oh - rows->first) * out_w + ow0;              \
                        T *restrict pixels = image +                                               \
                                             (c * w->height + oh * sh + row_offset) * w->width +   \
                                             col_offset + ow0 * sw;                                \
                        if (whole_rows && oh + 1 < oh1) {                                          \
                            for (int64_t i = 0; i < count; i += group)                             \
                                memcpy(segment + i, pixels + i, 16);                               \
                            continue;                                                              \
                        }                                                                          \
                        /* Short rows: plain loops, which the compiler vectorises for unit         \
                         * stride, cost less than calls to memcpy. */                              \
                        if (to_cols)                                                               \
                            for (int64_t i = 0; i < count; i++)                                    \
                                segment[i] = pixels[i * sw];                                       \
                        else                                                                       \
                            for (int64_t i = 0; i < count; i++)                                    \
                                pixels[i * sw] += segment[i];                                      \
                    }                                                                              \
                }                                                                                  \
    }                                                                                              \
                                                                                                   \
    /* out = op(weight cols + bias), per band of output rows of a sample while it is in cache. */  \
    static void forward_##T(int64_t begin, int64_t end, void *ctx) {                               \
        const conv_job *job = ctx;                                                                 \
        const cg_window2d *w = job->w;                                                             \
        const int64_t f = job->filters, k = taps(w), p = positions(w);                             \
        const T *weights = job->matrix;                                                            \
        for (int64_t chunk = begin; chunk < end; chunk++) {                                        \
            T *cols = (T *)job->scratch + chunk * job->stride;                                     \
            int64_t first, last;                                                                   \
            chunk_items(w->batch * job->bands, job->chunks, chunk, &first, &last);                 \
            for (int64_t item = first; item < last; item++) {                                      \
                const int64_t n = item / job->bands;                                               \
                output_rows rows;                                                                  \
                chunk_items(w->out_height, job->bands, item % job->bands, &rows.first,             \
                            &rows.last);                                                           \
                const int64_t band = (rows.last - rows.first) * w->out_width;                      \
                T *out = (T *)job->output + n * f * p + rows.first * w->out_width;                 \
                unfold_##T(w, (T *)job->input + n * image_size(w), cols, true, &rows);             \
                GEMM_##T(false, false, f, band, k, weights, k, cols, band, out, p);                \
                cg_cpu_epilogue_planes(DTYPE_##T, out, f, p, band, job->bias, job->op,             \
                                       job->params);                                               \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    /* grad_x = col2im(weight^T grad_out), per sample. */                                          \
    static void backward_input_##T(int64_t begin, int64_t end, void *ctx) {                        \
        const conv_job *job = ctx;                                                                 \
        const cg_window2d *w = job->w;                                                             \
        const int64_t f = job->filters, k = taps(w), p = positions(w);                             \
        const output_rows all_rows = {0, w->out_height};                                           \
        for (int64_t chunk = begin; chunk < end; chunk++) {                                        \
            T *cols = (T *)job->scratch + chunk * job->stride;                                     \
            int64_t first, last;                                                                   \
            chunk_items(w->batch, job->chunks, chunk, &first, &last);                              \
            for (int64_t n = first; n < last; n++) {                                               \
                T *image = (T *)job->output + n * image_size(w);                                   \
                GEMM_##T(true, false, k, p, f, job->matrix, k, (const T *)job->input + n * f * p,  \
                         p, cols, p);                                                              \
                memset(image, 0, sizeof(T) * (size_t)image_size(w));                               \
                unfold_##T(w, image, cols, false, &all_rows);                                      \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    /* The chunk's share of grad_out cols^T: chunk 0 sums into the output, the others into their   \
     * scratch after cols and the product of one sample. */                                        \
    static void backward_weight_##T(int64_t begin, int64_t end, void *ctx) {                       \
        const conv_job *job = ctx;                                                                 \
        const cg_window2d *w = job->w;                                                             \
        const int64_t f = job->filters, k = taps(w), p = positions(w);                             \
        const output_rows all_rows = {0, w->out_height};                                           \
        for (int64_t chunk = begin; chunk < end; chunk++) {                                        \
            T *cols = (T *)job->scratch + chunk * job->stride, *product = cols + k * p;            \
            T *share = chunk == 0 ? job->output : product + f * k;                                 \
            int64_t first, last;                                                                   \
            chunk_items(w->batch, job->chunks, chunk, &first, &last);                              \
            for (int64_t n = first; n < last; n++) {                                               \
                unfold_##T(w, (T *)job->input + n * image_size(w), cols, true, &all_rows);         \
                /* The gemm overwrites its output: the first sample writes the share itself. */    \
                T *target = n == first ? share : product;                                          \
                GEMM_##T(false, true, f, k, p, (const T *)job->matrix + n * f * p, p, cols, p,     \
                         target, k);                                                               \
                for (int64_t i = 0; n != first && i < f * k; i++)                                  \
                    share[i] += product[i];                                                        \
            }                                                                                      \
            if (first == last) memset(share, 0, sizeof(T) * (size_t)(f * k));                      \
        }                                                                                          \
    }

DEFINE_CONV_KERNELS(float)
DEFINE_CONV_KERNELS(double)

/* Adds the weight-gradient shares of the chunks after the first onto the first (the output), in
 * chunk order. */
#define ADD_SHARES(T)                                                                              \
    do {                                                                                           \
        T *total = job->output;                                                                    \
        for (int64_t chunk = 1; chunk < job->chunks; chunk++) {                                    \
            const T *share = (const T *)job->scratch + chunk * job->stride + k * p + size;         \
            for (int64_t i = 0; i < size; i++)                                                     \
                total[i] += share[i];                                                              \
        }                                                                                          \
    } while (0)

/* Runs pass over job's chunks, each with scratch for an unfolded matrix and, with shares, a
 * product and a share of the weight gradient (filters x taps each) which are then added up;
 * -1 with an error when out of memory. */
static int run_conv_job(conv_job *job, cg_dtype dtype, bool shares,
                        void (*pass)(int64_t, int64_t, void *)) {
    const cg_window2d *w = job->w;
    const int64_t k = taps(w), p = positions(w), size = shares ? job->filters * k : 0;
    job->chunks = chunk_count(w->batch * job->bands, job->filters * k * p / job->bands);
    /* Whole cache lines per chunk, so that threads do not share one. */
    const int64_t line = 64 / (int64_t)cg_dtype_size(dtype);
    job->stride = (k * p + 2 * size + line - 1) / line * line;
    const size_t bytes = cg_dtype_size(dtype) * (size_t)(job->chunks * job->stride);
    job->scratch = cg_alloc(bytes);
    if (!job->scratch) return -1;
    cg_parallel_for(job->chunks, 1, pass, job);
    if (shares) CG_CPU_FLOAT_DISPATCH(dtype, ADD_SHARES);
    cg_free(job->scratch, bytes);
    return 0;
}
#undef ADD_SHARES

int cg_cpu_conv2d_forward(const cg_tensor *x, const cg_tensor *weight, const cg_tensor *bias,
                          const cg_window2d *w, cg_unary_op op, const double *params,
                          cg_tensor *out) {
    /* Fewer samples than threads: each sample's output rows are cut into bands, so that a
     * single sample's convolution also spreads over the threads. */
    const int64_t threads = cg_get_num_threads();
    const int64_t bands =
        w->batch > 0 && w->batch < threads ? (threads + w->batch - 1) / w->batch : 1;
    conv_job job = {.w = w,
                    .filters = weight->shape[0],
                    .bands = bands < w->out_height ? bands : w->out_height,
                    .input = cg_tensor_data(x),
                    .matrix = cg_tensor_data(weight),
                    .bias = bias ? cg_tensor_data(bias) : NULL,
                    .output = cg_tensor_data(out),
                    .op = op,
                    .params = params};
    return run_conv_job(&job, x->dtype, false,
                        x->dtype == CG_FLOAT32 ? forward_float : forward_double);
}

int cg_cpu_conv2d_backward_input(const cg_tensor *grad_out, const cg_tensor *weight,
                                 const cg_window2d *w, cg_tensor *grad_x) {
    conv_job job = {.w = w,
                    .filters = weight->shape[0],
                    .bands = 1,
                    .input = cg_tensor_data(grad_out),
                    .matrix = cg_tensor_data(weight),
                    .output = cg_tensor_data(grad_x)};
    return run_conv_job(&job, grad_x->dtype, false,
                        grad_x->dtype == CG_FLOAT32 ? backward_input_float : backward_input_double);
}

int cg_cpu_conv2d_backward_weight(const cg_tensor *grad_out, const cg_tensor *x,
                                  const cg_window2d *w, cg_tensor *grad_weight) {
    conv_job job = {.w = w,
                    .filters = grad_weight->shape[0],
                    .bands = 1,
                    .input = cg_tensor_data(x),
                    .matrix = cg_tensor_data(grad_out),
                    .output = cg_tensor_data(grad_weight)};
    return run_conv_job(&job, x->dtype, true,
                        x->dtype == CG_FLOAT32 ? backward_weight_float : backward_weight_double);
}
