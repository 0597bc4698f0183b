#include "cli_model.h"

#include "cli_args.h"
#include "cli_report.h"

int cli_load_model(const char *command, const char *path, cg_model **model) {
    *model = cg_model_load(path);
    return *model ? CLI_SUCCESS : cli_fail_library(command);
}

int cli_use_device(const char *command, cg_model *model, cg_device device) {
    if (cg_model_to_device(model, device) == 0) return CLI_SUCCESS;
    return cli_fail(command, "--device: %s", cg_last_error());
}

static bool same_shape(cg_shape a, cg_shape b) {
    if (a.ndim != b.ndim) return false;
    for (int d = 0; d < a.ndim; d++)
        if (a.dims[d] != b.dims[d]) return false;
    return true;
}

int cli_check_inputs(const char *command, cg_model *model, const cg_dataset *dataset,
                     const char *path) {
    const cg_shape given = cg_dataset_sample_shape(dataset);
    if (!cg_model_is_built(model) && cg_model_build(model, given) != 0)
        return cli_fail_library(command);
    const cg_shape wanted = cg_model_input_shape(model);
    if (same_shape(given, wanted)) return CLI_SUCCESS;
    char given_text[64], wanted_text[64];
    return cli_fail(command, "'%s' has samples of shape %s but the model takes %s", path,
                    cg_shape_format(given, given_text, sizeof given_text),
                    cg_shape_format(wanted, wanted_text, sizeof wanted_text));
}

bool cli_is_classifier(const cg_model *model) {
    const cg_loss loss = cg_model_loss(model);
    return loss == CG_LOSS_CROSS_ENTROPY || loss == CG_LOSS_BINARY_CROSS_ENTROPY;
}
