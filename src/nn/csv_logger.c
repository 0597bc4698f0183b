/* CSV log of training: a header "epoch,<series...>" written at the first epoch end, when the
 * logged series are known, then one row per epoch, flushed at once so the file can be watched
 * while training runs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/callbacks.h"

typedef struct {
    char *path;
    FILE *file;
    int columns; /* series in the header: the history's first ones, as series are only added */
    int rows;    /* epochs written; a resumed run first writes those its checkpoint brought */
} csv_logger;

static int on_train_begin(cg_train_state *state, void *userdata) {
    (void)state;
    csv_logger *logger = userdata;
    /* With several ranks every rank logs the same values; rank 0 writes them. */
    if (cg_distributed_rank() != 0) return 0;
    logger->file = fopen(logger->path, "w");
    if (!logger->file) {
        cg_error_set("cg_csv_logger: cannot open %s: %s", logger->path, strerror(errno));
        return -1;
    }
    logger->columns = 0;
    logger->rows = 0;
    return 0;
}

static void write_header(csv_logger *logger, const cg_history *history) {
    logger->columns = cg_history_series_count(history);
    fputs("epoch", logger->file);
    for (int i = 0; i < logger->columns; i++)
        fprintf(logger->file, ",%s", cg_history_series_name(history, i));
    fputc('\n', logger->file);
}

static int on_epoch_end(cg_train_state *state, void *userdata) {
    csv_logger *logger = userdata;
    if (!logger->file) return 0;
    const cg_history *history = state->history;
    if (logger->columns == 0) write_header(logger, history);
    for (; logger->rows < cg_history_epochs(history); logger->rows++) {
        fprintf(logger->file, "%d", cg_history_epoch_index(history, logger->rows));
        for (int i = 0; i < logger->columns; i++)
            fprintf(logger->file, ",%.10g",
                    cg_history_series(history, cg_history_series_name(history, i))[logger->rows]);
        fputc('\n', logger->file);
    }
    if (fflush(logger->file) != 0 || ferror(logger->file)) {
        cg_error_set("cg_csv_logger: writing %s failed", logger->path);
        return -1;
    }
    return 0;
}

static int on_train_end(cg_train_state *state, void *userdata) {
    (void)state;
    csv_logger *logger = userdata;
    if (!logger->file) return 0;
    const int closed = fclose(logger->file);
    logger->file = NULL;
    if (closed != 0) {
        cg_error_set("cg_csv_logger: closing %s failed", logger->path);
        return -1;
    }
    return 0;
}

static void destroy(void *userdata) {
    csv_logger *logger = userdata;
    if (logger->file) fclose(logger->file);
    free(logger->path);
    free(logger);
}

cg_callback *cg_csv_logger(const char *path) {
    if (!path || !*path) {
        cg_error_set("cg_csv_logger: path is empty");
        return NULL;
    }
    csv_logger *logger = calloc(1, sizeof *logger);
    if (logger) logger->path = malloc(strlen(path) + 1);
    if (!logger || !logger->path) {
        free(logger);
        cg_error_set("cg_csv_logger: out of memory");
        return NULL;
    }
    strcpy(logger->path, path);
    const cg_callback_hooks hooks = {.on_train_begin = on_train_begin,
                                     .on_epoch_end = on_epoch_end,
                                     .on_train_end = on_train_end,
                                     .destroy = destroy};
    return cg_callback_new(&hooks, logger);
}
