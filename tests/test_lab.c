/* The lab's floors: the Iris networks, the overfitting demonstration and the two examples that
 * mix the levels, run as built programs on the shipped data. */
#include <stdlib.h>
#include <string.h>

#include "example_runner.h"
#include "temp_dir.h"
#include "test.h"

static const char *iris_path(void) { return test_source_path("data/iris.csv"); }

TEST(iris_lab_reaches_its_floors_for_three_seeds) {
    static char output[EXAMPLE_OUTPUT_SIZE];
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    for (int seed = 1; seed <= 3; seed++) {
        char arguments[4096];
        snprintf(arguments, sizeof arguments, "--data '%s' --seed %d --output-dir '%s' --quiet",
                 iris_path(), seed, dir.path);
        const int status = run_example("iris", arguments, output);
        if (status == -2) {
            temp_dir_remove(&dir);
            SKIP("the examples were not built");
        }
        const double single = reported_value(output, "single-layer test accuracy");
        const double multi = reported_value(output, "multi-layer test accuracy");
        printf("    iris seed %d: single-layer %.4f, multi-layer %.4f\n", seed, single, multi);
        if (status != 0 || !(single >= 0.90) || !(multi >= 0.93)) {
            test_fail(__FILE__, __LINE__, "seed %d below the floors (0.90, 0.93):\n%s", seed,
                      output);
            break;
        }
    }
    const bool curves = temp_dir_has_entry_containing(&dir, "iris-single-layer.svg") &&
                        temp_dir_has_entry_containing(&dir, "iris-multi-layer.svg");
    temp_dir_remove(&dir);
    CHECK(curves);
}

TEST(custom_loop_example_reaches_the_fit_accuracy) {
    static char output[EXAMPLE_OUTPUT_SIZE];
    char arguments[4096];
    snprintf(arguments, sizeof arguments, "--data '%s'", iris_path());
    const int status = run_example("custom_loop", arguments, output);
    if (status == -2) SKIP("the examples were not built");
    CHECK(status == 0);
    CHECK(reported_value(output, "custom loop test accuracy") >= 0.93);
}

TEST(custom_layer_example_trains_its_layer_with_fit) {
    static char output[EXAMPLE_OUTPUT_SIZE];
    char arguments[4096];
    snprintf(arguments, sizeof arguments, "--data '%s'", iris_path());
    const int status = run_example("custom_layer", arguments, output);
    if (status == -2) SKIP("the examples were not built");
    CHECK(status == 0);
    CHECK(reported_value(output, "custom layer test accuracy") >= 0.90);
    /* The layer's parameters are the model's: named by position and counted in the summary. */
    CHECK(strstr(output, "gated") != NULL);
    CHECK(reported_value(output, "Total params") == 4 * 16 + 16 + 16 * 16 + 16 + 16 * 3 + 3);
}

/* Reads "<label>: train mse A, validation mse B" from the overfitting output. */
static bool read_fit_errors(const char *output, const char *label, double *train,
                            double *validation) {
    const char *line = strstr(output, label);
    return line && sscanf(line + strlen(label), ": train mse %lf, validation mse %lf", train,
                          validation) == 2;
}

TEST(overfitting_demonstration_shows_both_effects) {
    static char output[EXAMPLE_OUTPUT_SIZE];
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    char arguments[4096];
    snprintf(arguments, sizeof arguments, "--output-dir '%s'", dir.path);
    const int status = run_example("overfitting", arguments, output);
    const bool pictures = temp_dir_has_entry_containing(&dir, "overfitting-fits.svg") &&
                          temp_dir_has_entry_containing(&dir, "overfitting-curves.svg");
    temp_dir_remove(&dir);
    if (status == -2) SKIP("the examples were not built");
    CHECK(status == 0);
    CHECK(pictures);
    double line_train, line_validation, poly_train, poly_validation;
    CHECK(read_fit_errors(output, "line (2 parameters)", &line_train, &line_validation));
    CHECK(read_fit_errors(output, "polynomial (7 parameters)", &poly_train, &poly_validation));
    /* The 7-parameter model passes through the five points but generalises worse. */
    CHECK(poly_train < 1e-3);
    CHECK(poly_train < line_train);
    CHECK(poly_validation > 1.5 * line_validation);

    int best, stopped;
    double best_loss, best_val_loss, stop_loss, stop_val_loss;
    const char *line = strstr(output, "early stopping: ");
    CHECK(line &&
          sscanf(line,
                 "early stopping: best epoch %d (loss %lf, val_loss %lf), stopped "
                 "at epoch %d (loss %lf, val_loss %lf)",
                 &best, &best_loss, &best_val_loss, &stopped, &stop_loss, &stop_val_loss) == 6);
    /* The validation loss turned upward while the training loss kept falling, and training
     * stopped well before its 500 epochs. */
    CHECK(stopped > best && stopped < 500);
    CHECK(stop_val_loss > best_val_loss);
    CHECK(stop_loss < best_loss);
}
