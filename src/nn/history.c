/* The training history: one row per epoch, one named series of values per logged quantity. Every
 * series holds a value for every row (NaN where it was not recorded), so a series is a plain
 * array of cg_history_epochs values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/history.h"

typedef struct {
    char *name;
    double *values; /* row_capacity entries */
} history_series;

struct cg_history {
    int *epoch_numbers; /* the training epoch of each row */
    int row_count, row_capacity;
    history_series *series;
    int series_count, series_capacity;
    int stopped_epoch, best_epoch;
    char stop_reason[256];
};

cg_history *cg_history_new(void) {
    cg_history *history = calloc(1, sizeof *history);
    if (!history) {
        cg_error_set("cg_history_new: out of memory");
        return NULL;
    }
    history->stopped_epoch = history->best_epoch = -1;
    return history;
}

void cg_history_free(cg_history *history) {
    if (!history) return;
    for (int i = 0; i < history->series_count; i++) {
        free(history->series[i].name);
        free(history->series[i].values);
    }
    free(history->series);
    free(history->epoch_numbers);
    free(history);
}

static int grow_rows(cg_history *history) {
    const int capacity = history->row_capacity ? history->row_capacity * 2 : 16;
    int *epoch_numbers = realloc(history->epoch_numbers, sizeof(int) * (size_t)capacity);
    if (!epoch_numbers) return -1;
    history->epoch_numbers = epoch_numbers;
    for (int i = 0; i < history->series_count; i++) {
        double *values = realloc(history->series[i].values, sizeof(double) * (size_t)capacity);
        if (!values) return -1;
        history->series[i].values = values;
    }
    history->row_capacity = capacity;
    return 0;
}

/* The row of epoch, appended (NaN everywhere) when epoch is past the latest; -1 otherwise. */
static int row_of_epoch(cg_history *history, int epoch) {
    const int last = history->row_count - 1;
    if (last >= 0 && history->epoch_numbers[last] == epoch) return last;
    if (last >= 0 && history->epoch_numbers[last] > epoch) {
        cg_error_set("cg_history_record: epoch %d recorded after epoch %d", epoch,
                     history->epoch_numbers[last]);
        return -1;
    }
    if (history->row_count == history->row_capacity && grow_rows(history) != 0) {
        cg_error_set("cg_history_record: out of memory");
        return -1;
    }
    const int row = history->row_count++;
    history->epoch_numbers[row] = epoch;
    for (int i = 0; i < history->series_count; i++)
        history->series[i].values[row] = NAN;
    return row;
}

static history_series *find_series(const cg_history *history, const char *name) {
    for (int i = 0; i < history->series_count; i++)
        if (strcmp(history->series[i].name, name) == 0) return &history->series[i];
    return NULL;
}

static history_series *add_series(cg_history *history, const char *name) {
    if (history->series_count == history->series_capacity) {
        const int capacity = history->series_capacity ? history->series_capacity * 2 : 8;
        history_series *series = realloc(history->series, sizeof *series * (size_t)capacity);
        if (!series) return NULL;
        history->series = series;
        history->series_capacity = capacity;
    }
    history_series *added = &history->series[history->series_count];
    added->name = malloc(strlen(name) + 1);
    added->values =
        malloc(sizeof(double) * (size_t)(history->row_capacity ? history->row_capacity : 1));
    if (!added->name || !added->values) {
        free(added->name);
        free(added->values);
        return NULL;
    }
    strcpy(added->name, name);
    for (int row = 0; row < history->row_count; row++)
        added->values[row] = NAN;
    history->series_count++;
    return added;
}

int cg_history_record(cg_history *history, const char *name, int epoch, double value) {
    if (!history || !name || !*name || epoch < 0) {
        cg_error_set("cg_history_record: needs a history, a series name and an epoch >= 0");
        return -1;
    }
    const int row = row_of_epoch(history, epoch);
    if (row < 0) return -1;
    history_series *series = find_series(history, name);
    if (!series) series = add_series(history, name);
    if (!series) {
        cg_error_set("cg_history_record: out of memory adding series \"%s\"", name);
        return -1;
    }
    series->values[row] = value;
    return 0;
}

void cg_history_set_stopped(cg_history *history, int epoch, const char *reason) {
    history->stopped_epoch = epoch;
    snprintf(history->stop_reason, sizeof history->stop_reason, "%s", reason ? reason : "");
}

void cg_history_set_best_epoch(cg_history *history, int epoch) { history->best_epoch = epoch; }

void cg_history_swap(cg_history *a, cg_history *b) {
    const cg_history kept = *a;
    *a = *b;
    *b = kept;
}

int cg_history_epochs(const cg_history *history) { return history ? history->row_count : 0; }

int cg_history_epoch_index(const cg_history *history, int row) {
    if (!history || row < 0 || row >= history->row_count) {
        cg_error_set("cg_history_epoch_index: row %d is out of range for %d epochs", row,
                     cg_history_epochs(history));
        return -1;
    }
    return history->epoch_numbers[row];
}

int cg_history_series_count(const cg_history *history) {
    return history ? history->series_count : 0;
}

const char *cg_history_series_name(const cg_history *history, int index) {
    if (!history || index < 0 || index >= history->series_count) {
        cg_error_set("cg_history_series_name: index %d is out of range for %d series", index,
                     cg_history_series_count(history));
        return NULL;
    }
    return history->series[index].name;
}

const double *cg_history_series(const cg_history *history, const char *name) {
    if (!history || !name) return NULL;
    const history_series *series = find_series(history, name);
    return series ? series->values : NULL;
}

int cg_history_stopped_epoch(const cg_history *history) {
    return history ? history->stopped_epoch : -1;
}

int cg_history_best_epoch(const cg_history *history) { return history ? history->best_epoch : -1; }

const char *cg_history_stop_reason(const cg_history *history) {
    return history ? history->stop_reason : "";
}
