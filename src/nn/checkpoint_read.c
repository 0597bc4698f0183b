/* Reading training checkpoints (the layout is in nn/checkpoint.h) and putting them back: every
 * part of the file is read and checked against the model (and the fit) before anything is
 * changed, so a checkpoint of another architecture or optimizer leaves the model as it was. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/device.h"
#include "core/error.h"
#include "core/tensor.h"
#include "nn/callbacks.h"
#include "nn/checkpoint.h"
#include "nn/history.h"

enum { SLOTS = 2, OPTION_COUNT = 9, TOTALS_FIELDS = 9 };

struct cg_checkpoint {
    const char *function;
    char *path;
    cg_safetensors_contents *contents;
    int epoch, batch;
    bool stop, entered;
    const char *stop_reason; /* borrowed from contents */
    cg_rng_state rng;
    bool has_totals;
    cg_metric_totals totals;
    double learning_rate;
    int positions;       /* the optimizer's, -1 before its first step */
    cg_tensor **slots;   /* positions * SLOTS, borrowed from contents, NULL where none */
    int64_t *steps;      /* positions */
    cg_history *history; /* as recorded */
    int callback_count;  /* -1 for a checkpoint written outside fit */
    const char **callback_states;
};

/* ----- reading values ----- */

static const char *find_value(const cg_checkpoint *c, const char *key) {
    const char *value = cg_safetensors_find_metadata(c->contents, key);
    if (!value) cg_model_file_error(c->function, c->path, "the checkpoint has no \"%s\"", key);
    return value;
}

/* A whole decimal integer in [low, high]. */
static int read_integer(const cg_checkpoint *c, const char *key, long low, long high, int *value) {
    const char *text = find_value(c, key);
    if (!text) return -1;
    char *end;
    errno = 0;
    const long parsed = strtol(text, &end, 10);
    if (end == text || *end || errno || parsed < low || parsed > high) {
        cg_model_file_error(c->function, c->path, "\"%s\" is '%s', not an integer in [%ld, %ld]",
                            key, text, low, high);
        return -1;
    }
    *value = (int)parsed;
    return 0;
}

/* count numbers separated by blanks: doubles, or 64-bit integers in base 16 when hex. */
static int read_numbers(const cg_checkpoint *c, const char *key, int count, double *numbers,
                        uint64_t *hex) {
    const char *text = find_value(c, key);
    if (!text) return -1;
    const char *at = text;
    bool ok = true;
    for (int i = 0; ok && i < count; i++) {
        char *end;
        errno = 0;
        if (hex)
            hex[i] = strtoull(at, &end, 16);
        else
            numbers[i] = strtod(at, &end);
        ok = end != at && errno == 0 && (*end == ' ' || (*end == '\0' && i == count - 1));
        at = end;
    }
    if (ok) return 0;
    cg_model_file_error(c->function, c->path, "\"%s\" is '%s', not %d numbers", key, text, count);
    return -1;
}

/* ----- the parts ----- */

/* "input 4; dense 8 relu": a spec text on one line, for messages. */
static void one_line(const char *spec, char *line, size_t size) {
    size_t used = 0;
    for (const char *at = spec; *at && used + 3 < size; at++) {
        if (*at != '\n')
            line[used++] = *at;
        else if (at[1])
            used += (size_t)snprintf(line + used, size - used, "; ");
    }
    line[used] = '\0';
}

static int check_architecture(const cg_checkpoint *c, const cg_model *model) {
    const char *saved = find_value(c, "architecture");
    char *own = saved ? cg_model_to_spec(model) : NULL;
    const bool same = own && strcmp(own, saved) == 0;
    if (own && !same) {
        char saved_line[256], own_line[256];
        one_line(saved, saved_line, sizeof saved_line);
        one_line(own, own_line, sizeof own_line);
        cg_model_file_error(c->function, c->path,
                            "the checkpoint is of another architecture (\"%s\") than the model "
                            "(\"%s\")",
                            saved_line, own_line);
    }
    free(own);
    return same ? 0 : -1;
}

/* The kind and every option but the learning rate (which the checkpoint sets) must match. */
static int read_optimizer_options(cg_checkpoint *c, const cg_optimizer *optimizer) {
    const char *kind = find_value(c, "optimizer");
    if (!kind) return -1;
    const char *own_kind = cg_optimizer_name(cg_optimizer_get_kind(optimizer));
    if (strcmp(kind, own_kind) != 0) {
        cg_model_file_error(c->function, c->path,
                            "the checkpoint's optimizer is %s, the model's is %s", kind, own_kind);
        return -1;
    }
    double saved[OPTION_COUNT];
    if (read_numbers(c, "optimizer.options", OPTION_COUNT, saved, NULL) != 0) return -1;
    const cg_optimizer_options o = cg_optimizer_get_options(optimizer);
    const double own[OPTION_COUNT] = {o.learning_rate, o.momentum,     o.nesterov,
                                      o.beta1,         o.beta2,        o.epsilon,
                                      o.rho,           o.weight_decay, o.clip_norm};
    static const char *const names[OPTION_COUNT] = {"learning_rate", "momentum",     "nesterov",
                                                    "beta1",         "beta2",        "epsilon",
                                                    "rho",           "weight_decay", "clip_norm"};
    for (int i = 1; i < OPTION_COUNT; i++) {
        if (saved[i] == own[i]) continue;
        cg_model_file_error(c->function, c->path,
                            "the checkpoint's %s has %s %.17g, the model's optimizer %.17g",
                            own_kind, names[i], saved[i], own[i]);
        return -1;
    }
    if (!(saved[0] >= 0) || isinf(saved[0])) {
        cg_model_file_error(c->function, c->path, "learning rate %g is not finite and >= 0",
                            saved[0]);
        return -1;
    }
    c->learning_rate = saved[0];
    return 0;
}

/* How many tensors of the file start with prefix. */
static size_t count_prefixed(const cg_safetensors_contents *contents, const char *prefix) {
    size_t count = 0;
    for (size_t i = 0; i < contents->tensor_count; i++)
        count += strncmp(contents->tensors[i].name, prefix, strlen(prefix)) == 0;
    return count;
}

static bool same_geometry(const cg_tensor *a, const cg_tensor *b) {
    return a->dtype == b->dtype && a->ndim == b->ndim &&
           memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim) == 0;
}

/* The step counts and, per parameter, the slot tensors it has, shaped like the parameter. */
static int read_optimizer_state(cg_checkpoint *c, const cg_model *model) {
    const cg_optimizer *optimizer = model->optimizer;
    if (read_integer(c, "optimizer.positions", -1, model->parameter_count, &c->positions) != 0)
        return -1;
    if (c->positions != -1 && c->positions != model->parameter_count) {
        cg_model_file_error(c->function, c->path,
                            "the optimizer state is for %d parameters, the model has %d",
                            c->positions, model->parameter_count);
        return -1;
    }
    const size_t positions = c->positions > 0 ? (size_t)c->positions : 0;
    c->slots = calloc(positions * SLOTS + 1, sizeof *c->slots);
    c->steps = calloc(positions + 1, sizeof *c->steps);
    if (!c->slots || !c->steps) {
        cg_model_file_error(c->function, c->path, "out of memory");
        return -1;
    }
    size_t found = 0;
    if (positions > 0) {
        const cg_tensor *steps = cg_safetensors_find(c->contents, "optimizer.steps");
        if (!steps || steps->dtype != CG_INT64 || steps->ndim != 1 ||
            steps->shape[0] != (int64_t)positions) {
            cg_model_file_error(c->function, c->path,
                                "tensor 'optimizer.steps' is missing or not int64 (%zu)",
                                positions);
            return -1;
        }
        memcpy(c->steps, cg_tensor_data(steps), sizeof(int64_t) * positions);
        found++;
    }
    char name[CG_NAME_MAX + 64];
    for (size_t i = 0; i < positions; i++) {
        const cg_tensor *parameter = model->parameters[i];
        if (c->steps[i] < 0) {
            cg_model_file_error(c->function, c->path, "parameter %zu has %" PRId64 " steps", i,
                                c->steps[i]);
            return -1;
        }
        for (int slot = 0; slot < cg_optimizer_state_slots(optimizer); slot++) {
            snprintf(name, sizeof name, "optimizer.%s.%s", model->parameter_names[i],
                     cg_optimizer_state_slot_name(optimizer, slot));
            cg_tensor *saved = cg_safetensors_find(c->contents, name);
            if (!saved) continue;
            if (!same_geometry(saved, parameter)) {
                cg_model_file_error(c->function, c->path,
                                    "tensor '%s' is %s %s, but its parameter is %s %s", name,
                                    cg_dtype_name(saved->dtype), cg_shape_text(saved),
                                    cg_dtype_name(parameter->dtype), cg_shape_text(parameter));
                return -1;
            }
            c->slots[i * SLOTS + (size_t)slot] = saved;
            found++;
        }
    }
    if (found == count_prefixed(c->contents, "optimizer.")) return 0;
    cg_model_file_error(c->function, c->path,
                        "the checkpoint holds optimizer tensors that are not %s state of this "
                        "model's parameters",
                        cg_optimizer_name(cg_optimizer_get_kind(optimizer)));
    return -1;
}

static int read_position(cg_checkpoint *c) {
    int stop;
    uint64_t rng[2];
    if (read_integer(c, "training.epoch", 0, 1000000000, &c->epoch) != 0 ||
        read_integer(c, "training.batch", 0, 1000000000, &c->batch) != 0 ||
        read_integer(c, "training.stop", 0, 1, &stop) != 0 ||
        read_numbers(c, "training.rng", 2, NULL, rng) != 0)
        return -1;
    c->stop = stop;
    c->rng = (cg_rng_state){rng[0], rng[1]};
    if (!(c->stop_reason = find_value(c, "training.stop_reason"))) return -1;
    return 0;
}

/* The running epoch's totals, written by fit inside an epoch. */
static int read_totals(cg_checkpoint *c, unsigned metrics) {
    if (!cg_safetensors_find_metadata(c->contents, "training.totals")) return 0;
    double fields[TOTALS_FIELDS];
    if (read_numbers(c, "training.totals", TOTALS_FIELDS, fields, NULL) != 0) return -1;
    /* The sample and metric counts are whole numbers a double holds exactly. */
    for (int k = 0; k < 4; k++) {
        const double count = fields[k == 0 ? 0 : 4 + k];
        if (!(count >= 0 && count <= 0x1p53) || count != (double)(int64_t)count) {
            cg_model_file_error(c->function, c->path, "\"training.totals\" has count %g", count);
            return -1;
        }
    }
    c->totals = (cg_metric_totals){.metrics = metrics, .batch_loss = fields[8]};
    c->totals.samples = (int64_t)fields[0];
    c->totals.loss_sum = fields[1];
    for (int k = 0; k < CG_METRIC_KIND_COUNT; k++) {
        c->totals.metric_sums[k] = fields[2 + k];
        c->totals.metric_counts[k] = (int64_t)fields[5 + k];
    }
    c->has_totals = true;
    return 0;
}

/* The history's rows and series; every "history." tensor must be one of them. */
static int read_history(cg_checkpoint *c) {
    if (!(c->history = cg_history_new())) return -1;
    /* A hand-written loop may save no history. */
    if (!cg_safetensors_find_metadata(c->contents, "history.stop_reason") &&
        count_prefixed(c->contents, "history.") == 0)
        return 0;
    int stopped, best;
    const char *reason = find_value(c, "history.stop_reason");
    if (!reason || read_integer(c, "history.stopped_epoch", -1, 1000000000, &stopped) != 0 ||
        read_integer(c, "history.best_epoch", -1, 1000000000, &best) != 0)
        return -1;
    const cg_tensor *epochs = cg_safetensors_find(c->contents, "history.epochs");
    const int64_t rows = epochs ? epochs->shape[0] : 0;
    if (epochs && (epochs->dtype != CG_INT64 || epochs->ndim != 1)) {
        cg_model_file_error(c->function, c->path, "tensor 'history.epochs' is not int64 (rows)");
        return -1;
    }
    const int64_t *epoch_of = epochs ? cg_tensor_data(epochs) : NULL;
    const size_t prefix = strlen("history.series.");
    const cg_safetensors_entry **series = calloc(c->contents->tensor_count + 1, sizeof *series);
    size_t series_count = 0;
    int status = series ? 0 : -1;
    for (size_t i = 0; status == 0 && i < c->contents->tensor_count; i++) {
        const cg_safetensors_entry *entry = &c->contents->tensors[i];
        if (strncmp(entry->name, "history.", strlen("history.")) != 0 || entry->tensor == epochs)
            continue;
        const cg_tensor *values = entry->tensor;
        if (strncmp(entry->name, "history.series.", prefix) != 0 || !entry->name[prefix] ||
            values->dtype != CG_FLOAT64 || values->ndim != 1 || values->shape[0] != rows) {
            cg_model_file_error(c->function, c->path,
                                "tensor '%s' is not a float64 history series of %" PRId64 " epochs",
                                entry->name, rows);
            status = -1;
        }
        series[series_count++] = entry;
    }
    /* Row by row, as fit records them. */
    for (int64_t row = 0; status == 0 && row < rows; row++) {
        for (size_t k = 0; status == 0 && k < series_count; k++) {
            const double value = ((const double *)cg_tensor_data(series[k]->tensor))[row];
            if (epoch_of[row] < 0 || epoch_of[row] > 1000000000 ||
                cg_history_record(c->history, series[k]->name + prefix, (int)epoch_of[row],
                                  value) != 0) {
                cg_model_file_error(c->function, c->path, "history epoch %" PRId64 ": %s",
                                    epoch_of[row], cg_last_error());
                status = -1;
            }
        }
    }
    free(series);
    if (status != 0) return -1;
    if (stopped >= 0) cg_history_set_stopped(c->history, stopped, reason);
    if (best >= 0) cg_history_set_best_epoch(c->history, best);
    return 0;
}

/* fit's settings must be those of the run that wrote the checkpoint. */
static int check_fit(cg_checkpoint *c, const cg_fit_context *fit, int epochs) {
    if (c->epoch > epochs) {
        cg_model_file_error(c->function, c->path, "the checkpoint is at epoch %d, past epochs %d",
                            c->epoch, epochs);
        return -1;
    }
    /* A checkpoint of a hand-written loop has no fit settings to compare. */
    if (!cg_safetensors_find_metadata(c->contents, "training.seed")) return 0;
    uint64_t seed;
    int batch_size, shuffle;
    if (read_numbers(c, "training.seed", 1, NULL, &seed) != 0 ||
        read_integer(c, "training.batch_size", 1, 1000000000, &batch_size) != 0 ||
        read_integer(c, "training.shuffle", 0, 1, &shuffle) != 0 ||
        read_integer(c, "training.callbacks", 0, 1000000, &c->callback_count) != 0)
        return -1;
    const char *differs = seed != fit->seed                          ? "seed"
                          : batch_size != fit->batch_size            ? "batch_size"
                          : (bool)shuffle != fit->shuffle            ? "no_shuffle"
                          : c->callback_count != fit->callback_count ? "number of callbacks"
                                                                     : NULL;
    if (differs) {
        cg_model_file_error(c->function, c->path,
                            "the checkpoint was written with another %s (seed %" PRIu64
                            ", batch_size %d, shuffle %d, %d callbacks)",
                            differs, seed, batch_size, shuffle, c->callback_count);
        return -1;
    }
    c->callback_states = calloc((size_t)c->callback_count + 1, sizeof *c->callback_states);
    if (!c->callback_states) {
        cg_model_file_error(c->function, c->path, "out of memory");
        return -1;
    }
    char key[48];
    for (int i = 0; i < c->callback_count; i++) {
        snprintf(key, sizeof key, "training.callback.%d", i);
        if (!(c->callback_states[i] = find_value(c, key))) return -1;
    }
    return 0;
}

static int read_parts(cg_checkpoint *c, const cg_model *model, const cg_fit_context *fit,
                      int epochs) {
    const char *version = cg_safetensors_find_metadata(c->contents, CG_CHECKPOINT_FORMAT_KEY);
    if (!version || strcmp(version, "1") != 0) {
        cg_model_file_error(c->function, c->path,
                            version ? "checkpoint format version '%s' is not supported (this "
                                      "build reads 1)"
                                    : "not a training checkpoint%s (cg_model_load reads model "
                                      "files)",
                            version ? version : "");
        return -1;
    }
    if (count_prefixed(c->contents, "training.") > 0) {
        cg_model_file_error(c->function, c->path, "unexpected tensor under 'training.'");
        return -1;
    }
    c->callback_count = -1;
    if (check_architecture(c, model) != 0 ||
        cg_model_file_check_tensors(c->function, c->path, model, c->contents) != 0 ||
        read_optimizer_options(c, model->optimizer) != 0 || read_optimizer_state(c, model) != 0 ||
        read_position(c) != 0 || read_totals(c, model->metrics) != 0 || read_history(c) != 0)
        return -1;
    return fit ? check_fit(c, fit, epochs) : 0;
}

static cg_checkpoint *read_checkpoint(const char *function, const char *path, const cg_model *model,
                                      const cg_fit_context *fit, int epochs) {
    if (!model || !path || !model->built || !model->compiled) {
        cg_error_set("%s: needs a path and a built, compiled model", function);
        return NULL;
    }
    cg_checkpoint *c = calloc(1, sizeof *c);
    if (c) c->path = malloc(strlen(path) + 1);
    if (!c || !c->path) {
        free(c);
        cg_error_set("%s: out of memory", function);
        return NULL;
    }
    c->function = function;
    strcpy(c->path, path);
    c->contents = cg_safetensors_read(path);
    if (!c->contents) {
        char message[768];
        snprintf(message, sizeof message, "%s", cg_last_error());
        cg_error_set("%s: %s", function, message);
    }
    if (!c->contents || read_parts(c, model, fit, epochs) != 0) {
        cg_checkpoint_free(c);
        return NULL;
    }
    return c;
}

cg_checkpoint *cg_checkpoint_read(const char *path, const cg_model *model,
                                  const cg_fit_context *context, int epochs) {
    return read_checkpoint("cg_fit", path, model, context, epochs);
}

void cg_checkpoint_free(cg_checkpoint *checkpoint) {
    if (!checkpoint) return;
    cg_safetensors_contents_free(checkpoint->contents);
    cg_history_free(checkpoint->history);
    free(checkpoint->slots);
    free(checkpoint->steps);
    free(checkpoint->callback_states);
    free(checkpoint->path);
    free(checkpoint);
}

/* ----- putting it back ----- */

/* Copies of the slot tensors on the model's device, handed to the optimizer. */
static int restore_optimizer(const cg_checkpoint *c, cg_model *model) {
    const size_t count = c->positions > 0 ? (size_t)c->positions * SLOTS : 0;
    cg_tensor **copies = calloc(count + 1, sizeof *copies);
    int status = copies ? 0 : -1;
    if (!copies) cg_error_set("out of memory");
    for (size_t i = 0; status == 0 && i < count; i++) {
        if (!c->slots[i]) continue;
        copies[i] = cg_clone(c->slots[i]);
        if (copies[i]) cg_tensor_unscope(copies[i]);
        if (!copies[i] || cg_tensor_move_(copies[i], model->device) != 0) status = -1;
    }
    if (status == 0)
        status = cg_optimizer_restore_state(model->optimizer, c->positions, copies, c->steps);
    if (status != 0)
        for (size_t i = 0; copies && i < count; i++)
            cg_release(copies[i]);
    free(copies);
    if (status != 0) cg_model_file_error(c->function, c->path, "%s", cg_last_error());
    return status;
}

/* The optimizer's state and rate, then the weights: only the first can fail, and it changes
 * nothing when it does. */
static int restore_model(const cg_checkpoint *c, cg_model *model) {
    if (restore_optimizer(c, model) != 0 ||
        cg_model_file_copy_tensors(c->function, c->path, model, c->contents) != 0)
        return -1;
    cg_optimizer_set_learning_rate(model->optimizer, c->learning_rate);
    cg_model_zero_grad(model);
    return 0;
}

int cg_checkpoint_resume(const cg_checkpoint *c, cg_train_state *state, cg_history *history) {
    const cg_fit_context *fit = state->fit;
    for (int i = 0; i < c->callback_count; i++) {
        if (cg_callback_load_state(fit->callbacks[i], c->callback_states[i]) == 0) continue;
        cg_model_file_error(c->function, c->path, "callback %d: %s", i, cg_last_error());
        return -1;
    }
    if (restore_model(c, state->model) != 0) return -1;
    cg_history_swap(history, c->history);
    state->epoch = c->epoch;
    state->batch = c->batch;
    state->stop_training = c->stop;
    if (c->stop) {
        snprintf(state->stop_reason, sizeof state->stop_reason, "%s", c->stop_reason);
        /* Stopped at an epoch's end: that epoch is the one training stopped at. */
        if (c->batch == 0 && c->epoch > 0) state->epoch = c->epoch - 1;
    }
    return 0;
}

bool cg_checkpoint_mid_epoch(const cg_checkpoint *checkpoint) {
    return checkpoint->batch > 0 && !checkpoint->entered;
}

int cg_checkpoint_enter_epoch(cg_checkpoint *c, cg_batch_source *source, cg_metric_totals *totals) {
    if (!cg_checkpoint_mid_epoch(c)) return 0;
    c->entered = true;
    if (!c->has_totals || c->batch > cg_batch_source_batches(source)) {
        cg_model_file_error(c->function, c->path,
                            "batch %d is past the epoch's %lld batches, or the running totals "
                            "are missing",
                            c->batch, (long long)cg_batch_source_batches(source));
        return -1;
    }
    /* The sample order is the epoch's; drawing its first batches puts the source at the
     * checkpoint's batch. */
    for (int batch = 0; batch < c->batch; batch++) {
        cg_scope_begin();
        cg_tensor *x, *y;
        const int got = cg_batch_source_next(source, &x, &y);
        cg_scope_end();
        if (got != 1) return -1;
    }
    if (cg_metric_totals_restore(totals, &c->totals) != 0) return -1;
    cg_rng_set_state(c->rng);
    return c->batch;
}

int cg_checkpoint_load(cg_model *model, const char *path, cg_checkpoint_position *position) {
    cg_checkpoint *c = read_checkpoint("cg_checkpoint_load", path, model, NULL, 0);
    if (!c) return -1;
    const int status = restore_model(c, model);
    if (status == 0) {
        cg_rng_set_state(c->rng);
        if (position) *position = (cg_checkpoint_position){c->epoch, c->batch};
    }
    cg_checkpoint_free(c);
    return status;
}
