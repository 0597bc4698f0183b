/* cgrad predict: a saved model's predictions for each row of new data, as CSV: the predicted class
 * name and the probability of each class, or the predicted value. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cgrad.h>

#include "cli_args.h"
#include "cli_commands.h"
#include "cli_data.h"
#include "cli_model.h"
#include "cli_report.h"

static const char COMMAND[] = "predict";

static const char USAGE[] =
    "cgrad predict --weights FILE --data PATH [--output FILE.csv] [--device cpu|cuda[:N]]";

static const char HELP[] =
    "Writes a saved model's prediction for every sample of the data as CSV.\n"
    "\n"
    "  --weights FILE        the model saved by 'cgrad train --save'\n"
    "  --data PATH           a CSV file with the model's input columns (by name, in any order;\n"
    "                        the label column may be there and is ignored), or a directory of\n"
    "                        IDX files (its t10k-* files)\n"
    "  --output FILE.csv     where to write (default: standard output)\n"
    "  --device D            cpu (default), cuda or cuda:N: where the model runs\n"
    "\n"
    "One row per sample, after a header. A classifier writes the predicted class name, then the\n"
    "probability of each class (columns probability_<class>); a regression model writes the\n"
    "predicted value. The first column is named after the label column of the training data.\n";

typedef struct {
    const char *weights_path, *data_path, *output_path;
    cg_device device;
} predict_options;

static int parse_options(int argc, char **argv, predict_options *o) {
    *o = (predict_options){0};
    const cli_flag flags[] = {
        {"--weights", CLI_TEXT, &o->weights_path, NULL, true},
        {"--data", CLI_TEXT, &o->data_path, NULL, true},
        {"--output", CLI_TEXT, &o->output_path, NULL, false},
        {"--device", CLI_DEVICE, &o->device, NULL, false},
    };
    const cli_command command = {COMMAND, USAGE, HELP, flags, (int)(sizeof flags / sizeof *flags)};
    return cli_parse(&command, argc, argv);
}

/* Writes prefix (plain text) and text as one CSV field, quoted when text holds a delimiter, a
 * quote or a line end. */
static void write_field(FILE *out, const char *prefix, const char *text) {
    const bool quoted = text[strcspn(text, ",\"\r\n")] != '\0';
    if (quoted) fputc('"', out);
    fputs(prefix, out);
    for (const char *c = text; *c; c++) {
        if (quoted && *c == '"') fputc('"', out);
        fputc(*c, out);
    }
    if (quoted) fputc('"', out);
}

/* The class names the model was trained with, or "0", "1", ... when none were recorded. */
static int class_names(const cg_model *model, int64_t classes, cg_name_list *names) {
    if (cg_model_class_names(model, names) != 0) return cli_fail_library(COMMAND);
    if (names->count == classes) return CLI_SUCCESS;
    cg_name_list_free(names);
    names->names = calloc((size_t)classes, sizeof *names->names);
    enum { INDEX_TEXT_SIZE = 24 };
    for (int64_t c = 0; names->names && c < classes; c++) {
        names->names[c] = malloc(INDEX_TEXT_SIZE);
        if (!names->names[c]) break;
        snprintf(names->names[c], INDEX_TEXT_SIZE, "%lld", (long long)c);
        names->count++;
    }
    return names->count == classes ? CLI_SUCCESS : cli_fail(COMMAND, "out of memory");
}

/* Class probabilities from the outputs: a softmax over C outputs, or [1 - p, p] with p the
 * sigmoid of a single binary output. */
static cg_tensor *probabilities_of(const cg_model *model, const cg_tensor *outputs) {
    if (cg_model_loss(model) == CG_LOSS_CROSS_ENTROPY) return cg_softmax(outputs, 1);
    cg_tensor *positive = cg_sigmoid(outputs);
    cg_tensor *negative = cg_add_scalar(cg_neg(positive), 1.0);
    cg_tensor *pair[2] = {negative, positive};
    return negative ? cg_concat(pair, 2, 1) : NULL;
}

static void write_header(FILE *out, const cg_model *model, const cg_name_list *classes) {
    const char *label = cg_model_label_column(model);
    write_field(out, "", label ? label : "prediction");
    for (int64_t c = 0; c < classes->count; c++) {
        fputc(',', out);
        write_field(out, "probability_", classes->names[c]);
    }
    fputc('\n', out);
}

/* Writes the rows: values holds N x columns numbers (probabilities, or the predicted values). */
static void write_rows(FILE *out, const double *values, int64_t rows, int64_t columns,
                       const cg_name_list *classes) {
    for (int64_t r = 0; r < rows; r++) {
        const double *row = values + r * columns;
        if (classes->count == 0) {
            fprintf(out, "%.6g\n", row[0]);
            continue;
        }
        int64_t best = 0;
        for (int64_t c = 1; c < columns; c++)
            if (row[c] > row[best]) best = c;
        write_field(out, "", classes->names[best]);
        for (int64_t c = 0; c < columns; c++)
            fprintf(out, ",%.6f", row[c]);
        fputc('\n', out);
    }
}

/* The table of values to write: class probabilities for a classifier, outputs otherwise, as a
 * malloc'd N x columns array of doubles. */
static double *prediction_table(const cg_model *model, const cg_tensor *outputs, int64_t *columns) {
    cg_scope_begin();
    const cg_tensor *source = cli_is_classifier(model) ? probabilities_of(model, outputs) : outputs;
    cg_tensor *table =
        cg_to_dtype(cg_reshape(source, CG_SHAPE(cg_dim(outputs, 0), -1)), CG_FLOAT64);
    double *values = NULL;
    if (table) {
        *columns = cg_dim(table, 1);
        const size_t bytes = sizeof(double) * (size_t)cg_numel(table);
        values = malloc(bytes ? bytes : 1);
        if (values && cg_copy_to_array(table, values, bytes) != 0) {
            free(values);
            values = NULL;
        }
    }
    cg_scope_end();
    return values;
}

static int write_predictions(const predict_options *o, const cg_model *model,
                             const cg_tensor *outputs) {
    int64_t columns = 0;
    double *values = prediction_table(model, outputs, &columns);
    if (!values) return cli_fail_library(COMMAND);
    cg_name_list classes = {0};
    int status = cli_is_classifier(model) ? class_names(model, columns, &classes) : CLI_SUCCESS;
    FILE *out = o->output_path ? fopen(o->output_path, "w") : stdout;
    if (status == CLI_SUCCESS && !out)
        status = cli_fail(COMMAND, "cannot write '%s': %s", o->output_path, strerror(errno));
    if (status == CLI_SUCCESS) {
        write_header(out, model, &classes);
        write_rows(out, values, cg_dim(outputs, 0), columns, &classes);
        if (ferror(out) || (out != stdout ? fclose(out) : fflush(out)) != 0)
            status = cli_fail(COMMAND, "writing '%s' failed",
                              o->output_path ? o->output_path : "standard output");
    } else if (out && out != stdout) {
        fclose(out);
    }
    cg_name_list_free(&classes);
    free(values);
    return status;
}

static int predict(const predict_options *o, cg_model *model, cli_data *data) {
    const cli_data_request request = {.path = o->data_path,
                                      .default_label = cg_model_label_column(model),
                                      .label_optional = true,
                                      .part = CLI_TEST_FILES};
    if (cli_data_read(COMMAND, &request, data) != CLI_SUCCESS) return CLI_FAILURE;
    cg_dataset *prepared = cg_model_prepare_inputs(model, data->dataset);
    if (!prepared) return cli_fail(COMMAND, "'%s': %s", o->data_path, cg_last_error());
    int status = cli_check_inputs(COMMAND, model, prepared, o->data_path);
    cg_tensor *outputs = status == CLI_SUCCESS ? cg_predict_dataset(model, prepared, 0) : NULL;
    if (status == CLI_SUCCESS && !outputs)
        status = cli_fail(COMMAND, "'%s': %s", o->data_path, cg_last_error());
    if (outputs) status = write_predictions(o, model, outputs);
    cg_release(outputs);
    cg_dataset_free(prepared);
    return status;
}

int cli_predict(int argc, char **argv) {
    predict_options options;
    const int parsed = parse_options(argc, argv, &options);
    if (parsed != CLI_SUCCESS) return parsed == CLI_HELP_SHOWN ? CLI_SUCCESS : parsed;
    cg_model *model = NULL;
    cli_data data = {0};
    int status = cli_load_model(COMMAND, options.weights_path, &model);
    if (status == CLI_SUCCESS) status = cli_use_device(COMMAND, model, options.device);
    if (status == CLI_SUCCESS) status = predict(&options, model, &data);
    cli_data_free(&data);
    cg_model_free(model);
    return status;
}
