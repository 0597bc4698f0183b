/* Callbacks are a table of optional hooks with user data; the built-in ones are made with
 * cg_callback_new like any custom callback, so fit knows one mechanism. */
#include "nn/callbacks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

struct cg_callback {
    cg_callback_hooks hooks;
    void *userdata;
    bool runs_last;
};

cg_callback *cg_callback_new(const cg_callback_hooks *hooks, void *userdata) {
    if (!hooks) {
        cg_error_set("cg_callback_new: hooks is NULL");
        return NULL;
    }
    cg_callback *callback = malloc(sizeof *callback);
    if (!callback) {
        /* The callback owns userdata from the call on, so it goes even when there is none. */
        if (hooks->destroy) hooks->destroy(userdata);
        cg_error_set("cg_callback_new: out of memory");
        return NULL;
    }
    *callback = (cg_callback){*hooks, userdata, false};
    return callback;
}

void cg_callback_free(cg_callback *callback) {
    if (!callback) return;
    if (callback->hooks.destroy) callback->hooks.destroy(callback->userdata);
    free(callback);
}

int cg_callback_save_state(const cg_callback *callback, char *buffer, size_t size) {
    buffer[0] = '\0';
    return callback->hooks.save_state ? callback->hooks.save_state(callback->userdata, buffer, size)
                                      : 0;
}

int cg_callback_load_state(cg_callback *callback, const char *text) {
    if (callback->hooks.load_state) return callback->hooks.load_state(callback->userdata, text);
    if (!*text) return 0;
    cg_error_set("the callback keeps no state, but the checkpoint has \"%s\" for it", text);
    return -1;
}

void cg_callback_set_runs_last(cg_callback *callback) { callback->runs_last = true; }

bool cg_callback_runs_last(const cg_callback *callback) { return callback->runs_last; }

static cg_callback_fn hook_function(const cg_callback *callback, cg_callback_hook hook) {
    switch (hook) {
    case CG_HOOK_TRAIN_BEGIN: return callback->hooks.on_train_begin;
    case CG_HOOK_EPOCH_BEGIN: return callback->hooks.on_epoch_begin;
    case CG_HOOK_BATCH_END: return callback->hooks.on_batch_end;
    case CG_HOOK_EPOCH_END: return callback->hooks.on_epoch_end;
    case CG_HOOK_TRAIN_END: return callback->hooks.on_train_end;
    }
    return NULL;
}

static const char *const HOOK_NAMES[] = {"on_train_begin", "on_epoch_begin", "on_batch_end",
                                         "on_epoch_end", "on_train_end"};

int cg_callbacks_run(cg_callback *const *callbacks, int count, cg_callback_hook hook,
                     cg_train_state *state) {
    for (int i = 0; i < count; i++) {
        const cg_callback_fn function = hook_function(callbacks[i], hook);
        if (!function) continue;
        /* A custom callback cannot set the error message, so an empty one means it gave none. */
        cg_clear_error();
        if (function(state, callbacks[i]->userdata) >= 0) continue;
        char cause[256];
        snprintf(cause, sizeof cause, "%s", cg_last_error());
        cg_error_set("cg_fit: callback %d failed in %s%s%s", i, HOOK_NAMES[hook],
                     *cause ? ": " : "", cause);
        return -1;
    }
    return 0;
}

bool cg_callbacks_want_batch_values(cg_callback *const *callbacks, int count,
                                    const cg_train_state *state) {
    bool wanted = false;
    for (int i = 0; i < count; i++) {
        const cg_callback_hooks *hooks = &callbacks[i]->hooks;
        if (hooks->on_batch_end)
            wanted = (hooks->wants_batch_values
                          ? hooks->wants_batch_values(state, callbacks[i]->userdata)
                          : true) ||
                     wanted;
    }
    return wanted;
}

double cg_train_state_value(const cg_train_state *state, const char *name) {
    if (!state || !name) return NAN;
    const double *series = cg_history_series(state->history, name);
    const int epochs = cg_history_epochs(state->history);
    return series && epochs > 0 ? series[epochs - 1] : NAN;
}

/* ----- monitored quantities ----- */

int cg_monitor_init(cg_monitor *monitor, const char *op, const char *name, cg_monitor_mode mode,
                    double min_delta) {
    if (!name) name = "val_loss";
    if (!*name || strlen(name) >= sizeof monitor->name) {
        cg_error_set("%s: monitor name \"%s\" must have 1 to %d characters", op, name,
                     (int)sizeof monitor->name - 1);
        return -1;
    }
    if (mode != CG_MODE_AUTO && mode != CG_MODE_MIN && mode != CG_MODE_MAX) {
        cg_error_set("%s: unknown monitor mode %d", op, (int)mode);
        return -1;
    }
    if (!(min_delta >= 0) || !isfinite(min_delta)) {
        cg_error_set("%s: min_delta must be a finite value >= 0, got %g", op, min_delta);
        return -1;
    }
    *monitor = (cg_monitor){.min_delta = min_delta};
    strcpy(monitor->name, name);
    monitor->maximize = mode == CG_MODE_MAX || (mode == CG_MODE_AUTO && strstr(name, "acc"));
    cg_monitor_reset(monitor);
    return 0;
}

void cg_monitor_reset(cg_monitor *monitor) {
    monitor->best = monitor->maximize ? -INFINITY : INFINITY;
    monitor->best_epoch = -1;
}

int cg_monitor_read(const cg_monitor *monitor, const char *op, const cg_train_state *state,
                    double *value) {
    if (cg_history_series(state->history, monitor->name)) {
        *value = cg_train_state_value(state, monitor->name);
        return 0;
    }
    char recorded[256] = "";
    for (int i = 0; i < cg_history_series_count(state->history); i++) {
        const size_t used = strlen(recorded);
        snprintf(recorded + used, sizeof recorded - used, "%s%s", i ? ", " : "",
                 cg_history_series_name(state->history, i));
    }
    cg_error_set("%s: \"%s\" is not logged (logged: %s)", op, monitor->name, recorded);
    return -1;
}

bool cg_monitor_improved(cg_monitor *monitor, double value, int epoch) {
    const bool improved = monitor->maximize ? value > monitor->best + monitor->min_delta
                                            : value < monitor->best - monitor->min_delta;
    if (improved) {
        monitor->best = value;
        monitor->best_epoch = epoch;
    }
    return improved;
}

int cg_monitor_save(const cg_monitor *monitor, const int *extra, int extra_count, char *buffer,
                    size_t size) {
    int length = snprintf(buffer, size, "%.17g %d", monitor->best, monitor->best_epoch);
    for (int i = 0; i < extra_count && length >= 0 && (size_t)length < size; i++)
        length += snprintf(buffer + length, size - (size_t)length, " %d", extra[i]);
    if (length >= 0 && (size_t)length < size) return 0;
    cg_error_set("monitor state: %d bytes do not fit in %zu", length, size);
    return -1;
}

int cg_monitor_load(cg_monitor *monitor, const char *op, const char *text, int *extra,
                    int extra_count) {
    char *end;
    const double best = strtod(text, &end);
    bool ok = end != text;
    long values[3];
    const int count = extra_count + 1; /* best_epoch, then the owner's integers */
    for (int i = 0; ok && i < count && i < 3; i++) {
        const char *start = end;
        values[i] = strtol(start, &end, 10);
        ok = end != start && values[i] >= -1 && values[i] <= 1000000000;
    }
    if (!ok || count > 3 || *end != '\0') {
        cg_error_set("%s: state \"%s\" is not a best value, an epoch and %d counters", op, text,
                     extra_count);
        return -1;
    }
    monitor->best = best;
    monitor->best_epoch = (int)values[0];
    for (int i = 0; i < extra_count; i++)
        extra[i] = (int)values[i + 1];
    return 0;
}
