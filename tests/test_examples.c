/* The examples as a user runs them: each built program is started on the shipped data and must
 * reach its accuracy floor, be reproducible for a seed and fail cleanly on bad input. */
#include <string.h>

#include "test.h"

#include "example_runner.h"

enum { OUTPUT_SIZE = EXAMPLE_OUTPUT_SIZE };

/* The number printed after "<model> test accuracy: ", or NaN when there is no such line. */
static double reported_accuracy(const char *output, const char *model) {
    char label[128];
    snprintf(label, sizeof label, "%s test accuracy", model);
    return reported_value(output, label);
}

static void iris_arguments(char *arguments, size_t size, const char *extra) {
    snprintf(arguments, size, "'%s' %s", test_source_path("data/iris.csv"), extra);
}

TEST(low_level_example_reaches_its_accuracy_floors) {
    static char output[OUTPUT_SIZE];
    char arguments[4200];
    iris_arguments(arguments, sizeof arguments, "");
    const int status = run_example("low_level", arguments, output);
    if (status == -2) SKIP("the examples were not built");
    CHECK(status == 0);
    const double softmax_regression = reported_accuracy(output, "softmax regression");
    const double two_layer = reported_accuracy(output, "two-layer network");
    if (!(softmax_regression >= 0.90 && two_layer >= 0.93))
        test_fail(__FILE__, __LINE__, "accuracies below the floors (0.90, 0.93); output:\n%s",
                  output);
}

TEST(low_level_example_is_reproducible_for_a_seed) {
    static char first[OUTPUT_SIZE], second[OUTPUT_SIZE], other[OUTPUT_SIZE];
    char arguments[4200];
    iris_arguments(arguments, sizeof arguments, "7");
    const int status = run_example("low_level", arguments, first);
    if (status == -2) SKIP("the examples were not built");
    CHECK(status == 0);
    CHECK(run_example("low_level", arguments, second) == 0);
    CHECK(strcmp(first, second) == 0);
    /* Another seed starts from other weights, so the printed losses differ. */
    iris_arguments(arguments, sizeof arguments, "8");
    CHECK(run_example("low_level", arguments, other) == 0);
    CHECK(strcmp(first, other) != 0);
}

TEST(low_level_example_fails_cleanly_on_a_missing_file) {
    static char output[OUTPUT_SIZE];
    char arguments[4200];
    snprintf(arguments, sizeof arguments, "'%s' 2>&1", test_source_path("data/no-such-file.csv"));
    const int status = run_example("low_level", arguments, output);
    if (status == -2) SKIP("the examples were not built");
    CHECK(status == 1);
    CHECK(strstr(output, "no-such-file.csv': cannot open") != NULL);
}
