/* Model specs: every layer type, comments and blank lines, every error with its line number,
 * spec files, registered custom types and the to_spec / from_spec round trip. */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

/* ----- helpers ----- */

/* Checks that from_spec(text) fails with an error containing message. */
#define CHECK_SPEC_ERROR(text, message) CHECK_ERROR(cg_model_from_spec(text), message)

/* Checks that the spec text of model is expected. */
static bool spec_is(const cg_model *model, const char *expected) {
    char *text = cg_model_to_spec(model);
    const bool same = text && strcmp(text, expected) == 0;
    if (!same) printf("    spec:\n%s    expected:\n%s", text ? text : cg_last_error(), expected);
    free(text);
    return same;
}

/* A registered custom type "scale FACTOR": y = FACTOR * x, with nothing to train. */
static int scale_build(cg_layer *layer, cg_shape input_shape, cg_shape *output_shape) {
    (void)layer;
    *output_shape = input_shape;
    return 0;
}

static cg_tensor *scale_forward(cg_layer *layer, const cg_tensor *x, bool training) {
    (void)training;
    return cg_mul_scalar(x, *(const double *)cg_layer_state(layer));
}

static int scale_config(const cg_layer *layer, char *buffer, size_t size) {
    snprintf(buffer, size, "%g", *(const double *)cg_layer_state(layer));
    return 0;
}

static const cg_layer_class SCALE_CLASS = {.type = "scale",
                                           .build = scale_build,
                                           .forward = scale_forward,
                                           .config = scale_config,
                                           .destroy = free};

static cg_layer *scale_from_spec(const char *arguments) {
    double *factor = malloc(sizeof *factor);
    char *end = NULL;
    if (factor) *factor = strtod(arguments, &end);
    if (!factor || end == arguments) {
        free(factor);
        return NULL;
    }
    return cg_layer_new(&SCALE_CLASS, factor);
}

/* ----- parsing ----- */

TEST(spec_parses_every_layer_type) {
    cg_model *model = cg_model_from_spec("input 4\n"
                                         "dense 16 relu\n"
                                         "dropout 0.25\n"
                                         "batchnorm\n"
                                         "tanh\n"
                                         "activation leaky_relu\n"
                                         "flatten\n"
                                         "dense 3 softmax\n");
    CHECK(model);
    const char *types[7] = {"dense",      "dropout", "batchnorm", "activation",
                            "activation", "flatten", "dense"};
    CHECK(cg_model_layer_count(model) == 7);
    for (int i = 0; i < 7; i++)
        CHECK(strcmp(cg_layer_type(cg_model_layer(model, i)), types[i]) == 0);
    CHECK(cg_model_is_built(model));
    CHECK(cg_model_input_shape(model).dims[0] == 4 && cg_model_output_shape(model).dims[0] == 3);
    CHECK(spec_is(model, "input 4\n"
                         "dense 16 relu\n"
                         "dropout 0.25\n"
                         "batchnorm\n"
                         "activation tanh\n"
                         "activation leaky_relu\n"
                         "flatten\n"
                         "dense 3 softmax\n"));
    cg_model_free(model);
}

TEST(spec_skips_comments_and_blank_lines) {
    cg_model *model = cg_model_from_spec("# a classifier for Iris\n"
                                         "\n"
                                         "   input 4   # four measurements\n"
                                         "\t\n"
                                         "dense 8 gelu#no space before the comment\n"
                                         "  dense   3  \n"
                                         "# the end");
    CHECK(model);
    CHECK(cg_model_layer_count(model) == 2 && cg_model_parameter_total(model) == 4 * 8 + 8 + 27);
    CHECK(spec_is(model, "input 4\ndense 8 gelu\ndense 3\n"));
    cg_model_free(model);
}

TEST(spec_without_input_line_is_unbuilt_and_image_input_builds) {
    cg_model *model = cg_model_from_spec("dense 5 sigmoid no_bias\n");
    CHECK(model && !cg_model_is_built(model));
    CHECK(spec_is(model, "dense 5 sigmoid no_bias\n"));
    cg_model_free(model);
    model = cg_model_from_spec("input 1 8 8\nbatchnorm\nflatten\ndense 10 no_bias\n");
    CHECK(model);
    const cg_shape in = cg_model_input_shape(model);
    CHECK(in.ndim == 3 && in.dims[0] == 1 && in.dims[1] == 8 && in.dims[2] == 8);
    CHECK(cg_model_output_shape(model).dims[0] == 10);
    CHECK(cg_model_parameter_total(model) == 2 + 64 * 10);
    cg_model_free(model);
}

TEST(spec_errors_name_the_line_and_what_was_expected) {
    CHECK_SPEC_ERROR("input 4\ndense 3\nconv9 3\n", "spec line 3: unknown layer type 'conv9'");
    CHECK_SPEC_ERROR("input 4\n\ndense abc\n",
                     "line 3: dense expects UNITS (a positive integer), got 'abc'");
    CHECK_SPEC_ERROR("dense\n", "line 1: dense expects UNITS (a positive integer), got nothing");
    CHECK_SPEC_ERROR("dense 0\n", "line 1: dense expects UNITS (a positive integer), got '0'");
    CHECK_SPEC_ERROR("dense 12x\n", "got '12x'");
    CHECK_SPEC_ERROR("# c\ndense 4 relux\n", "line 2: dense expects ACTIVATION");
    CHECK_SPEC_ERROR("dense 4 relu extra\n",
                     "line 1: dense takes UNITS [ACTIVATION] [no_bias]; unexpected 'extra'");
    CHECK_SPEC_ERROR("dense 4 relu no_bias more\n", "unexpected 'more'");
    CHECK_SPEC_ERROR("dropout\n", "line 1: dropout expects RATE (a number in [0, 1)), got nothing");
    CHECK_SPEC_ERROR("dropout 1.5\n", "dropout expects RATE (a number in [0, 1)), got '1.5'");
    CHECK_SPEC_ERROR("dropout 0.1 0.2\n", "dropout takes RATE; unexpected '0.2'");
    CHECK_SPEC_ERROR("flatten 3\n", "line 1: flatten takes no arguments; unexpected '3'");
    CHECK_SPEC_ERROR("batchnorm x\n", "batchnorm takes no arguments; unexpected 'x'");
    CHECK_SPEC_ERROR("relu 2\n", "line 1: activation takes NAME; unexpected '2'");
    CHECK_SPEC_ERROR("activation swish\n", "line 1: activation expects NAME");
    CHECK_SPEC_ERROR("dense 4\ninput 4\n", "line 2: input must be the first line");
    CHECK_SPEC_ERROR("input\ndense 4\n", "line 1: input expects the sample shape");
    CHECK_SPEC_ERROR("input 4 x\ndense 4\n",
                     "line 1: input expects the sample shape as positive integers (N or C H W), "
                     "got 'x'");
    CHECK_SPEC_ERROR("input -3\ndense 4\n", "got '-3'");
    CHECK_SPEC_ERROR("# nothing here\n\n", "spec: no layers");
    CHECK_SPEC_ERROR("input 2 3\ndense 4\n", "layer 0 (dense): expects samples of 1 dim, got 2x3");
    CHECK_ERROR(cg_model_from_spec(NULL), "no text");
}

TEST(spec_round_trip_rebuilds_the_same_architecture) {
    cg_dense_options options = {.activation = CG_ACTIVATION_NONE, .no_bias = true};
    cg_model *model = cg_sequential(cg_layer_batch_norm(), cg_layer_dense_with(6, &options),
                                    cg_layer_dropout(0.3), cg_layer_activation(CG_ACTIVATION_GELU),
                                    cg_layer_dense(2, CG_ACTIVATION_SIGMOID));
    CHECK(model && cg_model_build(model, CG_SHAPE(5)) == 0);
    char *text = cg_model_to_spec(model);
    CHECK(text);
    cg_model *copy = cg_model_from_spec(text);
    char *copy_text = copy ? cg_model_to_spec(copy) : NULL;
    bool same = copy && copy_text && strcmp(text, copy_text) == 0;
    int count = 0, copy_count = 0;
    cg_tensor *const *parameters = cg_model_parameters(model, &count);
    cg_tensor *const *copy_parameters = cg_model_parameters(copy, &copy_count);
    same = same && count == copy_count && count == 5;
    for (int i = 0; same && i < count; i++) {
        same = strcmp(cg_model_parameter_name(model, i), cg_model_parameter_name(copy, i)) == 0;
        const cg_shape a = cg_tensor_shape(parameters[i]), b = cg_tensor_shape(copy_parameters[i]);
        same = same && a.ndim == b.ndim && memcmp(a.dims, b.dims, sizeof a.dims) == 0;
    }
    if (!same) printf("    %s\n    %s\n", text, copy_text ? copy_text : cg_last_error());
    free(text);
    free(copy_text);
    cg_model_free(copy);
    cg_model_free(model);
    CHECK(same);
}

TEST(spec_round_trip_keeps_a_dropout_rate_exactly) {
    const double rate = 0.1 + 0.2; /* not the short decimal 0.3 */
    cg_model *model = cg_sequential(cg_layer_dropout(rate), cg_layer_dense(1, CG_ACTIVATION_NONE));
    CHECK(model);
    char *text = cg_model_to_spec(model);
    char *end = NULL;
    const double parsed = text ? strtod(text + strlen("dropout "), &end) : 0;
    free(text);
    cg_model_free(model);
    CHECK(parsed == rate);
}

/* ----- custom types and files ----- */

TEST(registered_layer_types_load_and_write_back) {
    CHECK(cg_layer_register("scale", scale_from_spec) == 0);
    cg_model *model = cg_model_from_spec("input 3\nscale 2.5\ndense 2\n");
    CHECK(model);
    CHECK(strcmp(cg_layer_type(cg_model_layer(model, 0)), "scale") == 0);
    CHECK(spec_is(model, "input 3\nscale 2.5\ndense 2\n"));
    CHECK_SPEC_ERROR("scale 2\nscale  abc\n",
                     "line 2: the scale factory failed on 'abc' without saying why");
    const double ones[3] = {1, 1, 1};
    cg_tensor *x = cg_from_array(ones, CG_SHAPE(1, 3), CG_FLOAT64);
    CHECK(cg_model_to_dtype(model, CG_FLOAT64) == 0);
    cg_tensor *y = cg_model_forward(model, x, false);
    CHECK(y);
    /* dense(2.5 * ones) = 2.5 * row sums of the weight (the bias starts at zero). */
    cg_scope_begin();
    cg_tensor *weight = cg_layer_tensor(cg_model_layer(model, 1), "weight");
    cg_tensor *expected = cg_mul_scalar(cg_sum(weight, CG_DIMS(1), false), 2.5);
    const bool close = test_tensor_close(y, expected, 1e-12, 1e-12, __FILE__, __LINE__);
    cg_scope_end();
    cg_release(y), cg_release(x);
    cg_model_free(model);
    CHECK(close);
}

TEST(register_rejects_built_in_and_malformed_names) {
    CHECK_ERROR(cg_layer_register("dense", scale_from_spec), "'dense' is a built-in spec word");
    CHECK_ERROR(cg_layer_register("relu", scale_from_spec), "built-in");
    CHECK_ERROR(cg_layer_register("input", scale_from_spec), "built-in");
    CHECK_ERROR(cg_layer_register("two words", scale_from_spec), "letters, digits and _");
    CHECK_ERROR(cg_layer_register("ok_name", NULL), "needs a factory");
}

TEST(spec_files_load_and_name_the_file_in_errors) {
    const char *tmp = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/cgrad-spec-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    const int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char text[] = "input 2\ndense 3 tanh\ndense x\n";
    const bool written = write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1);
    close(fd);
    char expected[600];
    snprintf(expected, sizeof expected, "%s line 3: dense expects UNITS", path);
    cg_clear_error();
    cg_model *broken = cg_model_from_spec_file(path);
    const bool named = broken == NULL && strstr(cg_last_error(), expected);
    /* Rewrite the bad line and load again. */
    FILE *file = fopen(path, "w");
    if (file) {
        fputs("input 2\ndense 3 tanh\ndense 1\n", file);
        fclose(file);
    }
    cg_model *model = cg_model_from_spec_file(path);
    remove(path);
    CHECK(written && named);
    CHECK(model && cg_model_output_shape(model).dims[0] == 1);
    cg_model_free(model);
    CHECK_ERROR(cg_model_from_spec_file(path), "cannot open");
}
