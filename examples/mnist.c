/* The MNIST lab: handwritten digits (or Fashion-MNIST's clothes) classified by a single-layer
 * network (softmax regression, 784 -> 10), a multi-layer network (784 -> 128 -> 10), a deeper one
 * (784 -> 256 -> 128 -> 10 with dropout 0.2) and a convolutional network (two 3x3 convolution and
 * 2x2 max-pooling stages, then 128 -> 10), each trained with fit and Adam (learning rate 1e-3).
 * The images stay bytes in memory; batches become float32 pixels in [0, 1] on a background
 * thread. Prints each model's test accuracy, its mean epoch time and its confusion matrix on the
 * test set, and writes its training curves as SVG.
 *
 * usage: mnist [--data DIR] [--dataset mnist|fashion] [--model single|mlp|deep|cnn|all]
 *              [--epochs N] [--batch-size N] [--split standard|t10k] [--train-limit N]
 *              [--seed N] [--output-dir DIR] [--quiet]
 *   --data       the directory of the IDX files (raw or .gz); default: $CGRAD_DATA, else data/
 *                for MNIST, and the Debian package dataset-fashion-mnist's directory for fashion
 *   --split      standard: train on the train files (60,000 images), test on the t10k files
 *                (10,000); t10k: only the t10k files, split 8,000 / 2,000 (stratified, fixed seed)
 *   --epochs     default 5
 *   --batch-size default 128, and 32 with --split t10k (more steps an epoch on fewer images)
 *   --train-limit train on N images drawn at random (seeded) from the training part
 *   --seed       weight initialisation, shuffling, dropout and --train-limit; the split is fixed */
#define _POSIX_C_SOURCE 200809L

#include <cgrad.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { CLASSES = 10, SPLIT_SEED = 2024, DEFAULT_EPOCHS = 5 };
/* 469 steps an epoch on 60,000 images; on the 8,000 of --split t10k a batch of 128 would leave
 * 63 steps an epoch, too few for the networks to learn much in the first epochs. */
enum { BATCH_SIZE = 128, SMALL_SET_BATCH_SIZE = 32 };
static const double LEARNING_RATE = 1e-3;
static const double T10K_TEST_FRACTION = 0.2;
static const char FASHION_PACKAGE_DIR[] = "/usr/share/datasets/fashion-mnist";

typedef enum { MODEL_SINGLE, MODEL_MLP, MODEL_DEEP, MODEL_CNN, MODEL_COUNT } model_kind;

typedef struct {
    const char *flag;  /* the --model value */
    const char *label; /* names the model in the result lines and the chart's file */
    const char *title; /* of the chart */
} model_info;

static const model_info MODELS[MODEL_COUNT] = {
    [MODEL_SINGLE] = {"single", "single-layer", "single-layer network (784-10)"},
    [MODEL_MLP] = {"mlp", "multi-layer", "multi-layer network (784-128-10)"},
    [MODEL_DEEP] = {"deep", "deep", "deep network (784-256-128-10, dropout 0.2)"},
    [MODEL_CNN] = {"cnn", "cnn", "convolutional network"},
};

static const char *const FASHION_CLASSES[CLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

static cg_model *make_model(model_kind kind) {
    switch (kind) {
    case MODEL_SINGLE:
        return cg_sequential(cg_layer_flatten(), cg_layer_dense(CLASSES, CG_ACTIVATION_NONE));
    case MODEL_MLP:
        return cg_sequential(cg_layer_flatten(), cg_layer_dense(128, CG_ACTIVATION_RELU),
                             cg_layer_dense(CLASSES, CG_ACTIVATION_NONE));
    case MODEL_DEEP:
        return cg_sequential(cg_layer_flatten(), cg_layer_dense(256, CG_ACTIVATION_RELU),
                             cg_layer_dropout(0.2), cg_layer_dense(128, CG_ACTIVATION_RELU),
                             cg_layer_dropout(0.2), cg_layer_dense(CLASSES, CG_ACTIVATION_NONE));
    default: {
        const cg_conv2d_layer_options relu = {.activation = CG_ACTIVATION_RELU};
        return cg_sequential(cg_layer_conv2d(32, 3, &relu), cg_layer_max_pool2d(2),
                             cg_layer_conv2d(64, 3, &relu), cg_layer_max_pool2d(2),
                             cg_layer_flatten(), cg_layer_dense(128, CG_ACTIVATION_RELU),
                             cg_layer_dense(CLASSES, CG_ACTIVATION_NONE));
    }
    }
}

/* ----- arguments ----- */

typedef struct {
    const char *data_dir; /* NULL: the default search of cg_data_path */
    bool fashion;
    bool run_model[MODEL_COUNT];
    int epochs;
    int batch_size;
    bool split_t10k;
    long long train_limit; /* 0: every training image */
    uint64_t seed;
    const char *output_dir;
    bool quiet;
} lab_options;

static const char USAGE[] =
    "usage: %s [--data DIR] [--dataset mnist|fashion] [--model single|mlp|deep|cnn|all]\n"
    "       [--epochs N] [--batch-size N] [--split standard|t10k] [--train-limit N] [--seed N]\n"
    "       [--output-dir DIR] [--quiet]\n";

/* Parses a whole decimal number in [minimum, maximum]; false otherwise. */
static bool parse_count(const char *text, long long minimum, long long maximum, long long *value) {
    char *end = NULL;
    *value = strtoll(text, &end, 10);
    return end != text && *end == '\0' && *value >= minimum && *value <= maximum;
}

static bool parse_model(const char *name, lab_options *options) {
    const bool all = strcmp(name, "all") == 0;
    bool found = all;
    for (int kind = 0; kind < MODEL_COUNT; kind++) {
        const bool chosen = all || strcmp(name, MODELS[kind].flag) == 0;
        options->run_model[kind] = chosen;
        found = found || chosen;
    }
    return found;
}

static bool parse_option(const char *flag, const char *value, lab_options *options) {
    long long number;
    if (strcmp(flag, "--data") == 0) {
        options->data_dir = value;
    } else if (strcmp(flag, "--dataset") == 0) {
        options->fashion = strcmp(value, "fashion") == 0;
        return options->fashion || strcmp(value, "mnist") == 0;
    } else if (strcmp(flag, "--model") == 0) {
        return parse_model(value, options);
    } else if (strcmp(flag, "--epochs") == 0) {
        if (!parse_count(value, 1, INT_MAX, &number)) return false;
        options->epochs = (int)number;
    } else if (strcmp(flag, "--batch-size") == 0) {
        if (!parse_count(value, 1, INT_MAX, &number)) return false;
        options->batch_size = (int)number;
    } else if (strcmp(flag, "--split") == 0) {
        options->split_t10k = strcmp(value, "t10k") == 0;
        return options->split_t10k || strcmp(value, "standard") == 0;
    } else if (strcmp(flag, "--train-limit") == 0) {
        return parse_count(value, 1, LLONG_MAX, &options->train_limit);
    } else if (strcmp(flag, "--seed") == 0) {
        if (!parse_count(value, 0, LLONG_MAX, &number)) return false;
        options->seed = (uint64_t)number;
    } else if (strcmp(flag, "--output-dir") == 0) {
        options->output_dir = value;
    } else {
        return false;
    }
    return true;
}

static int parse_arguments(int argc, char **argv, lab_options *options) {
    *options = (lab_options){.epochs = DEFAULT_EPOCHS, .seed = 1, .output_dir = "."};
    parse_model("all", options);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quiet") == 0) {
            options->quiet = true;
        } else if (i + 1 < argc && parse_option(argv[i], argv[i + 1], options)) {
            i++;
        } else {
            fprintf(stderr, "mnist: bad argument '%s'\n", argv[i]);
            fprintf(stderr, USAGE, argv[0]);
            return -1;
        }
    }
    if (!options->batch_size)
        options->batch_size = options->split_t10k ? SMALL_SET_BATCH_SIZE : BATCH_SIZE;
    return 0;
}

/* ----- data ----- */

/* Reads one split of the data set the options name. */
static cg_dataset *read_split(const lab_options *options, const char *split) {
    const char *dir = options->data_dir;
    if (!dir && options->fashion) dir = FASHION_PACKAGE_DIR;
    cg_dataset *dataset = cg_mnist_read(dir, split);
    if (!dataset && options->fashion) {
        char message[1024];
        snprintf(message, sizeof message, "%s", cg_last_error());
        fprintf(stderr,
                "mnist: %s\nmnist: Fashion-MNIST comes with the Debian package "
                "dataset-fashion-mnist (apt-get install dataset-fashion-mnist), or pass "
                "--data DIR\n",
                message);
    } else if (!dataset && strcmp(split, "train") == 0) {
        fprintf(stderr,
                "mnist: %s\nmnist: with only the t10k files, --split t10k trains on "
                "8,000 of them and tests on the other 2,000\n",
                cg_last_error());
    } else if (!dataset) {
        fprintf(stderr, "mnist: %s\n", cg_last_error());
    }
    return dataset;
}

/* The training and test parts: the train and t10k files, or the t10k files split 8,000 / 2,000
 * (stratified, always with the same seed); then at most train_limit training images. */
static int load_data(const lab_options *options, cg_dataset **train, cg_dataset **test) {
    *train = *test = NULL;
    cg_dataset *t10k = read_split(options, "t10k");
    if (!t10k) return -1;
    int status = 0;
    if (options->split_t10k) {
        status = cg_dataset_split(t10k, T10K_TEST_FRACTION, true, SPLIT_SEED, train, test);
        cg_dataset_free(t10k);
    } else {
        *test = t10k;
        *train = read_split(options, "train");
        if (!*train) return -1;
    }
    const int64_t size = cg_dataset_size(*train);
    if (status == 0 && options->train_limit > 0 && options->train_limit < size) {
        cg_dataset *kept = NULL, *dropped = NULL;
        const double dropped_fraction = (double)(size - options->train_limit) / (double)size;
        status = cg_dataset_split(*train, dropped_fraction, false, options->seed, &kept, &dropped);
        cg_dataset_free(dropped);
        cg_dataset_free(*train);
        *train = kept;
    }
    if (status != 0) fprintf(stderr, "mnist: %s\n", cg_last_error());
    return status;
}

/* ----- epoch times ----- */

typedef struct {
    double epoch_start, total_seconds;
    int epochs;
} epoch_timer;

static double now_seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

static int start_epoch_timer(cg_train_state *state, void *userdata) {
    (void)state;
    ((epoch_timer *)userdata)->epoch_start = now_seconds();
    return 0;
}

static int stop_epoch_timer(cg_train_state *state, void *userdata) {
    (void)state;
    epoch_timer *timer = userdata;
    timer->total_seconds += now_seconds() - timer->epoch_start;
    timer->epochs++;
    return 0;
}

/* ----- results ----- */

/* counts[true class][predicted class] over the test set. */
static int confusion_matrix(cg_model *model, const cg_dataset *test,
                            int64_t counts[CLASSES][CLASSES]) {
    const int64_t n = cg_dataset_size(test);
    int64_t *predicted = malloc(sizeof(int64_t) * (size_t)n);
    int64_t *actual = malloc(sizeof(int64_t) * (size_t)n);
    cg_scope_begin();
    const cg_tensor *classes = cg_argmax(cg_predict_dataset(model, test, 0), 1, false);
    int status =
        predicted && actual &&
                cg_copy_to_array(classes, predicted, sizeof(int64_t) * (size_t)n) == 0 &&
                cg_copy_to_array(cg_dataset_labels(test), actual, sizeof(int64_t) * (size_t)n) == 0
            ? 0
            : -1;
    cg_scope_end();
    memset(counts, 0, sizeof(int64_t) * CLASSES * CLASSES);
    for (int64_t i = 0; status == 0 && i < n; i++)
        counts[actual[i]][predicted[i]]++;
    free(predicted);
    free(actual);
    return status;
}

static void print_confusion_matrix(const char *label, int64_t counts[CLASSES][CLASSES],
                                   bool fashion) {
    printf("%s confusion matrix (rows: true class, columns: predicted class)\n", label);
    printf("     ");
    for (int column = 0; column < CLASSES; column++)
        printf("%6d", column);
    printf("\n");
    for (int row = 0; row < CLASSES; row++) {
        printf("%5d", row);
        for (int column = 0; column < CLASSES; column++)
            printf("%6lld", (long long)counts[row][column]);
        printf(fashion ? "   %s\n" : "\n", fashion ? FASHION_CLASSES[row] : "");
    }
}

/* Trains one model, then reports its test accuracy, epoch time and confusion matrix and writes
 * its curves to DIR/DATASET-LABEL.svg. 0, or -1 with the error printed. */
static int run_model(model_kind kind, const cg_dataset *train, const cg_dataset *test,
                     const lab_options *options) {
    const model_info *info = &MODELS[kind];
    const char *dataset_name = options->fashion ? "fashion" : "mnist";
    cg_manual_seed(options->seed);
    cg_model *model = make_model(kind);
    epoch_timer timer = {0};
    const cg_callback_hooks timing = {.on_epoch_begin = start_epoch_timer,
                                      .on_epoch_end = stop_epoch_timer};
    cg_history *history = NULL;
    cg_evaluation result;
    int64_t counts[CLASSES][CLASSES];
    char path[1024], title[256];
    snprintf(path, sizeof path, "%s/%s-%s.svg", options->output_dir, dataset_name, info->label);
    snprintf(title, sizeof title, "%s, %s", options->fashion ? "Fashion-MNIST" : "MNIST",
             info->title);
    int status = -1;
    if (!model ||
        cg_compile(model, cg_adam(LEARNING_RATE), CG_LOSS_CROSS_ENTROPY, CG_METRIC_ACCURACY) != 0)
        goto done;
    history = cg_fit_dataset(
        model, train, test,
        &(cg_fit_options){.epochs = options->epochs,
                          .batch_size = options->batch_size,
                          .seed = options->seed,
                          .verbose = options->quiet ? CG_VERBOSE_SILENT : CG_VERBOSE_AUTO,
                          .output = stderr,
                          .callbacks = CG_CALLBACKS(cg_callback_new(&timing, &timer))});
    if (!history || cg_history_plot_svg(history, path, title) != 0 ||
        cg_evaluate_dataset(model, test, 0, &result) != 0 ||
        confusion_matrix(model, test, counts) != 0)
        goto done;
    if (!options->quiet) cg_model_summary(model, stdout);
    printf("%s test accuracy: %.4f\n", info->label, result.accuracy);
    printf("%s epoch time: %.2f s (mean of %d epochs on %lld images, testing included)\n",
           info->label, timer.total_seconds / timer.epochs, timer.epochs,
           (long long)cg_dataset_size(train));
    print_confusion_matrix(info->label, counts, options->fashion);
    printf("%s curves written to %s\n", info->label, path);
    fflush(stdout);
    status = 0;
done:
    if (status != 0) fprintf(stderr, "mnist: %s: %s\n", info->label, cg_last_error());
    cg_history_free(history);
    cg_model_free(model);
    return status;
}

int main(int argc, char **argv) {
    lab_options options;
    if (parse_arguments(argc, argv, &options) != 0) return 2;
    cg_dataset *train, *test;
    if (load_data(&options, &train, &test) != 0) {
        cg_dataset_free(train);
        cg_dataset_free(test);
        return 1;
    }
    if (cg_dataset_class_count(train) != CLASSES || cg_dataset_class_count(test) != CLASSES) {
        fprintf(stderr, "mnist: expected labels 0 to 9, got %lld and %lld classes\n",
                (long long)cg_dataset_class_count(train), (long long)cg_dataset_class_count(test));
        cg_dataset_free(train);
        cg_dataset_free(test);
        return 1;
    }
    printf("%s: training on %lld images, testing on %lld\n",
           options.fashion ? "Fashion-MNIST" : "MNIST", (long long)cg_dataset_size(train),
           (long long)cg_dataset_size(test));
    int status = 0;
    for (int kind = 0; status == 0 && kind < MODEL_COUNT; kind++)
        if (options.run_model[kind]) status = run_model((model_kind)kind, train, test, &options);
    cg_dataset_free(train);
    cg_dataset_free(test);
    return status == 0 ? 0 : 1;
}
