#define _POSIX_C_SOURCE 200809L

#include "cli_data.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_args.h"
#include "cli_report.h"

static bool is_index(const char *text) {
    if (!text[0]) return false;
    for (const char *c = text; *c; c++)
        if (*c < '0' || *c > '9') return false;
    return true;
}

static int64_t find_column(const cg_name_list *columns, const char *name) {
    for (int64_t i = 0; i < columns->count; i++)
        if (strcmp(columns->names[i], name) == 0) return i;
    return -1;
}

/* Chooses the label column of a CSV file from its header: sets options->label_index and *column
 * (-1 for none). CLI_SUCCESS, or CLI_FAILURE after printing why. */
static int choose_label(const char *command, const cli_data_request *request,
                        const cg_name_list *columns, cg_csv_options *options, int64_t *column) {
    const char *wanted = request->label ? request->label : request->default_label;
    if (request->label && is_index(request->label)) {
        *column = strtoll(request->label, NULL, 10);
        if (*column >= columns->count)
            return cli_fail(command,
                            "'%s' has %lld columns; --label %s is out of range (columns "
                            "count from 0)",
                            request->path, (long long)columns->count, request->label);
    } else if (wanted) {
        *column = find_column(columns, wanted);
        if (*column < 0 && (request->label || !request->label_optional))
            return cli_fail(command, "'%s' has no column \"%s\"%s", request->path, wanted,
                            request->label ? ""
                                           : " (the label column of the training data; name "
                                             "another with --label)");
    } else {
        *column = request->label_optional ? -1 : columns->count - 1;
    }
    options->label_index = *column >= 0 ? (int)*column : CG_CSV_NO_LABEL;
    return CLI_SUCCESS;
}

static int read_csv(const char *command, const cli_data_request *request, cli_data *data) {
    cg_csv_options options = cg_csv_default_options();
    cg_name_list columns;
    if (cg_csv_read_header(request->path, &options, &columns) != 0)
        return cli_fail_library(command);
    int64_t label = -1;
    int status = choose_label(command, request, &columns, &options, &label);
    if (status == CLI_SUCCESS && label >= 0) {
        const char *name = columns.names[label];
        data->label_column = malloc(strlen(name) + 1);
        if (data->label_column)
            strcpy(data->label_column, name);
        else
            status = cli_fail(command, "out of memory");
    }
    cg_name_list_free(&columns);
    if (status != CLI_SUCCESS) return status;
    data->dataset = cg_csv_read(request->path, &options);
    data->is_csv = true;
    return data->dataset ? CLI_SUCCESS : cli_fail_library(command);
}

/* The MNIST-layout files of a directory: train-* for training, t10k-* otherwise. */
static int read_idx(const char *command, const cli_data_request *request, cli_data *data) {
    if (request->label)
        return cli_fail(command, "--label applies to CSV files; '%s' is a directory of IDX files",
                        request->path);
    const char *split = request->part == CLI_TRAINING_FILES ? "train" : "t10k";
    data->dataset = cg_mnist_read(request->path, split);
    return data->dataset ? CLI_SUCCESS : cli_fail_library(command);
}

int cli_data_read(const char *command, const cli_data_request *request, cli_data *data) {
    *data = (cli_data){0};
    struct stat status;
    if (stat(request->path, &status) != 0)
        return cli_fail(command, "cannot read '%s': %s", request->path, strerror(errno));
    const int result = S_ISDIR(status.st_mode) ? read_idx(command, request, data)
                                               : read_csv(command, request, data);
    if (result != CLI_SUCCESS) cli_data_free(data);
    return result;
}

void cli_data_free(cli_data *data) {
    cg_dataset_free(data->dataset);
    free(data->label_column);
    *data = (cli_data){0};
}
