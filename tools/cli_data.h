/* Reading the data a command was given: a CSV file, or a directory of IDX files (MNIST layout). */
#ifndef CGRAD_TOOL_CLI_DATA_H
#define CGRAD_TOOL_CLI_DATA_H

#include <stdbool.h>

#include <cgrad.h>

/* Which files of an IDX directory to read: train-* to train, t10k-* to evaluate and predict. */
typedef enum { CLI_TRAINING_FILES, CLI_TEST_FILES } cli_data_part;

typedef struct {
    const char *path;
    const char *label;         /* --label: a column name or 0-based index; NULL when not given */
    const char *default_label; /* the column to use without --label; NULL: the last column */
    bool label_optional;       /* read without labels when the default label column is absent */
    cli_data_part part;
} cli_data_request;

typedef struct {
    cg_dataset *dataset;
    char *label_column; /* the label column's name (malloc'd); NULL without one or for IDX data */
    bool is_csv;
} cli_data;

/* Reads the data of request into *data. CLI_SUCCESS, or CLI_FAILURE after printing why (a message
 * naming the file, and the line where the reader knows it) as command. */
int cli_data_read(const char *command, const cli_data_request *request, cli_data *data);
void cli_data_free(cli_data *data);

#endif
