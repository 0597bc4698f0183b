/* Data-parallel scaling of cg_fit_dataset: samples/s of training the MNIST-sized MLP
 * 784-512-256-10 and the lab CNN (conv 32 3x3, pool, conv 64 3x3, pool, dense 128, dense 10) on
 * MNIST-format images, one CPU thread per rank, batch --batch (64) per rank, SGD with momentum. Run
 * it under mpirun with 1 and with 2 ranks (bench/distributed_scaling.sh does both and prints the
 * speed-up). Each model trains one epoch over --samples images to warm up, then --epochs timed
 * epochs; the figure is the samples of the timed epochs over their wall time on rank 0, between
 * barriers. The communication share is the time of one all-reduce of the model's gradients (timed
 * alone, median of 21) over the time of one step. The exposed share is what a step of the timed
 * epochs spent on the gradients after its backward pass returned (the whole all-reduce, or, when
 * it overlaps the pass, the buckets left, the wait for all and the unpacking), waiting for the
 * other ranks included; "early" is the share of the buckets started during the pass (0 without
 * overlap: CGRAD_GRADIENT_OVERLAP=0). Prints one Markdown row per model from rank 0.
 *
 * Usage: mpirun -np N distributed_bench [--data DIR] [--samples N] [--epochs E] [--batch B]
 * [--models mlp,cnn]   (DIR holds train-images-idx3-ubyte[.gz] or t10k-...; default: $CGRAD_DATA)
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgrad.h"
#include "nn/fit_distributed.h"

enum { TIMING_REPEATS = 21 };

static double now_seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

static cg_model *make_model(const char *name) {
    if (!strcmp(name, "mlp"))
        return cg_sequential(cg_layer_flatten(), cg_layer_dense(512, CG_ACTIVATION_RELU),
                             cg_layer_dense(256, CG_ACTIVATION_RELU),
                             cg_layer_dense(10, CG_ACTIVATION_NONE));
    const cg_conv2d_layer_options relu = {.activation = CG_ACTIVATION_RELU};
    return cg_sequential(cg_layer_conv2d(32, 3, &relu), cg_layer_max_pool2d(2),
                         cg_layer_conv2d(64, 3, &relu), cg_layer_max_pool2d(2), cg_layer_flatten(),
                         cg_layer_dense(128, CG_ACTIVATION_RELU),
                         cg_layer_dense(10, CG_ACTIVATION_NONE));
}

static int compare_doubles(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Seconds of one all-reduce of tensors shaped like the model's parameters (median). */
static double all_reduce_seconds(const cg_model *model) {
    int count = 0;
    cg_tensor *const *parameters = cg_model_parameters(model, &count);
    cg_tensor **grads = malloc(sizeof(cg_tensor *) * (size_t)count);
    double samples[TIMING_REPEATS];
    cg_scope_begin();
    for (int i = 0; i < count; i++)
        grads[i] = cg_ones(cg_tensor_shape(parameters[i]), CG_FLOAT32);
    for (int r = 0; r < TIMING_REPEATS; r++) {
        cg_distributed_barrier();
        const double start = now_seconds();
        cg_distributed_all_reduce(grads, count, CG_ALL_REDUCE_SUM);
        samples[r] = now_seconds() - start;
    }
    cg_scope_end();
    free(grads);
    qsort(samples, TIMING_REPEATS, sizeof samples[0], compare_doubles);
    return samples[TIMING_REPEATS / 2];
}

static int bench_model(const char *name, const cg_dataset *data, int epochs, int batch_per_rank) {
    cg_manual_seed(1);
    cg_model *model = make_model(name);
    if (!model ||
        cg_compile(model, cg_sgd(0.01, 0.9, false), CG_LOSS_CROSS_ENTROPY, CG_METRIC_ACCURACY) != 0)
        return -1;
    cg_fit_options options = {
        .epochs = 1, .batch_size = batch_per_rank, .verbose = CG_VERBOSE_SILENT};
    cg_history *warm_up = cg_fit_dataset(model, data, NULL, &options);
    cg_history_free(warm_up);
    options.epochs = epochs;
    cg_distributed_barrier();
    const cg_fit_parallel_stats before = cg_fit_parallel_stats_get();
    const double start = now_seconds();
    cg_history *history = warm_up ? cg_fit_dataset(model, data, NULL, &options) : NULL;
    cg_distributed_barrier();
    const double seconds = now_seconds() - start;
    const cg_fit_parallel_stats after = cg_fit_parallel_stats_get();
    if (!history) {
        cg_model_free(model);
        return -1;
    }
    const int ranks = cg_distributed_world_size();
    const double samples = (double)cg_dataset_size(data) * epochs;
    const int64_t global_batch = (int64_t)batch_per_rank * ranks;
    const double steps =
        (double)((cg_dataset_size(data) + global_batch - 1) / global_batch) * epochs;
    const double step_seconds = seconds / steps;
    const double communication = ranks > 1 ? all_reduce_seconds(model) : 0;
    const double reduced_steps = (double)(after.steps - before.steps);
    const double exposed =
        reduced_steps > 0
            ? (after.seconds_after_backward - before.seconds_after_backward) / reduced_steps
            : 0;
    const int64_t buckets = after.buckets - before.buckets;
    const double early =
        buckets > 0
            ? (double)(after.buckets_started_in_backward - before.buckets_started_in_backward) /
                  (double)buckets
            : 0;
    if (cg_distributed_rank() == 0)
        printf("| %s | %d | %d | %.0f | %.2f | %.3f | %.1f%% | %.1f%% | %.0f%% |\n",
               !strcmp(name, "mlp") ? "MLP 784-512-256-10" : "lab CNN", ranks, batch_per_rank,
               samples / seconds, 1e3 * step_seconds, 1e3 * communication,
               100 * communication / step_seconds, 100 * exposed / step_seconds, 100 * early);
    cg_history_free(history);
    cg_model_free(model);
    return 0;
}

/* The first samples images of the data set in dir (train, else t10k). */
static cg_dataset *read_data(const char *dir, int64_t samples) {
    cg_dataset *all = cg_mnist_read(dir, "train");
    if (!all) all = cg_mnist_read(dir, "t10k");
    if (!all || samples >= cg_dataset_size(all)) return all;
    cg_dataset *kept = NULL, *rest = NULL;
    const double rest_fraction = 1.0 - (double)samples / (double)cg_dataset_size(all);
    cg_dataset_split(all, rest_fraction, false, 1, &kept, &rest);
    cg_dataset_free(all);
    cg_dataset_free(rest);
    return kept;
}

int main(int argc, char **argv) {
    if (cg_distributed_init(&argc, &argv) != 0) {
        fprintf(stderr, "distributed_bench: %s\n", cg_last_error());
        return 1;
    }
    const char *dir = NULL, *models = "mlp,cnn";
    int64_t samples = 8192;
    int epochs = 2, batch_per_rank = 64;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--data"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--samples"))
            samples = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--epochs"))
            epochs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch"))
            batch_per_rank = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--models"))
            models = argv[i + 1];
    }
    cg_set_num_threads(1);
    cg_dataset *data = read_data(dir, samples);
    int status = data && epochs > 0 && batch_per_rank > 0 ? 0 : -1;
    if (status == 0 && cg_distributed_rank() == 0)
        printf("| model | ranks | batch per rank | samples/s | step ms | all-reduce ms | "
               "communication | exposed | early |\n|---|---|---|---|---|---|---|---|---|\n");
    if (status == 0 && strstr(models, "mlp"))
        status = bench_model("mlp", data, epochs, batch_per_rank);
    if (status == 0 && strstr(models, "cnn"))
        status = bench_model("cnn", data, epochs, batch_per_rank);
    if (status != 0) fprintf(stderr, "distributed_bench: %s\n", cg_last_error());
    cg_dataset_free(data);
    if (status != 0) cg_distributed_abort(1);
    cg_distributed_finalize();
    return status == 0 ? 0 : 1;
}
