/* The MNIST lab's floors: the built mnist example on the 10,000 MNIST t10k images (the files these
 * tests can count on), split 8,000 for training and 2,000 for testing. The floors of the full
 * 60,000 / 10,000 sets and of Fashion-MNIST take minutes; scripts/lab.sh (make lab) checks them. */
#include <stdlib.h>
#include <string.h>

#include "example_runner.h"
#include "temp_dir.h"
#include "test.h"

enum { CLASSES = 10, T10K_TEST_IMAGES = 2000 };

/* The directory holding the MNIST t10k files, found as the example finds it ($CGRAD_DATA, else
 * data/), into dir; false when they are not there. */
static bool find_t10k(char *dir, size_t size) {
    if (cg_data_path("t10k-images-idx3-ubyte", NULL, dir, size) != 0 ||
        cg_data_path("t10k-labels-idx1-ubyte", NULL, dir, size) != 0)
        return false;
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, size, ".");
    return true;
}

/* Reads the table after "<label> confusion matrix" in output (a heading line, a line of column
 * numbers, then a row per class that starts with the class) into counts. */
static bool read_confusion_matrix(const char *output, const char *label,
                                  long long counts[CLASSES][CLASSES]) {
    char heading[128];
    snprintf(heading, sizeof heading, "%s confusion matrix", label);
    const char *line = strstr(output, heading);
    if (line) line = strchr(line, '\n');
    if (line) line = strchr(line + 1, '\n');
    for (int row = 0; line && row < CLASSES; row++) {
        char *end;
        if (strtol(line + 1, &end, 10) != row) return false;
        for (int column = 0; column < CLASSES; column++) {
            const char *start = end;
            counts[row][column] = strtoll(start, &end, 10);
            if (end == start) return false;
        }
        line = strchr(line + 1, '\n');
    }
    return line != NULL;
}

/* Runs the example for one model on the t10k split and checks its accuracy against floor, its
 * confusion matrix against the accuracy and the test set's size, and its curves. */
static void check_model_floor(const char *model, const char *label, int epochs, double floor) {
    static char output[EXAMPLE_OUTPUT_SIZE];
    char data_dir[1024];
    if (!find_t10k(data_dir, sizeof data_dir))
        SKIP("the MNIST t10k files are not in $CGRAD_DATA or data/ (scripts/download-mnist.sh "
             "DIR fetches them)");
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    char arguments[4096], svg[128];
    snprintf(arguments, sizeof arguments,
             "--data '%s' --split t10k --model %s --epochs %d --output-dir '%s' --quiet", data_dir,
             model, epochs, dir.path);
    snprintf(svg, sizeof svg, "mnist-%s.svg", label);
    const int status = run_example("mnist", arguments, output);
    const bool curves = temp_dir_has_entry_containing(&dir, svg);
    temp_dir_remove(&dir);
    if (status == -2) SKIP("the examples were not built");
    char accuracy_label[128];
    snprintf(accuracy_label, sizeof accuracy_label, "%s test accuracy", label);
    const double accuracy = reported_value(output, accuracy_label);
    printf("    mnist t10k split, %s, %d epochs: test accuracy %.4f\n", label, epochs, accuracy);
    if (status != 0 || !(accuracy >= floor)) {
        test_fail(__FILE__, __LINE__, "%s below its floor %.2f (status %d):\n%s", label, floor,
                  status, output);
        return;
    }
    CHECK(curves);
    long long counts[CLASSES][CLASSES], total = 0, correct = 0;
    CHECK(read_confusion_matrix(output, label, counts));
    for (int row = 0; row < CLASSES; row++) {
        for (int column = 0; column < CLASSES; column++)
            total += counts[row][column];
        correct += counts[row][row];
    }
    CHECK(total == T10K_TEST_IMAGES);
    CHECK_NEAR((double)correct / T10K_TEST_IMAGES, accuracy, 1e-4);
}

TEST(mnist_lab_single_layer_reaches_its_floor) {
    check_model_floor("single", "single-layer", 10, 0.88);
}

TEST(mnist_lab_multi_layer_reaches_its_floor) { check_model_floor("mlp", "multi-layer", 10, 0.93); }

TEST(mnist_lab_cnn_reaches_its_floor) {
#ifdef CG_SANITIZED
    SKIP("the CNN trains for minutes under the sanitizers; the optimised build checks its floor");
#else
    check_model_floor("cnn", "cnn", 4, 0.96);
#endif
}

TEST(mnist_lab_names_the_download_command_when_files_are_missing) {
    static char output[EXAMPLE_OUTPUT_SIZE];
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    char arguments[4096];
    snprintf(arguments, sizeof arguments, "--data '%s' --model single --quiet 2>&1", dir.path);
    const int status = run_example("mnist", arguments, output);
    char command[512];
    snprintf(command, sizeof command, "scripts/download-mnist.sh %s", dir.path);
    temp_dir_remove(&dir);
    if (status == -2) SKIP("the examples were not built");
    CHECK(status == 1);
    CHECK(strstr(output, command) != NULL);
}
