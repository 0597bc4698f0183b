/* cgrad train: a model from a spec file, trained on CSV or IDX data, evaluated on the training and
 * validation samples, and saved with everything evaluate and predict need to read new data. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cgrad.h>

#include "cli_args.h"
#include "cli_commands.h"
#include "cli_data.h"
#include "cli_distributed.h"
#include "cli_model.h"
#include "cli_report.h"

static const char COMMAND[] = "train";

/* Defaults that depend on the data: CSV tables are small, IDX image sets large. */
enum { CSV_EPOCHS = 100, IDX_EPOCHS = 10 };
static const double DEFAULT_VALIDATION_SPLIT = 0.2;
static const double DEFAULT_CSV_LEARNING_RATE = 0.01;

static const char USAGE[] =
    "cgrad train --model SPEC --data PATH [--label COLUMN] [--epochs N] [--batch-size N]\n"
    "             [--optimizer sgd|adam|adamw|rmsprop] [--lr X] [--weight-decay X] [--momentum X]\n"
    "             [--val-split F | --val PATH] [--seed N] [--early-stopping PATIENCE]\n"
    "             [--save FILE] [--plot FILE.svg] [--log FILE.csv]\n"
    "             [--checkpoint FILE [--checkpoint-every N]] [--resume FILE]\n"
    "             [--task classification|regression] [--no-standardize]\n"
    "             [--device cpu|cuda[:N]] [--threads N] [--quiet] [--json]";

static const char HELP[] =
    "Trains the model of a spec file on CSV or IDX data and saves it with its preprocessing.\n"
    "\n"
    "Data:\n"
    "  --model SPEC          the model spec: one layer per line (see docs/cli.md)\n"
    "  --data PATH           a CSV file with a header, or a directory of IDX files (MNIST layout:\n"
    "                        train uses the train-* files)\n"
    "  --label COLUMN        the CSV label column, by name or 0-based index (default: the last)\n"
    "  --task T              classification or regression (default: classification when the\n"
    "                        labels are names, regression when they are numbers)\n"
    "  --no-standardize      keep CSV features as they are (default: standardise each feature\n"
    "                        with the mean and deviation of the training rows)\n"
    "  --val-split F         hold out this fraction of the samples for validation, stratified by\n"
    "                        class (default 0.2; 0 trains on every sample)\n"
    "  --val PATH            validate on this CSV file or IDX directory (its t10k-* files) "
    "instead\n"
    "\n"
    "Training:\n"
    "  --epochs N            passes over the training samples (default 100 for CSV, 10 for IDX)\n"
    "  --batch-size N        samples per step (default 32)\n"
    "  --optimizer NAME      sgd, adam, adamw or rmsprop (default adam)\n"
    "  --lr X                learning rate (default 0.01 for CSV; for IDX the optimizer's own:\n"
    "                        0.001 for adam and adamw, 0.01 for sgd and rmsprop)\n"
    "  --weight-decay X      L2 penalty (decoupled decay for adamw; default 0, adamw 0.01)\n"
    "  --momentum X          momentum of sgd and rmsprop (default 0)\n"
    "  --seed N              weights, shuffling, dropout and the validation split (default 1)\n"
    "  --early-stopping P    stop after P epochs without a lower validation loss (training loss\n"
    "                        without validation) and keep the best epoch's weights\n"
    "  --device D            cpu (default), cuda or cuda:N (the GPU of index N; cuda is cuda:0),\n"
    "                        when this build has the CUDA backend and the machine a GPU\n"
    "  --threads N           threads for the CPU kernels, 1 to 1024 (default: the number of\n"
    "                        CPUs, or the CGRAD_NUM_THREADS environment variable)\n"
    "\n"
    "Output:\n"
    "  --save FILE           write the trained model (safetensors with its architecture, class\n"
    "                        names, input columns and standardisation) for evaluate and predict\n"
    "  --plot FILE.svg       draw the training curves\n"
    "  --log FILE.csv        write one row per epoch: loss, metrics, validation values, rate\n"
    "  --checkpoint FILE     write the training state to FILE at each epoch end (see --resume)\n"
    "  --checkpoint-every N  and after every N-th batch\n"
    "  --resume FILE         continue from checkpoint FILE with the first run's flags (--epochs:\n"
    "                        the total); checkpoints go on to FILE unless --checkpoint says\n"
    "  --quiet               no progress display\n"
    "  --json                end standard output with one JSON line: {\"epochs\": N, \"loss\": x,\n"
    "                        \"accuracy\": x, \"val_loss\": x, \"val_accuracy\": x, \"ranks\": N}\n"
    "                        (accuracy for classification; null where not measured; ranks: 1,\n"
    "                        or the number of MPI ranks)\n"
    "\n"
    "Under mpirun (mpirun -np N cgrad train ...) the N ranks train one model data-parallel,\n"
    "each on its share of every batch of N x --batch samples; rank 0 prints and writes files.\n"
    "\n"
    "Model spec: one layer per line, '#' comments, blank lines ignored:\n"
    "  input N | input C H W   the sample shape (the first line; else taken from the data)\n"
    "  dense UNITS [ACTIVATION]\n"
    "  conv2d FILTERS KERNEL [stride=S] [padding=same|valid] [ACTIVATION]\n"
    "  maxpool SIZE | avgpool SIZE | flatten | dropout RATE | batchnorm\n"
    "  relu | sigmoid | tanh | softmax | leaky_relu | gelu   (an activation layer)\n"
    "The last layer gives one output per class (or one value for regression, or one output\n"
    "for two classes); the loss applies the softmax or sigmoid.\n"
    "\n"
    "Progress goes to standard error, results to standard output. The reported loss and\n"
    "accuracy are those of the final weights on the training and validation samples.\n";

typedef struct {
    const char *model_path, *data_path, *label, *validation_path;
    const char *save_path, *plot_path, *log_path, *checkpoint_path, *resume_path;
    const char *optimizer, *task;
    cg_device device;
    int epochs, batch_size, patience, threads, checkpoint_every;
    double learning_rate, weight_decay, momentum, validation_split;
    uint64_t seed;
    bool no_standardize, quiet, json;
} train_options;

/* Everything a run holds, freed in one place. */
typedef struct {
    train_options options;
    cg_model *model;
    cli_data data, validation_data;
    cg_dataset *train_part, *validation_part; /* as read: the split's parts, or borrowed */
    bool parts_owned;
    cg_standardizer *standardizer;
    cg_dataset *train_set, *validation_set; /* prepared for the model */
    bool classification;
    cg_history *history;
    cg_evaluation train_result, validation_result;
} training;

static int parse_options(int argc, char **argv, train_options *o) {
    *o = (train_options){.optimizer = "adam",
                         .batch_size = 32,
                         .seed = 1,
                         .learning_rate = NAN,
                         .weight_decay = NAN,
                         .momentum = NAN,
                         .validation_split = NAN};
    const cli_flag flags[] = {
        {"--model", CLI_TEXT, &o->model_path, NULL, true},
        {"--data", CLI_TEXT, &o->data_path, NULL, true},
        {"--label", CLI_TEXT, &o->label, NULL, false},
        {"--epochs", CLI_POSITIVE_INTEGER, &o->epochs, NULL, false},
        {"--batch-size", CLI_POSITIVE_INTEGER, &o->batch_size, NULL, false},
        {"--optimizer", CLI_CHOICE, &o->optimizer, "sgd|adam|adamw|rmsprop", false},
        {"--lr", CLI_POSITIVE_NUMBER, &o->learning_rate, NULL, false},
        {"--weight-decay", CLI_NON_NEGATIVE_NUMBER, &o->weight_decay, NULL, false},
        {"--momentum", CLI_FRACTION, &o->momentum, NULL, false},
        {"--val-split", CLI_FRACTION, &o->validation_split, NULL, false},
        {"--val", CLI_TEXT, &o->validation_path, NULL, false},
        {"--seed", CLI_SEED, &o->seed, NULL, false},
        {"--early-stopping", CLI_POSITIVE_INTEGER, &o->patience, NULL, false},
        {"--save", CLI_TEXT, &o->save_path, NULL, false},
        {"--plot", CLI_TEXT, &o->plot_path, NULL, false},
        {"--log", CLI_TEXT, &o->log_path, NULL, false},
        {"--checkpoint", CLI_TEXT, &o->checkpoint_path, NULL, false},
        {"--checkpoint-every", CLI_POSITIVE_INTEGER, &o->checkpoint_every, NULL, false},
        {"--resume", CLI_TEXT, &o->resume_path, NULL, false},
        {"--task", CLI_CHOICE, &o->task, "classification|regression", false},
        {"--no-standardize", CLI_SWITCH, &o->no_standardize, NULL, false},
        {"--device", CLI_DEVICE, &o->device, NULL, false},
        {"--threads", CLI_POSITIVE_INTEGER, &o->threads, NULL, false},
        {"--quiet", CLI_SWITCH, &o->quiet, NULL, false},
        {"--json", CLI_SWITCH, &o->json, NULL, false},
    };
    const cli_command command = {COMMAND, USAGE, HELP, flags, (int)(sizeof flags / sizeof *flags)};
    const int status = cli_parse(&command, argc, argv);
    if (status != CLI_SUCCESS) return status;
    if (o->validation_path && !isnan(o->validation_split))
        return cli_usage_error(&command, "give --val-split or --val, not both");
    if (o->checkpoint_every && !o->checkpoint_path && !o->resume_path)
        return cli_usage_error(&command, "--checkpoint-every needs --checkpoint FILE");
    const bool has_momentum = !strcmp(o->optimizer, "sgd") || !strcmp(o->optimizer, "rmsprop");
    if (!isnan(o->momentum) && !has_momentum)
        return cli_usage_error(&command, "--momentum applies to sgd and rmsprop, not %s",
                               o->optimizer);
    /* The library knows the range it allows, so a count it refuses is a usage error. */
    if (o->threads && cg_set_num_threads(o->threads) != 0)
        return cli_usage_error(&command, "--threads: %s", cg_last_error());
    return CLI_SUCCESS;
}

/* ----- data ----- */

/* Settles classification or regression from --task and the labels. */
static int choose_task(training *t) {
    cg_dataset *data = t->data.dataset;
    const bool named_classes = cg_dataset_class_count(data) > 0;
    const char *task = t->options.task;
    if (task && !strcmp(task, "regression") && named_classes)
        return cli_fail(COMMAND,
                        "--task regression needs numeric labels; the label column \"%s\" "
                        "of '%s' holds class names",
                        t->data.label_column, t->options.data_path);
    t->classification = named_classes || (task && !strcmp(task, "classification"));
    if (t->classification && cg_dataset_labels_to_classes(data) != 0)
        return cli_fail_library(COMMAND);
    return CLI_SUCCESS;
}

/* The training and validation parts: the --val data, or a seeded split, or every sample. */
static int split_data(training *t) {
    const train_options *o = &t->options;
    t->train_part = t->data.dataset;
    if (o->validation_path) {
        const cli_data_request request = {.path = o->validation_path,
                                          .label = o->label,
                                          .default_label = t->data.label_column,
                                          .part = CLI_TEST_FILES};
        if (cli_data_read(COMMAND, &request, &t->validation_data) != CLI_SUCCESS)
            return CLI_FAILURE;
        t->validation_part = t->validation_data.dataset;
        return CLI_SUCCESS;
    }
    const double fraction =
        isnan(o->validation_split) ? DEFAULT_VALIDATION_SPLIT : o->validation_split;
    if (fraction == 0) return CLI_SUCCESS;
    if (cg_dataset_split(t->data.dataset, fraction, t->classification, o->seed, &t->train_part,
                         &t->validation_part) != 0) {
        t->train_part = NULL;
        return cli_fail(COMMAND, "'%s': %s", o->data_path, cg_last_error());
    }
    t->parts_owned = true;
    return CLI_SUCCESS;
}

/* Records the data's names and statistics in the model, then makes the model's view of each
 * part (standardised, classes numbered as in training) and checks it against the input. */
static int prepare_data(training *t) {
    const train_options *o = &t->options;
    if (t->data.is_csv && !o->no_standardize) {
        t->standardizer = cg_standardizer_fit(t->train_part);
        if (!t->standardizer) return cli_fail_library(COMMAND);
    }
    if (cg_model_record_data(t->model, t->train_part, t->data.label_column, t->standardizer) != 0)
        return cli_fail_library(COMMAND);
    t->train_set = cg_model_prepare_data(t->model, t->train_part);
    if (!t->train_set) return cli_fail(COMMAND, "'%s': %s", o->data_path, cg_last_error());
    if (cli_check_inputs(COMMAND, t->model, t->train_set, o->data_path) != CLI_SUCCESS)
        return CLI_FAILURE;
    if (!t->validation_part) return CLI_SUCCESS;
    const char *validation_path = o->validation_path ? o->validation_path : o->data_path;
    t->validation_set = cg_model_prepare_data(t->model, t->validation_part);
    if (!t->validation_set) return cli_fail(COMMAND, "'%s': %s", validation_path, cg_last_error());
    return cli_check_inputs(COMMAND, t->model, t->validation_set, validation_path);
}

/* ----- model ----- */

static int64_t output_size(const cg_model *model) {
    const cg_shape shape = cg_model_output_shape(model);
    int64_t size = 1;
    for (int d = 0; d < shape.ndim; d++)
        size *= shape.dims[d];
    return size;
}

static cg_optimizer *make_optimizer(const train_options *o, bool csv) {
    cg_optimizer_kind kind;
    if (cg_optimizer_parse(o->optimizer, &kind) != 0) return NULL;
    cg_optimizer_options options = cg_optimizer_defaults(kind);
    if (!isnan(o->learning_rate))
        options.learning_rate = o->learning_rate;
    else if (csv)
        options.learning_rate = DEFAULT_CSV_LEARNING_RATE;
    if (!isnan(o->weight_decay)) options.weight_decay = o->weight_decay;
    if (!isnan(o->momentum)) options.momentum = o->momentum;
    return cg_optimizer_new(kind, &options);
}

/* Chooses the loss from the task and the output layer: cross-entropy over C outputs for C
 * classes, binary cross-entropy for one output and two classes, mean squared error for values. */
static int compile_model(training *t) {
    const int64_t outputs = output_size(t->model);
    const int64_t classes = cg_dataset_class_count(t->train_set);
    cg_loss loss = CG_LOSS_MSE;
    unsigned metrics = CG_METRIC_MAE;
    if (t->classification && outputs == classes) {
        loss = CG_LOSS_CROSS_ENTROPY;
        metrics = CG_METRIC_ACCURACY;
    } else if (t->classification && outputs == 1 && classes == 2) {
        loss = CG_LOSS_BINARY_CROSS_ENTROPY;
        metrics = CG_METRIC_BINARY_ACCURACY;
    } else if (t->classification) {
        return cli_fail(COMMAND,
                        "the model gives %lld outputs per sample but '%s' has %lld "
                        "classes; end '%s' with 'dense %lld'",
                        (long long)outputs, t->options.data_path, (long long)classes,
                        t->options.model_path, (long long)classes);
    } else if (outputs != 1) {
        return cli_fail(COMMAND,
                        "the model gives %lld outputs per sample; a regression on one "
                        "label column needs 1 (end '%s' with 'dense 1')",
                        (long long)outputs, t->options.model_path);
    }
    cg_optimizer *optimizer = make_optimizer(&t->options, t->data.is_csv);
    if (!optimizer || cg_compile(t->model, optimizer, loss, metrics) != 0)
        return cli_fail_library(COMMAND);
    return CLI_SUCCESS;
}

/* ----- training ----- */

static int fit_model(training *t) {
    const train_options *o = &t->options;
    cg_callback *callbacks[4];
    int count = 0;
    callbacks[count++] = cg_terminate_on_nan();
    if (o->patience > 0) {
        const cg_early_stopping_options stopping = {.monitor =
                                                        t->validation_set ? "val_loss" : "loss",
                                                    .patience = o->patience,
                                                    .restore_best_weights = true};
        callbacks[count++] = cg_early_stopping(&stopping);
    }
    /* Every rank has the same callbacks (a checkpoint records them); under mpirun rank 0 alone
     * writes the log and the checkpoint. */
    if (o->log_path) callbacks[count++] = cg_csv_logger(o->log_path);
    /* A resumed run goes on writing its checkpoint, so it has the callbacks of the first. */
    const char *checkpoint = o->checkpoint_path ? o->checkpoint_path : o->resume_path;
    if (checkpoint) callbacks[count++] = cg_training_checkpoint(checkpoint, o->checkpoint_every);
    const cg_fit_options fit = {.epochs = o->epochs        ? o->epochs
                                          : t->data.is_csv ? CSV_EPOCHS
                                                           : IDX_EPOCHS,
                                .batch_size = o->batch_size,
                                .seed = o->seed,
                                .verbose = o->quiet ? CG_VERBOSE_SILENT : CG_VERBOSE_AUTO,
                                .output = stderr,
                                .callbacks = {callbacks, count},
                                .resume_from = o->resume_path};
    t->history = cg_fit_dataset(t->model, t->train_set, t->validation_set, &fit);
    if (!t->history) return cli_fail_library(COMMAND);
    const double *loss = cg_history_series(t->history, "loss");
    const int epochs = cg_history_epochs(t->history);
    if (epochs > 0 && !isfinite(loss[epochs - 1]))
        return cli_fail(COMMAND,
                        "training diverged: the loss became %s in epoch %d (try a "
                        "smaller --lr)",
                        isnan(loss[epochs - 1]) ? "NaN" : "infinite",
                        cg_history_epoch_index(t->history, epochs - 1) + 1);
    return CLI_SUCCESS;
}

static int evaluate_model(training *t) {
    t->validation_result =
        (cg_evaluation){.loss = NAN, .accuracy = NAN, .binary_accuracy = NAN, .mae = NAN};
    const bool evaluated =
        cg_evaluate_dataset(t->model, t->train_set, 0, &t->train_result) == 0 &&
        (!t->validation_set ||
         cg_evaluate_dataset(t->model, t->validation_set, 0, &t->validation_result) == 0);
    return evaluated ? CLI_SUCCESS : cli_fail_library(COMMAND);
}

static const char *file_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

static int write_outputs(const training *t) {
    const train_options *o = &t->options;
    if (o->save_path && cg_model_save(t->model, o->save_path) != 0)
        return cli_fail_library(COMMAND);
    char title[512];
    snprintf(title, sizeof title, "%s on %s", file_name(o->model_path), file_name(o->data_path));
    if (o->plot_path && cg_history_plot_svg(t->history, o->plot_path, title) != 0)
        return cli_fail_library(COMMAND);
    return CLI_SUCCESS;
}

/* ----- results ----- */

/* Accuracy of either kind of classifier (NaN for regression). */
static double accuracy_of(const cg_evaluation *result) {
    return isnan(result->accuracy) ? result->binary_accuracy : result->accuracy;
}

static void print_json(const training *t) {
    printf("{\"epochs\": %d", cg_history_epochs(t->history));
    cli_json_member(stdout, "loss", t->train_result.loss, false);
    if (t->classification)
        cli_json_member(stdout, "accuracy", accuracy_of(&t->train_result), false);
    cli_json_member(stdout, "val_loss", t->validation_result.loss, false);
    if (t->classification)
        cli_json_member(stdout, "val_accuracy", accuracy_of(&t->validation_result), false);
    printf(", \"ranks\": %d}\n", cg_distributed_world_size());
}

static void print_result_row(const char *name, const cg_evaluation *result, bool classification) {
    printf("%-12s %10.4f %10.4f\n", name, result->loss,
           classification ? accuracy_of(result) : result->mae);
}

static void print_table(const training *t) {
    const int epochs = cg_history_epochs(t->history);
    printf("trained %d epochs on %lld samples", epochs, (long long)cg_dataset_size(t->train_set));
    if (t->validation_set)
        printf(", validated on %lld", (long long)cg_dataset_size(t->validation_set));
    printf("\n");
    if (cg_history_best_epoch(t->history) >= 0)
        printf("early stopping kept the weights of epoch %d\n",
               cg_history_best_epoch(t->history) + 1);
    printf("%-12s %10s %10s\n", "", "loss", t->classification ? "accuracy" : "mae");
    print_result_row("training", &t->train_result, t->classification);
    if (t->validation_set) print_result_row("validation", &t->validation_result, t->classification);
    if (t->options.save_path) printf("model saved to %s\n", t->options.save_path);
}

/* ----- the command ----- */

static int run(training *t) {
    const train_options *o = &t->options;
    cg_manual_seed(o->seed);
    t->model = cg_model_from_spec_file(o->model_path);
    if (!t->model) return cli_fail_library(COMMAND);
    const cli_data_request request = {
        .path = o->data_path, .label = o->label, .part = CLI_TRAINING_FILES};
    int status = cli_use_device(COMMAND, t->model, cli_rank_device(o->device));
    if (status == CLI_SUCCESS) status = cli_data_read(COMMAND, &request, &t->data);
    if (status == CLI_SUCCESS) status = choose_task(t);
    if (status == CLI_SUCCESS) status = split_data(t);
    if (status == CLI_SUCCESS) status = prepare_data(t);
    if (status == CLI_SUCCESS) status = compile_model(t);
    if (status == CLI_SUCCESS) status = fit_model(t);
    /* Under mpirun every rank holds the trained model; rank 0 reports and writes it. */
    if (status != CLI_SUCCESS || !cli_is_main_rank()) return status;
    status = evaluate_model(t);
    if (status == CLI_SUCCESS) status = write_outputs(t);
    if (status != CLI_SUCCESS) return status;
    if (o->json)
        print_json(t);
    else
        print_table(t);
    return CLI_SUCCESS;
}

static void free_training(training *t) {
    cg_history_free(t->history);
    cg_dataset_free(t->train_set);
    cg_dataset_free(t->validation_set);
    cg_standardizer_free(t->standardizer);
    if (t->parts_owned) {
        cg_dataset_free(t->train_part);
        cg_dataset_free(t->validation_part);
    }
    cli_data_free(&t->validation_data);
    cli_data_free(&t->data);
    cg_model_free(t->model);
}

int cli_train(int argc, char **argv) {
    training t = {0};
    const int parsed = parse_options(argc, argv, &t.options);
    if (parsed != CLI_SUCCESS) return parsed == CLI_HELP_SHOWN ? CLI_SUCCESS : parsed;
    const int status = run(&t);
    free_training(&t);
    return status;
}
