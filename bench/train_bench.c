/* One configuration of the CPU benchmark against PyTorch (bench/run_bench.py runs the matrix;
 * bench/train_bench_torch.py is PyTorch's side): a Fashion-MNIST model trained, or run for
 * inference, through the public API as a user would, printing one JSON line.
 *
 * Models: single (784-10), mlp (784-128-10), mlp512 (784-512-256-10, dropout 0.2 after each
 * hidden layer), cnn (conv 32 3x3, pool 2, conv 64 3x3, pool 2, dense 128, dense 10); relu
 * between layers, Adam with learning rate 1e-3, cross-entropy. The images stay uint8 in memory;
 * batches become float32 in [0, 1] as they are assembled.
 *
 * Modes:
 *   train    one epoch of cg_fit_dataset over the 60,000 training images (or the first --samples
 *            of its shuffled order); the first --warmup steps (at most a quarter of the epoch's)
 *            are not timed; then the accuracy on the 10,000 test images. samples_per_s counts
 *            the timed steps only.
 *   infer    cg_predict_dataset over the test images in batches of --batch (1000), once to warm
 *            up, then whole passes for at least --seconds.
 *   latency  cg_predict on one test image at a time (its bytes converted to float32 first),
 *            --latency-runs times after as many warm-up runs; the median and mean per image
 *            (--batch is ignored).
 *   startup  the training images read, the model built and one training step: the time from
 *            process start to that step's end.
 * Every mode reports the peak resident set of the whole process (getrusage; for train, up to the
 * end of training, before the test evaluation); train and startup also the caching allocator's
 * peak of live bytes (tensor_peak_kib: data set, parameters, optimizer state, a step's
 * temporaries) and the time from process start to the end of the first step (first_step_ms).
 * Process start is --launch-ns, the CLOCK_MONOTONIC time at which the caller started the
 * process, when given; otherwise the entry of main.
 *
 * Usage: train_bench --model NAME --mode train|infer|latency|startup [--batch N] [--threads T]
 *                    [--samples N] [--warmup N] [--seconds S] [--latency-runs N] [--seed N]
 *                    [--data DIR] [--launch-ns NS] */
#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cgrad.h"

typedef enum { MODEL_SINGLE, MODEL_MLP, MODEL_MLP512, MODEL_CNN, MODEL_COUNT } model_kind;
typedef enum { MODE_TRAIN, MODE_INFER, MODE_LATENCY, MODE_STARTUP, MODE_COUNT } run_mode;

static const char *const MODEL_NAMES[MODEL_COUNT] = {"single", "mlp", "mlp512", "cnn"};
static const char *const MODE_NAMES[MODE_COUNT] = {"train", "infer", "latency", "startup"};
static const char DEFAULT_DATA_DIR[] = "/usr/share/datasets/fashion-mnist";
static const double LEARNING_RATE = 1e-3;
static const double DROPOUT_RATE = 0.2;
enum { CLASSES = 10 };

typedef struct {
    model_kind model;
    run_mode mode;
    int batch;
    int threads;
    long long samples; /* training samples of the epoch; 0: all */
    int warmup;        /* untimed steps (train) or runs (latency) */
    double seconds;    /* least timed time of infer */
    int latency_runs;
    unsigned long long seed;
    const char *data_dir;
    double start; /* process start, CLOCK_MONOTONIC seconds */
} bench_options;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static long peak_rss_kib(void) {
    struct rusage usage;
    return getrusage(RUSAGE_SELF, &usage) == 0 ? usage.ru_maxrss : -1;
}

/* The process's own resident memory now (Linux's RssAnon): resident memory less the pages of
 * files (the mapped data set, the shared libraries), which the page cache holds and shares; -1
 * where /proc does not tell. */
static long private_rss_kib(void) {
    FILE *status = fopen("/proc/self/status", "r");
    if (!status) return -1;
    char line[256];
    long kib = -1;
    while (kib < 0 && fgets(line, sizeof line, status))
        if (sscanf(line, "RssAnon: %ld kB", &kib) != 1) kib = -1;
    fclose(status);
    return kib;
}

static cg_model *make_model(model_kind kind) {
    const cg_conv2d_layer_options relu = {.activation = CG_ACTIVATION_RELU};
    switch (kind) {
    case MODEL_SINGLE:
        return cg_sequential(cg_layer_flatten(), cg_layer_dense(CLASSES, CG_ACTIVATION_NONE));
    case MODEL_MLP:
        return cg_sequential(cg_layer_flatten(), cg_layer_dense(128, CG_ACTIVATION_RELU),
                             cg_layer_dense(CLASSES, CG_ACTIVATION_NONE));
    case MODEL_MLP512:
        return cg_sequential(
            cg_layer_flatten(), cg_layer_dense(512, CG_ACTIVATION_RELU),
            cg_layer_dropout(DROPOUT_RATE), cg_layer_dense(256, CG_ACTIVATION_RELU),
            cg_layer_dropout(DROPOUT_RATE), cg_layer_dense(CLASSES, CG_ACTIVATION_NONE));
    default:
        return cg_sequential(cg_layer_conv2d(32, 3, &relu), cg_layer_max_pool2d(2),
                             cg_layer_conv2d(64, 3, &relu), cg_layer_max_pool2d(2),
                             cg_layer_flatten(), cg_layer_dense(128, CG_ACTIVATION_RELU),
                             cg_layer_dense(CLASSES, CG_ACTIVATION_NONE));
    }
}

/* ----- arguments ----- */

static const char USAGE[] =
    "usage: train_bench --model single|mlp|mlp512|cnn --mode train|infer|latency|startup\n"
    "       [--batch N] [--threads T] [--samples N] [--warmup N] [--seconds S]\n"
    "       [--latency-runs N] [--seed N] [--data DIR] [--launch-ns NS]\n";

static bool parse_count(const char *text, long long minimum, long long *value) {
    char *end = NULL;
    *value = strtoll(text, &end, 10);
    return end != text && *end == '\0' && *value >= minimum && *value <= INT_MAX;
}

static bool parse_name(const char *text, const char *const *names, int count, int *index) {
    for (*index = 0; *index < count; (*index)++)
        if (strcmp(text, names[*index]) == 0) return true;
    return false;
}

static bool parse_option(const char *flag, const char *value, bench_options *options) {
    long long number = 0;
    int index = 0;
    if (strcmp(flag, "--model") == 0) {
        if (!parse_name(value, MODEL_NAMES, MODEL_COUNT, &index)) return false;
        options->model = (model_kind)index;
    } else if (strcmp(flag, "--mode") == 0) {
        if (!parse_name(value, MODE_NAMES, MODE_COUNT, &index)) return false;
        options->mode = (run_mode)index;
    } else if (strcmp(flag, "--batch") == 0 || strcmp(flag, "--threads") == 0 ||
               strcmp(flag, "--latency-runs") == 0) {
        if (!parse_count(value, 1, &number)) return false;
        *(flag[2] == 'b'   ? &options->batch
          : flag[2] == 't' ? &options->threads
                           : &options->latency_runs) = (int)number;
    } else if (strcmp(flag, "--samples") == 0) {
        return parse_count(value, 0, &options->samples);
    } else if (strcmp(flag, "--warmup") == 0) {
        if (!parse_count(value, 0, &number)) return false;
        options->warmup = (int)number;
    } else if (strcmp(flag, "--seconds") == 0) {
        options->seconds = atof(value);
        return options->seconds > 0;
    } else if (strcmp(flag, "--seed") == 0) {
        options->seed = strtoull(value, NULL, 10);
    } else if (strcmp(flag, "--data") == 0) {
        options->data_dir = value;
    } else if (strcmp(flag, "--launch-ns") == 0) {
        options->start = 1e-9 * strtod(value, NULL);
    } else {
        return false;
    }
    return true;
}

static int parse_arguments(int argc, char **argv, bench_options *options) {
    const char *env_dir = getenv("FASHION_DATA");
    *options = (bench_options){.mode = MODE_TRAIN,
                               .batch = 0,
                               .threads = 1,
                               .warmup = 20,
                               .seconds = 1.0,
                               .latency_runs = 1000,
                               .seed = 1,
                               .data_dir = env_dir ? env_dir : DEFAULT_DATA_DIR,
                               .start = now()};
    bool have_model = false;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!parse_option(argv[i], argv[i + 1], options)) {
            fprintf(stderr, "train_bench: bad argument '%s %s'\n%s", argv[i], argv[i + 1], USAGE);
            return -1;
        }
        have_model = have_model || strcmp(argv[i], "--model") == 0;
    }
    if (argc % 2 == 0 || !have_model) {
        fprintf(stderr, "%s", USAGE);
        return -1;
    }
    if (!options->batch)
        options->batch = options->mode == MODE_INFER     ? 1000
                         : options->mode == MODE_LATENCY ? 1
                                                         : 32;
    return 0;
}

/* ----- the modes ----- */

static int fail(const char *what) {
    fprintf(stderr, "train_bench: %s: %s\n", what, cg_last_error());
    return -1;
}

/* What the training callback records: batch-end times and when to stop. */
typedef struct {
    int batch_size;
    int warmup;
    long long epoch_size;    /* samples in the training set */
    long long samples_limit; /* 0: the whole epoch */
    long long samples_done, timed_samples;
    double first_step_end, timing_start, last_step_end;
} step_clock;

static int on_epoch_begin(cg_train_state *state, void *userdata) {
    (void)state;
    ((step_clock *)userdata)->timing_start = now();
    return 0;
}

static int on_batch_end(cg_train_state *state, void *userdata) {
    step_clock *clock = userdata;
    const double t = now();
    /* The last batch of the epoch may be partial. */
    const long long left = clock->epoch_size - clock->samples_done;
    const long long samples = left < clock->batch_size ? left : clock->batch_size;
    if (state->batch == 0) clock->first_step_end = t;
    if (state->batch + 1 == clock->warmup) clock->timing_start = t;
    if (state->batch >= clock->warmup) clock->timed_samples += samples;
    clock->samples_done += samples;
    clock->last_step_end = t;
    if (clock->samples_limit > 0 && clock->samples_done >= clock->samples_limit)
        state->stop_training = true;
    return 0;
}

/* One split of the data set ("train" or "t10k"); the seconds the read took into *seconds unless
 * it is NULL. */
static cg_dataset *read_split(const bench_options *options, const char *split, double *seconds) {
    const double start = now();
    cg_dataset *dataset = cg_mnist_read(options->data_dir, split);
    if (seconds) *seconds = now() - start;
    if (!dataset)
        fprintf(stderr,
                "train_bench: %s\ntrain_bench: Fashion-MNIST comes with the Debian package "
                "dataset-fashion-mnist (apt-get install dataset-fashion-mnist), or pass --data "
                "DIR\n",
                cg_last_error());
    return dataset;
}

static void print_common(const bench_options *options) {
    printf("{\"impl\": \"cgrad\", \"mode\": \"%s\", \"model\": \"%s\", \"batch\": %d, "
           "\"threads\": %d",
           MODE_NAMES[options->mode], MODEL_NAMES[options->model], options->batch,
           options->threads);
}

static int train(const bench_options *options, cg_model *model) {
    const bool startup = options->mode == MODE_STARTUP;
    double load_seconds = 0;
    cg_dataset *train_set = read_split(options, "train", &load_seconds);
    if (!train_set) return -1;
    step_clock clock = {.batch_size = options->batch,
                        .epoch_size = cg_dataset_size(train_set),
                        .samples_limit = startup ? 1 : options->samples};
    /* At most a quarter of the epoch's steps warm up, so that a short epoch is timed too. */
    const long long samples = clock.samples_limit > 0 && clock.samples_limit < clock.epoch_size
                                  ? clock.samples_limit
                                  : clock.epoch_size;
    const long long steps = (samples + options->batch - 1) / options->batch;
    clock.warmup = startup ? 0 : (int)(options->warmup < steps / 4 ? options->warmup : steps / 4);
    const cg_callback_hooks hooks = {.on_epoch_begin = on_epoch_begin,
                                     .on_batch_end = on_batch_end};
    cg_history *history = cg_fit_dataset(
        model, train_set, NULL,
        &(cg_fit_options){.epochs = 1,
                          .batch_size = options->batch,
                          .seed = options->seed,
                          .verbose = CG_VERBOSE_SILENT,
                          .callbacks = CG_CALLBACKS(cg_callback_new(&hooks, &clock))});
    cg_dataset_free(train_set);
    if (!history) return fail("training");
    const double final_loss = cg_history_series(history, "loss")[0];
    cg_history_free(history);
    /* The peaks of training, before the test evaluation's larger batches. */
    const long training_rss_kib = peak_rss_kib(), training_private_kib = private_rss_kib();
    const size_t training_tensor_kib = cg_memory_get_stats().peak_live_bytes / 1024;
    cg_evaluation evaluation = {0};
    if (!startup) {
        cg_dataset *test_set = read_split(options, "t10k", NULL);
        const int status = test_set ? cg_evaluate_dataset(model, test_set, 1000, &evaluation) : -1;
        cg_dataset_free(test_set);
        if (status != 0) return test_set ? fail("evaluation") : -1;
    }
    const double timed_seconds = clock.last_step_end - clock.timing_start;
    char accuracy[32] = "null"; /* startup does not evaluate */
    if (!startup) snprintf(accuracy, sizeof accuracy, "%.4f", evaluation.accuracy);
    print_common(options);
    printf(", \"samples\": %lld, \"timed_samples\": %lld, \"seconds\": %.4f, "
           "\"samples_per_s\": %.1f, \"loss\": %.4f, \"accuracy\": %s, \"load_ms\": %.2f, "
           "\"first_step_ms\": %.2f, \"peak_rss_kib\": %ld, \"private_rss_kib\": %ld, "
           "\"tensor_peak_kib\": %zu}\n",
           clock.samples_done, clock.timed_samples, timed_seconds,
           clock.timed_samples > 0 && timed_seconds > 0
               ? (double)clock.timed_samples / timed_seconds
               : 0.0,
           final_loss, accuracy, 1e3 * load_seconds, 1e3 * (clock.first_step_end - options->start),
           training_rss_kib, training_private_kib, training_tensor_kib);
    return 0;
}

static int infer(const bench_options *options, cg_model *model) {
    cg_dataset *test_set = read_split(options, "t10k", NULL);
    if (!test_set) return -1;
    int status = cg_model_build(model, cg_dataset_sample_shape(test_set)) == 0 ? 0 : fail("build");
    long long passes = -1; /* the first pass warms up */
    double start = 0, elapsed = 0;
    while (status == 0 && (passes < 1 || elapsed < options->seconds)) {
        cg_tensor *outputs = cg_predict_dataset(model, test_set, options->batch);
        if (!outputs) status = fail("inference");
        cg_release(outputs);
        if (++passes == 0) start = now();
        elapsed = now() - start;
    }
    const long long samples = passes * cg_dataset_size(test_set);
    cg_dataset_free(test_set);
    if (status != 0) return -1;
    print_common(options);
    printf(", \"samples\": %lld, \"seconds\": %.4f, \"samples_per_s\": %.1f, "
           "\"peak_rss_kib\": %ld}\n",
           samples, elapsed, (double)samples / elapsed, peak_rss_kib());
    return 0;
}

static int compare_doubles(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The seconds of one prediction of test image index, from its bytes. */
static double predict_one(cg_model *model, const cg_dataset *test_set, int64_t index) {
    const double start = now();
    cg_scope_begin();
    cg_tensor *image = cg_narrow(cg_dataset_features(test_set), 0, index, 1);
    cg_tensor *x =
        cg_mul_scalar(cg_to_dtype(image, CG_FLOAT32), cg_dataset_feature_scale(test_set));
    cg_tensor *output = x ? cg_predict(model, x, 1) : NULL;
    cg_scope_end();
    return output ? now() - start : -1;
}

static int latency(const bench_options *options, cg_model *model) {
    cg_dataset *test_set = read_split(options, "t10k", NULL);
    if (!test_set) return -1;
    const int64_t size = cg_dataset_size(test_set);
    const int runs = options->latency_runs;
    double *seconds = malloc(sizeof *seconds * (size_t)runs);
    int status = seconds && cg_model_build(model, cg_dataset_sample_shape(test_set)) == 0
                     ? 0
                     : fail("build");
    double total = 0;
    for (int i = -runs; status == 0 && i < runs; i++) {
        const double t = predict_one(model, test_set, (i + runs) % size);
        if (t < 0) status = fail("prediction");
        if (i >= 0) seconds[i] = t;
        if (i >= 0) total += t;
    }
    cg_dataset_free(test_set);
    if (status == 0) {
        qsort(seconds, (size_t)runs, sizeof *seconds, compare_doubles);
        print_common(options);
        printf(", \"samples\": %d, \"latency_median_us\": %.2f, \"latency_mean_us\": %.2f, "
               "\"samples_per_s\": %.1f, \"peak_rss_kib\": %ld}\n",
               runs, 1e6 * seconds[runs / 2], 1e6 * total / runs, runs / total, peak_rss_kib());
    }
    free(seconds);
    return status;
}

int main(int argc, char **argv) {
    bench_options options;
    if (parse_arguments(argc, argv, &options) != 0) return 2;
    if (cg_set_num_threads(options.threads) != 0) {
        fail("--threads");
        return 1;
    }
    cg_manual_seed(options.seed);
    cg_model *model = make_model(options.model);
    if (!model ||
        cg_compile(model, cg_adam(LEARNING_RATE), CG_LOSS_CROSS_ENTROPY, CG_METRIC_ACCURACY) != 0) {
        fail("model");
        cg_model_free(model);
        return 1;
    }
    int status;
    switch (options.mode) {
    case MODE_INFER: status = infer(&options, model); break;
    case MODE_LATENCY: status = latency(&options, model); break;
    default: status = train(&options, model); break;
    }
    cg_model_free(model);
    return status == 0 ? 0 : 1;
}
