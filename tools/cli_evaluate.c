/* cgrad evaluate: the loss and accuracy of a saved model on labelled data, read the way its
 * training data was read (same columns, classes and standardisation). */
#include <math.h>

#include <cgrad.h>

#include "cli_args.h"
#include "cli_commands.h"
#include "cli_data.h"
#include "cli_model.h"
#include "cli_report.h"

static const char COMMAND[] = "evaluate";

static const char USAGE[] =
    "cgrad evaluate --weights FILE --data PATH [--label COLUMN] [--batch-size N]\n"
    "                [--device cpu|cuda[:N]] [--json]";

static const char HELP[] =
    "Measures a model saved by 'cgrad train --save' on labelled data.\n"
    "\n"
    "  --weights FILE        the saved model\n"
    "  --data PATH           a CSV file, or a directory of IDX files (its t10k-* files); CSV\n"
    "                        columns are picked by the names the model was trained on and\n"
    "                        standardised with the training statistics\n"
    "  --label COLUMN        the label column, by name or 0-based index (default: the column\n"
    "                        the model was trained on)\n"
    "  --batch-size N        samples per evaluation batch (default 256)\n"
    "  --device D            cpu (default), cuda or cuda:N: where the model runs\n"
    "  --json                print one JSON line: {\"loss\": x, \"accuracy\": x, \"samples\": N}\n"
    "                        (accuracy null for a regression model)\n";

typedef struct {
    const char *weights_path, *data_path, *label;
    int batch_size;
    cg_device device;
    bool json;
} evaluate_options;

static int parse_options(int argc, char **argv, evaluate_options *o) {
    *o = (evaluate_options){0};
    const cli_flag flags[] = {
        {"--weights", CLI_TEXT, &o->weights_path, NULL, true},
        {"--data", CLI_TEXT, &o->data_path, NULL, true},
        {"--label", CLI_TEXT, &o->label, NULL, false},
        {"--batch-size", CLI_POSITIVE_INTEGER, &o->batch_size, NULL, false},
        {"--device", CLI_DEVICE, &o->device, NULL, false},
        {"--json", CLI_SWITCH, &o->json, NULL, false},
    };
    const cli_command command = {COMMAND, USAGE, HELP, flags, (int)(sizeof flags / sizeof *flags)};
    return cli_parse(&command, argc, argv);
}

static void print_result(const evaluate_options *o, const cg_evaluation *result,
                         bool classification) {
    const double accuracy = isnan(result->accuracy) ? result->binary_accuracy : result->accuracy;
    if (o->json) {
        printf("{");
        cli_json_member(stdout, "loss", result->loss, true);
        cli_json_member(stdout, "accuracy", classification ? accuracy : NAN, false);
        printf(", \"samples\": %lld}\n", (long long)result->samples);
        return;
    }
    printf("%-10s %lld\n", "samples", (long long)result->samples);
    printf("%-10s %.4f\n", "loss", result->loss);
    if (classification)
        printf("%-10s %.4f\n", "accuracy", accuracy);
    else
        printf("%-10s %.4f\n", "mae", result->mae);
}

static int evaluate(const evaluate_options *o, cg_model *model, cli_data *data) {
    const cli_data_request request = {.path = o->data_path,
                                      .label = o->label,
                                      .default_label = cg_model_label_column(model),
                                      .part = CLI_TEST_FILES};
    if (cli_data_read(COMMAND, &request, data) != CLI_SUCCESS) return CLI_FAILURE;
    if (!cg_dataset_labels(data->dataset))
        return cli_fail(COMMAND, "'%s' has no labels to evaluate against", o->data_path);
    cg_dataset *prepared = cg_model_prepare_data(model, data->dataset);
    if (!prepared) return cli_fail(COMMAND, "'%s': %s", o->data_path, cg_last_error());
    cg_evaluation result;
    int status = cli_check_inputs(COMMAND, model, prepared, o->data_path);
    if (status == CLI_SUCCESS && cg_evaluate_dataset(model, prepared, o->batch_size, &result) != 0)
        status = cli_fail(COMMAND, "'%s': %s", o->data_path, cg_last_error());
    if (status == CLI_SUCCESS) print_result(o, &result, cli_is_classifier(model));
    cg_dataset_free(prepared);
    return status;
}

int cli_evaluate(int argc, char **argv) {
    evaluate_options options;
    const int parsed = parse_options(argc, argv, &options);
    if (parsed != CLI_SUCCESS) return parsed == CLI_HELP_SHOWN ? CLI_SUCCESS : parsed;
    cg_model *model = NULL;
    cli_data data = {0};
    int status = cli_load_model(COMMAND, options.weights_path, &model);
    if (status == CLI_SUCCESS) status = cli_use_device(COMMAND, model, options.device);
    if (status == CLI_SUCCESS) status = evaluate(&options, model, &data);
    cli_data_free(&data);
    cg_model_free(model);
    return status;
}
