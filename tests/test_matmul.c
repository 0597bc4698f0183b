/* Matrix products: the built-in GEMM kernel against a naive triple loop (sizes around its tiles
 * and across its cache blocks, its portable micro-kernel forced, split across threads) and against
 * the CBLAS path, and cg_matmul (every operand form and memory layout) against numpy.matmul
 * computed by definition. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/gemm.h"
#include "test.h"

/* ----- the GEMM kernels ----- */

static const int64_t GEMM_SIZES[] = {1, 7, 33, 130};
enum { GEMM_SIZE_COUNT = sizeof(GEMM_SIZES) / sizeof(GEMM_SIZES[0]) };
/* Operands and results are stored with padded leading dimensions, so a kernel that confuses a
 * leading dimension with a matrix width reads or writes the wrong elements. */
enum { LEAD_PADDING = 3 };
static const double PADDING_SENTINEL = -12345.0;

typedef struct {
    bool trans_a, trans_b;
    int64_t m, n, k;
    int64_t lda, ldb, ldc;
} gemm_case;

typedef enum { KERNEL_BUILTIN, KERNEL_DISPATCHED } gemm_kernel;

static gemm_case make_gemm_case(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k) {
    return (gemm_case){.trans_a = trans_a,
                       .trans_b = trans_b,
                       .m = m,
                       .n = n,
                       .k = k,
                       .lda = (trans_a ? m : k) + LEAD_PADDING,
                       .ldb = (trans_b ? k : n) + LEAD_PADDING,
                       .ldc = n + LEAD_PADDING};
}

/* Rows times leading dimension of a stored operand. */
static size_t stored_a(const gemm_case *gc) {
    return (size_t)((gc->trans_a ? gc->k : gc->m) * gc->lda);
}
static size_t stored_b(const gemm_case *gc) {
    return (size_t)((gc->trans_b ? gc->n : gc->k) * gc->ldb);
}
static size_t stored_c(const gemm_case *gc) { return (size_t)(gc->m * gc->ldc); }

static double op_a(const gemm_case *gc, const double *a, int64_t i, int64_t p) {
    return gc->trans_a ? a[p * gc->lda + i] : a[i * gc->lda + p];
}
static double op_b(const gemm_case *gc, const double *b, int64_t p, int64_t j) {
    return gc->trans_b ? b[j * gc->ldb + p] : b[p * gc->ldb + j];
}

/* C = op(A) op(B) by definition, and the sum of |terms| of each element (which bounds the
 * rounding error of any summation order). */
static void naive_gemm(const gemm_case *gc, const double *a, const double *b, double *c,
                       double *magnitude) {
    for (int64_t i = 0; i < gc->m; i++)
        for (int64_t j = 0; j < gc->n; j++) {
            double sum = 0, abs_sum = 0;
            for (int64_t p = 0; p < gc->k; p++) {
                const double term = op_a(gc, a, i, p) * op_b(gc, b, p, j);
                sum += term;
                abs_sum += fabs(term);
            }
            c[i * gc->ldc + j] = sum;
            magnitude[i * gc->ldc + j] = abs_sum;
        }
}

/* Runs one kernel in dtype (the operands are converted to float32 for it) into c, whose padding
 * holds the sentinel beforehand and must still hold it afterwards. */
static bool run_gemm(cg_dtype dtype, gemm_kernel kernel, const gemm_case *gc, const double *a,
                     const double *b, double *c) {
    const size_t na = stored_a(gc), nb = stored_b(gc), nc = stored_c(gc);
    for (size_t i = 0; i < nc; i++)
        c[i] = PADDING_SENTINEL;
    if (dtype == CG_FLOAT64) {
        (kernel == KERNEL_BUILTIN ? cg_gemm_builtin_f64 : cg_gemm_f64)(
            gc->trans_a, gc->trans_b, gc->m, gc->n, gc->k, a, gc->lda, b, gc->ldb, c, gc->ldc);
        return true;
    }
    float *af = malloc(sizeof(float) * na), *bf = malloc(sizeof(float) * nb);
    float *cf = malloc(sizeof(float) * nc);
    const bool ok = af && bf && cf;
    if (ok) {
        for (size_t i = 0; i < na; i++)
            af[i] = (float)a[i];
        for (size_t i = 0; i < nb; i++)
            bf[i] = (float)b[i];
        for (size_t i = 0; i < nc; i++)
            cf[i] = (float)PADDING_SENTINEL;
        (kernel == KERNEL_BUILTIN ? cg_gemm_builtin_f32 : cg_gemm_f32)(
            gc->trans_a, gc->trans_b, gc->m, gc->n, gc->k, af, gc->lda, bf, gc->ldb, cf, gc->ldc);
        for (size_t i = 0; i < nc; i++)
            c[i] = cf[i];
    }
    free(af);
    free(bf);
    free(cf);
    return ok;
}

/* Operands rounded to float32 values, so float32 and float64 runs multiply the same numbers. */
static void random_operand(double *x, size_t count) {
    for (size_t i = 0; i < count; i++)
        x[i] = (double)(float)((double)rand() / RAND_MAX * 2.0 - 1.0);
}

/* Compares actual with expected element by element (padding must keep the sentinel); tolerance
 * is a few roundings of dtype per term. Reports the first mismatch. */
static bool gemm_close(cg_dtype dtype, const gemm_case *gc, const double *actual,
                       const double *expected, const double *magnitude, const char *what,
                       const char *file, int line) {
    const double unit = dtype == CG_FLOAT32 ? FLT_EPSILON : DBL_EPSILON;
    for (int64_t i = 0; i < gc->m; i++)
        for (int64_t j = 0; j < gc->ldc; j++) {
            const int64_t at = i * gc->ldc + j;
            const bool padding = j >= gc->n;
            const double want = padding ? PADDING_SENTINEL : expected[at];
            const double tol = padding ? 0 : 2.0 * (double)(gc->k + 1) * unit * magnitude[at];
            if (!(fabs(actual[at] - want) <= tol)) {
                test_fail(file, line,
                          "%s %s trans_a=%d trans_b=%d m=%lld n=%lld k=%lld: C[%lld][%lld] = "
                          "%.10g, expected %.10g",
                          what, cg_dtype_name(dtype), gc->trans_a, gc->trans_b, (long long)gc->m,
                          (long long)gc->n, (long long)gc->k, (long long)i, (long long)j,
                          actual[at], want);
                return false;
            }
        }
    return true;
}

/* Calls check(dtype, case, a, b, expected, magnitude) for both dtypes, the four transpose
 * combinations and every size combination; stops at the first failure. */
typedef bool (*gemm_check)(cg_dtype dtype, const gemm_case *gc, const double *a, const double *b,
                           const double *expected, const double *magnitude);

/* Fills the operands of one case with random values, computes the product by definition and runs
 * check on it. */
static bool check_gemm_case(gemm_check check, cg_dtype dtype, const gemm_case *gc) {
    double *a = malloc(sizeof(double) * stored_a(gc));
    double *b = malloc(sizeof(double) * stored_b(gc));
    double *expected = malloc(sizeof(double) * stored_c(gc));
    double *magnitude = malloc(sizeof(double) * stored_c(gc));
    bool ok = a && b && expected && magnitude;
    if (ok) {
        random_operand(a, stored_a(gc));
        random_operand(b, stored_b(gc));
        naive_gemm(gc, a, b, expected, magnitude);
        ok = check(dtype, gc, a, b, expected, magnitude);
    }
    free(a);
    free(b);
    free(expected);
    free(magnitude);
    return ok;
}

static bool for_each_gemm_case(gemm_check check) {
    srand(12345);
    bool ok = true;
    for (int dtype = CG_FLOAT32; ok && dtype <= CG_FLOAT64; dtype++)
        for (int transposes = 0; ok && transposes < 4; transposes++)
            for (int mi = 0; ok && mi < GEMM_SIZE_COUNT; mi++)
                for (int ni = 0; ok && ni < GEMM_SIZE_COUNT; ni++)
                    for (int ki = 0; ok && ki < GEMM_SIZE_COUNT; ki++) {
                        const gemm_case gc =
                            make_gemm_case(transposes & 1, transposes & 2, GEMM_SIZES[mi],
                                           GEMM_SIZES[ni], GEMM_SIZES[ki]);
                        ok = check_gemm_case(check, (cg_dtype)dtype, &gc);
                    }
    return ok;
}

static bool builtin_matches_naive(cg_dtype dtype, const gemm_case *gc, const double *a,
                                  const double *b, const double *expected,
                                  const double *magnitude) {
    double *c = malloc(sizeof(double) * stored_c(gc));
    const bool ok =
        c && run_gemm(dtype, KERNEL_BUILTIN, gc, a, b, c) &&
        gemm_close(dtype, gc, c, expected, magnitude, "built-in vs naive loop", __FILE__, __LINE__);
    free(c);
    return ok;
}

TEST(gemm_builtin_matches_naive_loop) { CHECK(for_each_gemm_case(builtin_matches_naive)); }

#ifdef CG_HAVE_CBLAS
/* The dispatched kernel (CBLAS) must agree with the built-in one; the naive result supplies the
 * magnitudes for the tolerance. */
static bool blas_matches_builtin(cg_dtype dtype, const gemm_case *gc, const double *a,
                                 const double *b, const double *expected, const double *magnitude) {
    (void)expected;
    double *builtin = malloc(sizeof(double) * stored_c(gc));
    double *blas = malloc(sizeof(double) * stored_c(gc));
    const bool ok =
        builtin && blas && run_gemm(dtype, KERNEL_BUILTIN, gc, a, b, builtin) &&
        run_gemm(dtype, KERNEL_DISPATCHED, gc, a, b, blas) &&
        gemm_close(dtype, gc, blas, builtin, magnitude, "CBLAS vs built-in", __FILE__, __LINE__);
    free(builtin);
    free(blas);
    return ok;
}
#endif

TEST(gemm_blas_matches_builtin) {
#ifdef CG_HAVE_CBLAS
    CHECK(cg_gemm_has_blas());
    CHECK(!cg_gemm_force_builtin(false));
    CHECK(for_each_gemm_case(blas_matches_builtin));
#else
    CHECK(!cg_gemm_has_blas());
    SKIP("no CBLAS in this build: only the built-in kernel exists");
#endif
}

/* With the built-in kernel forced, the dispatched entry point must give the built-in kernel's
 * result bit for bit. */
static bool forced_dispatch_is_builtin(cg_dtype dtype, const gemm_case *gc, const double *a,
                                       const double *b, const double *expected,
                                       const double *magnitude) {
    (void)expected;
    (void)magnitude;
    double *builtin = malloc(sizeof(double) * stored_c(gc));
    double *forced = malloc(sizeof(double) * stored_c(gc));
    bool ok = builtin && forced && run_gemm(dtype, KERNEL_BUILTIN, gc, a, b, builtin);
    const bool previous = cg_gemm_force_builtin(true);
    ok = ok && run_gemm(dtype, KERNEL_DISPATCHED, gc, a, b, forced);
    cg_gemm_force_builtin(previous);
    for (size_t i = 0; ok && i < stored_c(gc); i++)
        ok = builtin[i] == forced[i];
    if (!ok)
        test_fail(__FILE__, __LINE__, "forced built-in %s m=%lld n=%lld k=%lld differs",
                  cg_dtype_name(dtype), (long long)gc->m, (long long)gc->n, (long long)gc->k);
    free(builtin);
    free(forced);
    return ok;
}

TEST(gemm_force_builtin_selects_the_builtin_kernel) {
    CHECK(for_each_gemm_case(forced_dispatch_is_builtin));
}

/* ----- the built-in kernel's tiles, cache blocks and threads ----- */

/* Sizes on both sides of the micro-kernels' tiles (6 x 16 and 6 x 8 with AVX2, 4 x 8 and 4 x 4
 * portable) and of their multiples. */
static const int64_t TILE_EDGE_SIZES[] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  12, 15, 16, 17,
                                          23, 24, 25, 31, 32, 33, 47, 48, 49, 63, 64, 65, 70};
enum { TILE_EDGE_SIZE_COUNT = sizeof(TILE_EDGE_SIZES) / sizeof(TILE_EDGE_SIZES[0]) };

/* Runs check on every pair of tile-edge sizes for m and n, with both dtypes and all transpose
 * combinations, under the micro-kernels chosen by generic. k cycles through the sizes too, raised
 * where needed so the product is large enough to go through the packed kernels. */
static bool for_each_tile_edge_case(gemm_check check, bool generic) {
    srand(4242);
    const bool previous = cg_gemm_force_generic(generic);
    bool ok = true;
    for (int dtype = CG_FLOAT32; ok && dtype <= CG_FLOAT64; dtype++)
        for (int transposes = 0; ok && transposes < 4; transposes++)
            for (int mi = 0; ok && mi < TILE_EDGE_SIZE_COUNT; mi++)
                for (int ni = 0; ok && ni < TILE_EDGE_SIZE_COUNT; ni++) {
                    const int64_t m = TILE_EDGE_SIZES[mi], n = TILE_EDGE_SIZES[ni];
                    const int64_t listed_k =
                        TILE_EDGE_SIZES[(mi * 7 + ni * 3) % TILE_EDGE_SIZE_COUNT];
                    const int64_t packed_k = (CG_GEMM_SMALL_PRODUCT + m * n - 1) / (m * n);
                    const gemm_case gc = make_gemm_case(transposes & 1, transposes & 2, m, n,
                                                        listed_k > packed_k ? listed_k : packed_k);
                    ok = check_gemm_case(check, (cg_dtype)dtype, &gc);
                }
    cg_gemm_force_generic(previous);
    return ok;
}

TEST(gemm_builtin_matches_naive_loop_around_tile_edges) {
    CHECK(for_each_tile_edge_case(builtin_matches_naive, false));
}

TEST(gemm_portable_kernel_matches_naive_loop_around_tile_edges) {
    const bool previous = cg_gemm_force_generic(true);
    CHECK(strcmp(cg_gemm_kernel_name(), "generic") == 0);
    cg_gemm_force_generic(previous);
    CHECK(for_each_tile_edge_case(builtin_matches_naive, true));
}

/* Products larger than one cache block along each dimension (kc = 256, mc = 144 or 72, nc =
 * 4096 or 2048 with AVX2; the portable blocks are no larger), so the blocks' edges and the
 * accumulation over k blocks are exercised. */
TEST(gemm_builtin_matches_naive_loop_across_cache_blocks) {
    static const int64_t shapes[][3] = {{150, 20, 300}, {5, 4100, 3}, {160, 33, 9}};
    srand(777);
    for (int generic = 0; generic < 2; generic++) {
        const bool previous = cg_gemm_force_generic(generic);
        bool ok = true;
        for (int dtype = CG_FLOAT32; ok && dtype <= CG_FLOAT64; dtype++)
            for (int transposes = 0; ok && transposes < 4; transposes++)
                for (size_t s = 0; ok && s < sizeof shapes / sizeof shapes[0]; s++) {
                    const gemm_case gc = make_gemm_case(transposes & 1, transposes & 2,
                                                        shapes[s][0], shapes[s][1], shapes[s][2]);
                    ok = check_gemm_case(builtin_matches_naive, (cg_dtype)dtype, &gc);
                }
        cg_gemm_force_generic(previous);
        CHECK(ok);
    }
}

/* Products with one row of C go through the row kernels: sizes on both sides of their vector
 * widths (8 floats, 4 doubles) and groups of rows and vectors (4), and the layer sizes of the
 * Fashion-MNIST models; a transposed op(A) is a strided row, gathered first. */
static const int64_t ROW_EDGE_SIZES[] = {1,  2,  3,  4,  5,  7,  8,  9,   15, 16,
                                         17, 31, 32, 33, 63, 64, 65, 129, 784};
enum { ROW_EDGE_SIZE_COUNT = sizeof(ROW_EDGE_SIZES) / sizeof(ROW_EDGE_SIZES[0]) };

/* One-row products through the dispatched entry point must be the built-in ones bit for bit,
 * also when a CBLAS exists, and match the naive loop. */
static bool row_dispatch_is_builtin(cg_dtype dtype, const gemm_case *gc, const double *a,
                                    const double *b, const double *expected,
                                    const double *magnitude) {
    double *builtin = malloc(sizeof(double) * stored_c(gc));
    double *dispatched = malloc(sizeof(double) * stored_c(gc));
    bool ok = builtin && dispatched && run_gemm(dtype, KERNEL_BUILTIN, gc, a, b, builtin) &&
              run_gemm(dtype, KERNEL_DISPATCHED, gc, a, b, dispatched) &&
              gemm_close(dtype, gc, builtin, expected, magnitude, "row kernel vs naive loop",
                         __FILE__, __LINE__);
    for (size_t i = 0; ok && i < stored_c(gc); i++)
        if (!(builtin[i] == dispatched[i])) {
            test_fail(__FILE__, __LINE__,
                      "row product %s trans_a=%d trans_b=%d n=%lld k=%lld: dispatched element "
                      "%zu = %.17g, built-in %.17g",
                      cg_dtype_name(dtype), gc->trans_a, gc->trans_b, (long long)gc->n,
                      (long long)gc->k, i, dispatched[i], builtin[i]);
            ok = false;
        }
    free(builtin);
    free(dispatched);
    return ok;
}

static bool for_each_row_case(bool generic) {
    srand(2024);
    const bool previous = cg_gemm_force_generic(generic);
    bool ok = true;
    for (int dtype = CG_FLOAT32; ok && dtype <= CG_FLOAT64; dtype++)
        for (int transposes = 0; ok && transposes < 4; transposes++)
            for (int ni = 0; ok && ni < ROW_EDGE_SIZE_COUNT; ni++)
                for (int ki = 0; ok && ki < ROW_EDGE_SIZE_COUNT; ki++) {
                    const gemm_case gc = make_gemm_case(transposes & 1, transposes & 2, 1,
                                                        ROW_EDGE_SIZES[ni], ROW_EDGE_SIZES[ki]);
                    ok = check_gemm_case(row_dispatch_is_builtin, (cg_dtype)dtype, &gc);
                }
    cg_gemm_force_generic(previous);
    return ok;
}

TEST(gemm_row_kernel_matches_naive_loop_around_vector_edges) { CHECK(for_each_row_case(false)); }

TEST(gemm_portable_row_kernel_matches_naive_loop_around_vector_edges) {
    CHECK(for_each_row_case(true));
}

/* Several rows of C and at most 12 columns, from op(B) = B^T (an output layer), take the row
 * kernels, in pairs of rows plus a last odd row, also where a CBLAS exists. */
TEST(gemm_products_with_few_columns_take_the_row_kernels) {
    static const int64_t rows[] = {2, 3, 7, 130};
    static const int64_t columns[] = {1, 2, 4, 5, 6, 9, 10, 11, 12};
    srand(2025);
    for (int generic = 0; generic < 2; generic++) {
        const bool previous = cg_gemm_force_generic(generic);
        for (int dtype = CG_FLOAT32; dtype <= CG_FLOAT64; dtype++)
            for (size_t mi = 0; mi < sizeof rows / sizeof rows[0]; mi++)
                for (size_t ni = 0; ni < sizeof columns / sizeof columns[0]; ni++)
                    for (int ki = 0; ki < ROW_EDGE_SIZE_COUNT; ki += 3) {
                        const gemm_case gc =
                            make_gemm_case(false, true, rows[mi], columns[ni], ROW_EDGE_SIZES[ki]);
                        CHECK(check_gemm_case(row_dispatch_is_builtin, (cg_dtype)dtype, &gc));
                    }
        cg_gemm_force_generic(previous);
    }
}

/* Split across 2 or 3 threads, a product must match the naive loop and be bit for bit the
 * product computed on one thread: every element sees the same operations in the same order. */
static bool threads_match_one_thread(cg_dtype dtype, const gemm_case *gc, const double *a,
                                     const double *b, const double *expected,
                                     const double *magnitude) {
    const int saved = cg_get_num_threads();
    double *one = malloc(sizeof(double) * stored_c(gc));
    double *split = malloc(sizeof(double) * stored_c(gc));
    bool ok = one && split && cg_set_num_threads(1) == 0 &&
              run_gemm(dtype, KERNEL_BUILTIN, gc, a, b, one);
    for (int threads = 2; ok && threads <= 3; threads++) {
        ok = cg_set_num_threads(threads) == 0 && run_gemm(dtype, KERNEL_BUILTIN, gc, a, b, split) &&
             gemm_close(dtype, gc, split, expected, magnitude, "threaded vs naive loop", __FILE__,
                        __LINE__);
        for (size_t i = 0; ok && i < stored_c(gc); i++)
            if (!(split[i] == one[i])) {
                test_fail(__FILE__, __LINE__,
                          "%s m=%lld n=%lld k=%lld on %d threads: element %zu = %.17g, on one "
                          "thread %.17g",
                          cg_dtype_name(dtype), (long long)gc->m, (long long)gc->n,
                          (long long)gc->k, threads, i, split[i], one[i]);
                ok = false;
            }
    }
    cg_set_num_threads(saved);
    free(one);
    free(split);
    return ok;
}

TEST(gemm_builtin_splits_across_threads_without_changing_results) {
    /* Split by rows, by columns, with ragged last strips, by pairs of rows for the row kernels
     * (10 columns, an odd row count), and a single row by blocks of columns. */
    static const int64_t shapes[][3] = {
        {257, 70, 130}, {40, 600, 130}, {130, 257, 200}, {257, 10, 784}, {1, 700, 784}};
    srand(99);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t work = shapes[s][0] * shapes[s][1] * shapes[s][2];
        CHECK(work >= 2 * (int64_t)CG_GEMM_MIN_WORK_PER_THREAD); /* or no split happens */
        for (int dtype = CG_FLOAT32; dtype <= CG_FLOAT64; dtype++)
            for (int transposes = 0; transposes < 4; transposes++) {
                const gemm_case gc = make_gemm_case(transposes & 1, transposes & 2, shapes[s][0],
                                                    shapes[s][1], shapes[s][2]);
                CHECK(check_gemm_case(threads_match_one_thread, (cg_dtype)dtype, &gc));
            }
    }
}

/* ----- cg_matmul against numpy.matmul by definition ----- */

/* How an operand is laid out in memory; the values are random either way. */
typedef enum {
    LAYOUT_DENSE,
    LAYOUT_TRANSPOSED,      /* a transposed view of a dense tensor (column-major matrices) */
    LAYOUT_BROADCAST_ROWS,  /* every row the same memory (stride 0) */
    LAYOUT_BROADCAST_COLS,  /* every column the same memory (stride 0) */
    LAYOUT_STEPPED_COLUMNS, /* every other column of a wider tensor (no unit stride) */
} operand_layout;

typedef struct {
    cg_shape shape;
    operand_layout layout;
} operand_spec;

typedef struct {
    operand_spec a, b;
    cg_dtype dtype;
} matmul_case;

/* A tensor of spec.shape laid out as spec.layout (matrix layouts need 2 dims or more). */
static cg_tensor *make_operand(operand_spec spec, cg_dtype dtype) {
    cg_shape base = spec.shape;
    const int last = base.ndim - 1;
    switch (spec.layout) {
    case LAYOUT_DENSE: return cg_randn(base, dtype);
    case LAYOUT_TRANSPOSED:
        base.dims[last] = spec.shape.dims[last - 1];
        base.dims[last - 1] = spec.shape.dims[last];
        return cg_transpose(cg_randn(base, dtype), -1, -2);
    case LAYOUT_BROADCAST_ROWS:
        base.dims[last - 1] = 1;
        return cg_expand(cg_randn(base, dtype), spec.shape);
    case LAYOUT_BROADCAST_COLS:
        base.dims[last] = 1;
        return cg_expand(cg_randn(base, dtype), spec.shape);
    case LAYOUT_STEPPED_COLUMNS:
        base.dims[last] *= 2;
        return cg_slice(cg_randn(base, dtype), -1, 0, base.dims[last], 2);
    }
    return NULL;
}

/* numpy.matmul by definition, reading each element with cg_get: a 1-D left operand is a row,
 * a 1-D right operand a column, and batch dims broadcast. out gets the result in row-major
 * order. */
static void matmul_by_definition(const cg_tensor *a, const cg_tensor *b, double *out) {
    const int an = cg_ndim(a), bn = cg_ndim(b);
    const int64_t m = an == 1 ? 1 : cg_dim(a, -2), k = cg_dim(a, -1);
    const int64_t n = bn == 1 ? 1 : cg_dim(b, -1);
    const int a_batch = an > 2 ? an - 2 : 0, b_batch = bn > 2 ? bn - 2 : 0;
    const int batch_ndim = a_batch > b_batch ? a_batch : b_batch;
    int64_t batch_shape[CG_MAX_DIMS], batch_count = 1;
    for (int d = 0; d < batch_ndim; d++) {
        const int da = d - (batch_ndim - a_batch), db = d - (batch_ndim - b_batch);
        const int64_t sa = da >= 0 ? cg_dim(a, da) : 1, sb = db >= 0 ? cg_dim(b, db) : 1;
        batch_shape[d] = sa > sb ? sa : sb;
        batch_count *= batch_shape[d];
    }
    for (int64_t flat = 0; flat < batch_count; flat++) {
        int64_t ai[CG_MAX_DIMS] = {0}, bi[CG_MAX_DIMS] = {0};
        for (int d = batch_ndim - 1; d >= 0; d--) {
            int64_t stride = 1;
            for (int e = d + 1; e < batch_ndim; e++)
                stride *= batch_shape[e];
            const int64_t index = (flat / stride) % batch_shape[d];
            const int da = d - (batch_ndim - a_batch), db = d - (batch_ndim - b_batch);
            if (da >= 0) ai[da] = cg_dim(a, da) == 1 ? 0 : index;
            if (db >= 0) bi[db] = cg_dim(b, db) == 1 ? 0 : index;
        }
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double sum = 0;
                for (int64_t p = 0; p < k; p++) {
                    if (an == 1) {
                        ai[0] = p;
                    } else {
                        ai[an - 2] = i;
                        ai[an - 1] = p;
                    }
                    if (bn == 1) {
                        bi[0] = p;
                    } else {
                        bi[bn - 2] = p;
                        bi[bn - 1] = j;
                    }
                    sum += cg_get(a, ai) * cg_get(b, bi);
                }
                out[(flat * m + i) * n + j] = sum;
            }
    }
}

/* The shape numpy.matmul gives. */
static cg_shape matmul_shape(cg_shape a, cg_shape b) {
    const int a_batch = a.ndim > 2 ? a.ndim - 2 : 0, b_batch = b.ndim > 2 ? b.ndim - 2 : 0;
    const int batch_ndim = a_batch > b_batch ? a_batch : b_batch;
    cg_shape out = {.ndim = 0};
    for (int d = 0; d < batch_ndim; d++) {
        const int da = d - (batch_ndim - a_batch), db = d - (batch_ndim - b_batch);
        const int64_t sa = da >= 0 ? a.dims[da] : 1, sb = db >= 0 ? b.dims[db] : 1;
        out.dims[out.ndim++] = sa > sb ? sa : sb;
    }
    if (a.ndim > 1) out.dims[out.ndim++] = a.dims[a.ndim - 2];
    if (b.ndim > 1) out.dims[out.ndim++] = b.dims[b.ndim - 1];
    return out;
}

static bool same_shape(cg_shape x, cg_shape y) {
    if (x.ndim != y.ndim) return false;
    for (int d = 0; d < x.ndim; d++)
        if (x.dims[d] != y.dims[d]) return false;
    return true;
}

/* One case through cg_matmul with the kernel chosen by force_builtin; false after reporting. */
static bool check_matmul_case(const matmul_case *mc, bool force_builtin, const char *file,
                              int line) {
    cg_scope_begin();
    cg_tensor *a = make_operand(mc->a, mc->dtype), *b = make_operand(mc->b, mc->dtype);
    const bool previous = cg_gemm_force_builtin(force_builtin);
    cg_tensor *product = cg_matmul(a, b);
    cg_gemm_force_builtin(previous);
    const cg_shape want_shape = matmul_shape(mc->a.shape, mc->b.shape);
    const int64_t count = cg_numel(product);
    double *actual = malloc(sizeof(double) * (size_t)(count ? count : 1));
    double *expected = malloc(sizeof(double) * (size_t)(count ? count : 1));
    char a_text[64], b_text[64];
    cg_shape_format(mc->a.shape, a_text, sizeof a_text);
    cg_shape_format(mc->b.shape, b_text, sizeof b_text);
    bool ok = product && actual && expected && same_shape(cg_tensor_shape(product), want_shape) &&
              cg_copy_to_array(cg_to_dtype(product, CG_FLOAT64), actual,
                               sizeof(double) * (size_t)count) == 0;
    if (!ok) {
        test_fail(file, line,
                  "matmul %s (layout %d) @ %s (layout %d) %s: wrong shape or failed: %s", a_text,
                  mc->a.layout, b_text, mc->b.layout, cg_dtype_name(mc->dtype), cg_last_error());
    } else {
        matmul_by_definition(a, b, expected);
        const int64_t k = cg_dim(a, -1);
        const double tol = (mc->dtype == CG_FLOAT32 ? 1e-5 : 1e-13) * (double)(k + 1);
        for (int64_t i = 0; ok && i < count; i++) {
            if (!(fabs(actual[i] - expected[i]) <= tol * (1.0 + fabs(expected[i])))) {
                test_fail(file, line,
                          "matmul %s (layout %d) @ %s (layout %d) %s, built-in forced %d: "
                          "element %lld = %.10g, expected %.10g",
                          a_text, mc->a.layout, b_text, mc->b.layout, cg_dtype_name(mc->dtype),
                          force_builtin, (long long)i, actual[i], expected[i]);
                ok = false;
            }
        }
    }
    free(actual);
    free(expected);
    cg_scope_end();
    return ok;
}

#define S CG_SHAPE
#define DENSE(...)                                                                                 \
    { S(__VA_ARGS__), LAYOUT_DENSE }
#define OPERAND(layout, ...)                                                                       \
    { S(__VA_ARGS__), layout }

TEST(matmul_matches_definition) {
    const matmul_case cases[] = {
        {DENSE(3, 4), DENSE(4, 5), CG_FLOAT64},
        {DENSE(3, 4), DENSE(4, 5), CG_FLOAT32},
        {DENSE(5), DENSE(5), CG_FLOAT64},
        {DENSE(4), DENSE(4, 3), CG_FLOAT32},
        {DENSE(3, 4), DENSE(4), CG_FLOAT64},
        {DENSE(2, 3, 4), DENSE(2, 4, 5), CG_FLOAT32},
        {DENSE(2, 1, 3, 4), DENSE(3, 4, 2), CG_FLOAT64},
        {DENSE(2, 3, 4), DENSE(4, 5), CG_FLOAT32},
        {DENSE(3, 4), DENSE(2, 4, 5), CG_FLOAT64},
        {DENSE(4), DENSE(2, 4, 3), CG_FLOAT64},
        {DENSE(2, 3, 4), DENSE(4), CG_FLOAT32},
        {DENSE(33, 130), DENSE(130, 7), CG_FLOAT32},
        {DENSE(7, 1), DENSE(1, 33), CG_FLOAT64},
        {DENSE(3, 0), DENSE(0, 4), CG_FLOAT64},
        {DENSE(0, 4), DENSE(4, 3), CG_FLOAT32},
        {OPERAND(LAYOUT_TRANSPOSED, 3, 4), DENSE(4, 5), CG_FLOAT64},
        {DENSE(3, 4), OPERAND(LAYOUT_TRANSPOSED, 4, 5), CG_FLOAT32},
        {OPERAND(LAYOUT_TRANSPOSED, 33, 7), OPERAND(LAYOUT_TRANSPOSED, 7, 130), CG_FLOAT32},
        {OPERAND(LAYOUT_TRANSPOSED, 2, 3, 4), OPERAND(LAYOUT_TRANSPOSED, 2, 4, 5), CG_FLOAT64},
        {OPERAND(LAYOUT_BROADCAST_ROWS, 3, 4), DENSE(4, 5), CG_FLOAT64},
        {DENSE(3, 4), OPERAND(LAYOUT_BROADCAST_ROWS, 4, 5), CG_FLOAT32},
        {OPERAND(LAYOUT_BROADCAST_COLS, 3, 4), DENSE(4, 5), CG_FLOAT32},
        {DENSE(3, 4), OPERAND(LAYOUT_BROADCAST_COLS, 4, 5), CG_FLOAT64},
        {OPERAND(LAYOUT_STEPPED_COLUMNS, 3, 4), OPERAND(LAYOUT_STEPPED_COLUMNS, 4, 5), CG_FLOAT64},
        {OPERAND(LAYOUT_STEPPED_COLUMNS, 2, 3, 4), DENSE(4, 2), CG_FLOAT32},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int forced = 0; forced < 2; forced++)
            if (!check_matmul_case(&cases[c], forced, __FILE__, __LINE__)) return;
}
