/* Early stopping: ends training when a monitored quantity has not improved for patience epochs
 * and, when asked, puts back the weights of the best epoch. The best weights are copies of every
 * parameter and buffer, made once and overwritten in place at each later best epoch. */
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "nn/callbacks.h"
#include "nn/history.h"

typedef struct {
    cg_monitor monitor;
    int patience, epochs_without_improvement;
    bool restore_best_weights;
    cg_tensor **best_weights; /* one copy per model tensor, in cg_model_visit_tensors order */
    int best_weight_count, best_weight_capacity;
    bool best_weights_from_before_resume; /* the best epoch is older than a resumed checkpoint */
} early_stopping;

typedef struct {
    early_stopping *stopping;
    int index;
    bool restore; /* copy the saved weights into the model instead of the other way */
    int status;
} weight_walk;

static int save_weight(early_stopping *stopping, int index, cg_tensor *tensor) {
    if (index < stopping->best_weight_count) return cg_copy_(stopping->best_weights[index], tensor);
    if (stopping->best_weight_count == stopping->best_weight_capacity) {
        const int capacity =
            stopping->best_weight_capacity ? stopping->best_weight_capacity * 2 : 8;
        cg_tensor **grown = realloc(stopping->best_weights, sizeof(cg_tensor *) * (size_t)capacity);
        if (!grown) {
            cg_error_set("cg_early_stopping: out of memory");
            return -1;
        }
        stopping->best_weights = grown;
        stopping->best_weight_capacity = capacity;
    }
    cg_tensor *copy = cg_clone(tensor);
    if (!copy) return -1;
    stopping->best_weights[stopping->best_weight_count++] = copy;
    return 0;
}

static int visit_weight(const char *name, cg_tensor *tensor, bool trainable, void *userdata) {
    (void)name;
    (void)trainable;
    weight_walk *walk = userdata;
    const int index = walk->index++;
    if (walk->restore)
        walk->status = cg_copy_(tensor, walk->stopping->best_weights[index]);
    else
        walk->status = save_weight(walk->stopping, index, tensor);
    return walk->status;
}

static int copy_weights(early_stopping *stopping, cg_model *model, bool restore) {
    weight_walk walk = {stopping, 0, restore, 0};
    /* Copies are plain data: no graph may link them to the parameters. */
    const bool grad_was_enabled = cg_set_grad_enabled(false);
    cg_model_visit_tensors(model, visit_weight, &walk);
    cg_set_grad_enabled(grad_was_enabled);
    return walk.status;
}

static int on_train_begin(cg_train_state *state, void *userdata) {
    (void)state;
    early_stopping *stopping = userdata;
    cg_monitor_reset(&stopping->monitor);
    stopping->epochs_without_improvement = 0;
    return 0;
}

static int on_epoch_end(cg_train_state *state, void *userdata) {
    early_stopping *stopping = userdata;
    double value;
    if (cg_monitor_read(&stopping->monitor, "cg_early_stopping", state, &value) != 0) return -1;
    if (cg_monitor_improved(&stopping->monitor, value, state->epoch)) {
        stopping->epochs_without_improvement = 0;
        stopping->best_weights_from_before_resume = false;
        return stopping->restore_best_weights ? copy_weights(stopping, state->model, false) : 0;
    }
    if (++stopping->epochs_without_improvement < stopping->patience) return 0;
    state->stop_training = true;
    snprintf(state->stop_reason, sizeof state->stop_reason,
             "early stopping: %s did not improve for %d epochs (best %.6g at epoch %d)",
             stopping->monitor.name, stopping->epochs_without_improvement, stopping->monitor.best,
             stopping->monitor.best_epoch + 1);
    return 0;
}

static int on_train_end(cg_train_state *state, void *userdata) {
    early_stopping *stopping = userdata;
    if (!stopping->restore_best_weights || stopping->monitor.best_epoch < 0 ||
        stopping->best_weights_from_before_resume)
        return 0;
    if (copy_weights(stopping, state->model, true) != 0) return -1;
    /* fit owns the history and shows it read-only to callbacks; this one reports into it. */
    cg_history_set_best_epoch((cg_history *)state->history, stopping->monitor.best_epoch);
    return 0;
}

/* A checkpoint keeps the monitor and the patience count, not the copies of the best weights. */
static int save_state(void *userdata, char *buffer, size_t size) {
    const early_stopping *stopping = userdata;
    return cg_monitor_save(&stopping->monitor, &stopping->epochs_without_improvement, 1, buffer,
                           size);
}

static int load_state(void *userdata, const char *text) {
    early_stopping *stopping = userdata;
    if (cg_monitor_load(&stopping->monitor, "cg_early_stopping", text,
                        &stopping->epochs_without_improvement, 1) != 0)
        return -1;
    /* The best epoch's weights stayed with the run that saw it: until a later epoch improves on
     * it there is nothing to put back. */
    stopping->best_weights_from_before_resume = stopping->monitor.best_epoch >= 0;
    return 0;
}

static void destroy(void *userdata) {
    early_stopping *stopping = userdata;
    for (int i = 0; i < stopping->best_weight_count; i++)
        cg_release(stopping->best_weights[i]);
    free(stopping->best_weights);
    free(stopping);
}

cg_callback *cg_early_stopping(const cg_early_stopping_options *options) {
    const cg_early_stopping_options defaults = {0};
    if (!options) options = &defaults;
    if (options->patience < 0) {
        cg_error_set("cg_early_stopping: patience must be >= 0, got %d", options->patience);
        return NULL;
    }
    early_stopping *stopping = calloc(1, sizeof *stopping);
    if (!stopping) {
        cg_error_set("cg_early_stopping: out of memory");
        return NULL;
    }
    if (cg_monitor_init(&stopping->monitor, "cg_early_stopping", options->monitor, options->mode,
                        options->min_delta) != 0) {
        free(stopping);
        return NULL;
    }
    stopping->patience = options->patience;
    stopping->restore_best_weights = options->restore_best_weights;
    const cg_callback_hooks hooks = {.on_train_begin = on_train_begin,
                                     .on_epoch_end = on_epoch_end,
                                     .on_train_end = on_train_end,
                                     .save_state = save_state,
                                     .load_state = load_state,
                                     .destroy = destroy};
    return cg_callback_new(&hooks, stopping);
}
