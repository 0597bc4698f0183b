/* GFLOP/s of the built-in matrix product and of the CBLAS (when cgrad was built with one) at the
 * products of the Fashion-MNIST MLPs (784-128-10 and 784-512-256-10, batch 32 and 128: forward
 * x W^T, backward dY W and dY^T X) and at 1024^3, with 1 and 2 threads. Each figure is the
 * median of several timed samples. Prints a Markdown table.
 *
 * Usage: matmul_bench [--samples N] [--portable] [name filter]
 *   --samples N  timed samples per figure (default 7)
 *   --portable   the built-in product with its portable micro-kernel, as on a CPU without AVX2 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/cpu/gemm.h"
#include "cgrad.h"

typedef struct {
    char name[48];
    bool trans_a, trans_b;
    int64_t m, n, k;
} product;

typedef enum { BUILTIN, BLAS, IMPLEMENTATION_COUNT } implementation;

enum { MAX_PRODUCTS = 64, MAX_SAMPLES = 99 };
/* Each sample repeats the product for at least this long, so timer resolution does not matter. */
static const double SAMPLE_SECONDS = 0.02;
/* Longer than OpenBLAS's idle threads spin (2^28 cycles by default). */
enum { PAUSE_NANOSECONDS = 300 * 1000 * 1000 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The three products of a dense layer in -> out at a batch: forward, input and weight grads. */
static int add_layer(product *list, int count, int64_t batch, int64_t in, int64_t out) {
    const product layer[3] = {
        {"", false, true, batch, out, in},  /* Y = X W^T */
        {"", false, false, batch, in, out}, /* dX = dY W */
        {"", true, false, out, in, batch},  /* dW = dY^T X */
    };
    const char *kind[3] = {"fwd X W^T", "bwd dY W", "bwd dY^T X"};
    for (int i = 0; i < 3; i++) {
        list[count] = layer[i];
        snprintf(list[count].name, sizeof list[count].name, "B%lld %lld-%lld %s", (long long)batch,
                 (long long)in, (long long)out, kind[i]);
        count++;
    }
    return count;
}

static int mlp_products(product *list) {
    static const int64_t layers[][2] = {{784, 128}, {128, 10}, {784, 512}, {512, 256}, {256, 10}};
    static const int64_t batches[] = {32, 128};
    int count = 0;
    for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++)
        for (size_t l = 0; l < sizeof layers / sizeof layers[0]; l++)
            count = add_layer(list, count, batches[b], layers[l][0], layers[l][1]);
    return count;
}

typedef struct {
    const product *shape;
    float *a, *b, *c;
} operands;

static void multiply(implementation impl, const operands *o) {
    const product *p = o->shape;
    const int64_t lda = p->trans_a ? p->m : p->k, ldb = p->trans_b ? p->k : p->n;
    const bool previous = cg_gemm_force_builtin(impl == BUILTIN);
    cg_gemm_f32(p->trans_a, p->trans_b, p->m, p->n, p->k, o->a, lda, o->b, ldb, o->c, p->n);
    cg_gemm_force_builtin(previous);
}

/* Seconds per product over one sample of reps repetitions. */
static double sample(implementation impl, const operands *o, int reps) {
    const double start = now();
    for (int r = 0; r < reps; r++)
        multiply(impl, o);
    return (now() - start) / reps;
}

/* Repetitions that make a sample last about SAMPLE_SECONDS. */
static int calibrate(implementation impl, const operands *o) {
    multiply(impl, o); /* warm caches, pools and packing buffers */
    int reps = 1;
    double elapsed;
    while ((elapsed = sample(impl, o, reps) * reps) < SAMPLE_SECONDS / 4 && reps < (1 << 24))
        reps *= 2;
    const int wanted = (int)(SAMPLE_SECONDS / (elapsed / reps)) + 1;
    return wanted > reps ? wanted : reps;
}

static int compare_doubles(const void *x, const void *y) {
    const double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double median(double *values, int count) {
    qsort(values, (size_t)count, sizeof(double), compare_doubles);
    return count % 2 ? values[count / 2] : 0.5 * (values[count / 2 - 1] + values[count / 2]);
}

enum { MAX_THREADS_MEASURED = 2 };

/* Median GFLOP/s of each implementation (BLAS left 0 without one) with 1 and 2 threads. Each
 * implementation is measured on its own, after a pause: OpenBLAS's threads keep spinning for a
 * while after a product, which would take the core the other implementation's second thread
 * needs. Its two thread counts take turns sample by sample. */
static void measure(const operands *o, int samples,
                    double gflops[MAX_THREADS_MEASURED][IMPLEMENTATION_COUNT]) {
    const int implementations = cg_gemm_has_blas() ? IMPLEMENTATION_COUNT : 1;
    const double flop = 2.0 * (double)(o->shape->m * o->shape->n * o->shape->k);
    for (int impl = 0; impl < IMPLEMENTATION_COUNT; impl++) {
        if (impl >= implementations) {
            gflops[0][impl] = gflops[1][impl] = 0;
            continue;
        }
        nanosleep(&(struct timespec){.tv_nsec = PAUSE_NANOSECONDS}, NULL);
        int reps[MAX_THREADS_MEASURED];
        double rates[MAX_THREADS_MEASURED][MAX_SAMPLES];
        for (int t = 0; t < MAX_THREADS_MEASURED; t++) {
            cg_set_num_threads(t + 1);
            reps[t] = calibrate((implementation)impl, o);
        }
        for (int s = 0; s < samples; s++)
            for (int t = 0; t < MAX_THREADS_MEASURED; t++) {
                cg_set_num_threads(t + 1);
                rates[t][s] = flop / sample((implementation)impl, o, reps[t]) * 1e-9;
            }
        for (int t = 0; t < MAX_THREADS_MEASURED; t++)
            gflops[t][impl] = median(rates[t], samples);
    }
}

static float *random_floats(int64_t count) {
    float *x = malloc(sizeof(float) * (size_t)count);
    for (int64_t i = 0; x && i < count; i++)
        x[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    return x;
}

static bool run(const product *p, int samples) {
    operands o = {p, random_floats(p->m * p->k), random_floats(p->k * p->n),
                  random_floats(p->m * p->n)};
    const bool ok = o.a && o.b && o.c;
    if (ok) {
        double gflops[MAX_THREADS_MEASURED][IMPLEMENTATION_COUNT];
        measure(&o, samples, gflops);
        printf("| %-26s | %5lld | %5lld | %5lld | %11.1f | %11.1f |", p->name, (long long)p->m,
               (long long)p->n, (long long)p->k, gflops[0][BUILTIN], gflops[1][BUILTIN]);
        if (cg_gemm_has_blas())
            printf(" %7.1f | %7.1f | %7.0f%% | %7.0f%% |", gflops[0][BLAS], gflops[1][BLAS],
                   100 * gflops[0][BUILTIN] / gflops[0][BLAS],
                   100 * gflops[1][BUILTIN] / gflops[1][BLAS]);
        printf("\n");
        fflush(stdout);
    }
    free(o.a);
    free(o.b);
    free(o.c);
    return ok;
}

int main(int argc, char **argv) {
    int samples = 7;
    const char *filter = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc)
            samples = atoi(argv[++i]);
        else if (strcmp(argv[i], "--portable") == 0)
            cg_gemm_force_generic(true);
        else
            filter = argv[i];
    }
    if (samples < 1 || samples > MAX_SAMPLES) {
        fprintf(stderr, "matmul_bench: --samples takes 1 to %d\n", MAX_SAMPLES);
        return 2;
    }
    product products[MAX_PRODUCTS];
    int count = mlp_products(products);
    products[count++] = (product){"square 1024", false, false, 1024, 1024, 1024};

    const int default_threads = cg_get_num_threads();
    printf("float32, built-in kernel: %s; CBLAS: %s; %d samples each, median GFLOP/s\n\n",
           cg_gemm_kernel_name(), cg_gemm_has_blas() ? "yes" : "none in this build", samples);
    printf("| product                    |     M |     N |     K | built-in 1T | built-in 2T |");
    if (cg_gemm_has_blas()) printf(" BLAS 1T | BLAS 2T | 1T ratio | 2T ratio |");
    printf("\n|---|---:|---:|---:|---:|---:|%s\n",
           cg_gemm_has_blas() ? "---:|---:|---:|---:|" : "");
    srand(1);
    for (int i = 0; i < count; i++)
        if ((!filter || strstr(products[i].name, filter)) && !run(&products[i], samples)) {
            fprintf(stderr, "matmul_bench: out of memory\n");
            return 1;
        }
    cg_set_num_threads(default_threads);
    return 0;
}
