/* Training checkpoints: a run stopped and resumed from a checkpoint (at an epoch end, or inside an
 * epoch, with dropout, shuffling, Adam and a learning-rate schedule or a plateau reduction) ends
 * with the same bits in every weight as a run that went straight through; a checkpoint of another
 * model or optimizer, or a truncated one, is refused, naming the file and what differs, and
 * leaves the model alone; a process killed while it writes checkpoints leaves the last complete
 * one on disk. */
#define _POSIX_C_SOURCE 200809L /* fork, kill, nanosleep */

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/tensor.h"
#include "temp_dir.h"
#include "test.h"

enum { SAMPLES = 60, FEATURES = 4, CLASSES = 3, BATCH = 8, EPOCHS = 4 };

static const char SPEC[] = "input 4\ndense 16 relu\ndropout 0.3\ndense 3\n";
static const uint64_t SEED = 11;

/* Features and class labels drawn from a fixed seed (outside any fit). */
typedef struct {
    cg_tensor *x, *y;
} problem;

static problem make_problem(void) {
    cg_manual_seed(3);
    return (problem){cg_randn(CG_SHAPE(SAMPLES, FEATURES), CG_FLOAT32),
                     cg_randint(0, CLASSES, CG_SHAPE(SAMPLES), CG_INT64)};
}

static void free_problem(problem *p) {
    cg_release(p->x);
    cg_release(p->y);
}

/* The same initial weights every time. */
static cg_model *make_model(cg_optimizer *optimizer) {
    cg_manual_seed(5);
    cg_model *model = cg_model_from_spec(SPEC);
    if (model && cg_compile(model, optimizer, CG_LOSS_CROSS_ENTROPY, CG_METRIC_ACCURACY) != 0) {
        cg_model_free(model);
        return NULL;
    }
    if (!model) cg_optimizer_free(optimizer);
    return model;
}

static cg_callback *step_schedule(void) {
    return cg_lr_scheduler(
        (cg_lr_schedule){.kind = CG_SCHEDULE_STEP, .step_size = 1, .gamma = 0.7});
}

/* A callback that fails (as a crash would end the run) after batch fail_batch of fail_epoch. */
typedef struct {
    int fail_epoch, fail_batch;
} crash_point;

static int crash_on_batch_end(cg_train_state *state, void *userdata) {
    const crash_point *point = userdata;
    if (state->epoch == point->fail_epoch && state->batch == point->fail_batch) {
        cg_error_set("simulated crash");
        return -1;
    }
    return 0;
}

static cg_callback *crash_at(int epoch, int batch) {
    crash_point *point = malloc(sizeof *point);
    if (!point) return NULL;
    *point = (crash_point){epoch, batch};
    const cg_callback_hooks hooks = {.on_batch_end = crash_on_batch_end, .destroy = free};
    return cg_callback_new(&hooks, point);
}

static cg_history *train(cg_model *model, const problem *p, int epochs, const char *resume_from,
                         cg_callback_list callbacks) {
    const cg_fit_options options = {.epochs = epochs,
                                    .batch_size = BATCH,
                                    .seed = SEED,
                                    .verbose = CG_VERBOSE_SILENT,
                                    .callbacks = callbacks,
                                    .resume_from = resume_from};
    return cg_fit(model, p->x, p->y, &options);
}

/* Every parameter of a and b has the same bytes. */
static bool same_weights(const cg_model *a, const cg_model *b) {
    int count_a = 0, count_b = 0;
    cg_tensor *const *pa = cg_model_parameters(a, &count_a);
    cg_tensor *const *pb = cg_model_parameters(b, &count_b);
    if (count_a != count_b || count_a == 0) return false;
    for (int i = 0; i < count_a; i++) {
        const size_t bytes = (size_t)cg_numel(pa[i]) * cg_dtype_size(cg_tensor_dtype(pa[i]));
        if (cg_numel(pa[i]) != cg_numel(pb[i]) ||
            memcmp(cg_tensor_data(pa[i]), cg_tensor_data(pb[i]), bytes) != 0)
            return false;
    }
    return true;
}

/* The straight run: EPOCHS epochs with the schedule. */
static cg_model *straight_run(const problem *p, cg_history **history) {
    cg_model *model = make_model(cg_adam(0.01));
    *history = model ? train(model, p, EPOCHS, NULL, CG_CALLBACKS(step_schedule())) : NULL;
    return model;
}

TEST(resuming_at_an_epoch_end_gives_the_weights_of_a_straight_run) {
    temp_dir dir;
    CHECK(temp_dir_create(&dir));
    const char *path = temp_dir_file(&dir, "run.ckpt");
    problem p = make_problem();
    cg_history *straight_history = NULL;
    cg_model *straight = straight_run(&p, &straight_history);
    /* Two epochs, stopped; then a new process would build the same model and resume to four. */
    cg_model *first = make_model(cg_adam(0.01));
    cg_history *h1 =
        train(first, &p, 2, NULL, CG_CALLBACKS(step_schedule(), cg_training_checkpoint(path, 0)));
    cg_model *resumed = make_model(cg_adam(0.01));
    cg_history *h2 = train(resumed, &p, EPOCHS, path,
                           CG_CALLBACKS(step_schedule(), cg_training_checkpoint(path, 0)));
    /* Without the checkpoint's optimizer state and schedule, continuing at epoch 2 differs. */
    cg_model *naive = make_model(cg_adam(0.01));
    cg_history *h3 = naive ? train(naive, &p, 2, NULL, CG_CALLBACKS(step_schedule())) : NULL;
    const cg_fit_options continued = {.epochs = EPOCHS,
                                      .batch_size = BATCH,
                                      .seed = SEED,
                                      .initial_epoch = 2,
                                      .verbose = CG_VERBOSE_SILENT};
    cg_history *h4 = NULL;
    if (naive && cg_compile(naive, cg_adam(0.01), CG_LOSS_CROSS_ENTROPY, CG_METRIC_ACCURACY) == 0)
        h4 = cg_fit(naive, p.x, p.y, &continued);
    const bool ran = straight_history && h1 && h2 && h3 && h4;
    const bool identical = ran && same_weights(straight, resumed);
    const bool naive_differs = ran && !same_weights(straight, naive);
    const bool first_differs = ran && !same_weights(straight, first);
    /* The history goes on from the checkpoint's: every epoch's loss and rate, bit for bit. */
    bool same_history = ran && cg_history_epochs(h2) == EPOCHS;
    for (int e = 0; same_history && e < EPOCHS; e++)
        same_history =
            cg_history_series(h2, "loss")[e] == cg_history_series(straight_history, "loss")[e] &&
            cg_history_series(h2, "lr")[e] == cg_history_series(straight_history, "lr")[e];
    cg_history_free(straight_history);
    cg_history_free(h1);
    cg_history_free(h2);
    cg_history_free(h3);
    cg_history_free(h4);
    cg_model_free(straight);
    cg_model_free(first);
    cg_model_free(resumed);
    cg_model_free(naive);
    free_problem(&p);
    temp_dir_remove(&dir);
    CHECK(ran);
    CHECK(first_differs);
    CHECK(identical);
    CHECK(naive_differs);
    CHECK(same_history);
}

TEST(resuming_inside_an_epoch_gives_the_weights_of_a_straight_run) {
    temp_dir dir;
    CHECK(temp_dir_create(&dir));
    const char *path = temp_dir_file(&dir, "run.ckpt");
    problem p = make_problem();
    cg_history *straight_history = NULL;
    cg_model *straight = straight_run(&p, &straight_history);
    /* Checkpoints every 3 batches (8 per epoch); the run crashes after batch 5 of epoch 1, before
     * the checkpoint after batch 6 is written, so the file holds epoch 1 at batch 3. */
    cg_model *crashed = make_model(cg_adam(0.01));
    cg_history *h1 =
        crashed
            ? train(crashed, &p, EPOCHS, NULL,
                    CG_CALLBACKS(step_schedule(), crash_at(1, 5), cg_training_checkpoint(path, 3)))
            : NULL;
    const bool crash_reported = !h1 && strstr(cg_last_error(), "simulated crash") != NULL;
    cg_model *probe = make_model(cg_adam(0.01));
    cg_checkpoint_position position = {-1, -1};
    const int loaded = probe ? cg_checkpoint_load(probe, path, &position) : -1;
    cg_model *resumed = make_model(cg_adam(0.01));
    cg_history *h2 = resumed ? train(resumed, &p, EPOCHS, path,
                                     CG_CALLBACKS(step_schedule(), crash_at(-1, -1),
                                                  cg_training_checkpoint(path, 3)))
                             : NULL;
    const bool identical = straight_history && h2 && same_weights(straight, resumed);
    bool same_history = h2 && straight_history && cg_history_epochs(h2) == EPOCHS;
    for (int e = 0; same_history && e < EPOCHS; e++)
        same_history =
            cg_history_series(h2, "loss")[e] == cg_history_series(straight_history, "loss")[e] &&
            cg_history_series(h2, "accuracy")[e] ==
                cg_history_series(straight_history, "accuracy")[e];
    cg_history_free(straight_history);
    cg_history_free(h1);
    cg_history_free(h2);
    cg_model_free(straight);
    cg_model_free(crashed);
    cg_model_free(probe);
    cg_model_free(resumed);
    free_problem(&p);
    temp_dir_remove(&dir);
    CHECK(crash_reported);
    CHECK(loaded == 0);
    CHECK(position.epoch == 1 && position.batch == 3);
    CHECK(identical);
    CHECK(same_history);
}

/* Every parameter of a (on any device) within 1e-5 of b's. */
static bool close_weights(const cg_model *a, const cg_model *b) {
    int count_a = 0, count_b = 0;
    cg_tensor *const *pa = cg_model_parameters(a, &count_a);
    cg_tensor *const *pb = cg_model_parameters(b, &count_b);
    bool close = count_a == count_b && count_a > 0;
    for (int i = 0; close && i < count_a; i++) {
        cg_tensor *on_cpu_a = cg_to_device(pa[i], cg_device_cpu());
        cg_tensor *on_cpu_b = cg_to_device(pb[i], cg_device_cpu());
        close = on_cpu_a && on_cpu_b &&
                test_tensor_close(on_cpu_a, on_cpu_b, 1e-5, 1e-5, __FILE__, __LINE__);
        cg_release(on_cpu_a);
        cg_release(on_cpu_b);
    }
    return close;
}

/* On a GPU the checkpoint holds the moments and running sums that live there, and a resume puts
 * them back there; the GPU's reductions need not be bitwise reproducible, so the weights are
 * compared within a tolerance. */
TEST(resuming_inside_an_epoch_on_a_gpu_continues_the_run) {
    if (!cg_cuda_is_available()) SKIP("no CUDA device");
    temp_dir dir;
    CHECK(temp_dir_create(&dir));
    const char *path = temp_dir_file(&dir, "gpu.ckpt");
    problem p = make_problem();
    cg_model *straight = make_model(cg_adam(0.01)), *crashed = make_model(cg_adam(0.01)),
             *resumed = make_model(cg_adam(0.01));
    const bool moved = straight && crashed && resumed &&
                       cg_model_to_device(straight, cg_device_cuda(0)) == 0 &&
                       cg_model_to_device(crashed, cg_device_cuda(0)) == 0 &&
                       cg_model_to_device(resumed, cg_device_cuda(0)) == 0;
    cg_history *h0 =
        moved ? train(straight, &p, EPOCHS, NULL, CG_CALLBACKS(step_schedule())) : NULL;
    cg_history *h1 =
        moved
            ? train(crashed, &p, EPOCHS, NULL,
                    CG_CALLBACKS(step_schedule(), crash_at(1, 5), cg_training_checkpoint(path, 3)))
            : NULL;
    cg_history *h2 = moved ? train(resumed, &p, EPOCHS, path,
                                   CG_CALLBACKS(step_schedule(), crash_at(-1, -1),
                                                cg_training_checkpoint(path, 3)))
                           : NULL;
    const bool close = h0 && !h1 && h2 && close_weights(straight, resumed);
    cg_history_free(h0);
    cg_history_free(h1);
    cg_history_free(h2);
    cg_model_free(straight);
    cg_model_free(crashed);
    cg_model_free(resumed);
    free_problem(&p);
    temp_dir_remove(&dir);
    CHECK(moved);
    CHECK(close);
}

/* Reduce-on-plateau keeps its best value and patience counter in the checkpoint: without them the
 * resumed run would reduce the rate at other epochs. */
TEST(a_resumed_plateau_reduction_reduces_at_the_epochs_of_a_straight_run) {
    enum { PLATEAU_EPOCHS = 8 };
    temp_dir dir;
    CHECK(temp_dir_create(&dir));
    const char *path = temp_dir_file(&dir, "plateau.ckpt");
    problem p = make_problem();
    cg_model *straight = make_model(cg_sgd(0.5, 0.9, false));
    cg_history *h0 = straight ? train(straight, &p, PLATEAU_EPOCHS, NULL,
                                      CG_CALLBACKS(cg_reduce_lr_on_plateau("loss", 0.5, 2, 0)))
                              : NULL;
    cg_model *first = make_model(cg_sgd(0.5, 0.9, false));
    /* Stopped after epoch 1, which did not improve on epoch 0: the resumed run must count it. */
    cg_history *h1 = first ? train(first, &p, 2, NULL,
                                   CG_CALLBACKS(cg_reduce_lr_on_plateau("loss", 0.5, 2, 0),
                                                cg_training_checkpoint(path, 0)))
                           : NULL;
    cg_model *resumed = make_model(cg_sgd(0.5, 0.9, false));
    cg_history *h2 = resumed ? train(resumed, &p, PLATEAU_EPOCHS, path,
                                     CG_CALLBACKS(cg_reduce_lr_on_plateau("loss", 0.5, 2, 0),
                                                  cg_training_checkpoint(path, 0)))
                             : NULL;
    bool same_rates = h0 && h2 && cg_history_epochs(h2) == PLATEAU_EPOCHS;
    int reductions = 0;
    for (int e = 0; same_rates && e < PLATEAU_EPOCHS; e++) {
        same_rates = cg_history_series(h0, "lr")[e] == cg_history_series(h2, "lr")[e];
        reductions += e > 0 && cg_history_series(h0, "lr")[e] < cg_history_series(h0, "lr")[e - 1];
    }
    const bool identical = same_rates && same_weights(straight, resumed);
    cg_history_free(h0);
    cg_history_free(h1);
    cg_history_free(h2);
    cg_model_free(straight);
    cg_model_free(first);
    cg_model_free(resumed);
    free_problem(&p);
    temp_dir_remove(&dir);
    printf("    %d reductions in %d epochs\n", reductions, PLATEAU_EPOCHS);
    CHECK(same_rates);
    CHECK(reductions > 0);
    CHECK(identical);
}

/* Early stopping that nothing satisfies (min_delta larger than any gain) stops patience epochs
 * after the first. */
static cg_callback *impatient_stopping(void) {
    return cg_early_stopping(
        &(cg_early_stopping_options){.monitor = "loss", .min_delta = 10.0, .patience = 3});
}

/* Early stopping keeps its best value and patience count in the checkpoint, so a resumed run stops
 * at the epoch of a straight run; the CSV log of the resumed run holds every epoch, as the straight
 * run's does. */
TEST(a_resumed_run_stops_early_and_logs_like_a_straight_run) {
    enum { MAX_EPOCHS = 10 };
    temp_dir dir;
    CHECK(temp_dir_create(&dir));
    const char *path = temp_dir_file(&dir, "stopping.ckpt");
    char straight_log[1024], resumed_log[1024];
    snprintf(straight_log, sizeof straight_log, "%s", temp_dir_file(&dir, "straight.csv"));
    snprintf(resumed_log, sizeof resumed_log, "%s", temp_dir_file(&dir, "resumed.csv"));
    problem p = make_problem();
    cg_model *straight = make_model(cg_adam(0.01));
    cg_history *h0 = straight
                         ? train(straight, &p, MAX_EPOCHS, NULL,
                                 CG_CALLBACKS(impatient_stopping(), cg_csv_logger(straight_log)))
                         : NULL;
    cg_model *first = make_model(cg_adam(0.01));
    cg_history *h1 = first ? train(first, &p, 2, NULL,
                                   CG_CALLBACKS(impatient_stopping(), cg_csv_logger(resumed_log),
                                                cg_training_checkpoint(path, 0)))
                           : NULL;
    cg_model *resumed = make_model(cg_adam(0.01));
    cg_history *h2 = resumed ? train(resumed, &p, MAX_EPOCHS, path,
                                     CG_CALLBACKS(impatient_stopping(), cg_csv_logger(resumed_log),
                                                  cg_training_checkpoint(path, 0)))
                             : NULL;
    const int straight_epochs = h0 ? cg_history_epochs(h0) : -1;
    const int resumed_epochs = h2 ? cg_history_epochs(h2) : -2;
    const bool identical = h0 && h2 && same_weights(straight, resumed);
    const bool same_log = same_file_bytes(straight_log, resumed_log);
    cg_history_free(h0);
    cg_history_free(h1);
    cg_history_free(h2);
    cg_model_free(straight);
    cg_model_free(first);
    cg_model_free(resumed);
    free_problem(&p);
    temp_dir_remove(&dir);
    CHECK(straight_epochs == 4);
    CHECK(resumed_epochs == straight_epochs);
    CHECK(identical);
    CHECK(same_log);
}

/* Weights of every parameter, to see that a refused checkpoint changed none. */
static bool weights_unchanged_by(cg_model *model, const char *path, const char *text) {
    cg_model *copy = make_model(cg_sgd(0.1, 0, false));
    int count = 0;
    cg_tensor *const *params = cg_model_parameters(model, &count);
    cg_tensor *const *copies = copy ? cg_model_parameters(copy, &count) : NULL;
    for (int i = 0; copies && i < count; i++)
        cg_copy_(copies[i], params[i]);
    const cg_fit_options options = {.epochs = EPOCHS,
                                    .batch_size = BATCH,
                                    .seed = SEED,
                                    .verbose = CG_VERBOSE_SILENT,
                                    .resume_from = path};
    problem p = make_problem();
    cg_clear_error();
    cg_history *history = cg_fit(model, p.x, p.y, &options);
    const bool refused = !history && strstr(cg_last_error(), text) && strstr(cg_last_error(), path);
    if (!refused)
        test_fail(__FILE__, __LINE__, "expected an error with '%s', got '%s'", text,
                  cg_last_error());
    const bool unchanged = copy && same_weights(model, copy);
    cg_history_free(history);
    free_problem(&p);
    cg_model_free(copy);
    return refused && unchanged;
}

TEST(a_checkpoint_of_another_model_or_optimizer_is_refused_and_changes_nothing) {
    temp_dir dir;
    CHECK(temp_dir_create(&dir));
    const char *path = temp_dir_file(&dir, "adam.ckpt");
    problem p = make_problem();
    cg_model *writer = make_model(cg_adam(0.01));
    cg_history *history =
        writer ? train(writer, &p, 1, NULL, CG_CALLBACKS(cg_training_checkpoint(path, 0))) : NULL;
    cg_history_free(history);
    cg_model_free(writer);
    free_problem(&p);
    CHECK(history);
    cg_manual_seed(5);
    cg_model *wider = cg_model_from_spec("input 4\ndense 17 relu\ndropout 0.3\ndense 3\n");
    CHECK(wider && cg_compile(wider, cg_adam(0.01), CG_LOSS_CROSS_ENTROPY, 0) == 0);
    /* make_model's architecture, so the copy in weights_unchanged_by fits only the first. */
    cg_model *with_sgd = make_model(cg_sgd(0.01, 0.9, false));
    cg_model *other_beta = make_model(cg_optimizer_new(
        CG_OPTIMIZER_ADAM,
        &(cg_optimizer_options){
            .learning_rate = 0.01, .beta1 = 0.8, .beta2 = 0.999, .epsilon = 1e-8}));
    CHECK(with_sgd && other_beta);
    CHECK(weights_unchanged_by(with_sgd, path, "optimizer is adam, the model's is sgd"));
    CHECK(weights_unchanged_by(other_beta, path, "beta1 0.90000000000000002"));
    /* The model file view: cg_model_load reads the weights of a checkpoint. */
    cg_model *loaded = cg_model_load(path);
    CHECK(loaded && cg_model_parameter_total(loaded) == cg_model_parameter_total(with_sgd));
    cg_model_free(loaded);
    cg_model_free(with_sgd);
    cg_model_free(other_beta);
    /* A different architecture is named as such (the copy cannot be made for it: check alone). */
    problem q = make_problem();
    const cg_fit_options options = {.epochs = 2,
                                    .batch_size = BATCH,
                                    .seed = SEED,
                                    .verbose = CG_VERBOSE_SILENT,
                                    .resume_from = path};
    CHECK_ERROR(cg_fit(wider, q.x, q.y, &options), "another architecture");
    /* So are another seed and another batch size. */
    cg_model *same = make_model(cg_adam(0.01));
    cg_fit_options other_seed = options;
    other_seed.seed = SEED + 1;
    CHECK_ERROR(cg_fit(same, q.x, q.y, &other_seed), "another seed");
    free_problem(&q);
    cg_model_free(same);
    cg_model_free(wider);
    CHECK_ERROR(cg_checkpoint_load(NULL, path, NULL), "needs a path");
    temp_dir_remove(&dir);
}

TEST(every_truncation_of_a_checkpoint_is_refused_naming_the_file) {
    temp_dir dir;
    CHECK(temp_dir_create(&dir));
    char whole[512], cut[512];
    snprintf(whole, sizeof whole, "%s", temp_dir_file(&dir, "whole.ckpt"));
    snprintf(cut, sizeof cut, "%s", temp_dir_file(&dir, "cut.ckpt"));
    problem p = make_problem();
    cg_model *model = make_model(cg_adam(0.01));
    cg_history *history =
        model ? train(model, &p, 1, NULL, CG_CALLBACKS(cg_training_checkpoint(whole, 0))) : NULL;
    size_t size = 0;
    unsigned char *bytes = history ? read_file(whole, &size) : NULL;
    int refused = 0;
    for (size_t length = 0; bytes && length < size; length++) {
        if (!write_file(cut, bytes, length)) break;
        cg_clear_error();
        if (cg_checkpoint_load(model, cut, NULL) != 0 && strstr(cg_last_error(), cut)) refused++;
    }
    cg_checkpoint_position position = {-1, -1};
    const int loaded = bytes ? cg_checkpoint_load(model, whole, &position) : -1;
    free(bytes);
    cg_history_free(history);
    cg_model_free(model);
    free_problem(&p);
    temp_dir_remove(&dir);
    CHECK(size > 0 && refused == (int)size);
    CHECK(loaded == 0 && position.epoch == 1 && position.batch == 0);
}

/* ----- killed while writing ----- */

enum { KILL_ROUNDS = 6, KILL_UNITS = 64 };

/* The child: checkpoint after checkpoint of a model whose every weight is the step number. */
static void write_checkpoints_forever(const char *path) {
    cg_model *model = cg_model_from_spec("input 64\ndense 64\ndense 64\n");
    if (!model || cg_compile(model, cg_sgd(0.1, 0, false), CG_LOSS_MSE, 0) != 0) _exit(2);
    int count = 0;
    cg_tensor *const *params = cg_model_parameters(model, &count);
    for (int step = 0;; step++) {
        for (int i = 0; i < count; i++)
            cg_fill_(params[i], step);
        const cg_train_state state = {.model = model, .epoch = step};
        if (cg_checkpoint_save(&state, path) != 0) _exit(3);
    }
}

/* The file is a whole checkpoint of one step: every weight equals its epoch. */
static bool complete_checkpoint(const char *path, int *step) {
    cg_model *model = cg_model_from_spec("input 64\ndense 64\ndense 64\n");
    if (!model || cg_compile(model, cg_sgd(0.1, 0, false), CG_LOSS_MSE, 0) != 0) return false;
    cg_checkpoint_position position;
    bool whole = cg_checkpoint_load(model, path, &position) == 0;
    int count = 0;
    cg_tensor *const *params = cg_model_parameters(model, &count);
    for (int i = 0; whole && i < count; i++) {
        const float *values = cg_tensor_data(params[i]);
        for (int64_t k = 0; whole && k < cg_numel(params[i]); k++)
            whole = values[k] == (float)position.epoch;
    }
    *step = position.epoch;
    cg_model_free(model);
    return whole;
}

TEST(a_process_killed_while_writing_checkpoints_leaves_the_last_complete_one) {
    temp_dir dir;
    CHECK(temp_dir_create(&dir));
    const char *path = temp_dir_file(&dir, "killed.ckpt");
    char kept[512];
    snprintf(kept, sizeof kept, "%s", path);
    int last_step = -1;
    for (int round = 0; round < KILL_ROUNDS; round++) {
        fflush(NULL);
        const pid_t child = fork();
        CHECK(child >= 0);
        if (child == 0) write_checkpoints_forever(kept);
        /* Wait for a first checkpoint, then kill at a different moment each round. */
        for (int wait = 0; wait < 2000 && access(kept, F_OK) != 0; wait++)
            nanosleep(&(struct timespec){0, 1000000}, NULL);
        nanosleep(&(struct timespec){0, 3000000L + 7000000L * round}, NULL);
        kill(child, SIGKILL);
        int status = 0;
        waitpid(child, &status, 0);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        int step = -1;
        if (!complete_checkpoint(kept, &step))
            test_fail(__FILE__, __LINE__, "round %d: not a complete checkpoint: %s", round,
                      cg_last_error());
        CHECK(step >= 0);
        last_step = step;
    }
    printf("    last round killed after checkpoint %d\n", last_step);
    temp_dir_remove(&dir);
}
