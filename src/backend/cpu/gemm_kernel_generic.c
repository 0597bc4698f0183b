/* Portable micro-kernels and packing in plain C: fixed tile sizes let the compiler keep the tile
 * in registers and vectorise its rows with whatever SIMD the target has (SSE2 on any x86-64, NEON
 * on AArch64). Tiles of 4 x 8 floats and 4 x 4 doubles fit sixteen 128-bit registers. */
#include "backend/cpu/gemm_kernel.h"

#define DEFINE_GENERIC_KERNEL(name, T, ROWS, COLS)                                                 \
    static void name(int64_t kc, const void *packed_a, const void *packed_b, void *c_out,          \
                     int64_t ldc, bool accumulate) {                                               \
        const T *a = packed_a, *b = packed_b;                                                      \
        T *c = c_out;                                                                              \
        T sum[ROWS][COLS] = {{0}};                                                                 \
        for (int64_t p = 0; p < kc; p++, a += ROWS, b += COLS)                                     \
            for (int i = 0; i < ROWS; i++)                                                         \
                for (int j = 0; j < COLS; j++)                                                     \
                    sum[i][j] += a[i] * b[j];                                                      \
        for (int i = 0; i < ROWS; i++)                                                             \
            for (int j = 0; j < COLS; j++)                                                         \
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + sum[i][j] : sum[i][j];              \
    }

/* Each panel is read along X's memory order: step by step when X's rows lie across memory
 * (trans), row by row otherwise; the rows a last panel lacks are zeros. */
#define DEFINE_GENERIC_PACK(T, SUFFIX)                                                             \
    void cg_gemm_pack_##SUFFIX(bool trans, const void *x, int64_t ld, int64_t rows, int64_t depth, \
                               int width, void *packed) {                                          \
        const T *source = x;                                                                       \
        T *out = packed;                                                                           \
        for (int64_t i0 = 0; i0 < rows; i0 += width, out += width * depth) {                       \
            const int64_t height = rows - i0 < width ? rows - i0 : width;                          \
            if (trans)                                                                             \
                for (int64_t p = 0; p < depth; p++)                                                \
                    for (int64_t i = 0; i < width; i++)                                            \
                        out[p * width + i] = i < height ? source[p * ld + i0 + i] : 0;             \
            else                                                                                   \
                for (int64_t i = 0; i < width; i++)                                                \
                    for (int64_t p = 0; p < depth; p++)                                            \
                        out[p * width + i] = i < height ? source[(i0 + i) * ld + p] : 0;           \
        }                                                                                          \
    }

/* Rows of C, one at a time: with op(B) = B^T each element is a dot product of two contiguous
 * vectors, summed in ROW_LANES interleaved partial sums the compiler can keep in vector registers;
 * otherwise rows of B are added into the row of C, scaled by the elements of x. */
enum { ROW_LANES = 8 };

#define DEFINE_GENERIC_ROW_KERNEL(name, T)                                                         \
    static void name##_one(bool trans_b, int64_t n, int64_t k, const T *x, const T *b,             \
                           int64_t ldb, T *y) {                                                    \
        if (trans_b) {                                                                             \
            for (int64_t j = 0; j < n; j++) {                                                      \
                const T *row = b + j * ldb;                                                        \
                T part[ROW_LANES] = {0}, sum = 0;                                                  \
                int64_t p = 0;                                                                     \
                for (; p + ROW_LANES <= k; p += ROW_LANES)                                         \
                    for (int l = 0; l < ROW_LANES; l++)                                            \
                        part[l] += x[p + l] * row[p + l];                                          \
                for (int l = 0; l < ROW_LANES; l++)                                                \
                    sum += part[l];                                                                \
                for (; p < k; p++)                                                                 \
                    sum += x[p] * row[p];                                                          \
                y[j] = sum;                                                                        \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        for (int64_t j = 0; j < n; j++)                                                            \
            y[j] = 0;                                                                              \
        for (int64_t p = 0; p < k; p++) {                                                          \
            const T x_p = x[p], *row = b + p * ldb;                                                \
            for (int64_t j = 0; j < n; j++)                                                        \
                y[j] += x_p * row[j];                                                              \
        }                                                                                          \
    }                                                                                              \
    static void name(bool trans_b, int64_t m, int64_t n, int64_t k, const void *x, int64_t ldx,    \
                     const void *b, int64_t ldb, void *y, int64_t ldy) {                           \
        for (int64_t i = 0; i < m; i++)                                                            \
            name##_one(trans_b, n, k, (const T *)x + i * ldx, b, ldb, (T *)y + i * ldy);           \
    }

DEFINE_GENERIC_KERNEL(multiply_f32, float, 4, 8)
DEFINE_GENERIC_KERNEL(multiply_f64, double, 4, 4)
DEFINE_GENERIC_PACK(float, f32)
DEFINE_GENERIC_PACK(double, f64)
DEFINE_GENERIC_ROW_KERNEL(multiply_rows_f32, float)
DEFINE_GENERIC_ROW_KERNEL(multiply_rows_f64, double)

const cg_gemm_kernel_set cg_gemm_generic_kernels = {
    .name = "generic",
    .f32 = {.mr = 4,
            .nr = 8,
            .kc = 256,
            .mc = 128,
            .nc = 4096,
            .multiply = multiply_f32,
            .pack = cg_gemm_pack_f32,
            .multiply_rows = multiply_rows_f32},
    .f64 = {.mr = 4,
            .nr = 4,
            .kc = 256,
            .mc = 64,
            .nc = 2048,
            .multiply = multiply_f64,
            .pack = cg_gemm_pack_f64,
            .multiply_rows = multiply_rows_f64},
};
