/* The progress display of fit. On a terminal, a bar per epoch redrawn in place with \r and an
 * ETA, ended by the epoch's final values; elsewhere (a log file, a pipe) one line per epoch.
 * Values are the latest row of the history: running means while the epoch runs. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "nn/callbacks.h"

enum { BAR_WIDTH = 30, PROGRESS_LINE_SIZE = 1024 };

/* Redrawing the bar more often than this only costs time. */
static const double REDRAW_INTERVAL_SECONDS = 0.1;

typedef struct {
    FILE *out;
    bool bar;
    double epoch_start, last_draw;
    int drawn_length; /* of the bar on screen, to blank what a shorter line leaves */
    int due_batch;    /* the batch whose end redraws the bar, or -1 */
} progress_display;

static double now_seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

/* Appends printf-formatted text to line, truncating at PROGRESS_LINE_SIZE. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
append(char *line, const char *format, ...) {
    const size_t used = strlen(line);
    va_list args;
    va_start(args, format);
    vsnprintf(line + used, PROGRESS_LINE_SIZE - used, format, args);
    va_end(args);
}

/* " - loss: 0.4123 - accuracy: 0.8750 ..." for every value of the latest row but the rate. */
static void append_values(char *line, const cg_history *history) {
    const int row = cg_history_epochs(history) - 1;
    for (int i = 0; row >= 0 && i < cg_history_series_count(history); i++) {
        const char *name = cg_history_series_name(history, i);
        const double value = cg_history_series(history, name)[row];
        if (strcmp(name, "lr") == 0 || isnan(value)) continue;
        const bool tiny = value != 0 && fabs(value) < 1e-3;
        append(line, tiny ? " - %s: %.4e" : " - %s: %.4f", name, value);
    }
}

static void append_bar(char *line, int done, int total) {
    const int filled = total > 0 ? BAR_WIDTH * done / total : BAR_WIDTH;
    char bar[BAR_WIDTH + 1];
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < filled - 1 || done == total ? '=' : i == filled - 1 ? '>' : '.';
    bar[BAR_WIDTH] = '\0';
    append(line, " [%s] %d/%d", bar, done, total);
}

static void append_duration(char *line, double seconds) {
    if (seconds < 60)
        append(line, " - %.1fs", seconds);
    else
        append(line, " - %dm %02ds", (int)(seconds / 60), (int)fmod(seconds, 60));
}

/* Writes the bar line over the previous one, blanking what is left of a longer one. */
static void draw_in_place(progress_display *display, const char *line, bool final) {
    const int length = (int)strlen(line);
    const int blank = display->drawn_length > length ? display->drawn_length - length : 0;
    fprintf(display->out, "\r%s%*s%s", line, blank, "", final ? "\n" : "");
    fflush(display->out);
    display->drawn_length = final ? 0 : length;
}

static int on_epoch_begin(cg_train_state *state, void *userdata) {
    (void)state;
    progress_display *display = userdata;
    display->epoch_start = now_seconds();
    display->last_draw = -INFINITY;
    display->drawn_length = 0;
    display->due_batch = -1;
    return 0;
}

/* The bar is redrawn, and the running values read for it, at most every REDRAW_INTERVAL_SECONDS;
 * the epoch's last batch leaves the drawing to the epoch end. */
static bool wants_batch_values(const cg_train_state *state, void *userdata) {
    progress_display *display = userdata;
    const bool due = now_seconds() - display->last_draw >= REDRAW_INTERVAL_SECONDS &&
                     state->batch + 1 < state->batches;
    display->due_batch = due ? state->batch : -1;
    return due;
}

static int on_batch_end(cg_train_state *state, void *userdata) {
    progress_display *display = userdata;
    if (display->due_batch != state->batch) return 0;
    const double now = now_seconds();
    const int done = state->batch + 1;
    display->last_draw = now;
    const int remaining = (int)((now - display->epoch_start) / done * (state->batches - done));
    char line[PROGRESS_LINE_SIZE] = "";
    append(line, "Epoch %d/%d", state->epoch + 1, state->epochs);
    append_bar(line, done, state->batches);
    append(line, " - ETA %d:%02d", remaining / 60, remaining % 60);
    append_values(line, state->history);
    draw_in_place(display, line, false);
    return 0;
}

static int on_epoch_end(cg_train_state *state, void *userdata) {
    progress_display *display = userdata;
    char line[PROGRESS_LINE_SIZE] = "";
    append(line, "Epoch %d/%d", state->epoch + 1, state->epochs);
    if (display->bar) append_bar(line, state->batches, state->batches);
    append_duration(line, now_seconds() - display->epoch_start);
    append_values(line, state->history);
    if (display->bar) {
        draw_in_place(display, line, true);
    } else {
        fprintf(display->out, "%s\n", line);
        fflush(display->out);
    }
    if (ferror(display->out)) {
        cg_error_set("cg_progress_bar: writing the progress failed");
        return -1;
    }
    return 0;
}

cg_callback *cg_progress_bar(FILE *out, cg_verbosity verbose) {
    if (verbose < CG_VERBOSE_AUTO || verbose > CG_VERBOSE_LINES) {
        cg_error_set("cg_progress_bar: unknown verbosity %d", (int)verbose);
        return NULL;
    }
    if (!out) out = stdout;
    if (verbose == CG_VERBOSE_SILENT) return cg_callback_new(&(cg_callback_hooks){0}, NULL);
    progress_display *display = calloc(1, sizeof *display);
    if (!display) {
        cg_error_set("cg_progress_bar: out of memory");
        return NULL;
    }
    display->out = out;
    display->bar = verbose == CG_VERBOSE_BAR || (verbose == CG_VERBOSE_AUTO && isatty(fileno(out)));
    const cg_callback_hooks hooks = {.on_epoch_begin = on_epoch_begin,
                                     .on_batch_end = display->bar ? on_batch_end : NULL,
                                     .wants_batch_values = wants_batch_values,
                                     .on_epoch_end = on_epoch_end,
                                     .destroy = free};
    return cg_callback_new(&hooks, display);
}
