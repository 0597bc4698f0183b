/* The cgrad tool end to end, through the built binary: every subcommand and flag, the lab's Iris
 * floor with the defaults, the files it writes and reads back, and every kind of bad input with
 * its exit status (2 for usage errors, 1 for other failures) and its one-line message. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli_runner.h"
#include "temp_dir.h"
#include "test.h"

#define IRIS "'" CG_SOURCE_DIR "/data/iris.csv'"
#define IRIS_MLP "'" CG_SOURCE_DIR "/examples/models/iris_mlp.cfg'"
#define IRIS_SINGLE "'" CG_SOURCE_DIR "/examples/models/iris_single_layer.cfg'"
#define MNIST_MLP "'" CG_SOURCE_DIR "/examples/models/mnist_mlp.cfg'"

/* ----- helpers ----- */

/* Runs the tool with printf-formatted arguments. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static bool
cli(cli_run *run, const char *format, ...);

static bool cli(cli_run *run, const char *format, ...) {
    char arguments[8192];
    va_list args;
    va_start(args, format);
    vsnprintf(arguments, sizeof arguments, format, args);
    va_end(args);
    if (run_cli(arguments, run)) return true;
    test_fail(__FILE__, __LINE__, "cannot run the cgrad tool (is it built?) for: %s", arguments);
    return false;
}

/* Checks a usage error: status 2, nothing on standard output, and on standard error the text and
 * the usage line of the command. */
static bool usage_error(const cli_run *run, const char *text, const char *usage) {
    const bool ok = run->status == 2 && run->out[0] == '\0' && strstr(run->err, text) &&
                    strstr(run->err, usage);
    if (!ok)
        test_fail(__FILE__, __LINE__,
                  "expected a usage error with \"%s\" and \"%s\"; status %d, "
                  "stdout \"%.200s\", stderr \"%.400s\"",
                  text, usage, run->status, run->out, run->err);
    return ok;
}

/* Checks a failure: status 1 and one line on standard error containing text. */
static bool failure(const cli_run *run, const char *text) {
    const char *newline = strchr(run->err, '\n');
    const bool one_line = newline && newline[1] == '\0';
    const bool ok = run->status == 1 && strstr(run->err, text) && one_line;
    if (!ok)
        test_fail(__FILE__, __LINE__,
                  "expected status 1 and one line with \"%s\"; status %d, "
                  "stderr \"%.600s\"",
                  text, run->status, run->err);
    return ok;
}

static bool succeeded(const cli_run *run) {
    if (run->status == 0) return true;
    test_fail(__FILE__, __LINE__, "status %d; stderr: %.800s", run->status, run->err);
    return false;
}

static bool write_text(const char *path, const char *text) {
    if (write_file(path, text, strlen(text))) return true;
    test_fail(__FILE__, __LINE__, "cannot write %s", path);
    return false;
}

/* The file's text (malloc'd, NUL-terminated), or NULL. */
static char *file_text_of(const char *path) {
    size_t size = 0;
    unsigned char *bytes = read_file(path, &size);
    char *text = bytes ? realloc(bytes, size + 1) : NULL;
    if (!text) {
        free(bytes);
        return NULL;
    }
    text[size] = '\0';
    return text;
}

static int count_lines(const char *text) {
    int lines = 0;
    for (const char *c = text; *c; c++)
        lines += *c == '\n';
    return lines;
}

/* The lines of iris.csv (header first) in a malloc'd array of malloc'd strings; NULL on failure. */
static char **iris_lines(int *count) {
    char *iris = file_text_of(CG_SOURCE_DIR "/data/iris.csv");
    char **lines = iris ? calloc((size_t)count_lines(iris) + 1, sizeof *lines) : NULL;
    *count = 0;
    for (char *at = iris, *end; lines && at && *at; at = end ? end + 1 : NULL) {
        end = strchr(at, '\n');
        if (end) *end = '\0';
        lines[*count] = malloc(strlen(at) + 1);
        if (lines[*count]) strcpy(lines[(*count)++], at);
    }
    free(iris);
    return lines;
}

static void free_lines(char **lines, int count) {
    for (int i = 0; i < count; i++)
        free(lines[i]);
    free(lines);
}

/* Writes iris.csv to path with its five columns picked and ordered by columns (indices into
 * sepal_length, sepal_width, petal_length, petal_width, species), its data rows reversed when
 * reverse is set. */
static bool write_iris_variant(const char *path, const int *columns, int column_count,
                               bool reverse) {
    int count = 0;
    char **lines = iris_lines(&count);
    FILE *out = lines ? fopen(path, "w") : NULL;
    for (int i = 0; out && i < count; i++) {
        char *fields[5] = {NULL};
        char *line = lines[reverse && i > 0 ? count - i : i];
        for (int f = 0; f < 5 && line; f++) {
            fields[f] = line;
            line = strchr(line, ',');
            if (line) *line++ = '\0';
        }
        for (int c = 0; c < column_count; c++)
            fprintf(out, "%s%s", c ? "," : "", fields[columns[c]] ? fields[columns[c]] : "");
        fputc('\n', out);
    }
    const bool written = out && fclose(out) == 0 && count == 151;
    free_lines(lines, count);
    if (!written) test_fail(__FILE__, __LINE__, "cannot write %s", path);
    return written;
}

/* ----- version, help and usage errors ----- */

TEST(cli_prints_its_version_and_help) {
    static cli_run run;
    if (!cli(&run, "--version")) return;
    CHECK(succeeded(&run));
    CHECK(strcmp(run.out, "cgrad " CG_VERSION_STRING "\n") == 0);
    if (!cli(&run, "--help")) return;
    CHECK(succeeded(&run));
    const char *commands[] = {"train", "evaluate", "predict", "summary", "plot"};
    for (int i = 0; i < 5; i++) {
        CHECK(strstr(run.out, commands[i]) != NULL);
    }
    /* Each subcommand's help starts with its usage line and lists its flags. */
    const char *flags[][2] = {
        {"train", "--model --data --label --epochs --batch-size --optimizer --lr --weight-decay "
                  "--momentum --val-split --val --seed --early-stopping --save --plot --log "
                  "--task --no-standardize --device --threads --quiet --json"},
        {"evaluate", "--weights --data --label --batch-size --device --json"},
        {"predict", "--weights --data --output --device"},
        {"summary", "--model --weights"},
        {"plot", "--log --output --title"},
    };
    for (int i = 0; i < 5; i++) {
        if (!cli(&run, "%s --help", flags[i][0])) return;
        CHECK(succeeded(&run));
        char usage[64];
        snprintf(usage, sizeof usage, "usage: cgrad %s ", flags[i][0]);
        CHECK(strncmp(run.out, usage, strlen(usage)) == 0);
        char list[512];
        snprintf(list, sizeof list, "%s", flags[i][1]);
        for (char *flag = strtok(list, " "); flag; flag = strtok(NULL, " ")) {
            char entry[64];
            snprintf(entry, sizeof entry, "  %s ", flag); /* described on a line of its own */
            if (!strstr(run.out, entry))
                test_fail(__FILE__, __LINE__, "'cgrad %s --help' does not describe %s", flags[i][0],
                          flag);
        }
    }
}

TEST(cli_reports_usage_errors_with_status_2) {
    static cli_run run;
    if (!cli(&run, "%s", "")) return;
    CHECK(usage_error(&run, "no command given", "usage: cgrad COMMAND"));
    if (!cli(&run, "fly")) return;
    CHECK(usage_error(&run, "unknown command 'fly'", "usage: cgrad COMMAND"));

    const char *train = "usage: cgrad train --model SPEC --data PATH";
    struct {
        const char *arguments, *message;
    } cases[] = {
        {"--data x.csv", "--model is required"},
        {"--model m.cfg", "--data is required"},
        {"--model m.cfg --data x.csv --colour red", "unknown flag '--colour'"},
        {"--model m.cfg --data x.csv stray", "unexpected argument 'stray'"},
        {"--model m.cfg --data x.csv --epochs", "--epochs needs a value"},
        {"--model m.cfg --data x.csv --epochs --quiet", "--epochs needs a value"},
        {"--model m.cfg --data x.csv --epochs x", "--epochs: expected a positive integer, got 'x'"},
        {"--model m.cfg --data x.csv --epochs=0", "--epochs: expected a positive integer, got '0'"},
        {"--model m.cfg --data x.csv --epochs 2.5", "--epochs: expected a positive integer"},
        {"--model m.cfg --data x.csv --batch-size -4", "--batch-size: expected a positive integer"},
        {"--model m.cfg --data x.csv --threads 0", "--threads: expected a positive integer"},
        {"--model m.cfg --data x.csv --early-stopping no", "--early-stopping: expected a positive"},
        {"--model m.cfg --data x.csv --seed -1", "--seed: expected an integer >= 0, got '-1'"},
        {"--model m.cfg --data x.csv --lr 0", "--lr: expected a number > 0, got '0'"},
        {"--model m.cfg --data x.csv --lr fast", "--lr: expected a number > 0, got 'fast'"},
        {"--model m.cfg --data x.csv --weight-decay -0.1",
         "--weight-decay: expected a number >= 0"},
        {"--model m.cfg --data x.csv --val-split 1", "--val-split: expected a number in [0, 1)"},
        {"--model m.cfg --data x.csv --optimizer lbfgs",
         "--optimizer: expected sgd|adam|adamw|rmsprop, got 'lbfgs'"},
        {"--model m.cfg --data x.csv --task clustering", "--task: expected classification|"},
        {"--model m.cfg --data x.csv --device tpu",
         "--device: expected cpu, cuda or cuda:N, got 'tpu'"},
        {"--model m.cfg --data x.csv --quiet=yes", "--quiet takes no value"},
        {"--model m.cfg --data x.csv --val v.csv --val-split 0.1",
         "give --val-split or --val, not both"},
        {"--model m.cfg --data x.csv --momentum 0.9", "--momentum applies to sgd and rmsprop"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!cli(&run, "train %s", cases[i].arguments)) return;
        if (!usage_error(&run, cases[i].message, train)) return;
    }
    if (!cli(&run, "evaluate --data x.csv")) return;
    CHECK(usage_error(&run, "--weights is required", "usage: cgrad evaluate"));
    if (!cli(&run, "evaluate --weights m --data x.csv --batch-size 0")) return;
    CHECK(usage_error(&run, "--batch-size: expected a positive integer", "usage: cgrad evaluate"));
    if (!cli(&run, "predict --weights m --data x.csv --output")) return;
    CHECK(usage_error(&run, "--output needs a value", "usage: cgrad predict"));
    if (!cli(&run, "summary")) return;
    CHECK(usage_error(&run, "give --model or --weights", "usage: cgrad summary"));
    if (!cli(&run, "summary --model a --weights b")) return;
    CHECK(usage_error(&run, "give --model or --weights", "usage: cgrad summary"));
    if (!cli(&run, "plot --log l.csv")) return;
    CHECK(usage_error(&run, "--output is required", "usage: cgrad plot"));
}

/* ----- training on Iris ----- */

TEST(cli_train_reaches_the_iris_floor_with_the_defaults) {
    static cli_run run;
    if (!cli(&run, "train --model " IRIS_MLP " --data " IRIS " --json")) return;
    CHECK(succeeded(&run));
    const char *json = last_line(run.out);
    printf("    cgrad train iris_mlp: %s\n", json);
    CHECK(json[0] == '{' && json[strlen(json) - 1] == '}');
    CHECK(json_value(json, "epochs") == 100);
    CHECK(json_value(json, "val_accuracy") >= 0.93);
    CHECK(json_value(json, "accuracy") >= 0.93);
    CHECK(json_value(json, "loss") > 0 && json_value(json, "val_loss") > 0);
    /* With --json the progress goes to standard error and the JSON line is all of stdout. */
    CHECK(count_lines(run.out) == 1);
    CHECK(strstr(run.err, "Epoch 100/100") != NULL);
}

TEST(cli_train_prints_a_table_for_people_and_is_reproducible) {
    static cli_run first, second, other;
    if (!cli(&first, "train --model " IRIS_SINGLE " --data " IRIS " --epochs 20 --quiet")) return;
    CHECK(succeeded(&first));
    CHECK(first.err[0] == '\0'); /* --quiet: no progress */
    CHECK(strstr(first.out, "trained 20 epochs on 120 samples, validated on 30") != NULL);
    CHECK(strstr(first.out, "training") && strstr(first.out, "validation"));
    CHECK(strstr(first.out, "accuracy") != NULL);
    if (!cli(&second, "train --model " IRIS_SINGLE " --data " IRIS " --epochs 20 --quiet")) return;
    CHECK(strcmp(first.out, second.out) == 0);
    if (!cli(&other, "train --model " IRIS_SINGLE " --data " IRIS " --epochs 20 --quiet --seed 9"))
        return;
    CHECK(succeeded(&other));
    CHECK(strcmp(first.out, other.out) != 0);
}

TEST(cli_train_takes_every_optimizer_and_its_options) {
    static cli_run run, baseline;
    const char *common = "--model " IRIS_SINGLE " --data " IRIS " --epochs 5 --quiet --json";
    if (!cli(&baseline, "train %s", common)) return;
    CHECK(succeeded(&baseline));
    const char *variants[] = {
        "--optimizer sgd --lr 0.1 --momentum 0.9",
        "--optimizer rmsprop --momentum 0.5 --batch-size 8",
        "--optimizer adamw --weight-decay 0.1",
        "--optimizer adam --lr 0.05 --weight-decay 0.001",
        "--batch-size 7",
        "--lr=0.003",
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        if (!cli(&run, "train %s %s", common, variants[i])) return;
        if (!succeeded(&run)) return;
        /* Every option changes the training, so the final loss too. */
        if (json_value(last_line(run.out), "loss") == json_value(last_line(baseline.out), "loss"))
            test_fail(__FILE__, __LINE__, "'%s' did not change the training", variants[i]);
    }
}

TEST(cli_train_stops_early_and_validates_as_asked) {
    static cli_run run;
    const char *base = "train --model " IRIS_MLP " --data " IRIS " --quiet --json";
    if (!cli(&run, "%s --epochs 300 --early-stopping 5", base)) return;
    CHECK(succeeded(&run));
    const double epochs = json_value(last_line(run.out), "epochs");
    CHECK(epochs > 5 && epochs < 300);
    if (!cli(&run, "%s --epochs 5 --val-split 0", base)) return;
    CHECK(succeeded(&run));
    CHECK(strstr(last_line(run.out), "\"val_loss\": null, \"val_accuracy\": null") != NULL);
    CHECK(json_value(last_line(run.out), "loss") > 0);
    if (!cli(&run, "%s --epochs 5 --val " IRIS, base)) return;
    CHECK(succeeded(&run));
    CHECK(json_value(last_line(run.out), "val_accuracy") >= 0);
    if (!cli(&run, "train --model " IRIS_MLP " --data " IRIS " --epochs 5 --val-split 0.5 --quiet"))
        return;
    CHECK(strstr(run.out, "on 75 samples, validated on 75") != NULL);
}

TEST(cli_train_chooses_the_label_column_by_name_or_index) {
    static cli_run by_default, by_name, by_index, missing, out_of_range;
    const char *base = "train --model " IRIS_SINGLE " --data " IRIS " --epochs 3 --quiet --json";
    if (!cli(&by_default, "%s", base) || !cli(&by_name, "%s --label species", base) ||
        !cli(&by_index, "%s --label 4", base))
        return;
    CHECK(succeeded(&by_default));
    CHECK(strcmp(by_default.out, by_name.out) == 0);
    CHECK(strcmp(by_default.out, by_index.out) == 0);
    if (!cli(&missing, "%s --label colour", base)) return;
    CHECK(failure(&missing, "has no column \"colour\""));
    if (!cli(&out_of_range, "%s --label 5", base)) return;
    CHECK(failure(&out_of_range, "--label 5 is out of range"));
}

/* A GPU that cannot be used: cuda:0 without a GPU (or in a build without CUDA), else the index
 * one past the last GPU, so the check runs on every machine. */
static void unusable_gpu(char *name, size_t size) {
    snprintf(name, size, "cuda:%d", cg_cuda_device_count());
}

TEST(cli_commands_reject_an_unusable_gpu_and_train_takes_threads) {
    static cli_run run, on_cpu, default_device;
    char gpu[32], message[96];
    unusable_gpu(gpu, sizeof gpu);
    snprintf(message, sizeof message, "--device: cg_model_to_device: %s is not available: ", gpu);
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    char model[512];
    snprintf(model, sizeof model, "%s", temp_dir_file(&dir, "iris.safetensors"));
    const char *base = "train --model " IRIS_SINGLE " --data " IRIS " --epochs 2";
    bool ok = cli(&run, "%s --device %s", base, gpu) && failure(&run, message) &&
              strstr(run.err, "cgrad train: ") == run.err &&
              cli(&on_cpu, "%s --device cpu --quiet --json --save '%s'", base, model) &&
              succeeded(&on_cpu) && cli(&default_device, "%s --quiet --json", base) &&
              succeeded(&default_device) && strcmp(on_cpu.out, default_device.out) == 0 &&
              cli(&run, "evaluate --weights '%s' --data " IRIS " --device %s", model, gpu) &&
              failure(&run, message) &&
              cli(&run, "predict --weights '%s' --data " IRIS " --device %s", model, gpu) &&
              failure(&run, message) &&
              cli(&run, "evaluate --weights '%s' --data " IRIS " --device cpu", model) &&
              succeeded(&run) &&
              cli(&run, "predict --weights '%s' --data " IRIS " --device cpu", model) &&
              succeeded(&run);
    temp_dir_remove(&dir);
    CHECK(ok);
    if (!cli(&run, "evaluate --weights m --data x.csv --device gpu")) return;
    CHECK(usage_error(&run, "--device: expected cpu, cuda or cuda:N, got 'gpu'",
                      "usage: cgrad evaluate"));
    if (!cli(&run, "predict --weights m --data x.csv --device cuda:x")) return;
    CHECK(usage_error(&run, "--device: expected cpu, cuda or cuda:N, got 'cuda:x'",
                      "usage: cgrad predict"));
    if (!cli(&run, "%s --threads 2 --quiet", base)) return;
    CHECK(succeeded(&run));
    if (!cli(&run, "%s --threads 5000", base)) return;
    CHECK(usage_error(&run, "--threads: ", "usage: cgrad train"));
}

/* The same run on cuda:0 and on the CPU: float32 sums in another order on the GPU, so the
 * curves agree closely rather than exactly; the saved GPU model then evaluates and predicts on
 * the GPU as on the CPU. */
TEST(cli_trains_evaluates_and_predicts_on_cuda) {
    if (cg_cuda_device_count() == 0) SKIP(cg_last_error());
    static cli_run on_gpu, on_cpu, gpu_evaluate, cpu_evaluate, gpu_predict, cpu_predict;
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    char model[512];
    snprintf(model, sizeof model, "%s", temp_dir_file(&dir, "iris.safetensors"));
    const char *base = "train --model " IRIS_MLP " --data " IRIS " --epochs 30 --quiet --json";
    const char *evaluate = "evaluate --data " IRIS " --json --weights";
    bool ok =
        cli(&on_gpu, "%s --device cuda --save '%s'", base, model) && succeeded(&on_gpu) &&
        cli(&on_cpu, "%s --device cpu", base) && succeeded(&on_cpu) &&
        cli(&gpu_evaluate, "%s '%s' --device cuda:0", evaluate, model) &&
        succeeded(&gpu_evaluate) && cli(&cpu_evaluate, "%s '%s' --device cpu", evaluate, model) &&
        succeeded(&cpu_evaluate) &&
        cli(&gpu_predict, "predict --weights '%s' --data " IRIS " --device cuda", model) &&
        succeeded(&gpu_predict) &&
        cli(&cpu_predict, "predict --weights '%s' --data " IRIS, model) && succeeded(&cpu_predict);
    temp_dir_remove(&dir);
    if (!ok) return;
    const char *gpu_json = last_line(on_gpu.out), *cpu_json = last_line(on_cpu.out);
    printf("    cuda: %s\n    cpu:  %s\n", gpu_json, cpu_json);
    CHECK(json_value(gpu_json, "epochs") == 30);
    CHECK_NEAR(json_value(gpu_json, "loss"), json_value(cpu_json, "loss"),
               1e-2 * json_value(cpu_json, "loss"));
    CHECK(json_value(gpu_json, "val_accuracy") >= 0.9);
    const char *gpu_result = last_line(gpu_evaluate.out), *cpu_result = last_line(cpu_evaluate.out);
    CHECK_NEAR(json_value(gpu_result, "loss"), json_value(cpu_result, "loss"),
               1e-4 * json_value(cpu_result, "loss"));
    CHECK(json_value(gpu_result, "accuracy") == json_value(cpu_result, "accuracy"));
    CHECK(json_value(gpu_result, "samples") == 150);
    /* Row by row: the same class, probabilities within float32 rounding. */
    CHECK(count_lines(gpu_predict.out) == count_lines(cpu_predict.out));
    const char *g = strchr(gpu_predict.out, '\n'), *c = strchr(cpu_predict.out, '\n');
    for (; g && c && g[1] && c[1]; g = strchr(g + 1, '\n'), c = strchr(c + 1, '\n')) {
        char gpu_class[32], cpu_class[32];
        double gp[3], cp[3];
        CHECK(sscanf(g + 1, "%31[^,],%lf,%lf,%lf", gpu_class, &gp[0], &gp[1], &gp[2]) == 4);
        CHECK(sscanf(c + 1, "%31[^,],%lf,%lf,%lf", cpu_class, &cp[0], &cp[1], &cp[2]) == 4);
        CHECK(strcmp(gpu_class, cpu_class) == 0);
        for (int k = 0; k < 3; k++)
            CHECK_NEAR(gp[k], cp[k], 1e-5);
    }
}

TEST(cli_train_checks_the_output_layer_against_the_task) {
    static cli_run run;
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    char four[512], numbers[512];
    snprintf(four, sizeof four, "%s", temp_dir_file(&dir, "four.cfg"));
    snprintf(numbers, sizeof numbers, "%s", temp_dir_file(&dir, "numbers.csv"));
    bool ok =
        write_text(four, "input 4\ndense 4\n") &&
        write_text(numbers, "a,b,c,d,species\n1,2,3,4,0.5\n2,3,4,5,1.5\n3,4,5,6,2.5\n"
                            "4,5,6,7,3.5\n5,6,7,8,4.5\n") &&
        cli(&run, "train --model '%s' --data " IRIS " --quiet", four) &&
        failure(&run, "gives 4 outputs per sample but") && strstr(run.err, "has 3 classes; end") &&
        strstr(run.err, "with 'dense 3'") &&
        cli(&run, "train --model '%s' --data '%s' --quiet", four, numbers) &&
        failure(&run, "a regression on one label column needs 1") &&
        cli(&run, "train --model " IRIS_SINGLE " --data '%s' --val " IRIS " --quiet", numbers) &&
        failure(&run, "iris.csv': the data has class names as labels, but the model was "
                      "trained on numeric labels");
    temp_dir_remove(&dir);
    CHECK(ok);
}

TEST(cli_train_reports_a_diverging_loss) {
    static cli_run run;
    if (!cli(&run, "train --model " IRIS_MLP " --data " IRIS
                   " --optimizer sgd --lr 1e30 --epochs 5 --no-standardize --quiet"))
        return;
    CHECK(failure(&run, "training diverged: the loss became"));
    CHECK(strstr(run.err, "in epoch 1 ") != NULL);
}

/* ----- saving, evaluating, predicting ----- */

TEST(cli_saved_model_evaluates_and_predicts_like_training) {
    static cli_run train, evaluate, predict, as_json;
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    char model[512];
    snprintf(model, sizeof model, "%s", temp_dir_file(&dir, "iris.safetensors"));
    bool ok =
        cli(&train, "train --model " IRIS_MLP " --data " IRIS " --quiet --save '%s'", model) &&
        succeeded(&train) && strstr(train.out, "model saved to") &&
        cli(&evaluate, "evaluate --weights '%s' --data " IRIS, model) && succeeded(&evaluate) &&
        cli(&as_json, "evaluate --weights '%s' --data " IRIS " --json", model) &&
        succeeded(&as_json) && cli(&predict, "predict --weights '%s' --data " IRIS, model) &&
        succeeded(&predict);
    temp_dir_remove(&dir);
    CHECK(ok);
    CHECK(strstr(evaluate.out, "samples    150") != NULL);
    const char *json = last_line(as_json.out);
    CHECK(json_value(json, "samples") == 150);
    CHECK(json_value(json, "accuracy") >= 0.93);
    CHECK(json_value(json, "loss") > 0);
    /* One row per input row: the class, then the probability of each class, summing to 1. */
    CHECK(count_lines(predict.out) == 151);
    CHECK(strncmp(predict.out,
                  "species,probability_setosa,probability_versicolor,probability_virginica\n",
                  72) == 0);
    int correct = 0, rows = 0;
    const char *truth[] = {"setosa", "versicolor", "virginica"};
    for (const char *line = strchr(predict.out, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
        char name[32];
        double p[3];
        CHECK(sscanf(line, "%31[^,],%lf,%lf,%lf", name, &p[0], &p[1], &p[2]) == 4);
        CHECK_NEAR(p[0] + p[1] + p[2], 1.0, 1e-5);
        const int best = p[0] >= p[1] && p[0] >= p[2] ? 0 : p[1] >= p[2] ? 1 : 2;
        CHECK(strcmp(name, truth[best]) == 0);
        correct += strcmp(name, truth[rows / 50]) == 0; /* iris.csv: 50 rows of each, in order */
        rows++;
    }
    CHECK(rows == 150);
    CHECK_NEAR((double)correct / rows, json_value(json, "accuracy"), 1e-4);
}

TEST(cli_predict_reads_columns_by_name_and_evaluate_maps_classes_by_name) {
    static cli_run train, reference, reordered, to_file, evaluated, reversed, batched;
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    char model[512], features[512], shuffled[512], output[512];
    snprintf(model, sizeof model, "%s", temp_dir_file(&dir, "m.safetensors"));
    snprintf(features, sizeof features, "%s", temp_dir_file(&dir, "features.csv"));
    snprintf(shuffled, sizeof shuffled, "%s", temp_dir_file(&dir, "reversed.csv"));
    snprintf(output, sizeof output, "%s", temp_dir_file(&dir, "predictions.csv"));
    /* The inputs in another order and no label column; the rows reversed, so that the classes
     * appear in another order than in training. */
    const int moved[] = {3, 0, 2, 1}, all[] = {0, 1, 2, 3, 4};
    bool ok =
        write_iris_variant(features, moved, 4, false) &&
        write_iris_variant(shuffled, all, 5, true) &&
        cli(&train, "train --model " IRIS_SINGLE " --data " IRIS " --quiet --save '%s'", model) &&
        succeeded(&train) && cli(&reference, "predict --weights '%s' --data " IRIS, model) &&
        cli(&reordered, "predict --weights '%s' --data '%s'", model, features) &&
        cli(&to_file, "predict --weights '%s' --data '%s' --output '%s'", model, features,
            output) &&
        cli(&evaluated, "evaluate --weights '%s' --data " IRIS " --json", model) &&
        cli(&reversed, "evaluate --weights '%s' --data '%s' --json", model, shuffled) &&
        cli(&batched,
            "evaluate --weights '%s' --data " IRIS " --label species --batch-size 7 "
            "--json",
            model);
    char *written = ok ? file_text_of(output) : NULL;
    temp_dir_remove(&dir);
    CHECK(ok);
    CHECK(succeeded(&reordered) && succeeded(&to_file) && succeeded(&reversed));
    CHECK(strcmp(reference.out, reordered.out) == 0);
    CHECK(to_file.out[0] == '\0');
    const bool same_file = written && strcmp(written, reference.out) == 0;
    free(written);
    CHECK(same_file);
    CHECK_NEAR(json_value(last_line(reversed.out), "accuracy"),
               json_value(last_line(evaluated.out), "accuracy"), 1e-9);
    CHECK_NEAR(json_value(last_line(reversed.out), "loss"),
               json_value(last_line(evaluated.out), "loss"), 1e-5);
    /* The label named explicitly and smaller batches measure the same. */
    CHECK(succeeded(&batched));
    CHECK_NEAR(json_value(last_line(batched.out), "accuracy"),
               json_value(last_line(evaluated.out), "accuracy"), 1e-9);
    CHECK_NEAR(json_value(last_line(batched.out), "loss"),
               json_value(last_line(evaluated.out), "loss"), 1e-5);
}

TEST(cli_predict_quotes_names_that_need_it) {
    static cli_run train, predict;
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    char data[512], model[512];
    snprintf(data, sizeof data, "%s", temp_dir_file(&dir, "fruit.csv"));
    snprintf(model, sizeof model, "%s", temp_dir_file(&dir, "fruit.safetensors"));
    bool ok =
        write_text(data, "size,\"kind, as sold\"\n1,\"big, \"\"red\"\"\"\n2,\"big, \"\"red\"\"\"\n"
                         "-1,small\n-2,small\n") &&
        write_text(temp_dir_file(&dir, "two.cfg"), "dense 2\n") &&
        cli(&train,
            "train --model '%s' --data '%s' --val-split 0 --epochs 50 --lr 0.1 "
            "--quiet --save '%s'",
            temp_dir_file(&dir, "two.cfg"), data, model) &&
        cli(&predict, "predict --weights '%s' --data '%s'", model, data);
    temp_dir_remove(&dir);
    CHECK(ok);
    CHECK(succeeded(&train) && succeeded(&predict));
    const char *header = "\"kind, as sold\",\"probability_big, \"\"red\"\"\",probability_small\n";
    CHECK(strncmp(predict.out, header, strlen(header)) == 0);
    CHECK(strstr(predict.out, "\n\"big, \"\"red\"\"\",") != NULL);
    CHECK(strstr(predict.out, "\nsmall,") != NULL);
}

TEST(cli_summary_describes_specs_and_saved_models) {
    static cli_run spec, saved, train, raw, no_input;
    if (!cli(&spec, "summary --model " IRIS_MLP)) return;
    CHECK(succeeded(&spec));
    CHECK(strstr(spec.out, "Total params: 403") != NULL); /* 4*16+16 + 16*16+16 + 16*3+3 */
    if (!cli(&spec, "summary --model " MNIST_MLP)) return;
    CHECK(succeeded(&spec));
    CHECK(strstr(spec.out, "Total params: 101770") != NULL); /* 784*128+128 + 128*10+10 */
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    char model[512], unscaled[512], spec_path[512];
    snprintf(model, sizeof model, "%s", temp_dir_file(&dir, "m.safetensors"));
    snprintf(unscaled, sizeof unscaled, "%s", temp_dir_file(&dir, "raw.safetensors"));
    snprintf(spec_path, sizeof spec_path, "%s", temp_dir_file(&dir, "no_input.cfg"));
    bool ok = cli(&train,
                  "train --model " IRIS_SINGLE " --data " IRIS " --epochs 2 --quiet "
                  "--save '%s'",
                  model) &&
              cli(&raw,
                  "train --model " IRIS_SINGLE " --data " IRIS " --epochs 2 --quiet "
                  "--no-standardize --save '%s'",
                  unscaled) &&
              cli(&saved, "summary --weights '%s'", model) &&
              cli(&raw, "summary --weights '%s'", unscaled) &&
              write_text(spec_path, "dense 4 relu\ndense 3\n") &&
              cli(&no_input, "summary --model '%s'", spec_path);
    temp_dir_remove(&dir);
    CHECK(ok);
    CHECK(succeeded(&saved) && succeeded(&raw));
    CHECK(strstr(saved.out, "Total params: 15") != NULL);
    CHECK(strstr(saved.out, "sepal_length, sepal_width, petal_length, petal_width (standardised)"));
    CHECK(strstr(saved.out, "setosa, versicolor, virginica") != NULL);
    CHECK(strstr(saved.out, "species") != NULL);
    CHECK(strstr(raw.out, "petal_width") != NULL && strstr(raw.out, "standardised") == NULL);
    CHECK(failure(&no_input, "has no input line"));
}

/* ----- logs and plots ----- */

TEST(cli_plot_draws_a_training_log) {
    static cli_run train, plot, bad;
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    char log[512], curves[512], chart[512], broken[512];
    snprintf(log, sizeof log, "%s", temp_dir_file(&dir, "log.csv"));
    snprintf(curves, sizeof curves, "%s", temp_dir_file(&dir, "curves.svg"));
    snprintf(chart, sizeof chart, "%s", temp_dir_file(&dir, "chart.svg"));
    snprintf(broken, sizeof broken, "%s", temp_dir_file(&dir, "broken.csv"));
    bool ok = cli(&train,
                  "train --model " IRIS_SINGLE " --data " IRIS " --epochs 7 --quiet "
                  "--log '%s' --plot '%s'",
                  log, curves) &&
              succeeded(&train) &&
              cli(&plot, "plot --log '%s' --output '%s' --title 'Iris run'", log, chart) &&
              write_text(broken, "epoch,loss\n0,1.5\n1,x\n") &&
              cli(&bad, "plot --log '%s' --output '%s'", broken, chart);
    char *log_text = ok ? file_text_of(log) : NULL;
    char *svg = ok ? file_text_of(chart) : NULL;
    char *train_svg = ok ? file_text_of(curves) : NULL;
    temp_dir_remove(&dir);
    const bool logged =
        log_text && strncmp(log_text, "epoch,loss,accuracy,val_loss,val_accuracy,lr\n", 45) == 0 &&
        count_lines(log_text) == 8;
    const bool drawn = svg && strstr(svg, "<svg") && strstr(svg, "Iris run") &&
                       strstr(svg, "validation") && train_svg && strstr(train_svg, "<svg");
    free(log_text);
    free(svg);
    free(train_svg);
    CHECK(ok);
    CHECK(succeeded(&plot));
    CHECK(logged);
    CHECK(drawn);
    CHECK(failure(&bad, "line 3"));
}

/* ----- bad files ----- */

TEST(cli_reports_bad_spec_lines_with_their_line_number) {
    static cli_run run;
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    struct {
        const char *spec, *message;
    } cases[] = {
        {"input 4\ndense x relu\ndense 3\n", "line 2: dense expects"},
        {"# a comment\ninput 4\n\nfly 3\n", "line 4: unknown layer type 'fly'"},
        {"input 4\ndropout 2\ndense 3\n", "line 2"},
        {"input four\ndense 3\n", "line 1"},
        {"dense 16 relu\ninput 4\n", "line 2: input must be the first line"},
    };
    bool ok = true;
    for (size_t i = 0; ok && i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = temp_dir_file(&dir, "bad.cfg");
        ok = write_text(path, cases[i].spec) &&
             cli(&run, "train --model '%s' --data " IRIS " --quiet", path) &&
             failure(&run, cases[i].message) && strstr(run.err, "bad.cfg");
    }
    ok = ok && cli(&run, "train --model '%s' --data " IRIS, temp_dir_file(&dir, "none.cfg")) &&
         failure(&run, "none.cfg");
    temp_dir_remove(&dir);
    CHECK(ok);
}

TEST(cli_reports_bad_data_files) {
    static cli_run run;
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    char ragged[512], model[512], no_petal_width[512], missing[512];
    snprintf(ragged, sizeof ragged, "%s", temp_dir_file(&dir, "ragged.csv"));
    snprintf(model, sizeof model, "%s", temp_dir_file(&dir, "m.safetensors"));
    snprintf(no_petal_width, sizeof no_petal_width, "%s", temp_dir_file(&dir, "three.csv"));
    snprintf(missing, sizeof missing, "%s", temp_dir_file(&dir, "missing.csv"));
    const int three[] = {0, 1, 2, 4};
    bool ok = write_text(ragged, "a,b,label\n1,2,x\n3,y\n") &&
              write_iris_variant(no_petal_width, three, 4, false) &&
              cli(&run, "train --model " IRIS_SINGLE " --data '%s' --quiet", ragged) &&
              failure(&run, "ragged.csv' line 3") && strstr(run.err, "missing field") &&
              cli(&run, "train --model " IRIS_SINGLE " --data '%s' --quiet", missing) &&
              failure(&run, "missing.csv") &&
              cli(&run, "train --model " IRIS_SINGLE " --data '%s' --quiet", no_petal_width) &&
              failure(&run, "takes 4") &&
              cli(&run,
                  "train --model " IRIS_SINGLE " --data " IRIS " --quiet --epochs 2 "
                  "--save '%s'",
                  model) &&
              cli(&run, "evaluate --weights '%s' --data '%s'", model, no_petal_width) &&
              failure(&run, "no column \"petal_width\"") && strstr(run.err, "three.csv") &&
              cli(&run, "predict --weights '%s' --data '%s'", model, no_petal_width) &&
              failure(&run, "no column \"petal_width\"");
    temp_dir_remove(&dir);
    CHECK(ok);
}

TEST(cli_reports_a_weights_file_that_is_not_one) {
    static cli_run run;
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    char fake[512];
    snprintf(fake, sizeof fake, "%s", temp_dir_file(&dir, "fake.safetensors"));
    bool ok = write_text(fake, "these are not weights\n") &&
              cli(&run, "evaluate --weights '%s' --data " IRIS, fake) &&
              failure(&run, "fake.safetensors") &&
              cli(&run, "predict --weights '%s' --data " IRIS, fake) &&
              failure(&run, "fake.safetensors") && cli(&run, "summary --weights '%s'", fake) &&
              failure(&run, "fake.safetensors") &&
              cli(&run, "evaluate --weights '%s' --data " IRIS, temp_dir_file(&dir, "gone")) &&
              failure(&run, "gone");
    temp_dir_remove(&dir);
    CHECK(ok);
}

/* ----- regression and numeric classes ----- */

/* Writes a CSV of 200 rows: y = 2a - b + 0.5 and class = (a > b), from a seeded generator; sets
 * *first_y to the first row's y. */
static bool write_numeric_data(const char *path, double *first_y) {
    FILE *out = fopen(path, "w");
    if (!out) return false;
    fprintf(out, "a,b,y,class\n");
    uint64_t state = 12345;
    for (int i = 0; i < 200; i++) {
        double v[2];
        for (int k = 0; k < 2; k++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            v[k] = (double)(state >> 11) / 9007199254740992.0 * 4 - 2;
        }
        char row[128];
        snprintf(row, sizeof row, "%.4f,%.4f,%.4f,%d\n", v[0], v[1], 2 * v[0] - v[1] + 0.5,
                 v[0] > v[1]);
        if (i == 0) sscanf(row, "%*[^,],%*[^,],%lf", first_y);
        fputs(row, out);
    }
    return fclose(out) == 0;
}

TEST(cli_trains_regression_and_numeric_classes) {
    static cli_run regression, evaluated, predicted, classes, binary, named;
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    char data[512], one[512], two[512], model[512];
    snprintf(data, sizeof data, "%s", temp_dir_file(&dir, "numbers.csv"));
    snprintf(one, sizeof one, "%s", temp_dir_file(&dir, "one.cfg"));
    snprintf(two, sizeof two, "%s", temp_dir_file(&dir, "two.cfg"));
    snprintf(model, sizeof model, "%s", temp_dir_file(&dir, "line.safetensors"));
    double first_y = NAN;
    bool ok = write_numeric_data(data, &first_y) && write_text(one, "dense 1\n") &&
              write_text(two, "input 3\ndense 8 tanh\ndense 2\n") &&
              cli(&regression,
                  "train --model '%s' --data '%s' --label y --epochs 60 --lr 0.1 --quiet "
                  "--json --save '%s'",
                  one, data, model) &&
              cli(&evaluated, "evaluate --weights '%s' --data '%s' --json", model, data) &&
              cli(&predicted, "predict --weights '%s' --data '%s'", model, data) &&
              cli(&classes, "train --model '%s' --data '%s' --task classification --quiet --json",
                  two, data) &&
              cli(&binary, "train --model '%s' --data '%s' --task classification --quiet --json",
                  one, data) &&
              cli(&named, "train --model '%s' --data " IRIS " --task regression", one);
    temp_dir_remove(&dir);
    CHECK(ok);
    CHECK(succeeded(&regression) && succeeded(&evaluated) && succeeded(&predicted));
    /* A regression reports losses only; the exact line is learned well. */
    const char *json = last_line(regression.out);
    CHECK(strstr(json, "accuracy") == NULL);
    CHECK(json_value(json, "val_loss") < 0.01);
    CHECK(strstr(last_line(evaluated.out), "\"accuracy\": null") != NULL);
    CHECK(json_value(last_line(evaluated.out), "samples") == 200);
    CHECK(strncmp(predicted.out, "y\n", 2) == 0 && count_lines(predicted.out) == 201);
    double predicted_y;
    CHECK(sscanf(strchr(predicted.out, '\n') + 1, "%lf", &predicted_y) == 1);
    CHECK_NEAR(predicted_y, first_y, 0.1);
    /* Numeric labels as classes: two outputs with cross-entropy, one output with a sigmoid. */
    CHECK(succeeded(&classes) && succeeded(&binary));
    CHECK(json_value(last_line(classes.out), "val_accuracy") >= 0.9);
    CHECK(json_value(last_line(binary.out), "val_accuracy") >= 0.9);
    CHECK(failure(&named, "--task regression needs numeric labels"));
}

/* ----- IDX directories ----- */

/* Writes an IDX image file and its label file of count 4x4 images: class 0 is bright on the left
 * half, class 1 on the right, with seeded noise. */
static bool write_idx_pair(const temp_dir *dir, const char *split, int count, uint32_t seed) {
    char images_name[64], labels_name[64];
    snprintf(images_name, sizeof images_name, "%s-images-idx3-ubyte", split);
    snprintf(labels_name, sizeof labels_name, "%s-labels-idx1-ubyte", split);
    unsigned char images[16 + 64 * 16], labels[8 + 64];
    if (count > 64) return false;
    const unsigned char image_header[16] = {0, 0, 8, 3, 0, 0, 0, (unsigned char)count,
                                            0, 0, 0, 4, 0, 0, 0, 4};
    const unsigned char label_header[8] = {0, 0, 8, 1, 0, 0, 0, (unsigned char)count};
    memcpy(images, image_header, 16);
    memcpy(labels, label_header, 8);
    for (int i = 0; i < count; i++) {
        const int label = i % 2;
        labels[8 + i] = (unsigned char)label;
        for (int pixel = 0; pixel < 16; pixel++) {
            seed = seed * 1103515245u + 12345u;
            const bool bright = (pixel % 4 < 2) == (label == 0);
            images[16 + i * 16 + pixel] = (unsigned char)((bright ? 160 : 0) + (seed >> 16) % 90);
        }
    }
    return write_file(temp_dir_file(dir, images_name), images, 16 + (size_t)count * 16) &&
           write_file(temp_dir_file(dir, labels_name), labels, 8 + (size_t)count);
}

TEST(cli_trains_evaluates_and_predicts_on_an_idx_directory) {
    static cli_run train, evaluate, predict, labelled, empty;
    temp_dir dir, nothing;
    if (!temp_dir_create(&dir)) return;
    if (!temp_dir_create(&nothing)) {
        temp_dir_remove(&dir);
        return;
    }
    char spec[512], model[512];
    snprintf(spec, sizeof spec, "%s", temp_dir_file(&dir, "tiny.cfg"));
    snprintf(model, sizeof model, "%s", temp_dir_file(&dir, "tiny.safetensors"));
    bool ok = write_idx_pair(&dir, "train", 60, 1) && write_idx_pair(&dir, "t10k", 20, 2) &&
              write_text(spec, "input 1 4 4\nflatten\ndense 2\n") &&
              cli(&train,
                  "train --model '%s' --data '%s' --epochs 30 --lr 0.05 --quiet --json "
                  "--save '%s'",
                  spec, dir.path, model) &&
              cli(&evaluate, "evaluate --weights '%s' --data '%s' --json", model, dir.path) &&
              cli(&predict, "predict --weights '%s' --data '%s'", model, dir.path) &&
              cli(&labelled, "evaluate --weights '%s' --data '%s' --label 0", model, dir.path) &&
              cli(&empty, "evaluate --weights '%s' --data '%s'", model, nothing.path);
    temp_dir_remove(&dir);
    temp_dir_remove(&nothing);
    CHECK(ok);
    CHECK(succeeded(&train) && succeeded(&evaluate) && succeeded(&predict));
    /* 60 training images less a fifth for validation; t10k (20 images) for evaluate. */
    CHECK(json_value(last_line(train.out), "epochs") == 30);
    CHECK(json_value(last_line(train.out), "val_accuracy") >= 0.9);
    CHECK(json_value(last_line(evaluate.out), "samples") == 20);
    CHECK(json_value(last_line(evaluate.out), "accuracy") >= 0.9);
    CHECK(strncmp(predict.out, "prediction,probability_0,probability_1\n", 39) == 0);
    CHECK(count_lines(predict.out) == 21);
    CHECK(failure(&labelled, "--label applies to CSV files"));
    CHECK(failure(&empty, "t10k-images-idx3-ubyte"));
}

TEST(cli_train_resumed_from_a_checkpoint_saves_the_model_of_a_straight_run) {
    static cli_run straight, first, resumed, other_seed, stray_every;
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    char straight_model[512], first_model[512], resumed_model[512], checkpoint[512];
    snprintf(straight_model, sizeof straight_model, "%s", temp_dir_file(&dir, "straight.st"));
    snprintf(first_model, sizeof first_model, "%s", temp_dir_file(&dir, "first.st"));
    snprintf(resumed_model, sizeof resumed_model, "%s", temp_dir_file(&dir, "resumed.st"));
    snprintf(checkpoint, sizeof checkpoint, "%s", temp_dir_file(&dir, "run.ckpt"));
    const char *common = "train --model " IRIS_MLP " --data " IRIS " --quiet --threads 1";
    bool ok = cli(&straight, "%s --epochs 6 --save '%s'", common, straight_model) &&
              cli(&first, "%s --epochs 3 --checkpoint '%s' --checkpoint-every 2 --save '%s'",
                  common, checkpoint, first_model) &&
              cli(&resumed, "%s --epochs 6 --resume '%s' --checkpoint-every 2 --save '%s'", common,
                  checkpoint, resumed_model) &&
              cli(&other_seed, "%s --epochs 6 --resume '%s' --seed 2", common, checkpoint) &&
              cli(&stray_every, "%s --checkpoint-every 2", common);
    const bool same = ok && same_file_bytes(straight_model, resumed_model);
    const bool first_differs = ok && !same_file_bytes(straight_model, first_model);
    temp_dir_remove(&dir);
    CHECK(ok);
    CHECK(succeeded(&straight) && succeeded(&first) && succeeded(&resumed));
    CHECK(strstr(resumed.out, "trained 6 epochs") != NULL);
    CHECK(first_differs);
    CHECK(same);
    CHECK(failure(&other_seed, "another seed"));
    CHECK(usage_error(&stray_every, "--checkpoint-every needs --checkpoint FILE",
                      "cgrad train --model SPEC"));
}
