/* What the subcommands do with models: load a saved one, and check data against its input. */
#ifndef CGRAD_TOOL_CLI_MODEL_H
#define CGRAD_TOOL_CLI_MODEL_H

#include <stdbool.h>

#include <cgrad.h>

/* Loads a model saved by cgrad train into *model. CLI_SUCCESS, or CLI_FAILURE after printing why
 * (the library's message names the file and what is wrong with it). */
int cli_load_model(const char *command, const char *path, cg_model **model);

/* Moves the model to device (the value of --device), where fit, evaluate and predict then run.
 * CLI_SUCCESS, or CLI_FAILURE after printing why the device cannot be used (no such GPU, no
 * driver, or a build without the CUDA backend). */
int cli_use_device(const char *command, cg_model *model, cg_device device);

/* Checks that the samples of dataset (read from path) fit the model's input, building an unbuilt
 * model for them. CLI_SUCCESS, or CLI_FAILURE after printing both shapes and path. */
int cli_check_inputs(const char *command, cg_model *model, const cg_dataset *dataset,
                     const char *path);

/* Whether the model was compiled for classification (cross-entropy or binary cross-entropy). */
bool cli_is_classifier(const cg_model *model);

#endif
