/* cg_fit, cg_evaluate and cg_predict. fit trains on shuffled mini-batches, each step inside its
 * own scope so that its temporaries and graph go at once; evaluate and predict run batches in
 * evaluation mode without a graph. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "nn/callbacks.h"
#include "nn/history.h"
#include "nn/metrics.h"

enum { DEFAULT_BATCH_SIZE = 32, DEFAULT_EVALUATION_BATCH_SIZE = 256 };

/* Seed 0 stands for this one. Each epoch's shuffle and dropout masks come from (seed, epoch)
 * alone, so a run continued at initial_epoch k sees the epochs of a run that went straight on. */
static const uint64_t DEFAULT_SEED = 0x5EEDF17ull;
/* Keeps the dropout stream apart from the shuffling stream of the same seed. */
static const uint64_t DROPOUT_STREAM = 0xD50F0D5EEDull;

/* ----- checks shared by fit, evaluate and predict ----- */

static cg_shape sample_shape(const cg_tensor *x) {
    const cg_shape shape = cg_tensor_shape(x);
    cg_shape sample = {.ndim = shape.ndim - 1};
    for (int k = 1; k < shape.ndim; k++)
        sample.dims[k - 1] = shape.dims[k];
    return sample;
}

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

/* Builds an unbuilt model for x's samples, or checks that they fit the built one. */
static int prepare_model(const char *op, cg_model *model, const cg_tensor *x) {
    const cg_shape samples = sample_shape(x);
    if (!cg_model_is_built(model)) return cg_model_build(model, samples);
    if (same_shape(samples, cg_model_input_shape(model))) return 0;
    char given[64], expected[64];
    cg_error_set("%s: x has samples of shape %s but the model takes %s", op,
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

/* ----- batched passes in evaluation mode ----- */

typedef int (*batch_visit)(const cg_tensor *output, const cg_tensor *target, void *userdata);

/* Runs the model on x in batches in evaluation mode without a graph, and calls visit with each
 * batch's outputs (and y's matching rows when y is given) inside the batch's scope. */
static int for_each_evaluation_batch(cg_model *model, const cg_tensor *x, const cg_tensor *y,
                                     int batch_size, batch_visit visit, void *userdata) {
    const bool grad_was_enabled = cg_set_grad_enabled(false);
    const int64_t samples = cg_dim(x, 0);
    int status = 0;
    for (int64_t start = 0; status == 0 && start < samples; start += batch_size) {
        const int64_t count = samples - start < batch_size ? samples - start : batch_size;
        cg_scope_begin();
        const cg_tensor *output = cg_model_forward(model, cg_narrow(x, 0, start, count), false);
        const cg_tensor *target = y ? cg_narrow(y, 0, start, count) : NULL;
        status = output && (!y || target) ? visit(output, target, userdata) : -1;
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
    return loss ? cg_metric_totals_add(&pass->totals, output, target, cg_item(loss)) : -1;
}

static int evaluation_totals(const char *op, cg_model *model, const cg_tensor *x,
                             const cg_tensor *y, int batch_size, cg_metric_totals *totals) {
    if (check_compiled(op, model) != 0 || check_samples(op, "x", x, "y", y) != 0 ||
        prepare_model(op, model, x) != 0)
        return -1;
    if (batch_size < 0) {
        cg_error_set("%s: batch_size must be >= 0, got %d", op, batch_size);
        return -1;
    }
    evaluation_pass pass = {cg_model_loss(model), cg_metric_totals_start(cg_model_metrics(model))};
    if (for_each_evaluation_batch(model, x, y,
                                  batch_size ? batch_size : DEFAULT_EVALUATION_BATCH_SIZE,
                                  add_evaluation_batch, &pass) != 0)
        return -1;
    *totals = pass.totals;
    return 0;
}

int cg_evaluate(cg_model *model, const cg_tensor *x, const cg_tensor *y, int batch_size,
                cg_evaluation *result) {
    cg_metric_totals totals;
    if (!result) {
        cg_error_set("cg_evaluate: result is NULL");
        return -1;
    }
    if (evaluation_totals("cg_evaluate", model, x, y, batch_size, &totals) != 0) return -1;
    *result = (cg_evaluation){
        .loss = cg_metric_totals_loss(&totals),
        .accuracy = cg_metric_totals_value(&totals, CG_METRIC_KIND_ACCURACY),
        .binary_accuracy = cg_metric_totals_value(&totals, CG_METRIC_KIND_BINARY_ACCURACY),
        .mae = cg_metric_totals_value(&totals, CG_METRIC_KIND_MAE),
        .samples = totals.samples,
    };
    return 0;
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

cg_tensor *cg_predict(cg_model *model, const cg_tensor *x, int batch_size) {
    if (!model) {
        cg_error_set("cg_predict: model is NULL");
        return NULL;
    }
    if (batch_size < 0) {
        cg_error_set("cg_predict: batch_size must be >= 0, got %d", batch_size);
        return NULL;
    }
    if (check_samples("cg_predict", "x", x, NULL, NULL) != 0 ||
        prepare_model("cg_predict", model, x) != 0)
        return NULL;
    if (batch_size == 0) batch_size = DEFAULT_EVALUATION_BATCH_SIZE;
    const int64_t batches = (cg_dim(x, 0) + batch_size - 1) / batch_size;
    batch_outputs kept = {malloc(sizeof(cg_tensor *) * (size_t)batches), 0};
    if (!kept.outputs) {
        cg_error_set("cg_predict: out of memory");
        return NULL;
    }
    const int status = for_each_evaluation_batch(model, x, NULL, batch_size, keep_output, &kept);
    cg_tensor *result = status == 0 ? cg_concat(kept.outputs, kept.count, 0) : NULL;
    for (int i = 0; i < kept.count; i++)
        cg_release(kept.outputs[i]);
    free(kept.outputs);
    return result;
}

/* ----- fit ----- */

typedef struct {
    cg_model *model;
    cg_fit_options options;           /* with the defaults filled in */
    cg_callback_list given_callbacks; /* fit's to free from the call on, whatever happens */
    const cg_tensor *train_x, *train_y, *validation_x, *validation_y;
    cg_tensor *split_parts[4]; /* views of x and y when validation_split is used */
    int64_t train_count;
    int64_t *order; /* the current epoch's sample order */
    cg_callback **callbacks;
    int callback_count;
    cg_callback *progress; /* added by fit according to verbose */
    cg_history *history;
    cg_train_state state;
} fit_run;

static int resolve_options(const cg_fit_options *given, cg_fit_options *options) {
    *options = given ? *given : (cg_fit_options){0};
    if (options->epochs == 0) options->epochs = 1;
    if (options->batch_size == 0) options->batch_size = DEFAULT_BATCH_SIZE;
    if (options->seed == 0) options->seed = DEFAULT_SEED;
    if (!options->output) options->output = stdout;
    if (options->epochs < 0 || options->batch_size < 0) {
        cg_error_set("cg_fit: epochs and batch_size must be >= 0, got %d and %d", options->epochs,
                     options->batch_size);
    } else if (options->initial_epoch < 0 || options->initial_epoch > options->epochs) {
        cg_error_set("cg_fit: initial_epoch %d is not in [0, epochs %d]", options->initial_epoch,
                     options->epochs);
    } else if (!(options->validation_split >= 0 && options->validation_split < 1)) {
        cg_error_set("cg_fit: validation_split must be in [0, 1), got %g",
                     options->validation_split);
    } else if (!options->validation_x != !options->validation_y) {
        cg_error_set("cg_fit: validation_x and validation_y must be given together");
    } else if (options->validation_x && options->validation_split > 0) {
        cg_error_set("cg_fit: give validation_x and validation_y or validation_split, not both");
    } else if (options->verbose < CG_VERBOSE_AUTO || options->verbose > CG_VERBOSE_LINES) {
        cg_error_set("cg_fit: unknown verbose value %d", (int)options->verbose);
    } else if (options->callbacks.count < 0 ||
               (options->callbacks.count > 0 && !options->callbacks.items)) {
        cg_error_set("cg_fit: the callback list has no items");
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
            cg_error_set("cg_fit: callback %d is NULL (its constructor failed; last error: %s)", i,
                         cause);
            return -1;
        }
    if (run->options.verbose != CG_VERBOSE_SILENT) {
        run->progress = cg_progress_bar(run->options.output, run->options.verbose);
        if (!run->progress) return -1;
    }
    run->callbacks = malloc(sizeof(cg_callback *) * (size_t)(given->count + 1));
    if (!run->callbacks) {
        cg_error_set("cg_fit: out of memory");
        return -1;
    }
    for (int i = 0; i < given->count; i++)
        run->callbacks[run->callback_count++] = given->items[i];
    /* Last, so that the progress shows what the other callbacks did at epoch end. */
    if (run->progress) run->callbacks[run->callback_count++] = run->progress;
    return 0;
}

/* The training and validation sets: x and y, and validation_x/y or the last validation_split of
 * the samples (like Keras, before any shuffling). */
static int setup_data(fit_run *run, const cg_tensor *x, const cg_tensor *y) {
    const cg_fit_options *options = &run->options;
    if (check_samples("cg_fit", "x", x, "y", y) != 0) return -1;
    run->train_x = x;
    run->train_y = y;
    run->validation_x = options->validation_x;
    run->validation_y = options->validation_y;
    if (options->validation_x) {
        if (check_samples("cg_fit", "validation_x", options->validation_x, "validation_y",
                          options->validation_y) != 0)
            return -1;
        if (!same_shape(sample_shape(options->validation_x), sample_shape(x))) {
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
        run->train_x = parts[0];
        run->train_y = parts[1];
        run->validation_x = parts[2];
        run->validation_y = parts[3];
    }
    run->train_count = cg_dim(run->train_x, 0);
    run->order = malloc(sizeof(int64_t) * (size_t)run->train_count);
    if (!run->order) {
        cg_error_set("cg_fit: out of memory");
        return -1;
    }
    return 0;
}

/* The sample order of an epoch: a Fisher-Yates shuffle drawn from (seed, epoch). */
static void order_samples(fit_run *run, int epoch) {
    int64_t *order = run->order;
    for (int64_t i = 0; i < run->train_count; i++)
        order[i] = i;
    if (run->options.no_shuffle) return;
    const uint64_t key = cg_random_bits(run->options.seed, (uint64_t)epoch);
    for (int64_t i = run->train_count - 1; i > 0; i--) {
        const int64_t j = (int64_t)(cg_random_uniform(key, (uint64_t)i) * (double)(i + 1));
        const int64_t picked = order[j];
        order[j] = order[i];
        order[i] = picked;
    }
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

/* One optimisation step on the samples order[start .. start + count). */
static int train_step(fit_run *run, int64_t start, int64_t count, cg_metric_totals *totals) {
    cg_model *model = run->model;
    int parameter_count = 0;
    cg_tensor *const *parameters = cg_model_parameters(model, &parameter_count);
    cg_scope_begin();
    cg_tensor *index = cg_from_array(run->order + start, CG_SHAPE(count), CG_INT64);
    cg_tensor *x_batch = cg_index_select(run->train_x, 0, index);
    cg_tensor *y_batch = cg_index_select(run->train_y, 0, index);
    cg_tensor *output = x_batch && y_batch ? cg_model_forward(model, x_batch, true) : NULL;
    cg_tensor *loss = output ? cg_loss_compute(cg_model_loss(model), output, y_batch) : NULL;
    int status =
        loss && cg_backward(loss) == 0 &&
                cg_optimizer_step(cg_model_optimizer(model), parameters, parameter_count) == 0
            ? 0
            : -1;
    if (status == 0) {
        run->state.batch_loss = cg_item(loss);
        status = cg_metric_totals_add(totals, output, y_batch, run->state.batch_loss);
    }
    cg_model_zero_grad(model);
    cg_scope_end();
    return status;
}

/* Logs the epoch's training values, the validation values and the learning rate it used, then
 * runs the epoch-end hooks (which read them). */
static int end_epoch(fit_run *run, const cg_metric_totals *totals) {
    cg_train_state *state = &run->state;
    int status = record_totals(run->history, "", state->epoch, totals);
    if (status == 0 && run->validation_x) {
        cg_metric_totals validation;
        status = evaluation_totals("cg_fit", run->model, run->validation_x, run->validation_y, 0,
                                   &validation);
        if (status == 0) status = record_totals(run->history, "val_", state->epoch, &validation);
    }
    if (status == 0)
        status = cg_history_record(run->history, "lr", state->epoch,
                                   cg_optimizer_learning_rate(cg_model_optimizer(run->model)));
    if (status != 0) return -1;
    return cg_callbacks_run(run->callbacks, run->callback_count, CG_HOOK_EPOCH_END, state);
}

/* The batches of one epoch; a stop asked for at a batch end ends the epoch early, but the epoch
 * is still logged over the samples it saw. */
static int train_epoch(fit_run *run) {
    cg_train_state *state = &run->state;
    const int64_t batch_size = run->options.batch_size;
    cg_metric_totals totals = cg_metric_totals_start(cg_model_metrics(run->model));
    order_samples(run, state->epoch);
    state->batches = (int)((run->train_count + batch_size - 1) / batch_size);
    for (state->batch = 0; state->batch < state->batches && !state->stop_training; state->batch++) {
        const int64_t start = state->batch * batch_size;
        const int64_t count =
            run->train_count - start < batch_size ? run->train_count - start : batch_size;
        /* The row of the running epoch holds its running means for the batch-end hooks. */
        if (train_step(run, start, count, &totals) != 0 ||
            record_totals(run->history, "", state->epoch, &totals) != 0 ||
            cg_callbacks_run(run->callbacks, run->callback_count, CG_HOOK_BATCH_END, state) != 0)
            return -1;
    }
    return end_epoch(run, &totals);
}

static int train(fit_run *run) {
    cg_train_state *state = &run->state;
    *state = (cg_train_state){.model = run->model,
                              .epoch = run->options.initial_epoch,
                              .epochs = run->options.epochs,
                              .history = run->history};
    if (cg_callbacks_run(run->callbacks, run->callback_count, CG_HOOK_TRAIN_BEGIN, state) != 0)
        return -1;
    for (int epoch = run->options.initial_epoch;
         epoch < run->options.epochs && !state->stop_training; epoch++) {
        state->epoch = epoch;
        cg_manual_seed(cg_random_bits(run->options.seed ^ DROPOUT_STREAM, (uint64_t)epoch));
        if (cg_callbacks_run(run->callbacks, run->callback_count, CG_HOOK_EPOCH_BEGIN, state) !=
                0 ||
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

static void finish_run(fit_run *run) {
    for (int i = 0; i < run->given_callbacks.count; i++)
        cg_callback_free(run->given_callbacks.items[i]);
    cg_callback_free(run->progress);
    free(run->callbacks);
    for (size_t i = 0; i < sizeof run->split_parts / sizeof run->split_parts[0]; i++)
        cg_release(run->split_parts[i]);
    free(run->order);
}

cg_history *cg_fit(cg_model *model, const cg_tensor *x, const cg_tensor *y,
                   const cg_fit_options *options) {
    fit_run run = {.model = model};
    if (options && options->callbacks.count > 0 && options->callbacks.items)
        run.given_callbacks = options->callbacks;
    int status = resolve_options(options, &run.options);
    if (status == 0) status = check_compiled("cg_fit", model);
    if (status == 0) status = setup_callbacks(&run);
    if (status == 0) status = setup_data(&run, x, y);
    if (status == 0) status = prepare_model("cg_fit", model, x);
    if (status == 0 && !(run.history = cg_history_new())) status = -1;
    if (status == 0) {
        /* Training draws from its own streams and leaves the caller's as it was. */
        const cg_rng_state caller_rng = cg_rng_get_state();
        const bool grad_was_enabled = cg_set_grad_enabled(true);
        cg_model_zero_grad(model);
        status = train(&run);
        cg_set_grad_enabled(grad_was_enabled);
        cg_rng_set_state(caller_rng);
    }
    finish_run(&run);
    if (status == 0) return run.history;
    cg_history_free(run.history);
    return NULL;
}
