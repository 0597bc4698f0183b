/* The loader and fit over data sets: every sample once per epoch in a (seed, epoch) order, image
 * bytes scaled exactly, batches equal to a single-threaded assembly, the next batch prepared while
 * the caller holds the current one, no system allocation in steady state, and cg_fit_dataset
 * learning, and training exactly as cg_fit on the same data converted to float. */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/tensor.h"
#include "fit_problems.h"
#include "io/dataset.h"
#include "io/loader.h"
#include "test.h"

static const cg_fit_options QUIET = {.verbose = CG_VERBOSE_SILENT};

/* count samples of 1 x 2 x 3 bytes whose first byte is the sample's index (mod 256) and whose
 * others run over all byte values; labels index % 7. */
static cg_dataset *numbered_images(int64_t count) {
    cg_tensor *features = cg_empty(CG_SHAPE(count, 1, 2, 3), CG_UINT8);
    cg_tensor *labels = cg_empty(CG_SHAPE(count), CG_INT64);
    if (!features || !labels) {
        cg_release(features);
        cg_release(labels);
        return NULL;
    }
    uint8_t *bytes = cg_tensor_data(features);
    int64_t *classes = cg_tensor_data(labels);
    for (int64_t i = 0; i < count; i++) {
        bytes[i * 6] = (uint8_t)i;
        for (int j = 1; j < 6; j++)
            bytes[i * 6 + j] = (uint8_t)(i * 5 + j * 51);
        classes[i] = i % 7;
    }
    cg_dataset *dataset = cg_dataset_new(features, labels, NULL, 0, NULL);
    if (dataset) dataset->feature_scale = 1.0 / 255.0;
    return dataset;
}

/* The data set's features as float32 times its scale, computed with ops in float64 and rounded
 * once (owned by the caller, or the current scope). */
static cg_tensor *scaled_floats(const cg_dataset *dataset) {
    cg_scope_begin();
    cg_tensor *doubles = cg_to_dtype(cg_dataset_features(dataset), CG_FLOAT64);
    cg_tensor *floats =
        cg_keep(cg_to_dtype(cg_mul_scalar(doubles, cg_dataset_feature_scale(dataset)), CG_FLOAT32));
    cg_scope_end();
    return floats;
}

/* The sample index behind a batch row: its first feature, scaled back. */
static int64_t sample_of(const cg_tensor *x, int64_t row) {
    return (int64_t)(cg_get(x, (const int64_t[]){row, 0, 0, 0}) * 255.0 + 0.5);
}

/* The sample order of one epoch as the loader delivers it, into order; the batch sizes go to
 * sizes. The number of batches, or -1 on failure. */
static int epoch_samples(cg_loader *loader, int epoch, int64_t *order, int64_t *sizes) {
    if (cg_loader_start_epoch(loader, epoch) != 0) return -1;
    int batches = 0, status;
    int64_t seen = 0;
    cg_tensor *x, *y;
    cg_scope_begin();
    while ((status = cg_loader_next(loader, &x, &y)) == 1) {
        sizes[batches++] = cg_dim(x, 0);
        for (int64_t row = 0; row < cg_dim(x, 0); row++) {
            order[seen] = sample_of(x, row);
            /* The label travels with its sample. */
            if (cg_get(y, &row) != (double)(order[seen] % 7)) status = -1;
            seen++;
        }
        if (status < 0) break;
    }
    cg_scope_end();
    return status == 0 ? batches : -1;
}

TEST(loader_gives_every_sample_once_per_epoch_with_a_last_partial_batch) {
    cg_dataset *dataset = numbered_images(103);
    cg_loader *loader = dataset ? cg_loader_new(dataset, 10, true, 42) : NULL;
    CHECK(loader);
    int64_t order[103], sizes[20];
    bool every_sample_once = true, sizes_right = true;
    for (int epoch = 0; epoch < 3; epoch++) {
        const int batches = epoch_samples(loader, epoch, order, sizes);
        bool seen[103] = {false};
        every_sample_once = every_sample_once && batches == 11;
        for (int64_t i = 0; every_sample_once && i < 103; i++) {
            every_sample_once = order[i] >= 0 && order[i] < 103 && !seen[order[i]];
            if (every_sample_once) seen[order[i]] = true;
        }
        for (int b = 0; every_sample_once && b < batches; b++)
            sizes_right = sizes_right && sizes[b] == (b < 10 ? 10 : 3);
    }
    cg_tensor *x, *y;
    const int after_end = cg_loader_next(loader, &x, &y); /* the epoch is over */
    cg_loader_free(loader);
    cg_dataset_free(dataset);
    CHECK(every_sample_once && sizes_right);
    CHECK(after_end == 0 && !x && !y);
}

TEST(loader_order_depends_on_seed_and_epoch_only) {
    cg_dataset *dataset = numbered_images(50);
    cg_loader *first = dataset ? cg_loader_new(dataset, 8, true, 7) : NULL;
    cg_loader *second = dataset ? cg_loader_new(dataset, 8, true, 7) : NULL;
    cg_loader *other_seed = dataset ? cg_loader_new(dataset, 8, true, 8) : NULL;
    cg_loader *in_order = dataset ? cg_loader_new(dataset, 8, false, 7) : NULL;
    int64_t a[50], b[50], c[50], d[50], e[50], sizes[10];
    /* first goes through epochs 0..2, second starts at epoch 2 as a resumed run would. */
    bool ok = first && second && other_seed && in_order;
    for (int epoch = 0; ok && epoch < 3; epoch++)
        ok = epoch_samples(first, epoch, epoch == 1 ? e : a, sizes) == 7;
    ok = ok && epoch_samples(second, 2, b, sizes) == 7 &&
         epoch_samples(other_seed, 2, c, sizes) == 7 && epoch_samples(in_order, 2, d, sizes) == 7;
    bool unshuffled = ok;
    for (int64_t i = 0; unshuffled && i < 50; i++)
        unshuffled = d[i] == i;
    /* The order is the one cg_fit uses for the same (seed, epoch). */
    int64_t reference[50];
    cg_epoch_order(reference, 50, true, 7, 2);
    const bool resumed_same =
        ok && memcmp(a, b, sizeof a) == 0 && memcmp(a, reference, sizeof a) == 0;
    const bool seed_matters = ok && memcmp(a, c, sizeof a) != 0;
    const bool epoch_matters = ok && memcmp(a, e, sizeof a) != 0;
    cg_loader_free(first);
    cg_loader_free(second);
    cg_loader_free(other_seed);
    cg_loader_free(in_order);
    cg_dataset_free(dataset);
    CHECK(ok);
    CHECK(resumed_same && seed_matters && epoch_matters && unshuffled);
}

TEST(loader_scales_every_byte_value_exactly) {
    cg_tensor *bytes = cg_arange(0, 256, 1, CG_UINT8);
    cg_tensor *features = cg_reshape(bytes, CG_SHAPE(256, 1));
    cg_release(bytes);
    cg_dataset *dataset = features ? cg_dataset_new(features, NULL, NULL, 0, NULL) : NULL;
    CHECK(dataset);
    dataset->feature_scale = 1.0 / 255.0;
    cg_loader *loader = cg_loader_new(dataset, 256, false, 0);
    cg_scope_begin();
    cg_tensor *x = NULL, *y = NULL;
    const int got =
        loader && cg_loader_start_epoch(loader, 0) == 0 ? cg_loader_next(loader, &x, &y) : -1;
    float values[256] = {0};
    const bool copied = got == 1 && cg_tensor_dtype(x) == CG_FLOAT32 &&
                        cg_copy_to_array(x, values, sizeof values) == 0;
    cg_scope_end();
    cg_loader_free(loader);
    cg_dataset_free(dataset);
    CHECK(copied && !y); /* no labels, no y */
    for (int v = 0; v < 256; v++) {
        /* The value rounded once from the exact quotient v / 255. */
        CHECK(values[v] == (float)((double)v / 255.0));
    }
    CHECK(values[255] == 1.0f && values[0] == 0.0f);
}

/* The batches of an epoch assembled on this thread with ops: the epoch's order picked out of the
 * features converted to float32 and scaled. */
static bool batches_match_single_threaded(cg_loader *loader, const cg_dataset *dataset,
                                          int batch_size, uint64_t seed, int epoch) {
    const int64_t n = cg_dataset_size(dataset);
    int64_t *order = malloc(sizeof(int64_t) * (size_t)n);
    if (!order || cg_loader_start_epoch(loader, epoch) != 0) {
        free(order);
        return false;
    }
    cg_epoch_order(order, n, true, seed, epoch);
    bool same = true;
    cg_scope_begin();
    cg_tensor *floats = scaled_floats(dataset);
    for (int64_t start = 0; same && start < n; start += batch_size) {
        cg_scope_begin();
        const int64_t count = n - start < batch_size ? n - start : batch_size;
        cg_tensor *index = cg_from_array(order + start, CG_SHAPE(count), CG_INT64);
        cg_tensor *want_x = cg_index_select(floats, 0, index);
        cg_tensor *want_y = cg_index_select(cg_dataset_labels(dataset), 0, index);
        cg_tensor *x, *y;
        same = cg_loader_next(loader, &x, &y) == 1 && want_x && want_y &&
               cg_item(cg_sum(cg_ne(x, want_x), CG_ALL_DIMS, false)) == 0 &&
               cg_item(cg_sum(cg_ne(y, want_y), CG_ALL_DIMS, false)) == 0 && cg_dim(x, 0) == count;
        cg_scope_end();
    }
    cg_tensor *x, *y;
    same = same && cg_loader_next(loader, &x, &y) == 0;
    cg_scope_end();
    free(order);
    return same;
}

TEST(loader_batches_equal_a_single_threaded_assembly) {
    cg_dataset *dataset = numbered_images(300);
    cg_loader *loader = dataset ? cg_loader_new(dataset, 32, true, 99) : NULL;
    CHECK(loader);
    const bool same = batches_match_single_threaded(loader, dataset, 32, 99, 0) &&
                      batches_match_single_threaded(loader, dataset, 32, 99, 5);
    cg_loader_free(loader);
    cg_dataset_free(dataset);
    CHECK(same);
}

/* Waits (at most ten seconds) until the loader's thread has assembled count batches. */
static bool wait_for_assembled(const cg_loader *loader, int64_t count) {
    const struct timespec pause = {0, 1000000};
    for (int tries = 0; tries < 10000; tries++) {
        if (cg_loader_get_stats(loader).batches_assembled >= count) return true;
        nanosleep(&pause, NULL);
    }
    return false;
}

TEST(loader_prepares_the_next_batch_while_the_caller_holds_the_current) {
    cg_dataset *dataset = numbered_images(64);
    cg_loader *loader = dataset ? cg_loader_new(dataset, 16, true, 1) : NULL;
    CHECK(loader && cg_loader_start_epoch(loader, 0) == 0);
    cg_scope_begin();
    cg_tensor *x0, *y0, *x1, *y1;
    /* While batch 0 is held and next() is not called, the thread assembles batch 1. */
    const bool first = wait_for_assembled(loader, 1) && cg_loader_next(loader, &x0, &y0) == 1;
    const bool prefetched = first && wait_for_assembled(loader, 2);
    const cg_loader_stats before = cg_loader_get_stats(loader);
    const bool second = cg_loader_next(loader, &x1, &y1) == 1;
    const cg_loader_stats after = cg_loader_get_stats(loader);
    /* The two batches are distinct tensors, both alive. */
    const bool distinct = first && second && x0 != x1 && sample_of(x0, 0) != sample_of(x1, 0);
    cg_scope_end();
    cg_loader_free(loader);
    cg_dataset_free(dataset);
    CHECK(first && prefetched && second && distinct);
    CHECK(after.batches_ready == before.batches_ready + 1);
    CHECK(after.batches_waited == before.batches_waited);
}

/* One epoch with a scope per batch; holding each batch until the thread has the next one ready
 * when hold is set, so that two batches are alive at once as in training. */
static bool run_epoch(cg_loader *loader, int epoch, bool hold) {
    if (cg_loader_start_epoch(loader, epoch) != 0) return false;
    int64_t delivered = 0;
    for (int status = 1; status == 1;) {
        cg_scope_begin();
        cg_tensor *x, *y;
        status = cg_loader_next(loader, &x, &y);
        delivered += status == 1;
        if (status == 1 && hold && delivered < 8)
            wait_for_assembled(loader, cg_loader_get_stats(loader).batches_assembled + 1);
        cg_scope_end();
        if (status < 0) return false;
    }
    return delivered == 8;
}

TEST(loader_steady_state_makes_no_system_allocations) {
    cg_dataset *dataset = numbered_images(120); /* 8 batches, the last of 8 samples */
    cg_loader *loader = dataset ? cg_loader_new(dataset, 16, true, 3) : NULL;
    CHECK(loader);
    const bool warmed = run_epoch(loader, 0, true) && run_epoch(loader, 1, true);
    const cg_memory_stats warm = cg_memory_get_stats();
    bool steady = warmed;
    for (int epoch = 2; steady && epoch < 6; epoch++)
        steady = run_epoch(loader, epoch, epoch % 2 == 0);
    const cg_memory_stats after = cg_memory_get_stats();
    cg_loader_free(loader);
    cg_dataset_free(dataset);
    CHECK(warmed && steady);
    CHECK(after.system_allocs == warm.system_allocs);
}

TEST(loader_reports_bad_arguments) {
    cg_dataset *dataset = numbered_images(4);
    CHECK(dataset);
    CHECK_ERROR(cg_loader_new(NULL, 4, true, 0), "NULL or empty");
    CHECK_ERROR(cg_loader_new(dataset, 0, true, 0), "batch_size must be at least 1, got 0");
    cg_loader *loader = cg_loader_new(dataset, 4, false, 0);
    CHECK(loader);
    cg_tensor *x, *y;
    CHECK(cg_loader_next(loader, &x, &y) == 0); /* no epoch started yet */
    CHECK_ERROR(cg_loader_start_epoch(loader, -1), "epoch must be >= 0");
    CHECK_ERROR(cg_loader_next(loader, NULL, &y), "must not be NULL");
    /* Starting again before the end drops what is left. */
    CHECK(cg_loader_start_epoch(loader, 0) == 0 && cg_loader_start_epoch(loader, 1) == 0);
    cg_scope_begin();
    const int got = cg_loader_next(loader, &x, &y);
    const bool whole = got == 1 && cg_dim(x, 0) == 4 && sample_of(x, 3) == 3;
    cg_scope_end();
    cg_loader_free(loader);
    cg_loader_free(NULL);
    cg_dataset_free(dataset);
    CHECK(whole);
    CHECK(cg_loader_get_stats(NULL).batches_assembled == 0);
}

/* ----- fit, evaluate and predict over data sets ----- */

/* count 4 x 4 images of two classes: class 1 bright in the top half, class 0 in the bottom half,
 * with noise; labels alternate. */
static cg_dataset *bright_halves(int64_t count, uint64_t seed) {
    cg_tensor *features = cg_empty(CG_SHAPE(count, 1, 4, 4), CG_UINT8);
    cg_tensor *labels = cg_empty(CG_SHAPE(count), CG_INT64);
    cg_manual_seed(seed);
    cg_tensor *noise = cg_randint(0, 60, CG_SHAPE(count, 16), CG_INT64);
    if (!features || !labels || !noise) {
        cg_release(features);
        cg_release(labels);
        cg_release(noise);
        return NULL;
    }
    uint8_t *bytes = cg_tensor_data(features);
    int64_t *classes = cg_tensor_data(labels);
    const int64_t *jitter = cg_tensor_data(noise);
    for (int64_t i = 0; i < count; i++) {
        classes[i] = i % 2;
        for (int p = 0; p < 16; p++) {
            const bool top = p < 8;
            bytes[i * 16 + p] =
                (uint8_t)((top == (classes[i] == 1) ? 190 : 0) + jitter[i * 16 + p]);
        }
    }
    cg_release(noise);
    cg_dataset *dataset = cg_dataset_new(features, labels, NULL, 0, NULL);
    if (dataset) dataset->feature_scale = 1.0 / 255.0;
    return dataset;
}

static cg_model *image_classifier(void) {
    cg_model *model = cg_sequential(cg_layer_flatten(), cg_layer_dense(8, CG_ACTIVATION_RELU),
                                    cg_layer_dropout(0.1), cg_layer_dense(2, CG_ACTIVATION_NONE));
    if (!model || cg_model_build(model, CG_SHAPE(1, 4, 4)) != 0 ||
        cg_compile(model, cg_sgd(0.2, 0.5, false), CG_LOSS_CROSS_ENTROPY, CG_METRIC_ACCURACY) !=
            0) {
        cg_model_free(model);
        return NULL;
    }
    return model;
}

TEST(fit_dataset_learns_uint8_images) {
    cg_dataset *train = bright_halves(160, 5), *test = bright_halves(60, 6);
    cg_model *model = image_classifier();
    CHECK(train && test && model);
    cg_fit_options options = QUIET;
    options.epochs = 8;
    options.batch_size = 16;
    cg_history *history = cg_fit_dataset(model, train, test, &options);
    const double *loss = cg_history_series(history, "loss");
    const double *validation = cg_history_series(history, "val_accuracy");
    cg_evaluation evaluation = {0};
    const int evaluated = cg_evaluate_dataset(model, test, 7, &evaluation);
    cg_scope_begin();
    /* Predictions follow the data set's order and equal cg_predict on the scaled floats. */
    cg_tensor *predicted = cg_predict_dataset(model, test, 7);
    cg_tensor *expected = cg_predict(model, scaled_floats(test), 7);
    const bool predictions_equal =
        predicted && expected && cg_dim(predicted, 0) == 60 &&
        cg_item(cg_max(cg_abs(cg_sub(predicted, expected)), CG_ALL_DIMS, false)) == 0.0;
    cg_scope_end();
    const bool learned = loss && validation && cg_history_epochs(history) == 8 &&
                         loss[7] < 0.5 * loss[0] && validation[7] >= 0.95;
    cg_history_free(history);
    cg_model_free(model);
    cg_dataset_free(train);
    cg_dataset_free(test);
    CHECK(learned);
    CHECK(evaluated == 0 && evaluation.samples == 60 && evaluation.accuracy >= 0.95);
    CHECK(predictions_equal);
}

TEST(fit_dataset_trains_exactly_as_fit_on_the_converted_floats) {
    cg_dataset *train = bright_halves(90, 8), *validation = bright_halves(30, 9);
    cg_model *on_dataset = image_classifier(), *on_tensors = image_classifier();
    CHECK(train && validation && on_dataset && on_tensors);
    parameter_copies start = copy_parameters(on_dataset);
    load_parameters(on_tensors, &start);
    cg_tensor *x = scaled_floats(train), *validation_x = scaled_floats(validation);
    cg_fit_options options = QUIET;
    options.epochs = 3;
    options.batch_size = 16;
    options.seed = 1234;
    cg_history *from_dataset = cg_fit_dataset(on_dataset, train, validation, &options);
    options.validation_x = validation_x;
    options.validation_y = cg_dataset_labels(validation);
    cg_history *from_tensors = cg_fit(on_tensors, x, cg_dataset_labels(train), &options);
    parameter_copies trained = copy_parameters(on_tensors);
    const bool same_weights =
        from_dataset && from_tensors && parameters_equal(on_dataset, &trained);
    const bool moved = !parameters_equal(on_dataset, &start);
    const double *a = cg_history_series(from_dataset, "val_loss");
    const double *b = cg_history_series(from_tensors, "val_loss");
    const bool same_history = a && b && a[0] == b[0] && a[2] == b[2];
    parameter_copies_release(&start);
    parameter_copies_release(&trained);
    cg_history_free(from_dataset);
    cg_history_free(from_tensors);
    cg_release(x);
    cg_release(validation_x);
    cg_model_free(on_dataset);
    cg_model_free(on_tensors);
    cg_dataset_free(train);
    cg_dataset_free(validation);
    CHECK(same_weights && moved);
    CHECK(same_history);
}

TEST(fit_dataset_reports_bad_arguments) {
    cg_dataset *train = bright_halves(20, 1);
    cg_model *model = image_classifier();
    cg_model *flat = cg_sequential(cg_layer_dense(2, CG_ACTIVATION_NONE));
    CHECK(train && model && flat);
    CHECK(cg_model_build(flat, CG_SHAPE(16)) == 0);
    CHECK(cg_compile(flat, cg_sgd(0.1, 0, false), CG_LOSS_CROSS_ENTROPY, 0) == 0);
    cg_fit_options options = QUIET;
    options.validation_split = 0.2;
    CHECK_ERROR(cg_fit_dataset(model, train, NULL, &options), "pass a validation data set");
    CHECK_ERROR(cg_fit_dataset(model, NULL, NULL, &QUIET), "training data set is NULL or empty");
    CHECK_ERROR(cg_fit_dataset(flat, train, NULL, &QUIET),
                "the training data set has samples of shape 1x4x4 but the model takes 16");
    cg_tensor *features = cg_zeros(CG_SHAPE(3, 1, 4, 4), CG_UINT8);
    cg_dataset *unlabelled = features ? cg_dataset_new(features, NULL, NULL, 0, NULL) : NULL;
    CHECK(unlabelled);
    CHECK_ERROR(cg_fit_dataset(model, train, unlabelled, &QUIET),
                "validation data set has no labels");
    cg_evaluation evaluation;
    CHECK_ERROR(cg_evaluate_dataset(model, unlabelled, 0, &evaluation), "has no labels");
    CHECK_ERROR(cg_evaluate_dataset(model, train, 0, NULL), "result is NULL");
    CHECK_ERROR(cg_predict_dataset(model, train, -1), "batch_size");
    cg_scope_begin();
    cg_tensor *outputs = cg_predict_dataset(model, unlabelled, 0); /* labels not needed */
    const bool predicted = outputs && cg_dim(outputs, 0) == 3 && cg_dim(outputs, 1) == 2;
    cg_scope_end();
    cg_dataset_free(unlabelled);
    cg_model_free(model);
    cg_model_free(flat);
    cg_dataset_free(train);
    CHECK(predicted);
}
