/* cgrad summary: the layers, output shapes and parameter counts of a spec or a saved model, and
 * for a saved model what it was trained on. */
#include <cgrad.h>

#include "cli_args.h"
#include "cli_commands.h"
#include "cli_model.h"
#include "cli_report.h"

static const char COMMAND[] = "summary";

static const char USAGE[] = "cgrad summary (--model SPEC | --weights FILE)";

static const char HELP[] =
    "Prints each layer with its output shape and parameter count, and the totals.\n"
    "\n"
    "  --model SPEC          a model spec; it needs an input line for the shapes to be known\n"
    "  --weights FILE        a model saved by 'cgrad train --save'; also prints its loss,\n"
    "                        optimizer, input columns, label column and classes\n";

typedef struct {
    const char *spec_path, *weights_path;
} summary_options;

static int parse_options(int argc, char **argv, summary_options *o) {
    *o = (summary_options){0};
    const cli_flag flags[] = {
        {"--model", CLI_TEXT, &o->spec_path, NULL, false},
        {"--weights", CLI_TEXT, &o->weights_path, NULL, false},
    };
    const cli_command command = {COMMAND, USAGE, HELP, flags, (int)(sizeof flags / sizeof *flags)};
    const int status = cli_parse(&command, argc, argv);
    if (status != CLI_SUCCESS) return status;
    if (!o->spec_path == !o->weights_path)
        return cli_usage_error(&command, "give --model or --weights (one of them)");
    return CLI_SUCCESS;
}

static void print_names(const char *title, const cg_name_list *names, const char *note) {
    if (names->count == 0) return;
    printf("%-11s", title);
    for (int64_t i = 0; i < names->count; i++)
        printf("%s%s", i ? ", " : "", names->names[i]);
    printf("%s\n", note);
}

/* What a saved model remembers of its training: loss, optimizer and the data's names. */
static int print_training_record(const cg_model *model) {
    cg_name_list features = {0}, classes = {0};
    cg_standardizer *standardizer = NULL;
    const bool read = cg_model_feature_names(model, &features) == 0 &&
                      cg_model_class_names(model, &classes) == 0 &&
                      cg_model_standardizer(model, &standardizer) == 0;
    if (read) {
        const cg_optimizer *optimizer = cg_model_optimizer(model);
        printf("%-11s%s\n", "loss:", cg_loss_name(cg_model_loss(model)));
        if (optimizer)
            printf("%-11s%s\n", "optimizer:", cg_optimizer_name(cg_optimizer_get_kind(optimizer)));
        print_names("inputs:", &features, standardizer ? " (standardised)" : "");
        if (cg_model_label_column(model))
            printf("%-11s%s\n", "label:", cg_model_label_column(model));
        print_names("classes:", &classes, "");
    }
    cg_standardizer_free(standardizer);
    cg_name_list_free(&features);
    cg_name_list_free(&classes);
    return read ? CLI_SUCCESS : cli_fail_library(COMMAND);
}

static int summarize(const summary_options *o, cg_model **model) {
    if (o->weights_path) {
        if (cli_load_model(COMMAND, o->weights_path, model) != CLI_SUCCESS) return CLI_FAILURE;
    } else {
        *model = cg_model_from_spec_file(o->spec_path);
        if (!*model) return cli_fail_library(COMMAND);
        if (!cg_model_is_built(*model))
            return cli_fail(COMMAND,
                            "'%s' has no input line, so the shapes are not known; "
                            "start it with one such as 'input 4'",
                            o->spec_path);
    }
    if (cg_model_summary(*model, stdout) != 0) return cli_fail_library(COMMAND);
    return o->weights_path ? print_training_record(*model) : CLI_SUCCESS;
}

int cli_summary(int argc, char **argv) {
    summary_options options;
    const int parsed = parse_options(argc, argv, &options);
    if (parsed != CLI_SUCCESS) return parsed == CLI_HELP_SHOWN ? CLI_SUCCESS : parsed;
    cg_model *model = NULL;
    const int status = summarize(&options, &model);
    cg_model_free(model);
    return status;
}
