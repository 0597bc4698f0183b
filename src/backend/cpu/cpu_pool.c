/* Max pooling and its backward pass, split across threads by planes (a sample's channel).
 *
 * The forward pass keeps where each window's maximum lies, as its position in its plane. The
 * windows inside the input go tap by tap across a row, independent of each other, so the
 * compares overlap; the windows at the edges go one at a time over the taps that read no
 * padding. The 2x2 window of stride 2, which most networks use, has a loop of its own that
 * compares a window's four taps in registers.
 *
 * The backward pass zeroes each plane of grad_x and adds grad_out at the saved positions, plane
 * by plane while the plane is in cache; within a plane the windows go in order, so overlapping
 * windows add up in the same order on any thread count. */
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_window.h"
#include "cgrad.h"
#include "core/thread_pool.h"

/* The fewest compared (or added) elements worth a chunk on a thread of its own. */
enum { MIN_WORK_PER_CHUNK = 1 << 18 };

/* The planes per chunk that give each chunk at least MIN_WORK_PER_CHUNK. */
static int64_t planes_per_chunk(int64_t work_per_plane) {
    return MIN_WORK_PER_CHUNK / (work_per_plane + 1) + 1;
}

/* A max pooling pass over planes [begin, end): the forward pass reads input and writes output
 * and where; the backward pass reads input (grad_out) and where and writes output (grad_x). */
typedef struct {
    const cg_window2d *w;
    const void *input;
    void *output;
    int64_t *where;
} pool_job;

/* Per dtype T:
 * take_larger keeps value and its index at when it beats *top: when larger, or a NaN over a
 * number (a NaN wins its window, as in PyTorch, so it is not hidden by the pooling). Bit masks
 * rather than a branch, since which tap wins depends on the data (the compiler turns a select of
 * the value into a mispredicted branch).
 * max_pool_2x2 pools output row oh of a plane with 2x2 windows of stride 2 and no padding.
 * max_pool pools planes [begin, end); max_pool_backward adds them back. */
#define DEFINE_POOL_KERNELS(T)                                                                     \
    static inline void take_larger_##T(T value, int64_t at, T *top, int64_t *best) {               \
        const int64_t wins = -(int64_t)(!(value <= *top) & (*top == *top));                        \
        *best = (at & wins) | (*best & ~wins);                                                     \
        BITS_##T value_bits, top_bits;                                                             \
        memcpy(&value_bits, &value, sizeof value);                                                 \
        memcpy(&top_bits, top, sizeof value);                                                      \
        top_bits = (value_bits & (BITS_##T)wins) | (top_bits & ~(BITS_##T)wins);                   \
        memcpy(top, &top_bits, sizeof value);                                                      \
    }                                                                                              \
                                                                                                   \
    static void max_pool_2x2_##T(const cg_window2d *w, const T *image, int64_t oh,                 \
                                 T *restrict outs, int64_t *restrict where) {                      \
        const int64_t width = w->width;                                                            \
        for (int64_t ow = 0; ow < w->out_width; ow++) {                                            \
            const int64_t at = 2 * oh * width + 2 * ow;                                            \
            T top = image[at];                                                                     \
            int64_t best = at;                                                                     \
            take_larger_##T(image[at + 1], at + 1, &top, &best);                                   \
            take_larger_##T(image[at + width], at + width, &top, &best);                           \
            take_larger_##T(image[at + width + 1], at + width + 1, &top, &best);                   \
            outs[ow] = top;                                                                        \
            where[ow] = best;                                                                      \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    static void max_pool_##T(int64_t begin, int64_t end, void *ctx) {                              \
        const pool_job *job = ctx;                                                                 \
        const cg_window2d *w = job->w;                                                             \
        const int64_t plane_size = w->height * w->width, out_w = w->out_width;                     \
        const int64_t sw = w->stride_w, dh = w->dilation_h, dw = w->dilation_w;                    \
        const int64_t extent_w = (w->kernel_width - 1) * dw + 1;                                   \
        const bool two_by_two = w->kernel_height == 2 && w->kernel_width == 2 &&                   \
                                w->stride_h == 2 && sw == 2 && dh == 1 && dw == 1 &&               \
                                w->pad_top == 0 && w->pad_left == 0;                               \
        int64_t inner_first, inner_last;                                                           \
        cg_cpu_inside_range(out_w, sw, -w->pad_left, w->width - extent_w + 1, &inner_first,        \
                            &inner_last);                                                          \
        for (int64_t plane = begin; plane < end; plane++) {                                        \
            const T *image = (const T *)job->input + plane * plane_size;                           \
            for (int64_t oh = 0; oh < w->out_height; oh++) {                                       \
                const int64_t o = (plane * w->out_height + oh) * out_w;                            \
                T *restrict outs = (T *)job->output + o;                                           \
                int64_t *restrict where = job->where + o;                                          \
                if (two_by_two) {                                                                  \
                    max_pool_2x2_##T(w, image, oh, outs, where);                                   \
                    continue;                                                                      \
                }                                                                                  \
                const int64_t top = oh * w->stride_h - w->pad_top;                                 \
                int64_t h0, h1;                                                                    \
                cg_cpu_inside_range(w->kernel_height, dh, top, w->height, &h0, &h1);               \
                for (int64_t ow = 0; ow < out_w; ow++) {                                           \
                    if (ow == inner_first && inner_first < inner_last) ow = inner_last;            \
                    if (ow >= out_w) break;                                                        \
                    const int64_t left = ow * sw - w->pad_left;                                    \
                    int64_t w0, w1;                                                                \
                    cg_cpu_inside_range(w->kernel_width, dw, left, w->width, &w0, &w1);            \
                    int64_t best = (top + h0 * dh) * w->width + left + w0 * dw;                    \
                    T top_value = image[best];                                                     \
                    for (int64_t kh = h0; kh < h1; kh++)                                           \
                        for (int64_t kw = w0; kw < w1; kw++) {                                     \
                            const int64_t at = (top + kh * dh) * w->width + left + kw * dw;        \
                            take_larger_##T(image[at], at, &top_value, &best);                     \
                        }                                                                          \
                    outs[ow] = top_value;                                                          \
                    where[ow] = best;                                                              \
                }                                                                                  \
                const int64_t corner = (top + h0 * dh) * w->width - w->pad_left;                   \
                for (int64_t ow = inner_first; ow < inner_last; ow++) {                            \
                    where[ow] = corner + ow * sw;                                                  \
                    outs[ow] = image[where[ow]];                                                   \
                }                                                                                  \
                for (int64_t kh = h0; kh < h1; kh++)                                               \
                    for (int64_t kw = 0; kw < w->kernel_width; kw++) {                             \
                        const int64_t tap = (top + kh * dh) * w->width - w->pad_left + kw * dw;    \
                        for (int64_t ow = inner_first; ow < inner_last; ow++)                      \
                            take_larger_##T(image[tap + ow * sw], tap + ow * sw, &outs[ow],        \
                                            &where[ow]);                                           \
                    }                                                                              \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    static void max_pool_backward_##T(int64_t begin, int64_t end, void *ctx) {                     \
        const pool_job *job = ctx;                                                                 \
        const cg_window2d *w = job->w;                                                             \
        const int64_t plane_size = w->height * w->width;                                           \
        const int64_t windows = w->out_height * w->out_width;                                      \
        for (int64_t plane = begin; plane < end; plane++) {                                        \
            T *restrict grad_x = (T *)job->output + plane * plane_size;                            \
            const T *restrict grad_out = (const T *)job->input + plane * windows;                  \
            const int64_t *restrict where = job->where + plane * windows;                          \
            memset(grad_x, 0, sizeof(T) * (size_t)plane_size);                                     \
            for (int64_t o = 0; o < windows; o++)                                                  \
                grad_x[where[o]] += grad_out[o];                                                   \
        }                                                                                          \
    }

/* The unsigned integer with the bits of T, for selecting values by masks. */
typedef uint32_t BITS_float;
typedef uint64_t BITS_double;

DEFINE_POOL_KERNELS(float)
DEFINE_POOL_KERNELS(double)

int cg_cpu_max_pool2d(const cg_tensor *x, const cg_window2d *w, cg_tensor *out,
                      cg_tensor *indices) {
    const int64_t windows = w->out_height * w->out_width;
    pool_job job = {w, cg_tensor_data(x), cg_tensor_data(out), cg_tensor_data(indices)};
    cg_parallel_for(w->batch * w->channels,
                    planes_per_chunk(windows * w->kernel_height * w->kernel_width),
                    x->dtype == CG_FLOAT32 ? max_pool_float : max_pool_double, &job);
    return 0;
}

int cg_cpu_max_pool2d_backward(const cg_tensor *grad_out, const cg_tensor *indices,
                               const cg_window2d *w, cg_tensor *grad_x) {
    pool_job job = {w, cg_tensor_data(grad_out), cg_tensor_data(grad_x), cg_tensor_data(indices)};
    cg_parallel_for(
        w->batch * w->channels,
        planes_per_chunk(w->height * w->width + w->out_height * w->out_width),
        grad_x->dtype == CG_FLOAT32 ? max_pool_backward_float : max_pool_backward_double, &job);
    return 0;
}
