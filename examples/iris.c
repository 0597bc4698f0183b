/* The Iris lab: a single-layer network (softmax regression, 4 -> 3) and a multi-layer network
 * (4 -> 16 -> 16 -> 3) trained with fit on a fixed, stratified 120/30 split, features standardised
 * with statistics of the 120 training rows. Prints the test accuracy of each and writes their
 * training curves as SVG.
 *
 * usage: iris [--data FILE.csv] [--seed N] [--output-dir DIR] [--quiet]
 *   --seed drives weight initialisation, shuffling and dropout; the split is always the same. */
#include <cgrad.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SPLIT_SEED = 2024 };

typedef struct {
    const char *data_path;
    uint64_t seed;
    const char *output_dir;
    bool quiet;
} lab_options;

static int parse_arguments(int argc, char **argv, lab_options *options) {
    *options = (lab_options){.data_path = "data/iris.csv", .seed = 1, .output_dir = "."};
    for (int i = 1; i < argc; i++) {
        const bool has_value = i + 1 < argc;
        if (strcmp(argv[i], "--data") == 0 && has_value)
            options->data_path = argv[++i];
        else if (strcmp(argv[i], "--seed") == 0 && has_value)
            options->seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--output-dir") == 0 && has_value)
            options->output_dir = argv[++i];
        else if (strcmp(argv[i], "--quiet") == 0)
            options->quiet = true;
        else {
            fprintf(stderr, "usage: %s [--data FILE.csv] [--seed N] [--output-dir DIR] [--quiet]\n",
                    argv[0]);
            return -1;
        }
    }
    return 0;
}

/* Trains model on the training part, writes its curves to DIR/iris-NAME.svg and returns its test
 * accuracy (negative on failure). */
static double train_and_test(cg_model *model, const char *name, const cg_dataset *train,
                             const cg_dataset *test, const lab_options *options) {
    if (!model || cg_compile(model, cg_adam(0.01), CG_LOSS_CROSS_ENTROPY, CG_METRIC_ACCURACY) != 0)
        return -1;
    cg_history *history =
        cg_fit(model, cg_dataset_features(train), cg_dataset_labels(train),
               &(cg_fit_options){.epochs = 60,
                                 .batch_size = 16,
                                 .seed = options->seed,
                                 .validation_x = cg_dataset_features(test),
                                 .validation_y = cg_dataset_labels(test),
                                 .verbose = options->quiet ? CG_VERBOSE_SILENT : CG_VERBOSE_AUTO});
    if (!history) return -1;
    char path[1024];
    snprintf(path, sizeof path, "%s/iris-%s.svg", options->output_dir, name);
    char title[128];
    snprintf(title, sizeof title, "Iris, %s network", name);
    int status = cg_history_plot_svg(history, path, title);
    cg_history_free(history);
    cg_evaluation result;
    if (status != 0 ||
        cg_evaluate(model, cg_dataset_features(test), cg_dataset_labels(test), 0, &result) != 0)
        return -1;
    if (!options->quiet) printf("curves written to %s\n", path);
    return result.accuracy;
}

int main(int argc, char **argv) {
    lab_options options;
    if (parse_arguments(argc, argv, &options) != 0) return 2;

    cg_dataset *all = cg_csv_read(options.data_path, NULL), *train = NULL, *test = NULL;
    cg_standardizer *scaler = NULL;
    int status = 1;
    if (!all || cg_dataset_split(all, 0.2, true, SPLIT_SEED, &train, &test) != 0) goto done;
    scaler = cg_standardizer_fit(train);
    if (!scaler || cg_standardizer_apply(scaler, train) != 0 ||
        cg_standardizer_apply(scaler, test) != 0)
        goto done;

    cg_manual_seed(options.seed);
    cg_model *single = cg_sequential(cg_layer_dense(3, CG_ACTIVATION_NONE));
    const double single_accuracy = train_and_test(single, "single-layer", train, test, &options);
    cg_model_free(single);
    if (single_accuracy < 0) goto done;

    cg_model *multi = cg_sequential(cg_layer_dense(16, CG_ACTIVATION_RELU),
                                    cg_layer_dense(16, CG_ACTIVATION_RELU),
                                    cg_layer_dense(3, CG_ACTIVATION_NONE));
    const double multi_accuracy = train_and_test(multi, "multi-layer", train, test, &options);
    if (multi_accuracy >= 0 && !options.quiet) cg_model_summary(multi, stdout);
    cg_model_free(multi);
    if (multi_accuracy < 0) goto done;

    printf("single-layer test accuracy: %.4f\n", single_accuracy);
    printf("multi-layer test accuracy: %.4f\n", multi_accuracy);
    status = 0;
done:
    if (status != 0) fprintf(stderr, "iris: %s\n", cg_last_error());
    cg_standardizer_free(scaler);
    cg_dataset_free(train);
    cg_dataset_free(test);
    cg_dataset_free(all);
    return status;
}
