/* AVX2 + FMA micro-kernels: 6 x 16 for float32 and 6 x 8 for float64, two vector registers
 * per row of the tile, so 12 accumulators, 2 loads of B and a broadcast of A fill 15 of the 16
 * ymm registers. Only these functions are compiled for AVX2 (the target attribute), so the rest
 * of the library runs on any x86-64, and the CPU is asked at run time before they are used. */
#include "backend/cpu/gemm_kernel.h"

#include <stddef.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

#include <immintrin.h>

enum { TILE_ROWS = 6 };
/* Loops over a tile's rows are unrolled first, so the tile is held in registers, not memory. */
#define UNROLLED _Pragma("GCC unroll 8")

/* The tile's rows are kept as pairs of vectors of LANES elements each. */
#define DEFINE_AVX2_KERNEL(name, T, VECTOR, LANES, SET_ZERO, BROADCAST, LOAD, STORE, ADD, FMADD)   \
    __attribute__((target("avx2,fma"))) static void name(int64_t kc, const void *packed_a,         \
                                                         const void *packed_b, void *c_out,        \
                                                         int64_t ldc, bool accumulate) {           \
        const T *a = packed_a, *b = packed_b;                                                      \
        T *c = c_out;                                                                              \
        VECTOR sum[TILE_ROWS][2];                                                                  \
        UNROLLED for (int i = 0; i < TILE_ROWS; i++) sum[i][0] = sum[i][1] = SET_ZERO();           \
        for (int64_t p = 0; p < kc; p++, a += TILE_ROWS, b += 2 * LANES) {                         \
            const VECTOR b_low = LOAD(b), b_high = LOAD(b + LANES);                                \
            UNROLLED for (int i = 0; i < TILE_ROWS; i++) {                                         \
                const VECTOR a_i = BROADCAST(a + i);                                               \
                sum[i][0] = FMADD(a_i, b_low, sum[i][0]);                                          \
                sum[i][1] = FMADD(a_i, b_high, sum[i][1]);                                         \
            }                                                                                      \
        }                                                                                          \
        UNROLLED for (int i = 0; i < TILE_ROWS; i++) {                                             \
            T *row = c + i * ldc;                                                                  \
            if (accumulate) {                                                                      \
                sum[i][0] = ADD(sum[i][0], LOAD(row));                                             \
                sum[i][1] = ADD(sum[i][1], LOAD(row + LANES));                                     \
            }                                                                                      \
            STORE(row, sum[i][0]);                                                                 \
            STORE(row + LANES, sum[i][1]);                                                         \
        }                                                                                          \
    }

DEFINE_AVX2_KERNEL(multiply_f32, float, __m256, 8, _mm256_setzero_ps, _mm256_broadcast_ss,
                   _mm256_loadu_ps, _mm256_storeu_ps, _mm256_add_ps, _mm256_fmadd_ps)
DEFINE_AVX2_KERNEL(multiply_f64, double, __m256d, 4, _mm256_setzero_pd, _mm256_broadcast_sd,
                   _mm256_loadu_pd, _mm256_storeu_pd, _mm256_add_pd, _mm256_fmadd_pd)

/* The helpers below are inlined into the packing loops, so their arrays stay in registers. */
#define AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) static inline

/* Transposes the 8 x 8 block held in v (v[r] = row r) in place (v[c] = column c). */
AVX2_INLINE void transpose_8x8(__m256 v[8]) {
    __m256 pairs[8], quads[8];
    UNROLLED for (int r = 0; r < 8; r += 2) {
        pairs[r] = _mm256_unpacklo_ps(v[r], v[r + 1]);
        pairs[r + 1] = _mm256_unpackhi_ps(v[r], v[r + 1]);
    }
    UNROLLED for (int r = 0; r < 8; r += 4) {
        quads[r] = _mm256_shuffle_ps(pairs[r], pairs[r + 2], _MM_SHUFFLE(1, 0, 1, 0));
        quads[r + 1] = _mm256_shuffle_ps(pairs[r], pairs[r + 2], _MM_SHUFFLE(3, 2, 3, 2));
        quads[r + 2] = _mm256_shuffle_ps(pairs[r + 1], pairs[r + 3], _MM_SHUFFLE(1, 0, 1, 0));
        quads[r + 3] = _mm256_shuffle_ps(pairs[r + 1], pairs[r + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    UNROLLED for (int c = 0; c < 4; c++) {
        v[c] = _mm256_permute2f128_ps(quads[c], quads[c + 4], 0x20);
        v[c + 4] = _mm256_permute2f128_ps(quads[c], quads[c + 4], 0x31);
    }
}

/* Stores the first count (1 to 8) lanes of v. */
AVX2_INLINE void store_lanes(float *out, __m256 v, int count) {
    if (count == 8) {
        _mm256_storeu_ps(out, v);
        return;
    }
    __m128 part = _mm256_castps256_ps128(v);
    if (count >= 4) {
        _mm_storeu_ps(out, part);
        part = _mm256_extractf128_ps(v, 1);
        out += 4;
        count -= 4;
    }
    if (count >= 2) {
        _mm_storel_pi((__m64 *)out, part);
        part = _mm_movehl_ps(part, part);
        out += 2;
        count -= 2;
    }
    if (count == 1) _mm_store_ss(out, part);
}

/* A group of lanes (up to 8) rows of a panel of X stored row by row, rows of them present: 8
 * steps at a time, the group is loaded as an 8 x 8 block (missing rows as zeros), transposed and
 * stored as 8 steps of the panel. A panel of one group stores whole vectors anyway, each spilling
 * into the next step's place before that step overwrites it; only a block's last step, which may
 * end the buffer, stores exactly its lanes. Inlined, so callers passing constants get straight
 * code for the common groups. */
AVX2_INLINE void pack_row_group(const float *group, int64_t ld, int64_t rows, int lanes,
                                int64_t depth, int width, float *out) {
    const bool spill = lanes == 8 || lanes == width;
    int64_t p = 0;
    for (; p + 8 <= depth; p += 8) {
        __m256 v[8];
        UNROLLED for (int r = 0; r < 8; r++) {
            v[r] = r < rows ? _mm256_loadu_ps(group + r * ld + p) : _mm256_setzero_ps();
        }
        transpose_8x8(v);
        UNROLLED for (int s = 0; s < 8; s++) {
            if (spill && s < 7)
                _mm256_storeu_ps(out + (p + s) * width, v[s]);
            else
                store_lanes(out + (p + s) * width, v[s], lanes);
        }
    }
    for (; p < depth; p++)
        for (int r = 0; r < lanes; r++)
            out[p * width + r] = r < rows ? group[r * ld + p] : 0;
}

/* One panel (height of its width rows present) of X stored row by row, in groups of 8 rows;
 * whole groups of 8 and whole panels of a tile's rows get code specialised for them. */
__attribute__((target("avx2,fma"))) static void
pack_rows_f32(const float *x, int64_t ld, int64_t height, int64_t depth, int width, float *out) {
    for (int g = 0; g < width; g += 8) {
        const int lanes = width - g < 8 ? width - g : 8;
        const int64_t rows = height - g < 0 ? 0 : height - g < lanes ? height - g : lanes;
        if (rows == 8)
            pack_row_group(x + g * ld, ld, 8, 8, depth, width, out + g);
        else if (rows == TILE_ROWS && lanes == TILE_ROWS && width == TILE_ROWS)
            pack_row_group(x + g * ld, ld, TILE_ROWS, TILE_ROWS, depth, TILE_ROWS, out + g);
        else
            pack_row_group(x + g * ld, ld, rows, lanes, depth, width, out + g);
    }
}

/* One panel (height of its width rows present) of X stored step by step, in groups of 8 rows:
 * each step of a group is one vector load, masked where rows are missing so they read as zeros,
 * stored like pack_row_group does. */
__attribute__((target("avx2,fma"))) static void
pack_steps_f32(const float *x, int64_t ld, int64_t height, int64_t depth, int width, float *out) {
    const __m256i lane_index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int g = 0; g < width; g += 8) {
        const int lanes = width - g < 8 ? width - g : 8;
        const int64_t rows = height - g < 0 ? 0 : height - g < lanes ? height - g : lanes;
        const __m256i present = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rows), lane_index);
        const bool spill = lanes == 8 || lanes == width;
        for (int64_t p = 0; p < depth; p++) {
            const float *step = x + p * ld + g;
            const __m256 v = rows == 8 ? _mm256_loadu_ps(step) : _mm256_maskload_ps(step, present);
            if (spill && p + 1 < depth)
                _mm256_storeu_ps(out + p * width + g, v);
            else
                store_lanes(out + p * width + g, v, lanes);
        }
    }
}

/* Packs every float32 panel with the vector code above. */
static void pack_f32(bool trans, const void *x, int64_t ld, int64_t rows, int64_t depth, int width,
                     void *packed) {
    const float *source = x;
    float *out = packed;
    for (int64_t i0 = 0; i0 < rows; i0 += width, out += width * depth) {
        const int64_t height = rows - i0 < width ? rows - i0 : width;
        if (trans)
            pack_steps_f32(source + i0, ld, height, depth, width, out);
        else
            pack_rows_f32(source + i0 * ld, ld, height, depth, width, out);
    }
}

/* ----- one row of C without packing ----- */

AVX2_INLINE float sum_lanes_f32(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

AVX2_INLINE double sum_lanes_f64(__m256d v) {
    const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

/* Rows of C without packing. With op(B) = B^T each element is a dot product: a pair of rows of
 * x is multiplied by ROW_GROUP rows of B at a time, so each load of x serves ROW_GROUP products
 * and each load of B two, ten accumulators in all (two rows by five dot products run at about
 * 2.7 times the speed of a packed product with ten columns of C, the output layer of a
 * classifier, on Zen 3). With op(B) = B, ROW_GROUP vectors of a row of C are held across the
 * whole sum while rows of B are scaled and added. The helpers are inlined with constant counts,
 * and each element is summed in the same order whichever helper computes it. */
enum { ROW_GROUP = 5, ROW_PAIR = 2 };

#define DEFINE_AVX2_ROW_KERNEL(name, T, VECTOR, LANES, SET_ZERO, BROADCAST, LOAD, STORE, FMADD,    \
                               SUM_LANES)                                                          \
    /* y[i][0, count) = dot products of row i of x with count rows of b, for rows i < rows. */     \
    AVX2_INLINE void name##_dots(int rows, int count, int64_t k, const T *x, int64_t ldx,          \
                                 const T *b, int64_t ldb, T *y, int64_t ldy) {                     \
        VECTOR sum[ROW_PAIR][ROW_GROUP];                                                           \
        UNROLLED for (int i = 0; i < rows; i++) UNROLLED for (int r = 0; r < count; r++)           \
            sum[i][r] = SET_ZERO();                                                                \
        int64_t p = 0;                                                                             \
        for (; p + LANES <= k; p += LANES) {                                                       \
            VECTOR x_p[ROW_PAIR];                                                                  \
            UNROLLED for (int i = 0; i < rows; i++) x_p[i] = LOAD(x + i * ldx + p);                \
            UNROLLED for (int r = 0; r < count; r++) {                                             \
                const VECTOR b_p = LOAD(b + r * ldb + p);                                          \
                UNROLLED for (int i = 0; i < rows; i++) sum[i][r] = FMADD(b_p, x_p[i], sum[i][r]); \
            }                                                                                      \
        }                                                                                          \
        UNROLLED for (int i = 0; i < rows; i++) UNROLLED for (int r = 0; r < count; r++) {         \
            T total = SUM_LANES(sum[i][r]);                                                        \
            for (int64_t q = p; q < k; q++)                                                        \
                total += x[i * ldx + q] * b[r * ldb + q];                                          \
            y[i * ldy + r] = total;                                                                \
        }                                                                                          \
    }                                                                                              \
    /* Rows [0, rows) of y against every row of b, ROW_GROUP at a time. */                         \
    AVX2_INLINE void name##_dot_rows(int rows, int64_t n, int64_t k, const T *x, int64_t ldx,      \
                                     const T *b, int64_t ldb, T *y, int64_t ldy) {                 \
        int64_t j = 0;                                                                             \
        for (; j + ROW_GROUP <= n; j += ROW_GROUP)                                                 \
            name##_dots(rows, ROW_GROUP, k, x, ldx, b + j * ldb, ldb, y + j, ldy);                 \
        for (; j < n; j++)                                                                         \
            name##_dots(rows, 1, k, x, ldx, b + j * ldb, ldb, y + j, ldy);                         \
    }                                                                                              \
    /* y[0, count vectors) = sum over p of x[p] times the same columns of row p of b. */           \
    AVX2_INLINE void name##_columns(int count, int64_t k, const T *x, const T *b, int64_t ldb,     \
                                    T *y) {                                                        \
        VECTOR sum[ROW_GROUP];                                                                     \
        UNROLLED for (int v = 0; v < count; v++) sum[v] = SET_ZERO();                              \
        for (int64_t p = 0; p < k; p++) {                                                          \
            const VECTOR x_p = BROADCAST(x + p);                                                   \
            UNROLLED for (int v = 0; v < count; v++) sum[v] =                                      \
                FMADD(x_p, LOAD(b + p * ldb + v * LANES), sum[v]);                                 \
        }                                                                                          \
        UNROLLED for (int v = 0; v < count; v++) STORE(y + v * LANES, sum[v]);                     \
    }                                                                                              \
    AVX2_INLINE void name##_scaled_rows(int64_t n, int64_t k, const T *x, const T *b, int64_t ldb, \
                                        T *y) {                                                    \
        int64_t j = 0;                                                                             \
        for (; j + ROW_GROUP * LANES <= n; j += ROW_GROUP * LANES)                                 \
            name##_columns(ROW_GROUP, k, x, b + j, ldb, y + j);                                    \
        for (; j + LANES <= n; j += LANES)                                                         \
            name##_columns(1, k, x, b + j, ldb, y + j);                                            \
        for (; j < n; j++) {                                                                       \
            T total = 0;                                                                           \
            for (int64_t p = 0; p < k; p++)                                                        \
                total += x[p] * b[p * ldb + j];                                                    \
            y[j] = total;                                                                          \
        }                                                                                          \
    }                                                                                              \
    __attribute__((target("avx2,fma"))) static void name(                                          \
        bool trans_b, int64_t m, int64_t n, int64_t k, const void *x_in, int64_t ldx,              \
        const void *b_in, int64_t ldb, void *y_out, int64_t ldy) {                                 \
        const T *x = x_in, *b = b_in;                                                              \
        T *y = y_out;                                                                              \
        int64_t i = 0;                                                                             \
        if (trans_b) {                                                                             \
            for (; i + ROW_PAIR <= m; i += ROW_PAIR)                                               \
                name##_dot_rows(ROW_PAIR, n, k, x + i * ldx, ldx, b, ldb, y + i * ldy, ldy);       \
            if (i < m) name##_dot_rows(1, n, k, x + i * ldx, ldx, b, ldb, y + i * ldy, ldy);       \
            return;                                                                                \
        }                                                                                          \
        for (; i < m; i++)                                                                         \
            name##_scaled_rows(n, k, x + i * ldx, b, ldb, y + i * ldy);                            \
    }

DEFINE_AVX2_ROW_KERNEL(multiply_rows_f32, float, __m256, 8, _mm256_setzero_ps, _mm256_broadcast_ss,
                       _mm256_loadu_ps, _mm256_storeu_ps, _mm256_fmadd_ps, sum_lanes_f32)
DEFINE_AVX2_ROW_KERNEL(multiply_rows_f64, double, __m256d, 4, _mm256_setzero_pd,
                       _mm256_broadcast_sd, _mm256_loadu_pd, _mm256_storeu_pd, _mm256_fmadd_pd,
                       sum_lanes_f64)

/* Zen 3 and Haswell-class caches: 32 KiB L1 (a 256 x 16 float panel of B is 16 KiB), 512 KiB of
 * L2 per core (a 144 x 256 float block of A is 144 KiB), and megabytes of L3 for B's block. */
static const cg_gemm_kernel_set avx2_kernels = {
    .name = "avx2",
    .f32 = {.mr = TILE_ROWS,
            .nr = 16,
            .kc = 256,
            .mc = 144,
            .nc = 4096,
            .multiply = multiply_f32,
            .pack = pack_f32,
            .multiply_rows = multiply_rows_f32},
    .f64 = {.mr = TILE_ROWS,
            .nr = 8,
            .kc = 256,
            .mc = 72,
            .nc = 2048,
            .multiply = multiply_f64,
            .pack = cg_gemm_pack_f64,
            .multiply_rows = multiply_rows_f64},
};

const cg_gemm_kernel_set *cg_gemm_avx2_kernels(void) {
    __builtin_cpu_init();
    const bool usable = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return usable ? &avx2_kernels : NULL;
}

#else

const cg_gemm_kernel_set *cg_gemm_avx2_kernels(void) { return NULL; }

#endif
