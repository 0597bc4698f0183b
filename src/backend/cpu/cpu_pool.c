/* Max pooling and its backward pass, split across threads by planes (a sample's channel).
 *
 * The forward pass keeps where each window's maximum lies, as its 32-bit position in its plane. The
 * windows inside the input go tap by tap across a row, independent of each other, so the
 * compares overlap; the windows at the edges go one at a time over the taps that read no
 * padding. The 2x2 window of stride 2, which most networks use, has a loop of its own: each
 * window is a tournament (the larger of each row's pair, then the larger of the two), which picks
 * the same tap as comparing the taps in order, and on CPUs with AVX2 eight float32 windows go
 * through it at once.
 *
 * The backward pass zeroes each plane of grad_x and adds grad_out at the saved positions, plane
 * by plane while the plane is in cache; within a plane the windows go in order, so overlapping
 * windows add up in the same order on any thread count. */
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define CG_POOL_AVX2 1
#endif

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_window.h"
#include "cgrad.h"
#include "core/thread_pool.h"

/* The fewest compared (or added) elements worth a chunk on a thread of its own: small enough
 * that the first pooling of a small network predicting one sample (32 planes of 26 x 26) splits
 * across two threads, where latency counts. */
enum { MIN_WORK_PER_CHUNK = 1 << 13 };

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
    int32_t *where;
    bool vector; /* whether the CPU runs the vector kernel of 2x2 windows */
} pool_job;

/* Per dtype T:
 * take_larger keeps value and its index at when it beats *top: when larger, or a NaN over a
 * number (a NaN wins its window, as in PyTorch, so it is not hidden by the pooling). Bit masks
 * rather than a branch, since which tap wins depends on the data (the compiler turns a select of
 * the value into a mispredicted branch).
 * max_pool_2x2 pools windows [first, out_w) of output row oh of a plane with 2x2 windows of
 * stride 2 and no padding; max_pool_2x2_row all of them, the vector kernel first where there is
 * one.
 * max_pool pools planes [begin, end); max_pool_backward adds them back. */
#define DEFINE_POOL_KERNELS(T)                                                                     \
    static inline void take_larger_##T(T value, int32_t at, T *top, int32_t *best) {               \
        const int64_t wins = -(int64_t)(!(value <= *top) & (*top == *top));                        \
        *best = (int32_t)((at & wins) | (*best & ~wins));                                          \
        BITS_##T value_bits, top_bits;                                                             \
        memcpy(&value_bits, &value, sizeof value);                                                 \
        memcpy(&top_bits, top, sizeof value);                                                      \
        top_bits = (value_bits & (BITS_##T)wins) | (top_bits & ~(BITS_##T)wins);                   \
        memcpy(top, &top_bits, sizeof value);                                                      \
    }                                                                                              \
                                                                                                   \
    static void max_pool_2x2_##T(const cg_window2d *w, const T *image, int64_t oh, int64_t first,  \
                                 T *restrict outs, int32_t *restrict where) {                      \
        const int32_t width = (int32_t)w->width;                                                   \
        for (int64_t ow = first; ow < w->out_width; ow++) {                                        \
            const int32_t at = (int32_t)(2 * oh * width + 2 * ow);                                 \
            T upper = image[at], lower = image[at + width];                                        \
            int32_t upper_at = at, lower_at = at + width;                                          \
            take_larger_##T(image[at + 1], at + 1, &upper, &upper_at);                             \
            take_larger_##T(image[at + width + 1], at + width + 1, &lower, &lower_at);             \
            take_larger_##T(lower, lower_at, &upper, &upper_at);                                   \
            outs[ow] = upper;                                                                      \
            where[ow] = upper_at;                                                                  \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    static void max_pool_2x2_row_##T(const cg_window2d *w, const T *image, int64_t oh,             \
                                     bool vector, T *restrict outs, int32_t *restrict where) {     \
        const int64_t done = VECTOR_POOL_2X2_##T(vector, w, image, oh, outs, where);               \
        max_pool_2x2_##T(w, image, oh, done, outs, where);                                         \
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
                int32_t *restrict where = job->where + o;                                          \
                if (two_by_two) {                                                                  \
                    max_pool_2x2_row_##T(w, image, oh, job->vector, outs, where);                  \
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
                    int32_t best = (int32_t)((top + h0 * dh) * w->width + left + w0 * dw);         \
                    T top_value = image[best];                                                     \
                    for (int64_t kh = h0; kh < h1; kh++)                                           \
                        for (int64_t kw = w0; kw < w1; kw++) {                                     \
                            const int64_t at = (top + kh * dh) * w->width + left + kw * dw;        \
                            take_larger_##T(image[at], (int32_t)at, &top_value, &best);            \
                        }                                                                          \
                    outs[ow] = top_value;                                                          \
                    where[ow] = best;                                                              \
                }                                                                                  \
                const int64_t corner = (top + h0 * dh) * w->width - w->pad_left;                   \
                for (int64_t ow = inner_first; ow < inner_last; ow++) {                            \
                    where[ow] = (int32_t)(corner + ow * sw);                                       \
                    outs[ow] = image[where[ow]];                                                   \
                }                                                                                  \
                for (int64_t kh = h0; kh < h1; kh++)                                               \
                    for (int64_t kw = 0; kw < w->kernel_width; kw++) {                             \
                        const int64_t tap = (top + kh * dh) * w->width - w->pad_left + kw * dw;    \
                        for (int64_t ow = inner_first; ow < inner_last; ow++)                      \
                            take_larger_##T(image[tap + ow * sw], (int32_t)(tap + ow * sw),        \
                                            &outs[ow], &where[ow]);                                \
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
            const int32_t *restrict where = job->where + plane * windows;                          \
            memset(grad_x, 0, sizeof(T) * (size_t)plane_size);                                     \
            for (int64_t o = 0; o < windows; o++)                                                  \
                grad_x[where[o]] += grad_out[o];                                                   \
        }                                                                                          \
    }

/* The unsigned integer with the bits of T, for selecting values by masks. */
typedef uint32_t BITS_float;
typedef uint64_t BITS_double;

#ifdef CG_POOL_AVX2

/* The larger of each lane's pair as a mask: b's lanes that beat a's (larger, or a NaN over a
 * number), as take_larger decides. */
__attribute__((target("avx2"), always_inline)) static inline __m256 beats(__m256 b, __m256 a) {
    return _mm256_and_ps(_mm256_cmp_ps(b, a, _CMP_NLE_UQ), _mm256_cmp_ps(a, a, _CMP_ORD_Q));
}

/* The lanes below count, as a mask. */
__attribute__((target("avx2"), always_inline)) static inline __m256i lanes_below(int64_t count) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)count),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Pools the windows [0, count) (1 to 8) of a group whose pairs start at upper and lower, the first
 * at index first of the plane, as max_pool_2x2 does. A window's pairs are split into even and odd
 * lanes by shuffles that leave the windows in the order 0, 1, 4, 5, 2, 3, 6, 7, put back in order
 * by one permutation of 64-bit halves. A group of fewer than 8 reads through masks and, unless it
 * may spill whole vectors past its end, stores through the stack.
 * Inlined with a constant count for whole groups. */
__attribute__((target("avx2"), always_inline)) static inline void
pool_2x2_group(const float *upper, const float *lower, int64_t width, int64_t first, int count,
               bool spill, float *outs, int32_t *where) {
    __m256 u0, u1, l0, l1;
    if (count == 8) {
        u0 = _mm256_loadu_ps(upper), u1 = _mm256_loadu_ps(upper + 8);
        l0 = _mm256_loadu_ps(lower), l1 = _mm256_loadu_ps(lower + 8);
    } else {
        const __m256i low_half = lanes_below(2 * count), high_half = lanes_below(2 * count - 8);
        u0 = _mm256_maskload_ps(upper, low_half), u1 = _mm256_maskload_ps(upper + 8, high_half);
        l0 = _mm256_maskload_ps(lower, low_half), l1 = _mm256_maskload_ps(lower + 8, high_half);
    }
    const __m256 a = _mm256_shuffle_ps(u0, u1, _MM_SHUFFLE(2, 0, 2, 0));
    const __m256 b = _mm256_shuffle_ps(u0, u1, _MM_SHUFFLE(3, 1, 3, 1));
    const __m256 c = _mm256_shuffle_ps(l0, l1, _MM_SHUFFLE(2, 0, 2, 0));
    const __m256 d = _mm256_shuffle_ps(l0, l1, _MM_SHUFFLE(3, 1, 3, 1));
    const __m256 right_up = beats(b, a), right_low = beats(d, c);
    const __m256 up = _mm256_blendv_ps(a, b, right_up);
    const __m256 low = _mm256_blendv_ps(c, d, right_low);
    const __m256 lower_wins = beats(low, up);
    const __m256 top = _mm256_blendv_ps(up, low, lower_wins);
    /* A mask's lanes are -1 or 0: subtracting it adds the odd column. */
    const __m256i even_taps = _mm256_setr_epi32(0, 2, 8, 10, 4, 6, 12, 14);
    const __m256i up_tap = _mm256_sub_epi32(even_taps, _mm256_castps_si256(right_up));
    const __m256i low_tap = _mm256_sub_epi32(
        _mm256_add_epi32(even_taps, _mm256_set1_epi32((int)width)), _mm256_castps_si256(right_low));
    const __m256i tap = _mm256_castps_si256(
        _mm256_blendv_ps(_mm256_castsi256_ps(up_tap), _mm256_castsi256_ps(low_tap), lower_wins));
    const __m256i ordered = _mm256_permute4x64_epi64(tap, _MM_SHUFFLE(3, 1, 2, 0));
    const __m256 values =
        _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(top), _MM_SHUFFLE(3, 1, 2, 0)));
    const __m256i positions = _mm256_add_epi32(_mm256_set1_epi32((int)first), ordered);
    if (count == 8 || spill) {
        _mm256_storeu_ps(outs, values);
        _mm256_storeu_si256((__m256i *)where, positions);
    } else {
        /* Masked stores are slow on some CPUs (AMD's): a short group goes through the stack. */
        float value_group[8];
        int32_t where_group[8];
        _mm256_storeu_ps(value_group, values);
        _mm256_storeu_si256((__m256i *)where_group, positions);
        memcpy(outs, value_group, sizeof(float) * (size_t)count);
        memcpy(where, where_group, sizeof(int32_t) * (size_t)count);
    }
}

/* The 2x2 windows of output row oh, as max_pool_2x2 pools them, eight at a time; returns how many
 * it pooled (all). */
__attribute__((target("avx2"))) static int64_t pool_2x2_avx2(const cg_window2d *w,
                                                             const float *image, int64_t oh,
                                                             float *restrict outs,
                                                             int32_t *restrict where) {
    const int64_t width = w->width, row = 2 * oh * width, out_w = w->out_width;
    const float *upper = image + row, *lower = upper + width;
    int64_t ow = 0;
    for (; ow + 8 <= out_w; ow += 8)
        pool_2x2_group(upper + 2 * ow, lower + 2 * ow, width, row + 2 * ow, 8, false, outs + ow,
                       where + ow);
    /* A short last group may store whole vectors when the plane's next row takes what spills
     * past this row: that row is written after this one, by the same thread. */
    const bool spill = oh + 1 < w->out_height && 8 - (out_w - ow) <= out_w;
    if (ow < out_w)
        pool_2x2_group(upper + 2 * ow, lower + 2 * ow, width, row + 2 * ow, (int)(out_w - ow),
                       spill, outs + ow, where + ow);
    return out_w;
}

static bool cpu_has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}

#define VECTOR_POOL_2X2_float(vector, w, image, oh, outs, where)                                   \
    ((vector) ? pool_2x2_avx2(w, image, oh, outs, where) : 0)

#else

static bool cpu_has_avx2(void) { return false; }

#define VECTOR_POOL_2X2_float(vector, w, image, oh, outs, where) ((void)(vector), 0)

#endif

/* float64 windows go through the scalar loop only. */
#define VECTOR_POOL_2X2_double(vector, w, image, oh, outs, where) ((void)(vector), 0)

DEFINE_POOL_KERNELS(float)
DEFINE_POOL_KERNELS(double)

int cg_cpu_max_pool2d(const cg_tensor *x, const cg_window2d *w, cg_tensor *out,
                      cg_tensor *indices) {
    const int64_t windows = w->out_height * w->out_width;
    pool_job job = {w, cg_tensor_data(x), cg_tensor_data(out), cg_tensor_data(indices),
                    cpu_has_avx2()};
    cg_parallel_for(w->batch * w->channels,
                    planes_per_chunk(windows * w->kernel_height * w->kernel_width),
                    x->dtype == CG_FLOAT32 ? max_pool_float : max_pool_double, &job);
    return 0;
}

int cg_cpu_max_pool2d_backward(const cg_tensor *grad_out, const cg_tensor *indices,
                               const cg_window2d *w, cg_tensor *grad_x) {
    pool_job job = {w, cg_tensor_data(grad_out), cg_tensor_data(grad_x), cg_tensor_data(indices),
                    false};
    cg_parallel_for(
        w->batch * w->channels,
        planes_per_chunk(w->height * w->width + w->out_height * w->out_width),
        grad_x->dtype == CG_FLOAT32 ? max_pool_backward_float : max_pool_backward_double, &job);
    return 0;
}
