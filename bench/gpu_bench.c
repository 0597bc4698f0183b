/* Training throughput and peak device memory of cgrad on a GPU, for the models that
 * bench/gpu_bench_torch.py trains in PyTorch: the MNIST-sized MLPs 784-128-10 and 784-512-256-10
 * and the lab CNN (conv 32 3x3, pool, conv 64 3x3, pool, dense 128, dense 10) at batch 128, and
 * a 4096-wide MLP (4096-4096-4096-10) at batch 1024. Each model trains with Adam on synthetic data
 * resident on the GPU through cg_fit: one epoch to warm up, then whole epochs for at least
 * --seconds. Peak memory is the caching allocator's peak of live bytes over the whole run, data
 * included. Prints CSV: model,samples_per_second,peak_bytes. scripts/gpu-check.sh runs it.
 *
 * Usage: gpu_bench [--device cuda:N] [--seconds S] [--tf32] */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgrad.h"

typedef enum { MLP_SMALL, MLP_MEDIUM, LAB_CNN, MLP_LARGE, MODEL_COUNT } model_kind;

static const struct {
    const char *name;
    int batch_size;
    int batches_per_epoch;
} MODELS[MODEL_COUNT] = {
    [MLP_SMALL] = {"mlp_784_128_10", 128, 60},
    [MLP_MEDIUM] = {"mlp_784_512_256_10", 128, 60},
    [LAB_CNN] = {"lab_cnn", 128, 30},
    [MLP_LARGE] = {"mlp_4096x3_b1024", 1024, 8},
};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static cg_model *make_model(model_kind kind) {
    const cg_conv2d_layer_options relu = {.activation = CG_ACTIVATION_RELU};
    switch (kind) {
    case MLP_SMALL:
        return cg_sequential(cg_layer_dense(128, CG_ACTIVATION_RELU),
                             cg_layer_dense(10, CG_ACTIVATION_NONE));
    case MLP_MEDIUM:
        return cg_sequential(cg_layer_dense(512, CG_ACTIVATION_RELU),
                             cg_layer_dense(256, CG_ACTIVATION_RELU),
                             cg_layer_dense(10, CG_ACTIVATION_NONE));
    case LAB_CNN:
        return cg_sequential(cg_layer_conv2d(32, 3, &relu), cg_layer_max_pool2d(2),
                             cg_layer_conv2d(64, 3, &relu), cg_layer_max_pool2d(2),
                             cg_layer_flatten(), cg_layer_dense(128, CG_ACTIVATION_RELU),
                             cg_layer_dense(10, CG_ACTIVATION_NONE));
    default:
        return cg_sequential(cg_layer_dense(4096, CG_ACTIVATION_RELU),
                             cg_layer_dense(4096, CG_ACTIVATION_RELU),
                             cg_layer_dense(10, CG_ACTIVATION_NONE));
    }
}

static cg_shape sample_shape(model_kind kind) {
    if (kind == LAB_CNN) return CG_SHAPE(1, 28, 28);
    return kind == MLP_LARGE ? CG_SHAPE(4096) : CG_SHAPE(784);
}

static int fail(const char *what) {
    fprintf(stderr, "gpu_bench: %s: %s\n", what, cg_last_error());
    return 1;
}

/* Trains model kind on device; fills samples per second and the peak. 0 or 1. */
static int run(model_kind kind, cg_device device, double seconds, double *rate, size_t *peak) {
    const int64_t samples = (int64_t)MODELS[kind].batch_size * MODELS[kind].batches_per_epoch;
    if (cg_cuda_memory_reset_peak(device.index) != 0) return fail("reset peak");
    cg_manual_seed(1);
    const cg_shape one = sample_shape(kind);
    cg_shape all = {.ndim = one.ndim + 1, .dims = {samples}};
    for (int d = 0; d < one.ndim; d++)
        all.dims[d + 1] = one.dims[d];
    cg_scope_begin();
    cg_tensor *x = cg_to_device(cg_randn(all, CG_FLOAT32), device);
    cg_tensor *y = cg_to_device(cg_randint(0, 10, CG_SHAPE(samples), CG_INT64), device);
    cg_model *model = make_model(kind);
    int status = x && y && model && cg_model_build(model, one) == 0 &&
                         cg_model_to_device(model, device) == 0 &&
                         cg_compile(model, cg_adam(1e-3), CG_LOSS_CROSS_ENTROPY, 0) == 0
                     ? 0
                     : fail(MODELS[kind].name);
    cg_fit_options options = {
        .epochs = 1, .batch_size = MODELS[kind].batch_size, .verbose = CG_VERBOSE_SILENT};
    cg_history *warm_up = status == 0 ? cg_fit(model, x, y, &options) : NULL;
    if (status == 0 && !warm_up) status = fail("warm-up epoch");
    cg_history_free(warm_up);
    int epochs = 0;
    const double start = now();
    double elapsed = 0;
    while (status == 0 && elapsed < seconds) {
        options.seed = (uint64_t)epochs + 2;
        cg_history *history = cg_fit(model, x, y, &options);
        if (!history) status = fail("training");
        cg_history_free(history);
        epochs++;
        elapsed = now() - start;
    }
    cg_memory_stats stats;
    if (status == 0 && cg_cuda_memory_stats(device.index, &stats) != 0) status = fail("stats");
    if (status == 0) {
        *rate = (double)(epochs * samples) / elapsed;
        *peak = stats.peak_live_bytes;
    }
    cg_model_free(model);
    cg_scope_end();
    return status;
}

int main(int argc, char **argv) {
    cg_device device = cg_device_cuda(0);
    double seconds = 2.0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) {
            if (cg_device_parse(argv[++i], &device) != 0) return fail("--device");
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else if (strcmp(argv[i], "--tf32") == 0) {
            cg_set_tf32_enabled(true);
        } else {
            fprintf(stderr, "usage: gpu_bench [--device cuda:N] [--seconds S] [--tf32]\n");
            return 2;
        }
    }
    if (device.type != CG_DEVICE_CUDA || cg_cuda_device_count() <= device.index)
        return fail("no GPU to benchmark");
    printf("model,samples_per_second,peak_bytes\n");
    for (int kind = 0; kind < MODEL_COUNT; kind++) {
        double rate;
        size_t peak;
        if (run((model_kind)kind, device, seconds, &rate, &peak) != 0) return 1;
        printf("%s,%.1f,%zu\n", MODELS[kind].name, rate, peak);
        fflush(stdout);
    }
    return 0;
}
