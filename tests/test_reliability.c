/* Resource behaviour of the high level: an allocation failure anywhere in fit comes back as an
 * error without leaking, and the next fit works; memory stays flat over a long run; separate
 * models train on separate threads at once exactly as they train alone (make test-tsan runs the
 * concurrent tests under ThreadSanitizer). */
#define _POSIX_C_SOURCE 200809L /* open, read, sysconf */

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/cpu/gemm.h"
#include "core/alloc.h"
#include "fit_problems.h"
#include "io/dataset.h"
#include "test.h"

static const cg_fit_options QUIET = {.verbose = CG_VERBOSE_SILENT};

/* ----- allocation failure ----- */

/* The same samples as tensors and as a data set (whose batches come from a loader thread). */
typedef struct {
    labelled_data tensors;
    cg_dataset *dataset;
} training_data;

static training_data blob_data(int64_t count, uint64_t seed) {
    training_data data = {two_blobs(count, seed), NULL};
    char **class_names = calloc(2, sizeof *class_names);
    if (!data.tensors.x || !class_names) {
        free(class_names);
        return data;
    }
    class_names[0] = cg_string_copy("a", 1);
    class_names[1] = cg_string_copy("b", 1);
    if (class_names[0] && class_names[1])
        data.dataset = cg_dataset_new(cg_clone(data.tensors.x), cg_clone(data.tensors.y), NULL, 2,
                                      class_names);
    else
        cg_string_array_free(class_names, 2);
    return data;
}

static void training_data_release(training_data *data) {
    labelled_data_release(&data->tensors);
    cg_dataset_free(data->dataset);
    data->dataset = NULL;
}

typedef cg_history *(*fit_call)(cg_model *model, const training_data *data);

static cg_history *fit_tensors(cg_model *model, const training_data *data) {
    cg_fit_options options = QUIET;
    options.batch_size = 4;
    options.validation_split = 0.25;
    return cg_fit(model, data->tensors.x, data->tensors.y, &options);
}

static cg_history *fit_dataset(cg_model *model, const training_data *data) {
    cg_fit_options options = QUIET;
    options.batch_size = 4;
    return cg_fit_dataset(model, data->dataset, NULL, &options);
}

/* The system allocations one fit makes from an empty cache. */
static uint64_t allocations_of_fit(fit_call fit, cg_model *model, const training_data *data) {
    cg_memory_release_cached();
    const uint64_t before = cg_memory_get_stats().system_allocs;
    cg_history *history = fit(model, data);
    const uint64_t count = history ? cg_memory_get_stats().system_allocs - before : 0;
    cg_history_free(history);
    return count;
}

/* Fails the n-th allocation of a fit for every n it makes, from an empty cache each time: fit
 * must fail with "out of memory" (or, when a background thread made the run take another path
 * and no n-th allocation came, succeed) and give back all it took. Returns how many runs failed,
 * or -1 after reporting a broken promise. */
static int fail_every_allocation(fit_call fit, cg_model *model, const training_data *data,
                                 bool every_run_fails) {
    const uint64_t total = allocations_of_fit(fit, model, data);
    if (total < 10) {
        test_fail(__FILE__, __LINE__, "fit made %llu allocations; error: %s",
                  (unsigned long long)total, cg_last_error());
        return -1;
    }
    int failures = 0;
    for (uint64_t n = 1; n <= total; n++) {
        const size_t live_before = cg_memory_get_stats().live_bytes;
        cg_memory_release_cached();
        cg_clear_error();
        cg_alloc_fail_after((long)n);
        cg_history *history = fit(model, data);
        cg_alloc_fail_after(0);
        const bool clean_failure = !history && strstr(cg_last_error(), "out of memory");
        if (!clean_failure && (history == NULL || every_run_fails))
            test_fail(__FILE__, __LINE__, "allocation %llu of %llu failed: fit %s, error \"%s\"",
                      (unsigned long long)n, (unsigned long long)total,
                      history ? "succeeded" : "failed", cg_last_error());
        failures += clean_failure;
        cg_history_free(history);
        const size_t live_after = cg_memory_get_stats().live_bytes;
        if (live_after != live_before)
            test_fail(__FILE__, __LINE__, "allocation %llu of %llu failed: %lld bytes leaked",
                      (unsigned long long)n, (unsigned long long)total,
                      (long long)(live_after - live_before));
        if (test_failed()) return -1;
    }
    return failures;
}

/* After all the failures, the same model still trains. */
static bool fit_still_works(fit_call fit, cg_model *model, const training_data *data) {
    cg_history *history = fit(model, data);
    const bool works = history && cg_history_epochs(history) == 1;
    cg_history_free(history);
    return works;
}

TEST(allocation_failure_anywhere_in_fit_is_an_error_that_leaks_nothing) {
    training_data data = blob_data(16, 21);
    cg_model *model = blob_classifier(0.1, true);
    CHECK(data.dataset && model);
    CHECK(fail_every_allocation(fit_tensors, model, &data, true) > 0);
    CHECK(fit_still_works(fit_tensors, model, &data));
    cg_model_free(model);
    training_data_release(&data);
}

TEST(allocation_failure_in_fit_with_a_loader_thread_is_an_error_that_leaks_nothing) {
    training_data data = blob_data(16, 22);
    cg_model *model = blob_classifier(0.1, false);
    CHECK(data.dataset && model);
    CHECK(fail_every_allocation(fit_dataset, model, &data, false) > 0);
    CHECK(fit_still_works(fit_dataset, model, &data));
    cg_model_free(model);
    training_data_release(&data);
}

/* The system allocations one evaluation makes from an empty cache. */
static uint64_t allocations_of_evaluate(cg_model *model, const labelled_data *data) {
    cg_memory_release_cached();
    const uint64_t before = cg_memory_get_stats().system_allocs;
    cg_evaluation result;
    const int status = cg_evaluate(model, data->x, data->y, 0, &result);
    return status == 0 ? cg_memory_get_stats().system_allocs - before : 0;
}

/* Every allocation of an evaluation, the metrics' included: a metric whose op failed must pass
 * that error on, not replace it with another. */
TEST(allocation_failure_anywhere_in_evaluate_is_reported_as_out_of_memory) {
    labelled_data data = two_blobs(24, 24);
    cg_model *model = blob_classifier(0.1, false);
    CHECK(data.x && model);
    const uint64_t total = allocations_of_evaluate(model, &data);
    CHECK(total > 5);
    for (uint64_t n = 1; n <= total && !test_failed(); n++) {
        const size_t live_before = cg_memory_get_stats().live_bytes;
        cg_memory_release_cached();
        cg_clear_error();
        cg_alloc_fail_after((long)n);
        cg_evaluation result;
        const int status = cg_evaluate(model, data.x, data.y, 0, &result);
        cg_alloc_fail_after(0);
        if (status == 0 || !strstr(cg_last_error(), "out of memory"))
            test_fail(__FILE__, __LINE__, "allocation %llu of %llu failed: status %d, error \"%s\"",
                      (unsigned long long)n, (unsigned long long)total, status, cg_last_error());
        CHECK(cg_memory_get_stats().live_bytes == live_before);
    }
    cg_evaluation result;
    CHECK(cg_evaluate(model, data.x, data.y, 0, &result) == 0);
    cg_model_free(model);
    labelled_data_release(&data);
}

/* ----- memory over a long run ----- */

enum { LONG_RUN_EPOCHS = 200 };

/* Allocator and process memory at the end of each epoch. */
typedef struct {
    size_t live_bytes[LONG_RUN_EPOCHS];
    long resident_pages[LONG_RUN_EPOCHS];
} memory_trace;

/* The process's resident set in pages (the second field of /proc/self/statm), or -1. Read with
 * open and read, which allocate nothing, so that measuring does not change what is measured. */
static long resident_pages(void) {
    char text[128];
    const int fd = open("/proc/self/statm", O_RDONLY);
    const ssize_t length = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;
    if (fd >= 0) close(fd);
    if (length <= 0) return -1;
    text[length] = '\0';
    char *after_size;
    strtol(text, &after_size, 10);
    return strtol(after_size, NULL, 10);
}

static int record_memory(cg_train_state *state, void *userdata) {
    memory_trace *trace = userdata;
    trace->live_bytes[state->epoch] = cg_memory_get_stats().live_bytes;
    trace->resident_pages[state->epoch] = resident_pages();
    return 0;
}

TEST(memory_stays_flat_over_two_hundred_epochs) {
    labelled_data data = two_blobs(64, 23);
    cg_model *model = cg_sequential(cg_layer_dense(16, CG_ACTIVATION_RELU), cg_layer_dropout(0.2),
                                    cg_layer_batch_norm(), cg_layer_dense(2, CG_ACTIVATION_NONE));
    CHECK(data.x && model);
    CHECK(cg_compile(model, cg_adam(1e-3), CG_LOSS_CROSS_ENTROPY, CG_METRIC_ACCURACY) == 0);
    memory_trace *trace = calloc(1, sizeof *trace);
    CHECK(trace);
    const cg_callback_hooks hooks = {.on_epoch_end = record_memory};
    cg_fit_options options = QUIET;
    options.epochs = LONG_RUN_EPOCHS;
    options.batch_size = 16;
    options.validation_split = 0.25;
    options.callbacks = CG_CALLBACKS(cg_callback_new(&hooks, trace));
    resident_pages(); /* the first call faults its own code in */
    cg_history *history = cg_fit(model, data.x, data.y, &options);
    const bool trained = history && cg_history_epochs(history) == LONG_RUN_EPOCHS;
    cg_history_free(history);
    cg_model_free(model);
    labelled_data_release(&data);
    /* After the first epoch everything that lasts exists (parameters, Adam's moments, batch-norm
     * statistics), so the allocator must hold exactly as much at every later epoch's end. */
    for (int epoch = 1; trained && epoch < LONG_RUN_EPOCHS && !test_failed(); epoch++)
        if (trace->live_bytes[epoch] != trace->live_bytes[0])
            test_fail(__FILE__, __LINE__, "epoch %d ends with %zu live bytes, epoch 1 with %zu",
                      epoch + 1, trace->live_bytes[epoch], trace->live_bytes[0]);
    /* The process may still touch a few new pages: the history's arrays grow by five doubles an
     * epoch (8 KiB over 200 epochs, reallocated by doubling, so about 12 KiB at the last doubling)
     * and RSS counts whole pages, so about 16 KiB appear with 4 KiB pages. 64 KiB allows for that
     * with room for the C library's heap layout, while a leak of 128 bytes per training step
     * (75 KiB over the 600 steps) or of 512 bytes per epoch (100 KiB) exceeds it. */
    const long slack_bytes = 64 * 1024;
    const long growth_bytes =
        (trace->resident_pages[LONG_RUN_EPOCHS - 1] - trace->resident_pages[0]) *
        sysconf(_SC_PAGESIZE);
    const bool rss_known = trace->resident_pages[0] > 0;
    free(trace);
    CHECK(trained);
    if (!rss_known) SKIP("/proc/self/statm is not readable");
    if (growth_bytes > slack_bytes)
        test_fail(__FILE__, __LINE__, "the resident set grew by %ld bytes from epoch 1 to %d",
                  growth_bytes, LONG_RUN_EPOCHS);
}

/* ----- separate models on separate threads ----- */

enum { WIDE_FEATURES = 32, WIDE_SAMPLES = 256, WIDE_HIDDEN = 256 };

/* One training run, on whatever thread: its seed in, the trained weights (all parameters one
 * after the other) or the error out. Threads report through this, not through CHECK. */
typedef struct {
    uint64_t seed;
    float *weights;
    size_t weight_count;
    char error[512];
} training_run;

/* Samples of WIDE_FEATURES normal features, labelled by the sign of the first two's sum; and a
 * model wide enough that its matrix products use the thread pool. */
static cg_model *wide_problem(uint64_t seed, labelled_data *data) {
    cg_manual_seed(seed);
    cg_scope_begin();
    data->x = cg_keep(cg_randn(CG_SHAPE(WIDE_SAMPLES, WIDE_FEATURES), CG_FLOAT32));
    cg_tensor *sum = cg_sum(cg_narrow(data->x, 1, 0, 2), CG_DIMS(1), false);
    data->y = cg_keep(cg_to_dtype(cg_gt(sum, cg_zeros_like(sum)), CG_INT64));
    cg_scope_end();
    cg_model *model = cg_sequential(
        cg_layer_dense(WIDE_HIDDEN, CG_ACTIVATION_RELU), cg_layer_dropout(0.1),
        cg_layer_dense(WIDE_HIDDEN, CG_ACTIVATION_RELU), cg_layer_dense(2, CG_ACTIVATION_NONE));
    if (model && (cg_model_build(model, CG_SHAPE(WIDE_FEATURES)) != 0 ||
                  cg_compile(model, cg_adam(1e-3), CG_LOSS_CROSS_ENTROPY, CG_METRIC_ACCURACY))) {
        cg_model_free(model);
        return NULL;
    }
    return model;
}

static float *copy_weights(const cg_model *model, size_t *count) {
    int parameter_count = 0;
    cg_tensor *const *parameters = cg_model_parameters(model, &parameter_count);
    *count = (size_t)cg_model_parameter_total(model);
    float *weights = malloc(sizeof(float) * *count);
    size_t offset = 0;
    for (int i = 0; weights && i < parameter_count; i++) {
        const size_t bytes = sizeof(float) * (size_t)cg_numel(parameters[i]);
        if (cg_copy_to_array(parameters[i], weights + offset, bytes) != 0) {
            free(weights);
            return NULL;
        }
        offset += (size_t)cg_numel(parameters[i]);
    }
    return weights;
}

static void *train_one_model(void *argument) {
    training_run *run = argument;
    /* The built-in matrix product even where a CBLAS exists, so that the runs share the library's
     * own thread pool. */
    cg_gemm_force_builtin(true);
    labelled_data data = {NULL, NULL};
    cg_model *model = wide_problem(run->seed, &data);
    cg_fit_options options = QUIET;
    options.epochs = 4;
    options.batch_size = 64;
    options.seed = run->seed;
    cg_history *history = model && data.y ? cg_fit(model, data.x, data.y, &options) : NULL;
    if (history) run->weights = copy_weights(model, &run->weight_count);
    if (!run->weights) snprintf(run->error, sizeof run->error, "%s", cg_last_error());
    cg_history_free(history);
    cg_model_free(model);
    labelled_data_release(&data);
    return NULL;
}

/* Trains one model per run, all at once, each on a thread of its own. */
static bool train_concurrently(training_run *runs, int count) {
    pthread_t threads[2];
    int started = 0;
    while (started < count &&
           pthread_create(&threads[started], NULL, train_one_model, &runs[started]) == 0)
        started++;
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    return started == count;
}

static bool same_weights(const training_run *a, const training_run *b) {
    return a->weights && b->weights && a->weight_count == b->weight_count &&
           memcmp(a->weights, b->weights, sizeof(float) * a->weight_count) == 0;
}

TEST(concurrent_training_of_separate_models_matches_training_each_alone) {
    training_run alone[2] = {{.seed = 101}, {.seed = 202}};
    training_run together[2] = {{.seed = 101}, {.seed = 202}};
    /* More pool threads than cores, so the products really split across workers. */
    const int threads_before = cg_get_num_threads();
    CHECK(cg_set_num_threads(4) == 0);
    /* Alone: one thread at a time, each a fresh thread as in the concurrent runs. */
    bool ok = train_concurrently(&alone[0], 1) && train_concurrently(&alone[1], 1) &&
              train_concurrently(together, 2);
    cg_set_num_threads(threads_before);
    for (int i = 0; ok && i < 2; i++) {
        if (!alone[i].weights || !together[i].weights) {
            test_fail(__FILE__, __LINE__, "run %d failed: %s", i,
                      alone[i].weights ? together[i].error : alone[i].error);
            ok = false;
        }
    }
    const bool same =
        ok && same_weights(&alone[0], &together[0]) && same_weights(&alone[1], &together[1]);
    const bool seeds_matter = ok && !same_weights(&alone[0], &alone[1]);
    for (int i = 0; i < 2; i++) {
        free(alone[i].weights);
        free(together[i].weights);
    }
    CHECK(ok);
    CHECK(seeds_matter);
    CHECK(same);
}
