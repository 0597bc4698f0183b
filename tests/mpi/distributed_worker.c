/* The program that the multi-rank tests of tests/test_distributed.c start under mpirun (and once
 * as a world of one, for the reference run). Modes:
 *   collectives          all-reduce and broadcast of odd, empty and many small tensors, checked
 *                        against sums computed here element by element
 *   train OUT BATCH      trains a small classifier with BATCH samples per rank and writes, from
 *                        rank 0, the epoch losses and the final weights to OUT
 *   fail                 rank 1 is given labels of the wrong type: fit must fail on every rank
 *                        with an error naming rank 1
 *   kill CHECKPOINT      rank 0 saves the model to CHECKPOINT at each epoch end; rank 1 kills
 *                        itself in the third epoch
 *   overlap OUT          trains a model whose gradients fill three buckets of the overlapped
 *                        all-reduce, one of them holding a parameter that never gets a gradient,
 *                        writes the weights to OUT and prints how many buckets started during
 *                        the backward pass; that parameter must keep its initial value
 * Exit status 0 when the mode's checks pass. */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cgrad.h>

#include "nn/fit_distributed.h"

enum { SAMPLES = 100, VALIDATION_SAMPLES = 30, FEATURES = 6, CLASSES = 3, EPOCHS = 4 };

/* ----- collectives ----- */

/* The value rank puts at element j of tensor i: small integers, so that sums are exact. */
static double element_value(int rank, int i, int64_t j) {
    return (double)((rank + 1) * 3 + i * 7 + (int)(j % 11)) - 20.0;
}

static cg_tensor *filled(int rank, int i, int64_t numel, cg_dtype dtype) {
    double *values = malloc(sizeof(double) * (size_t)(numel + 1));
    for (int64_t j = 0; j < numel; j++)
        values[j] = dtype == CG_UINT8 ? (double)((rank + i + j) % 50) : element_value(rank, i, j);
    cg_tensor *t = cg_to_dtype(cg_from_array(values, CG_SHAPE(numel), CG_FLOAT64), dtype);
    free(values);
    return t;
}

/* Element j of tensor i after the sum over world ranks. */
static double expected_sum(int world, int i, int64_t j, cg_dtype dtype) {
    double sum = 0;
    for (int rank = 0; rank < world; rank++)
        sum += dtype == CG_UINT8 ? (double)((rank + i + j) % 50) : element_value(rank, i, j);
    return sum;
}

static bool matches(const cg_tensor *t, int i, double (*expected)(int, int, int64_t, cg_dtype),
                    int world, double scale) {
    cg_tensor *values = cg_to_dtype(t, CG_FLOAT64);
    const int64_t numel = cg_numel(values);
    double *got = malloc(sizeof(double) * (size_t)(numel + 1));
    bool same = values && cg_copy_to_array(values, got, sizeof(double) * (size_t)numel) == 0;
    for (int64_t j = 0; same && j < numel; j++)
        if (got[j] != expected(world, i, j, cg_tensor_dtype(t)) * scale) {
            fprintf(stderr, "tensor %d element %lld: %.17g, expected %.17g\n", i, (long long)j,
                    got[j], expected(world, i, j, cg_tensor_dtype(t)) * scale);
            same = false;
        }
    free(got);
    return same;
}

/* Element j of tensor i as rank 1 holds it (the broadcast's root). */
static double root_value(int world, int i, int64_t j, cg_dtype dtype) {
    (void)world;
    return dtype == CG_UINT8 ? (double)((1 + i + j) % 50) : element_value(1, i, j);
}

/* Odd sizes around the bucket size, empty tensors, and a thousand small tensors of every dtype. */
static int check_collectives(void) {
    const int rank = cg_distributed_rank(), world = cg_distributed_world_size();
    enum { COUNT = 1010 };
    static const int64_t large[] = {0, 1, 3, 600001, 1048577, 0, 1048579, 7, 0, 5};
    static const cg_dtype dtypes[] = {CG_FLOAT32, CG_FLOAT64, CG_INT32, CG_INT64, CG_UINT8};
    cg_tensor *sums[COUNT], *means[COUNT], *copies[COUNT];
    cg_scope_begin();
    for (int i = 0; i < COUNT; i++) {
        const int64_t numel = i < 10 ? large[i] : 1 + i % 5;
        const cg_dtype dtype = dtypes[i % 5];
        sums[i] = filled(rank, i, numel, dtype);
        means[i] = filled(rank, i, numel, i % 2 ? CG_FLOAT64 : CG_FLOAT32);
        copies[i] = filled(rank, i, numel, dtype);
    }
    int failures = 0;
    if (cg_distributed_all_reduce(sums, COUNT, CG_ALL_REDUCE_SUM) != 0 ||
        cg_distributed_all_reduce(means, COUNT, CG_ALL_REDUCE_MEAN) != 0 ||
        cg_distributed_broadcast(copies, COUNT, world > 1 ? 1 : 0) != 0) {
        fprintf(stderr, "collectives: %s\n", cg_last_error());
        failures++;
    }
    for (int i = 0; failures == 0 && i < COUNT; i++) {
        /* Means of small integers over two ranks are halves: exact in float32 and float64. */
        if (!matches(sums[i], i, expected_sum, world, 1) ||
            !matches(means[i], i, expected_sum, world, 1.0 / world) ||
            !matches(copies[i], i, world > 1 ? root_value : expected_sum, world, 1))
            failures++;
    }
    cg_scope_end();
    if (rank == 0 && failures == 0) printf("collectives exact on %d ranks\n", world);
    return failures == 0 ? 0 : 1;
}

/* ----- training ----- */

typedef struct {
    cg_tensor *x, *y, *validation_x, *validation_y;
} problem;

/* Three classes from a fixed linear rule on Gaussian features, the same on every rank. */
static problem make_problem(void) {
    cg_manual_seed(7);
    problem p;
    cg_tensor *rule = cg_randn(CG_SHAPE(FEATURES, CLASSES), CG_FLOAT32);
    p.x = cg_randn(CG_SHAPE(SAMPLES, FEATURES), CG_FLOAT32);
    p.y = cg_argmax(cg_matmul(p.x, rule), 1, false);
    p.validation_x = cg_randn(CG_SHAPE(VALIDATION_SAMPLES, FEATURES), CG_FLOAT32);
    p.validation_y = cg_argmax(cg_matmul(p.validation_x, rule), 1, false);
    return p;
}

/* Each rank draws its own initial weights: fit must start every rank from rank 0's. */
static cg_model *make_model(void) {
    cg_manual_seed(100 + (uint64_t)cg_distributed_rank());
    cg_model *model = cg_sequential(cg_layer_dense(16, CG_ACTIVATION_TANH),
                                    cg_layer_dense(CLASSES, CG_ACTIVATION_NONE));
    if (model && cg_compile(model, cg_sgd(0.1, 0.9, false), CG_LOSS_CROSS_ENTROPY,
                            CG_METRIC_ACCURACY) != 0) {
        cg_model_free(model);
        return NULL;
    }
    return model;
}

static int write_result(const char *path, const cg_history *history, const cg_model *model) {
    FILE *out = fopen(path, "w");
    if (!out) return -1;
    const char *series[] = {"loss", "accuracy", "val_loss", "val_accuracy"};
    for (int s = 0; s < 4; s++)
        for (int e = 0; e < cg_history_epochs(history); e++)
            fprintf(out, "%s %d %.9g\n", series[s], e, cg_history_series(history, series[s])[e]);
    int count = 0;
    cg_tensor *const *parameters = cg_model_parameters(model, &count);
    for (int i = 0; i < count; i++) {
        const int64_t numel = cg_numel(parameters[i]);
        float *values = malloc(sizeof(float) * (size_t)numel);
        cg_copy_to_array(parameters[i], values, sizeof(float) * (size_t)numel);
        for (int64_t j = 0; j < numel; j++)
            fprintf(out, "weight %d %.9g\n", i, (double)values[j]);
        free(values);
    }
    return fclose(out);
}

/* Fits model (NULL: none) to the problem with the workers' fixed seed, validating on its split. */
static cg_history *fit_problem(cg_model *model, const problem *p, int epochs, int batch_size) {
    const cg_fit_options options = {.epochs = epochs,
                                    .batch_size = batch_size,
                                    .seed = 5,
                                    .verbose = CG_VERBOSE_SILENT,
                                    .validation_x = p->validation_x,
                                    .validation_y = p->validation_y};
    return model ? cg_fit(model, p->x, p->y, &options) : NULL;
}

static int train(const char *path, int batch_size) {
    problem p = make_problem();
    cg_model *model = make_model();
    cg_history *history = fit_problem(model, &p, EPOCHS, batch_size);
    int status = history ? 0 : -1;
    if (status != 0) fprintf(stderr, "train: %s\n", cg_last_error());
    if (status == 0 && cg_distributed_rank() == 0) status = write_result(path, history, model);
    cg_history_free(history);
    cg_model_free(model);
    return status == 0 ? 0 : 1;
}

/* ----- overlap ----- */

/* Wide enough that the first layer's weights (6 x WIDE floats) exceed a bucket of the
 * overlapped all-reduce (distributed/grad_reducer.h) and fill one of their own. */
enum { WIDE = 48000 };
static const float UNUSED_VALUE = 0.5f;

/* A layer that passes its input on and holds a parameter its forward never uses. */
static int unused_build(cg_layer *layer, cg_shape input_shape, cg_shape *output_shape) {
    *output_shape = input_shape;
    return cg_layer_add_parameter(layer, "unused", cg_full(CG_SHAPE(4), UNUSED_VALUE, CG_FLOAT32))
               ? 0
               : -1;
}

static cg_tensor *unused_forward(cg_layer *layer, const cg_tensor *x, bool training) {
    (void)layer, (void)training;
    return cg_mul_scalar(x, 1);
}

static const cg_layer_class unused_class = {
    .type = "unused", .build = unused_build, .forward = unused_forward};

static int train_overlapped(const char *path) {
    problem p = make_problem();
    cg_manual_seed(100 + (uint64_t)cg_distributed_rank());
    cg_model *model =
        cg_sequential(cg_layer_new(&unused_class, NULL), cg_layer_dense(WIDE, CG_ACTIVATION_TANH),
                      cg_layer_dense(CLASSES, CG_ACTIVATION_NONE));
    if (model && cg_compile(model, cg_sgd(0.1, 0.9, false), CG_LOSS_CROSS_ENTROPY,
                            CG_METRIC_ACCURACY) != 0) {
        cg_model_free(model);
        model = NULL;
    }
    cg_history *history = fit_problem(model, &p, 2, 16);
    int status = history ? 0 : -1;
    if (status != 0) fprintf(stderr, "overlap: %s\n", cg_last_error());
    int count = 0;
    cg_tensor *const *parameters = model ? cg_model_parameters(model, &count) : NULL;
    float unused[4] = {0};
    if (status == 0 && cg_copy_to_array(parameters[0], unused, sizeof unused) != 0) status = -1;
    for (int i = 0; status == 0 && i < 4; i++)
        if (unused[i] != UNUSED_VALUE) {
            fprintf(stderr, "overlap: the unused parameter became %.9g\n", (double)unused[i]);
            status = -1;
        }
    const cg_fit_parallel_stats stats = cg_fit_parallel_stats_get();
    if (status == 0 && cg_distributed_rank() == 0) {
        printf("overlapped %lld of %lld steps, %lld of %lld buckets started during backward\n",
               (long long)stats.overlapped_steps, (long long)stats.steps,
               (long long)stats.buckets_started_in_backward, (long long)stats.buckets);
        status = write_result(path, history, model);
    }
    cg_history_free(history);
    cg_model_free(model);
    return status == 0 ? 0 : 1;
}

/* ----- failures ----- */

static int fail_on_rank_one(void) {
    problem p = make_problem();
    cg_model *model = make_model();
    /* Float labels: cross-entropy rejects them at the first batch of rank 1 only. */
    cg_tensor *labels = cg_distributed_rank() == 1 ? cg_to_dtype(p.y, CG_FLOAT32) : p.y;
    const cg_fit_options options = {.epochs = 2, .batch_size = 8, .verbose = CG_VERBOSE_SILENT};
    cg_history *history = model ? cg_fit(model, p.x, labels, &options) : NULL;
    const bool named = !history && strstr(cg_last_error(), "rank 1 of 2 failed") != NULL;
    if (cg_distributed_rank() == 0) printf("fit: %s\n", history ? "succeeded" : cg_last_error());
    cg_history_free(history);
    cg_model_free(model);
    return named ? 0 : 1;
}

static int save_each_epoch(cg_train_state *state, void *path) {
    return cg_model_save(state->model, path);
}

static int kill_in_third_epoch(cg_train_state *state, void *userdata) {
    (void)userdata;
    if (state->epoch == 2 && state->batch == 1) raise(SIGKILL);
    return 0;
}

static int kill_rank_one(const char *checkpoint) {
    problem p = make_problem();
    cg_model *model = make_model();
    const bool main_rank = cg_distributed_rank() == 0;
    cg_callback *callback =
        main_rank
            ? cg_callback_new(&(cg_callback_hooks){.on_epoch_end = save_each_epoch},
                              (void *)checkpoint)
            : cg_callback_new(&(cg_callback_hooks){.on_batch_end = kill_in_third_epoch}, NULL);
    const cg_fit_options options = {.epochs = 1000,
                                    .batch_size = 8,
                                    .verbose = CG_VERBOSE_SILENT,
                                    .callbacks = CG_CALLBACKS(callback)};
    cg_history *history = model ? cg_fit(model, p.x, p.y, &options) : NULL;
    fprintf(stderr, "kill: fit returned on rank %d: %s\n", cg_distributed_rank(),
            history ? "finished" : cg_last_error());
    cg_history_free(history);
    cg_model_free(model);
    return 1; /* the job should have ended before */
}

int main(int argc, char **argv) {
    /* Started without mpirun, it runs as a world of one without MPI. */
    if (cg_distributed_launch_size() > 1 && cg_distributed_init(&argc, &argv) != 0) {
        fprintf(stderr, "distributed_worker: %s\n", cg_last_error());
        return 1;
    }
    cg_set_num_threads(1);
    const char *mode = argc > 1 ? argv[1] : "";
    int status = 2;
    cg_scope_begin(); /* the data of every mode */
    if (!strcmp(mode, "collectives"))
        status = check_collectives();
    else if (!strcmp(mode, "train") && argc == 4)
        status = train(argv[2], atoi(argv[3]));
    else if (!strcmp(mode, "fail"))
        status = fail_on_rank_one();
    else if (!strcmp(mode, "kill") && argc == 3)
        status = kill_rank_one(argv[2]);
    else if (!strcmp(mode, "overlap") && argc == 3)
        status = train_overlapped(argv[2]);
    else
        fprintf(stderr, "usage: distributed_worker collectives | train OUT BATCH | fail | "
                        "kill CHECKPOINT | overlap OUT\n");
    cg_scope_end();
    cg_distributed_finalize();
    return status;
}
