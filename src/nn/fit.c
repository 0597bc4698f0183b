/* cg_fit, cg_evaluate and cg_predict, on tensors in memory or on data sets. Batches come from a
 * batch source (nn/batch_source.h), so one training loop and one evaluation loop serve both: fit
 * trains on shuffled mini-batches, each step inside its own scope so that its temporaries and
 * graph go at once; evaluate and predict run batches in evaluation mode without a graph. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "nn/batch_source.h"
#include "nn/callbacks.h"
#include "nn/checkpoint.h"
#include "nn/device_batches.h"
#include "nn/fit_distributed.h"
#include "nn/history.h"
#include "nn/metrics.h"

enum { DEFAULT_BATCH_SIZE = 32, DEFAULT_EVALUATION_BATCH_SIZE = 256 };

/* Seed 0 stands for this one. Each epoch's shuffle and dropout masks come from (seed, epoch)
 * alone, so a run continued at initial_epoch k sees the epochs of a run that went straight on. */
static const uint64_t DEFAULT_SEED = 0x5EEDF17ull;
/* Keeps the dropout stream apart from the shuffling stream of the same seed. */
static const uint64_t DROPOUT_STREAM = 0xD50F0D5EEDull;

/* ----- checks shared by fit, evaluate and predict ----- */

static bool same_shape(cg_shape a, cg_shape b) {
    if (a.ndim != b.ndim) return false;
    for (int k = 0; k < a.ndim; k++)
        if (a.dims[k] != b.dims[k]) return false;
    return true;
}

/* x holds at least one sample (samples first) and y, when named, as many. */
static int check_samples(const char *op, const char *x_name, const cg_tensor *x, const char *y_name,
                         const cg_tensor *y) {
    if (!x || cg_ndim(x) < 1 || cg_dim(x, 0) < 1) {
        cg_error_set("%s: %s must hold at least one sample, samples first", op, x_name);
        return -1;
    }
    const int64_t y_samples = y && cg_ndim(y) >= 1 ? cg_dim(y, 0) : 0;
    if (y_name && y_samples != cg_dim(x, 0)) {
        cg_error_set("%s: %s has %lld samples but %s has %lld", op, x_name, (long long)cg_dim(x, 0),
                     y_name, (long long)y_samples);
        return -1;
    }
    return 0;
}

/* Builds an unbuilt model for samples of the given shape (those of data_name), or checks that
 * they fit the built one. */
static int prepare_model(const char *op, cg_model *model, const char *data_name, cg_shape samples) {
    if (!cg_model_is_built(model)) return cg_model_build(model, samples);
    if (same_shape(samples, cg_model_input_shape(model))) return 0;
    char given[64], expected[64];
    cg_error_set("%s: %s has samples of shape %s but the model takes %s", op, data_name,
                 cg_shape_format(samples, given, sizeof given),
                 cg_shape_format(cg_model_input_shape(model), expected, sizeof expected));
    return -1;
}

static int check_compiled(const char *op, const cg_model *model) {
    if (!model) {
        cg_error_set("%s: model is NULL", op);
        return -1;
    }
    if (!model->compiled) {
        cg_error_set("%s: the model is not compiled (cg_compile sets its loss and optimizer)", op);
        return -1;
    }
    return 0;
}

/* The data set must hold samples, and labels when needs_labels. */
static int check_dataset(const char *op, const char *name, const cg_dataset *dataset,
                         bool needs_labels) {
    if (!dataset || cg_dataset_size(dataset) < 1) {
        cg_error_set("%s: the %s data set is NULL or empty", op, name);
        return -1;
    }
    if (needs_labels && !cg_dataset_labels(dataset)) {
        cg_error_set("%s: the %s data set has no labels", op, name);
        return -1;
    }
    return 0;
}

static int check_batch_size(const char *op, int batch_size) {
    if (batch_size >= 0) return 0;
    cg_error_set("%s: batch_size must be >= 0, got %d", op, batch_size);
    return -1;
}

/* source (NULL when it failed) with its batches, which live on data_device, moved to the
 * model's device. */
static cg_batch_source *on_model_device(const cg_model *model, cg_batch_source *source,
                                        cg_device data_device) {
    return cg_batches_on_device(source, data_device, cg_model_device(model));
}

/* ----- batched passes in evaluation mode ----- */

typedef int (*batch_visit)(const cg_tensor *output, const cg_tensor *target, void *userdata);

/* Runs the model over the source's batches in evaluation mode without a graph, and calls visit
 * with each batch's outputs and targets (NULL when the source has none) inside the batch's
 * scope. */
static int for_each_evaluation_batch(cg_model *model, cg_batch_source *source, batch_visit visit,
                                     void *userdata) {
    const bool grad_was_enabled = cg_set_grad_enabled(false);
    int status = cg_batch_source_start_epoch(source, 0) == 0 ? 1 : -1;
    while (status == 1) {
        cg_scope_begin();
        cg_tensor *x, *target;
        status = cg_batch_source_next(source, &x, &target);
        const cg_tensor *output = status == 1 ? cg_model_forward(model, x, false) : NULL;
        if (status == 1 && (!output || visit(output, target, userdata) != 0)) status = -1;
        cg_scope_end();
    }
    cg_set_grad_enabled(grad_was_enabled);
    return status;
}

typedef struct {
    cg_loss loss;
    cg_metric_totals totals;
} evaluation_pass;

static int add_evaluation_batch(const cg_tensor *output, const cg_tensor *target, void *userdata) {
    evaluation_pass *pass = userdata;
    const cg_tensor *loss = cg_loss_compute(pass->loss, output, target);
    return loss ? cg_metric_totals_add(&pass->totals, output, target, loss) : -1;
}

/* The totals of a pass, read once at its end. */
static int evaluation_totals(cg_model *model, cg_batch_source *source, cg_metric_totals *totals) {
    evaluation_pass pass = {.loss = cg_model_loss(model)};
    int status =
        cg_metric_totals_start(&pass.totals, cg_model_metrics(model), cg_model_device(model));
    if (status == 0) status = for_each_evaluation_batch(model, source, add_evaluation_batch, &pass);
    if (status == 0) status = cg_metric_totals_read(&pass.totals);
    cg_metric_totals_release(&pass.totals);
    *totals = pass.totals;
    return status;
}

/* Evaluates over source and frees it (a NULL source has failed and set the error). */
static int evaluate_batches(cg_model *model, cg_batch_source *source, cg_evaluation *result) {
    cg_metric_totals totals;
    const int status = source ? evaluation_totals(model, source, &totals) : -1;
    cg_batch_source_free(source);
    if (status != 0) return -1;
    *result = (cg_evaluation){
        .loss = cg_metric_totals_loss(&totals),
        .accuracy = cg_metric_totals_value(&totals, CG_METRIC_KIND_ACCURACY),
        .binary_accuracy = cg_metric_totals_value(&totals, CG_METRIC_KIND_BINARY_ACCURACY),
        .mae = cg_metric_totals_value(&totals, CG_METRIC_KIND_MAE),
        .samples = totals.samples,
    };
    return 0;
}

static int evaluation_batch_size(int batch_size) {
    return batch_size ? batch_size : DEFAULT_EVALUATION_BATCH_SIZE;
}

int cg_evaluate(cg_model *model, const cg_tensor *x, const cg_tensor *y, int batch_size,
                cg_evaluation *result) {
    const char *op = "cg_evaluate";
    if (!result) {
        cg_error_set("%s: result is NULL", op);
        return -1;
    }
    if (check_compiled(op, model) != 0 || check_samples(op, "x", x, "y", y) != 0 ||
        prepare_model(op, model, "x", cg_batch_sample_shape(x)) != 0 ||
        check_batch_size(op, batch_size) != 0)
        return -1;
    return evaluate_batches(
        model,
        on_model_device(model, cg_tensor_batches(x, y, evaluation_batch_size(batch_size), false, 0),
                        cg_tensor_device(x)),
        result);
}

int cg_evaluate_dataset(cg_model *model, const cg_dataset *dataset, int batch_size,
                        cg_evaluation *result) {
    const char *op = "cg_evaluate_dataset";
    if (!result) {
        cg_error_set("%s: result is NULL", op);
        return -1;
    }
    if (check_compiled(op, model) != 0 || check_dataset(op, "evaluation", dataset, true) != 0 ||
        prepare_model(op, model, "the data set", cg_dataset_sample_shape(dataset)) != 0 ||
        check_batch_size(op, batch_size) != 0)
        return -1;
    return evaluate_batches(
        model,
        on_model_device(model,
                        cg_dataset_batches(dataset, evaluation_batch_size(batch_size), false, 0),
                        cg_device_cpu()),
        result);
}

typedef struct {
    cg_tensor **outputs;
    int count;
} batch_outputs;

static int keep_output(const cg_tensor *output, const cg_tensor *target, void *userdata) {
    (void)target;
    batch_outputs *kept = userdata;
    kept->outputs[kept->count++] = cg_keep((cg_tensor *)output);
    return 0;
}

/* The outputs over source's batches joined in one tensor; frees source (NULL: it failed). */
static cg_tensor *predict_batches(cg_model *model, cg_batch_source *source) {
    const int64_t batches = source ? cg_batch_source_batches(source) : 0;
    batch_outputs kept = {source ? malloc(sizeof(cg_tensor *) * (size_t)batches) : NULL, 0};
    if (source && !kept.outputs) cg_error_set("cg_predict: out of memory");
    const int status =
        kept.outputs ? for_each_evaluation_batch(model, source, keep_output, &kept) : -1;
    cg_tensor *result = status == 0 ? cg_concat(kept.outputs, kept.count, 0) : NULL;
    for (int i = 0; i < kept.count; i++)
        cg_release(kept.outputs[i]);
    free(kept.outputs);
    cg_batch_source_free(source);
    return result;
}

cg_tensor *cg_predict(cg_model *model, const cg_tensor *x, int batch_size) {
    const char *op = "cg_predict";
    if (!model) {
        cg_error_set("%s: model is NULL", op);
        return NULL;
    }
    if (check_batch_size(op, batch_size) != 0 || check_samples(op, "x", x, NULL, NULL) != 0 ||
        prepare_model(op, model, "x", cg_batch_sample_shape(x)) != 0)
        return NULL;
    return predict_batches(
        model, on_model_device(
                   model, cg_tensor_batches(x, NULL, evaluation_batch_size(batch_size), false, 0),
                   cg_tensor_device(x)));
}

cg_tensor *cg_predict_dataset(cg_model *model, const cg_dataset *dataset, int batch_size) {
    const char *op = "cg_predict_dataset";
    if (!model) {
        cg_error_set("%s: model is NULL", op);
        return NULL;
    }
    if (check_batch_size(op, batch_size) != 0 || check_dataset(op, "input", dataset, false) != 0 ||
        prepare_model(op, model, "the data set", cg_dataset_sample_shape(dataset)) != 0)
        return NULL;
    return predict_batches(
        model, on_model_device(
                   model, cg_dataset_batches(dataset, evaluation_batch_size(batch_size), false, 0),
                   cg_device_cpu()));
}

/* ----- fit ----- */

typedef struct {
    const char *op, *data_name; /* for messages: "cg_fit" and "x", ... */
    cg_model *model;
    cg_fit_options options;           /* with the defaults filled in */
    cg_callback_list given_callbacks; /* fit's to free from the call on, whatever happens */
    cg_batch_source *train, *validation;
    cg_tensor *split_parts[4]; /* views of x and y when validation_split is used */
    cg_callback **callbacks;
    int callback_count;
    cg_callback *progress; /* added by fit according to verbose */
    cg_history *history;
    cg_train_state state;
    cg_fit_context context;        /* what checkpoints see */
    cg_checkpoint *resume;         /* from options.resume_from */
    cg_fit_parallel_run *parallel; /* data-parallel: what the steps keep */
} fit_run;

static int resolve_options(const char *op, const cg_fit_options *given, cg_fit_options *options) {
    *options = given ? *given : (cg_fit_options){0};
    if (options->epochs == 0) options->epochs = 1;
    if (options->batch_size == 0) options->batch_size = DEFAULT_BATCH_SIZE;
    if (options->seed == 0) options->seed = DEFAULT_SEED;
    if (!options->output) options->output = stdout;
    if (options->epochs < 0 || options->batch_size < 0) {
        cg_error_set("%s: epochs and batch_size must be >= 0, got %d and %d", op, options->epochs,
                     options->batch_size);
    } else if (options->resume_from && options->initial_epoch != 0) {
        cg_error_set("%s: give resume_from or initial_epoch, not both (the checkpoint holds the "
                     "epoch)",
                     op);
    } else if (options->initial_epoch < 0 || options->initial_epoch > options->epochs) {
        cg_error_set("%s: initial_epoch %d is not in [0, epochs %d]", op, options->initial_epoch,
                     options->epochs);
    } else if (!(options->validation_split >= 0 && options->validation_split < 1)) {
        cg_error_set("%s: validation_split must be in [0, 1), got %g", op,
                     options->validation_split);
    } else if (!options->validation_x != !options->validation_y) {
        cg_error_set("%s: validation_x and validation_y must be given together", op);
    } else if (options->validation_x && options->validation_split > 0) {
        cg_error_set("%s: give validation_x and validation_y or validation_split, not both", op);
    } else if (options->verbose < CG_VERBOSE_AUTO || options->verbose > CG_VERBOSE_LINES) {
        cg_error_set("%s: unknown verbose value %d", op, (int)options->verbose);
    } else if (options->callbacks.count < 0 ||
               (options->callbacks.count > 0 && !options->callbacks.items)) {
        cg_error_set("%s: the callback list has no items", op);
    } else {
        return 0;
    }
    return -1;
}

static int setup_callbacks(fit_run *run) {
    const cg_callback_list *given = &run->given_callbacks;
    for (int i = 0; i < given->count; i++)
        if (!given->items[i]) {
            char cause[256];
            snprintf(cause, sizeof cause, "%s", cg_last_error());
            cg_error_set("%s: callback %d is NULL (its constructor failed; last error: %s)",
                         run->op, i, cause);
            return -1;
        }
    /* In data-parallel training only rank 0 shows progress. */
    if (run->options.verbose != CG_VERBOSE_SILENT && cg_distributed_rank() == 0) {
        run->progress = cg_progress_bar(run->options.output, run->options.verbose);
        if (!run->progress) return -1;
    }
    run->callbacks = malloc(sizeof(cg_callback *) * (size_t)(given->count + 1));
    if (!run->callbacks) {
        cg_error_set("%s: out of memory", run->op);
        return -1;
    }
    /* Checkpoints run after the other callbacks, so that they hold what those did. */
    for (int last = 0; last < 2; last++)
        for (int i = 0; i < given->count; i++)
            if (cg_callback_runs_last(given->items[i]) == last)
                run->callbacks[run->callback_count++] = given->items[i];
    /* Last, so that the progress shows what the other callbacks did at epoch end. */
    if (run->progress) run->callbacks[run->callback_count++] = run->progress;
    return 0;
}

/* Takes the callbacks (fit owns them whatever happens), fills in the options and checks the
 * model; 0 or -1. */
static int begin_run(fit_run *run, const cg_fit_options *options) {
    if (options && options->callbacks.count > 0 && options->callbacks.items)
        run->given_callbacks = options->callbacks;
    if (resolve_options(run->op, options, &run->options) != 0 ||
        check_compiled(run->op, run->model) != 0)
        return -1;
    return setup_callbacks(run);
}

/* The training and validation batches from x and y, and validation_x/y or the last
 * validation_split of the samples (like Keras, before any shuffling). */
static int setup_tensor_data(fit_run *run, const cg_tensor *x, const cg_tensor *y) {
    const cg_fit_options *options = &run->options;
    if (check_samples("cg_fit", "x", x, "y", y) != 0) return -1;
    const cg_tensor *train_x = x, *train_y = y;
    const cg_tensor *validation_x = options->validation_x, *validation_y = options->validation_y;
    if (options->validation_x) {
        if (check_samples("cg_fit", "validation_x", options->validation_x, "validation_y",
                          options->validation_y) != 0)
            return -1;
        if (!same_shape(cg_batch_sample_shape(options->validation_x), cg_batch_sample_shape(x))) {
            cg_error_set("cg_fit: validation_x has samples of another shape than x");
            return -1;
        }
    }
    const int64_t samples = cg_dim(x, 0);
    if (options->validation_split > 0) {
        const int64_t train_count = (int64_t)((double)samples * (1.0 - options->validation_split));
        if (train_count < 1 || train_count >= samples) {
            cg_error_set("cg_fit: validation_split %g of %lld samples leaves one part empty",
                         options->validation_split, (long long)samples);
            return -1;
        }
        cg_tensor **parts = run->split_parts;
        parts[0] = cg_narrow(x, 0, 0, train_count);
        parts[1] = cg_narrow(y, 0, 0, train_count);
        parts[2] = cg_narrow(x, 0, train_count, samples - train_count);
        parts[3] = cg_narrow(y, 0, train_count, samples - train_count);
        if (!parts[0] || !parts[1] || !parts[2] || !parts[3]) return -1;
        train_x = parts[0];
        train_y = parts[1];
        validation_x = parts[2];
        validation_y = parts[3];
    }
    run->train =
        on_model_device(run->model,
                        cg_fit_shard(cg_tensor_batches(train_x, train_y, options->batch_size,
                                                       !options->no_shuffle, options->seed)),
                        cg_tensor_device(train_x));
    if (run->train && validation_x)
        run->validation = on_model_device(
            run->model,
            cg_fit_shard(cg_tensor_batches(validation_x, validation_y,
                                           DEFAULT_EVALUATION_BATCH_SIZE, false, 0)),
            cg_tensor_device(validation_x));
    return run->train && (run->validation || !validation_x) ? 0 : -1;
}

/* The training and validation batches from data sets, through loaders. */
static int setup_dataset_data(fit_run *run, const cg_dataset *train, const cg_dataset *validation) {
    const cg_fit_options *options = &run->options;
    if (options->validation_x || options->validation_split > 0) {
        cg_error_set("cg_fit_dataset: validation_x, validation_y and validation_split are for "
                     "cg_fit; pass a validation data set (cg_dataset_split makes one)");
        return -1;
    }
    if (check_dataset(run->op, "training", train, true) != 0 ||
        (validation && check_dataset(run->op, "validation", validation, true) != 0))
        return -1;
    if (validation &&
        !same_shape(cg_dataset_sample_shape(validation), cg_dataset_sample_shape(train))) {
        cg_error_set("cg_fit_dataset: the validation data set has samples of another shape than "
                     "the training data set");
        return -1;
    }
    run->train =
        on_model_device(run->model,
                        cg_fit_shard(cg_dataset_batches(train, options->batch_size,
                                                        !options->no_shuffle, options->seed)),
                        cg_device_cpu());
    if (run->train && validation)
        run->validation = on_model_device(
            run->model,
            cg_fit_shard(cg_dataset_batches(validation, DEFAULT_EVALUATION_BATCH_SIZE, false, 0)),
            cg_device_cpu());
    return run->train && (run->validation || !validation) ? 0 : -1;
}

/* Logs "<prefix>loss" and "<prefix><metric>" for each compiled metric at epoch. */
static int record_totals(cg_history *history, const char *prefix, int epoch,
                         const cg_metric_totals *totals) {
    char name[CG_NAME_MAX];
    snprintf(name, sizeof name, "%sloss", prefix);
    int status = cg_history_record(history, name, epoch, cg_metric_totals_loss(totals));
    for (int kind = 0; status == 0 && kind < CG_METRIC_KIND_COUNT; kind++) {
        if (!(totals->metrics & cg_metric_flag(kind))) continue;
        snprintf(name, sizeof name, "%s%s", prefix, cg_metric_name(kind));
        status = cg_history_record(history, name, epoch, cg_metric_totals_value(totals, kind));
    }
    return status;
}

/* One optimisation step on the next batch of the epoch. */
static int train_step(fit_run *run, cg_metric_totals *totals) {
    cg_model *model = run->model;
    int parameter_count = 0;
    cg_tensor *const *parameters = cg_model_parameters(model, &parameter_count);
    cg_scope_begin();
    cg_tensor *x_batch, *y_batch;
    const int got = cg_batch_source_next(run->train, &x_batch, &y_batch);
    const bool parallel = cg_fit_parallel(); /* a rank's shard may end a batch early */
    if (got == 0 && !parallel)
        cg_error_set("%s: the training data ended before batch %d of %d", run->op,
                     run->state.batch + 1, run->state.batches);
    cg_tensor *output = got == 1 ? cg_model_forward(model, x_batch, true) : NULL;
    cg_tensor *loss = output ? cg_loss_compute(cg_model_loss(model), output, y_batch) : NULL;
    /* Data-parallel: the gradients become the means over every rank's samples, averaged while
     * the backward pass runs. */
    int status = loss ? 0 : -1;
    if (parallel)
        status = cg_fit_parallel_backward(run->op, &run->parallel, model, run->train,
                                          run->state.batch, loss);
    else if (loss)
        status = cg_backward(loss);
    if (status == 0)
        status = cg_optimizer_step(cg_model_optimizer(model), parameters, parameter_count);
    if (status == 0 && loss) status = cg_metric_totals_add(totals, output, y_batch, loss);
    cg_model_zero_grad(model);
    cg_scope_end();
    return status;
}

/* Logs the epoch's training values, the validation values and the learning rate it used, then
 * runs the epoch-end hooks (which read them). */
static int end_epoch(fit_run *run, cg_metric_totals *totals) {
    cg_train_state *state = &run->state;
    /* Data-parallel: every rank logs the totals over all the shards. */
    int status = cg_fit_parallel_totals(run->op, cg_metric_totals_read(totals), totals);
    if (status == 0) status = cg_fit_parallel_average_buffers(run->op, run->model);
    if (status == 0) status = record_totals(run->history, "", state->epoch, totals);
    if (status == 0 && run->validation) {
        cg_metric_totals validation;
        status = evaluation_totals(run->model, run->validation, &validation);
        status = cg_fit_parallel_totals(run->op, status, &validation);
        if (status == 0) status = record_totals(run->history, "val_", state->epoch, &validation);
    }
    if (status == 0)
        status = cg_history_record(run->history, "lr", state->epoch,
                                   cg_optimizer_learning_rate(cg_model_optimizer(run->model)));
    if (status != 0) return -1;
    return cg_fit_parallel_agree_stop(
        run->op, cg_callbacks_run(run->callbacks, run->callback_count, CG_HOOK_EPOCH_END, state),
        state);
}

/* The batch-end hooks. When one of them reads the batch's values, the batch loss and the row of
 * the running epoch (its running means) are read first; otherwise they are not, since on a GPU
 * each read waits for the step. */
static int end_batch(fit_run *run, cg_metric_totals *totals) {
    cg_train_state *state = &run->state;
    if (cg_callbacks_want_batch_values(run->callbacks, run->callback_count, state)) {
        if (cg_metric_totals_read(totals) != 0 ||
            record_totals(run->history, "", state->epoch, totals) != 0)
            return -1;
        state->batch_loss = totals->batch_loss;
    }
    /* Data-parallel: a stop or a failure on one rank reaches every rank at the same batch. */
    return cg_fit_parallel_agree_stop(
        run->op, cg_callbacks_run(run->callbacks, run->callback_count, CG_HOOK_BATCH_END, state),
        state);
}

/* The batches of one epoch; a stop asked for at a batch end ends the epoch early, but the epoch
 * is still logged over the samples it saw. */
static int train_epoch(fit_run *run) {
    cg_train_state *state = &run->state;
    cg_metric_totals totals;
    int status =
        cg_metric_totals_start(&totals, cg_model_metrics(run->model), cg_model_device(run->model));
    if (status == 0) status = cg_batch_source_start_epoch(run->train, state->epoch);
    state->batches = (int)cg_batch_source_batches(run->train);
    run->context.totals = &totals;
    /* A resumed epoch starts at the checkpoint's batch. */
    state->batch = 0;
    if (status == 0 && run->resume &&
        (state->batch = cg_checkpoint_enter_epoch(run->resume, run->train, &totals)) < 0)
        status = -1;
    for (; status == 0 && state->batch < state->batches && !state->stop_training; state->batch++)
        status = train_step(run, &totals) == 0 ? end_batch(run, &totals) : -1;
    if (status == 0) status = end_epoch(run, &totals);
    cg_metric_totals_release(&totals);
    return status;
}

static int train(fit_run *run) {
    cg_train_state *state = &run->state;
    *state = (cg_train_state){.model = run->model,
                              .epoch = run->options.initial_epoch,
                              .epochs = run->options.epochs,
                              .history = run->history,
                              .fit = &run->context};
    if (cg_callbacks_run(run->callbacks, run->callback_count, CG_HOOK_TRAIN_BEGIN, state) != 0 ||
        (run->resume && cg_checkpoint_resume(run->resume, state, run->history) != 0))
        return -1;
    for (int epoch = state->epoch; epoch < run->options.epochs && !state->stop_training; epoch++) {
        state->epoch = epoch;
        /* Data-parallel ranks draw different dropout masks for their different samples. */
        cg_manual_seed(cg_random_bits(run->options.seed ^ DROPOUT_STREAM, (uint64_t)epoch) +
                       (uint64_t)cg_distributed_rank());
        /* An epoch resumed inside has had its epoch-begin hooks. */
        const bool begun = run->resume && cg_checkpoint_mid_epoch(run->resume);
        if ((!begun && cg_callbacks_run(run->callbacks, run->callback_count, CG_HOOK_EPOCH_BEGIN,
                                        state) != 0) ||
            (!state->stop_training && train_epoch(run) != 0))
            return -1;
    }
    if (state->stop_training) {
        if (!*state->stop_reason)
            snprintf(state->stop_reason, sizeof state->stop_reason,
                     "a callback stopped training at epoch %d", state->epoch + 1);
        cg_history_set_stopped(run->history, state->epoch, state->stop_reason);
    }
    return cg_callbacks_run(run->callbacks, run->callback_count, CG_HOOK_TRAIN_END, state);
}

/* Builds or checks the model for the training samples, then trains it into a new history. */
static int build_and_train(fit_run *run) {
    const int prepared =
        prepare_model(run->op, run->model, run->data_name, run->train->sample_shape) == 0 &&
                (run->history = cg_history_new())
            ? 0
            : -1;
    /* Data-parallel: every rank starts from rank 0's weights. */
    if (cg_fit_parallel_begin(run->op, run->model, prepared) != 0) return -1;
    run->context = (cg_fit_context){.seed = run->options.seed,
                                    .batch_size = run->options.batch_size,
                                    .shuffle = !run->options.no_shuffle,
                                    .callbacks = run->given_callbacks.items,
                                    .callback_count = run->given_callbacks.count};
    if (run->options.resume_from &&
        !(run->resume = cg_checkpoint_read(run->options.resume_from, run->model, &run->context,
                                           run->options.epochs)))
        return -1;
    /* Training draws from its own streams and leaves the caller's as it was. */
    const cg_rng_state caller_rng = cg_rng_get_state();
    const bool grad_was_enabled = cg_set_grad_enabled(true);
    cg_model_zero_grad(run->model);
    const int status = train(run);
    cg_set_grad_enabled(grad_was_enabled);
    cg_rng_set_state(caller_rng);
    return status;
}

/* Frees what the run holds; returns the history when status is 0, NULL otherwise. */
static cg_history *finish_run(fit_run *run, int status) {
    for (int i = 0; i < run->given_callbacks.count; i++)
        cg_callback_free(run->given_callbacks.items[i]);
    cg_callback_free(run->progress);
    free(run->callbacks);
    cg_checkpoint_free(run->resume);
    cg_batch_source_free(run->train);
    cg_batch_source_free(run->validation);
    cg_fit_parallel_run_free(run->parallel);
    for (size_t i = 0; i < sizeof run->split_parts / sizeof run->split_parts[0]; i++)
        cg_release(run->split_parts[i]);
    if (status == 0) return run->history;
    cg_history_free(run->history);
    return NULL;
}

cg_history *cg_fit(cg_model *model, const cg_tensor *x, const cg_tensor *y,
                   const cg_fit_options *options) {
    fit_run run = {.op = "cg_fit", .data_name = "x", .model = model};
    int status = begin_run(&run, options);
    if (status == 0) status = setup_tensor_data(&run, x, y);
    if (status == 0) status = build_and_train(&run);
    return finish_run(&run, status);
}

cg_history *cg_fit_dataset(cg_model *model, const cg_dataset *train, const cg_dataset *validation,
                           const cg_fit_options *options) {
    fit_run run = {.op = "cg_fit_dataset", .data_name = "the training data set", .model = model};
    int status = begin_run(&run, options);
    if (status == 0) status = setup_dataset_data(&run, train, validation);
    if (status == 0) status = build_and_train(&run);
    return finish_run(&run, status);
}
