/* The GEMM entry points: the CBLAS bridge, and the built-in product in the Goto/BLIS scheme.
 *
 * For each nc-column block of op(B) and each kc-deep slice of it, the slice is packed into
 * nr-column panels; then for each mc-row block of op(A) the block is packed into mr-row panels,
 * and the micro-kernel multiplies every pair of panels into an mr x nr tile of C. The first
 * slice overwrites C, the later ones add to it. Tiles that stick out of C are computed into a
 * scratch tile and the part inside C is copied out, so one kernel serves every size. Blocks are
 * balanced (784 = 4 x 196 rather than 3 x 256 + 16), so no block is a thin leftover. */
#define _POSIX_C_SOURCE 200809L

#include "backend/cpu/gemm.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/gemm_kernel.h"
#include "core/thread_pool.h"

#ifdef CG_HAVE_CBLAS
#include <cblas.h>
#endif

static _Thread_local bool builtin_forced, generic_forced;

bool cg_gemm_has_blas(void) {
#ifdef CG_HAVE_CBLAS
    return true;
#else
    return false;
#endif
}

bool cg_gemm_force_builtin(bool force) {
    bool previous = builtin_forced;
    builtin_forced = force;
    return previous;
}

bool cg_gemm_force_generic(bool force) {
    bool previous = generic_forced;
    generic_forced = force;
    return previous;
}

/* ----- choosing the micro-kernels ----- */

static pthread_once_t kernels_chosen = PTHREAD_ONCE_INIT;
static const cg_gemm_kernel_set *native_kernels;

static void choose_kernels(void) {
    native_kernels = cg_gemm_avx2_kernels();
    if (!native_kernels) native_kernels = &cg_gemm_generic_kernels;
}

static const cg_gemm_kernel_set *kernel_set(void) {
    if (generic_forced) return &cg_gemm_generic_kernels;
    pthread_once(&kernels_chosen, choose_kernels);
    return native_kernels;
}

const char *cg_gemm_kernel_name(void) { return kernel_set()->name; }

/* ----- the product and the per-dtype pieces ----- */

/* C = op(A) op(B), with byte addresses so the blocking code serves every dtype. */
typedef struct {
    bool trans_a, trans_b;
    int64_t m, n, k;
    const char *a, *b;
    char *c;
    int64_t lda, ldb, ldc;
} gemm_problem;

typedef struct {
    size_t element_size;
    /* C (rows x cols) = or += the top-left of a scratch tile whose rows are tile_width long. */
    void (*store_tile)(const void *tile, int tile_width, void *c, int64_t ldc, int64_t rows,
                       int64_t cols, bool accumulate);
    /* The whole product by the direct loop, which needs no memory. */
    void (*multiply_directly)(const gemm_problem *problem);
    /* The whole product by the CBLAS on the calling thread; NULL in a build without one. */
    void (*multiply_blas)(const gemm_problem *problem);
} element_ops;

#define DEFINE_STORE_TILE(T, SUFFIX)                                                               \
    static void store_tile_##SUFFIX(const void *tile, int tile_width, void *c, int64_t ldc,        \
                                    int64_t rows, int64_t cols, bool accumulate) {                 \
        const T *source = tile;                                                                    \
        T *out = c;                                                                                \
        for (int64_t i = 0; i < rows; i++)                                                         \
            for (int64_t j = 0; j < cols; j++)                                                     \
                out[i * ldc + j] = accumulate ? out[i * ldc + j] + source[i * tile_width + j]      \
                                              : source[i * tile_width + j];                        \
    }

/* The direct loop: an i-p-j order whose inner loop streams a row of op(B) into a row of C, read
 * through strides so transposed operands need no copy. */
#define DEFINE_MULTIPLY_DIRECTLY(T, SUFFIX)                                                        \
    static void multiply_directly_##SUFFIX(const gemm_problem *pr) {                               \
        const T *a = (const T *)pr->a, *b = (const T *)pr->b;                                      \
        T *c = (T *)pr->c;                                                                         \
        const int64_t a_row = pr->trans_a ? 1 : pr->lda, a_col = pr->trans_a ? pr->lda : 1;        \
        const int64_t b_row = pr->trans_b ? 1 : pr->ldb, b_col = pr->trans_b ? pr->ldb : 1;        \
        for (int64_t i = 0; i < pr->m; i++) {                                                      \
            T *c_row = c + i * pr->ldc;                                                            \
            memset(c_row, 0, sizeof(T) * (size_t)pr->n);                                           \
            for (int64_t p = 0; p < pr->k; p++) {                                                  \
                const T a_ip = a[i * a_row + p * a_col];                                           \
                const T *b_row_p = b + p * b_row;                                                  \
                if (b_col == 1)                                                                    \
                    for (int64_t j = 0; j < pr->n; j++)                                            \
                        c_row[j] += a_ip * b_row_p[j];                                             \
                else                                                                               \
                    for (int64_t j = 0; j < pr->n; j++)                                            \
                        c_row[j] += a_ip * b_row_p[j * b_col];                                     \
            }                                                                                      \
        }                                                                                          \
    }

#ifdef CG_HAVE_CBLAS
#define BLAS_TRANSPOSE(flag) ((flag) ? CblasTrans : CblasNoTrans)
#define DEFINE_MULTIPLY_BLAS(T, SUFFIX, GEMM)                                                      \
    static void multiply_blas_##SUFFIX(const gemm_problem *pr) {                                   \
        GEMM(CblasRowMajor, BLAS_TRANSPOSE(pr->trans_a), BLAS_TRANSPOSE(pr->trans_b), (int)pr->m,  \
             (int)pr->n, (int)pr->k, 1, (const T *)pr->a, (int)pr->lda, (const T *)pr->b,          \
             (int)pr->ldb, 0, (T *)pr->c, (int)pr->ldc);                                           \
    }
DEFINE_MULTIPLY_BLAS(float, f32, cblas_sgemm)
DEFINE_MULTIPLY_BLAS(double, f64, cblas_dgemm)
#define MULTIPLY_BLAS(SUFFIX) multiply_blas_##SUFFIX
#else
#define MULTIPLY_BLAS(SUFFIX) NULL
#endif

#define DEFINE_ELEMENT_OPS(T, SUFFIX)                                                              \
    DEFINE_STORE_TILE(T, SUFFIX)                                                                   \
    DEFINE_MULTIPLY_DIRECTLY(T, SUFFIX)                                                            \
    static const element_ops SUFFIX##_ops = {sizeof(T), store_tile_##SUFFIX,                       \
                                             multiply_directly_##SUFFIX, MULTIPLY_BLAS(SUFFIX)};

DEFINE_ELEMENT_OPS(float, f32)
DEFINE_ELEMENT_OPS(double, f64)

/* ----- packing buffers ----- */

/* Each thread keeps its packing buffer, grown on demand, so a steady stream of products allocates
 * nothing; the buffer is freed when its thread exits. */
static pthread_once_t workspace_key_created = PTHREAD_ONCE_INIT;
static pthread_key_t workspace_key;
static bool workspace_key_usable;
static _Thread_local size_t workspace_bytes;

static void create_workspace_key(void) {
    workspace_key_usable = pthread_key_create(&workspace_key, free) == 0;
}

/* A 64-byte aligned buffer of at least bytes for this thread; NULL when memory is short. */
static char *workspace(size_t bytes) {
    pthread_once(&workspace_key_created, create_workspace_key);
    if (!workspace_key_usable) return NULL;
    char *current = pthread_getspecific(workspace_key);
    if (bytes <= workspace_bytes) return current;
    const size_t rounded = (bytes + 63) / 64 * 64;
    char *grown = aligned_alloc(64, rounded);
    if (!grown || pthread_setspecific(workspace_key, grown) != 0) {
        free(grown);
        return NULL;
    }
    free(current);
    workspace_bytes = rounded;
    return grown;
}

/* ----- blocking ----- */

static int64_t min64(int64_t x, int64_t y) { return x < y ? x : y; }
static int64_t round_up(int64_t x, int64_t unit) { return (x + unit - 1) / unit * unit; }

/* The size of the blocks that cut length into as few blocks of at most block as possible, all
 * about equal, rounded up to a multiple of unit (block is one too). */
static int64_t balanced_block(int64_t length, int64_t block, int64_t unit) {
    const int64_t count = (length + block - 1) / block;
    return round_up((length + count - 1) / count, unit);
}

/* The address of op(X)[row][col]. */
static const char *element_at(const char *x, int64_t ld, bool trans, int64_t row, int64_t col,
                              size_t element_size) {
    return x + (size_t)(trans ? col * ld + row : row * ld + col) * element_size;
}

/* Multiplies a packed mc x kc block of A by a packed kc x nc block of B into C. The B panel stays
 * in L1 while the loop runs down the A panels. */
static void multiply_packed(const cg_gemm_kernel *kernel, const element_ops *ops, int64_t mc,
                            int64_t nc, int64_t kc, const char *packed_a, const char *packed_b,
                            char *c, int64_t ldc, bool accumulate) {
    _Alignas(64) char tile[CG_GEMM_MAX_TILE_BYTES];
    const size_t size = ops->element_size;
    for (int64_t jr = 0; jr < nc; jr += kernel->nr) {
        const int64_t cols = min64(kernel->nr, nc - jr);
        const char *b_panel = packed_b + (size_t)(jr * kc) * size;
        for (int64_t ir = 0; ir < mc; ir += kernel->mr) {
            const int64_t rows = min64(kernel->mr, mc - ir);
            const char *a_panel = packed_a + (size_t)(ir * kc) * size;
            char *c_tile = c + (size_t)(ir * ldc + jr) * size;
            if (rows == kernel->mr && cols == kernel->nr) {
                kernel->multiply(kc, a_panel, b_panel, c_tile, ldc, accumulate);
            } else {
                kernel->multiply(kc, a_panel, b_panel, tile, kernel->nr, false);
                ops->store_tile(tile, kernel->nr, c_tile, ldc, rows, cols, accumulate);
            }
        }
    }
}

static void multiply_blocked(const cg_gemm_kernel *kernel, const element_ops *ops,
                             const gemm_problem *pr) {
    const size_t size = ops->element_size;
    const int64_t kc_block = balanced_block(pr->k, kernel->kc, 1);
    const int64_t mc_block = balanced_block(pr->m, kernel->mc, kernel->mr);
    const int64_t nc_block = balanced_block(pr->n, kernel->nc, kernel->nr);
    const size_t a_bytes = (size_t)(mc_block * kc_block) * size;
    char *packed_a = workspace(a_bytes + (size_t)(kc_block * nc_block) * size);
    if (!packed_a) {
        ops->multiply_directly(pr);
        return;
    }
    char *packed_b = packed_a + a_bytes;
    for (int64_t jc = 0; jc < pr->n; jc += nc_block) {
        const int64_t nc = min64(nc_block, pr->n - jc);
        for (int64_t pc = 0; pc < pr->k; pc += kc_block) {
            const int64_t kc = min64(kc_block, pr->k - pc);
            /* op(B)'s columns are the rows of op(B) transposed. */
            kernel->pack(!pr->trans_b, element_at(pr->b, pr->ldb, pr->trans_b, pc, jc, size),
                         pr->ldb, nc, kc, kernel->nr, packed_b);
            for (int64_t ic = 0; ic < pr->m; ic += mc_block) {
                const int64_t mc = min64(mc_block, pr->m - ic);
                kernel->pack(pr->trans_a, element_at(pr->a, pr->lda, pr->trans_a, ic, pc, size),
                             pr->lda, mc, kc, kernel->mr, packed_a);
                multiply_packed(kernel, ops, mc, nc, kc, packed_a, packed_b,
                                pr->c + (size_t)(ic * pr->ldc + jc) * size, pr->ldc, pc > 0);
            }
        }
    }
}

/* ----- threads ----- */

/* A product split into strips of C, whole tiles wide (columns) or high (rows); each thread
 * multiplies its strips with its own packing buffers, or hands them to the CBLAS on its own
 * thread. */
typedef struct {
    const cg_gemm_kernel *kernel;
    const element_ops *ops;
    const gemm_problem *whole;
    bool split_columns, through_blas;
} split_product;

static void multiply_strips(int64_t begin, int64_t end, void *ctx) {
    const split_product *split = ctx;
    const gemm_problem *whole = split->whole;
    gemm_problem part = *whole;
    const size_t size = split->ops->element_size;
    if (split->split_columns) {
        const int64_t first = begin * split->kernel->nr;
        part.n = min64(end * split->kernel->nr, whole->n) - first;
        part.b = element_at(whole->b, whole->ldb, whole->trans_b, 0, first, size);
        part.c = whole->c + (size_t)first * size;
    } else {
        const int64_t first = begin * split->kernel->mr;
        part.m = min64(end * split->kernel->mr, whole->m) - first;
        part.a = element_at(whole->a, whole->lda, whole->trans_a, first, 0, size);
        part.c = whole->c + (size_t)(first * whole->ldc) * size;
    }
    if (split->through_blas)
        split->ops->multiply_blas(&part);
    else
        multiply_blocked(split->kernel, split->ops, &part);
}

/* The fewest of items, work_per_item multiply-adds each, worth a thread of their own: enough for
 * min_work; all of them when an item has no work (an empty product runs on one thread). */
static int64_t grain_of(int64_t min_work, int64_t work_per_item, int64_t items) {
    return work_per_item > 0 ? (min_work + work_per_item - 1) / work_per_item : items;
}

/* Splits C into strips across the threads, each strip at least CG_GEMM_MIN_WORK_PER_THREAD
 * multiply-adds, and multiplies them by the built-in kernel or the CBLAS. */
static void multiply_split(const element_ops *ops, const cg_gemm_kernel *kernel,
                           const gemm_problem *pr, bool through_blas) {
    const int64_t row_tiles = (pr->m + kernel->mr - 1) / kernel->mr;
    const int64_t col_tiles = (pr->n + kernel->nr - 1) / kernel->nr;
    /* Each strip packs all of the operand the split does not cut, so cut the larger one (B's
     * columns when A is no larger), unless it is a single tile. */
    const bool split_columns = (pr->m <= pr->n && col_tiles > 1) || row_tiles == 1;
    const split_product split = {kernel, ops, pr, split_columns, through_blas};
    const int64_t tiles = split.split_columns ? col_tiles : row_tiles;
    cg_parallel_for(tiles,
                    grain_of(CG_GEMM_MIN_WORK_PER_THREAD, pr->m * pr->n * pr->k / tiles, tiles),
                    multiply_strips, (void *)&split);
}

/* Products whose rows of C are computed without packing (the row kernels): a single row (a vector
 * times a matrix, as in predicting one sample), which reads op(B) once where packing would copy it
 * first; and, with op(B) = B^T, products with few columns of C (a classifier's output layer),
 * where packing op(A) would cost as much as the product. */
enum { ROW_KERNEL_MAX_COLUMNS = 12 };

static bool by_rows(const gemm_problem *pr) {
    return pr->m == 1 || (pr->trans_b && !pr->trans_a && pr->n <= ROW_KERNEL_MAX_COLUMNS);
}

/* A product by rows split across threads: by pairs of rows, so that a thread's share starts on a
 * row pair, as the kernels take them; a single row (x, contiguous) by blocks of ROW_SPLIT_COLUMNS
 * columns. */
typedef struct {
    const cg_gemm_kernel *kernel;
    const element_ops *ops;
    const gemm_problem *whole;
    const char *x;
} rows_job;

/* A one-row product reads each element of op(B) once and little else, so it is bound by memory
 * and a second core pays off at half the work the packed kernel needs per thread: the dense
 * layer of a small CNN predicting one sample (1600 x 128) splits in two. */
enum { ROW_SPLIT_COLUMNS = 16, MIN_ROW_WORK_PER_THREAD = CG_GEMM_MIN_WORK_PER_THREAD / 2 };

static void multiply_row_columns(int64_t begin, int64_t end, void *ctx) {
    const rows_job *job = ctx;
    const gemm_problem *pr = job->whole;
    const size_t size = job->ops->element_size;
    const int64_t first = begin * ROW_SPLIT_COLUMNS;
    const int64_t columns = min64(end * ROW_SPLIT_COLUMNS, pr->n) - first;
    const int64_t b_offset = pr->trans_b ? first * pr->ldb : first;
    job->kernel->multiply_rows(pr->trans_b, 1, columns, pr->k, job->x, pr->k,
                               pr->b + (size_t)b_offset * size, pr->ldb,
                               pr->c + (size_t)first * size, pr->ldc);
}

static void multiply_row_pairs(int64_t begin, int64_t end, void *ctx) {
    const rows_job *job = ctx;
    const gemm_problem *pr = job->whole;
    const size_t size = job->ops->element_size;
    const int64_t first = 2 * begin, last = min64(2 * end, pr->m);
    job->kernel->multiply_rows(pr->trans_b, last - first, pr->n, pr->k,
                               pr->a + (size_t)(first * pr->lda) * size, pr->lda, pr->b, pr->ldb,
                               pr->c + (size_t)(first * pr->ldc) * size, pr->ldc);
}

/* The row kernels take rows of contiguous elements, so the row of a one-row op(A) that lies across
 * memory (trans_a) is gathered into this thread's buffer first. */
static void multiply_rows(const cg_gemm_kernel *kernel, const element_ops *ops,
                          const gemm_problem *pr) {
    const size_t size = ops->element_size;
    if (pr->m == 1) {
        const char *x = pr->a;
        if (pr->trans_a && pr->lda != 1 && pr->k > 1) {
            char *gathered = workspace((size_t)pr->k * size);
            if (!gathered) {
                ops->multiply_directly(pr);
                return;
            }
            for (int64_t p = 0; p < pr->k; p++)
                memcpy(gathered + (size_t)p * size, pr->a + (size_t)(p * pr->lda) * size, size);
            x = gathered;
        }
        const rows_job job = {kernel, ops, pr, x};
        const int64_t blocks = (pr->n + ROW_SPLIT_COLUMNS - 1) / ROW_SPLIT_COLUMNS;
        cg_parallel_for(blocks,
                        grain_of(MIN_ROW_WORK_PER_THREAD, ROW_SPLIT_COLUMNS * pr->k, blocks),
                        multiply_row_columns, (void *)&job);
        return;
    }
    const rows_job job = {kernel, ops, pr, pr->a};
    const int64_t pairs = (pr->m + 1) / 2;
    cg_parallel_for(pairs, grain_of(CG_GEMM_MIN_WORK_PER_THREAD, 2 * pr->n * pr->k, pairs),
                    multiply_row_pairs, (void *)&job);
}

static void multiply_builtin(const element_ops *ops, const cg_gemm_kernel *kernel,
                             const gemm_problem *pr) {
    if (pr->m <= 0 || pr->n <= 0) return;
    if (by_rows(pr)) {
        multiply_rows(kernel, ops, pr);
        return;
    }
    const int64_t work = pr->m * pr->n * pr->k;
    if (work < CG_GEMM_SMALL_PRODUCT) {
        ops->multiply_directly(pr);
        return;
    }
    multiply_split(ops, kernel, pr, false);
}

#define DEFINE_BUILTIN_GEMM(T, SUFFIX)                                                             \
    void cg_gemm_builtin_##SUFFIX(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,     \
                                  const T *a, int64_t lda, const T *b, int64_t ldb, T *c,          \
                                  int64_t ldc) {                                                   \
        const gemm_problem problem = {trans_a,         trans_b,   m,   n,   k,  (const char *)a,   \
                                      (const char *)b, (char *)c, lda, ldb, ldc};                  \
        multiply_builtin(&SUFFIX##_ops, &kernel_set()->SUFFIX, &problem);                          \
    }

DEFINE_BUILTIN_GEMM(float, f32)
DEFINE_BUILTIN_GEMM(double, f64)

/* ----- dispatch ----- */

/* The CBLAS runs on one thread (OpenBLAS is told so before its first product) and cgrad's pool
 * splits its products, so a program has one set of worker threads: OpenBLAS's own workers would
 * keep spinning after each product and take the core that cgrad's next parallel kernel needs. A
 * CBLAS's gemm packs its operands even for a single row of C or a few columns, which costs more
 * than the whole product by the built-in row kernels, so those products stay built in. */
static pthread_once_t blas_threads_pinned = PTHREAD_ONCE_INIT;

static void pin_blas_threads(void) {
#ifdef CG_HAVE_OPENBLAS_THREADS
    openblas_set_num_threads(1);
#endif
}

static bool through_blas(const gemm_problem *pr) {
    if (!cg_gemm_has_blas() || builtin_forced || pr->m <= 0 || pr->n <= 0 || by_rows(pr))
        return false;
    pthread_once(&blas_threads_pinned, pin_blas_threads);
    return true;
}

#define DEFINE_GEMM(T, SUFFIX)                                                                     \
    void cg_gemm_##SUFFIX(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const T *a, \
                          int64_t lda, const T *b, int64_t ldb, T *c, int64_t ldc) {               \
        const gemm_problem problem = {trans_a,         trans_b,   m,   n,   k,  (const char *)a,   \
                                      (const char *)b, (char *)c, lda, ldb, ldc};                  \
        if (through_blas(&problem))                                                                \
            multiply_split(&SUFFIX##_ops, &kernel_set()->SUFFIX, &problem, true);                  \
        else                                                                                       \
            multiply_builtin(&SUFFIX##_ops, &kernel_set()->SUFFIX, &problem);                      \
    }

DEFINE_GEMM(float, f32)
DEFINE_GEMM(double, f64)
