/* The distributed module: the world of one that every build has, the bucketing of the
 * collectives, the shards of an epoch, and, where MPI is built and mpirun is there, runs of
 * tests/mpi/distributed_worker and of the tool on two ranks. */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_runner.h"
#include "core/tensor.h"
#include "distributed/buckets.h"
#include "distributed/world.h"
#include "io/loader.h"
#include "temp_dir.h"
#include "test.h"

/* ----- the world of one ----- */

TEST(distributed_world_of_one_leaves_tensors_as_they_are) {
    CHECK(cg_distributed_rank() == 0 && cg_distributed_world_size() == 1);
    CHECK(cg_distributed_local_rank() == 0);
    CHECK(cg_distributed_barrier() == 0);
    cg_scope_begin();
    const float values[] = {1.5f, -2.0f, 3.25f};
    cg_tensor *t = cg_from_array(values, CG_SHAPE(3), CG_FLOAT32);
    cg_tensor *empty = cg_zeros(CG_SHAPE(0), CG_FLOAT64);
    cg_tensor *list[] = {t, empty};
    CHECK(cg_distributed_all_reduce(list, 2, CG_ALL_REDUCE_SUM) == 0);
    CHECK(cg_distributed_all_reduce(list, 2, CG_ALL_REDUCE_MEAN) == 0);
    CHECK(cg_distributed_broadcast(list, 2, 0) == 0);
    CHECK(cg_distributed_all_reduce(NULL, 0, CG_ALL_REDUCE_SUM) == 0);
    float after[3];
    CHECK(cg_copy_to_array(t, after, sizeof after) == 0);
    for (int i = 0; i < 3; i++)
        CHECK_NEAR(after[i], values[i], 0);
    CHECK_ERROR(cg_distributed_broadcast(list, 2, 1), "root 1 is not a rank of the world of 1");
    cg_tensor *labels = cg_zeros(CG_SHAPE(2), CG_INT64);
    CHECK_ERROR(cg_distributed_all_reduce(&labels, 1, CG_ALL_REDUCE_MEAN), "tensor 0 is int64");
    cg_tensor *transposed = cg_transpose(cg_zeros(CG_SHAPE(2, 3), CG_FLOAT32), 0, 1);
    cg_tensor *mixed[] = {t, transposed};
    CHECK_ERROR(cg_distributed_all_reduce(mixed, 2, CG_ALL_REDUCE_SUM), "tensor 1 of the list is "
                                                                        "not contiguous");
    CHECK_ERROR(cg_distributed_all_reduce(NULL, 1, CG_ALL_REDUCE_SUM), "list is NULL");
    CHECK_ERROR(cg_distributed_all_reduce(list, 2, (cg_all_reduce_op)7), "unknown reduction 7");
    cg_distributed_abort(3); /* returns in a world of one */
    cg_scope_end();
}

TEST(distributed_launch_size_comes_from_the_launcher) {
    const char *saved = getenv("OMPI_COMM_WORLD_SIZE");
    if (saved || getenv("PMI_SIZE") || getenv("PMIX_SIZE"))
        SKIP("the test runner itself was started by an MPI launcher");
    CHECK(cg_distributed_launch_size() == 1);
    setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
    CHECK(cg_distributed_launch_size() == 4);
    const bool without_mpi = !cg_distributed_available();
    /* A build without MPI cannot join the job it was launched in, and says so. */
    if (without_mpi) CHECK_ERROR(cg_distributed_init(NULL, NULL), "built without MPI");
    setenv("OMPI_COMM_WORLD_SIZE", "1", 1);
    if (without_mpi) CHECK(cg_distributed_init(NULL, NULL) == 0 && cg_distributed_finalize() == 0);
    unsetenv("OMPI_COMM_WORLD_SIZE");
    CHECK(cg_distributed_world_size() == 1);
}

/* ----- buckets ----- */

/* What the exchange below saw: for each dtype, how many elements so far and in how many
 * buckets. */
typedef struct {
    int64_t elements[CG_DTYPE_COUNT];
    int buckets[CG_DTYPE_COUNT];
    size_t largest_bytes;
} bucket_log;

/* Adds to each element its position in its dtype's stream of elements, so that an element
 * written back to another place, or twice, or not at all, shows. */
static int number_elements(void *buffer, int64_t count, cg_dtype dtype, void *userdata) {
    bucket_log *log = userdata;
    for (int64_t k = 0; k < count; k++) {
        const int64_t position = log->elements[dtype] + k;
        switch (dtype) {
        case CG_FLOAT32: ((float *)buffer)[k] += (float)position; break;
        case CG_FLOAT64: ((double *)buffer)[k] += (double)position; break;
        case CG_INT32: ((int32_t *)buffer)[k] += (int32_t)position; break;
        case CG_INT64: ((int64_t *)buffer)[k] += position; break;
        default: ((uint8_t *)buffer)[k] = (uint8_t)(((uint8_t *)buffer)[k] + position); break;
        }
    }
    log->elements[dtype] += count;
    log->buckets[dtype]++;
    const size_t bytes = (size_t)count * cg_dtype_size(dtype);
    if (bytes > log->largest_bytes) log->largest_bytes = bytes;
    return 0;
}

/* Odd sizes, empty tensors and many small tensors of every dtype, through buckets of a few
 * sizes: each element must come back as itself plus its position in its dtype's stream. */
TEST(distributed_buckets_pack_and_unpack_exactly) {
    enum { COUNT = 203 };
    static const size_t bucket_sizes[] = {1, 12, 100, 4096, CG_BUCKET_BYTES};
    for (size_t b = 0; b < sizeof bucket_sizes / sizeof bucket_sizes[0]; b++) {
        cg_scope_begin();
        cg_tensor *tensors[COUNT];
        int64_t total[CG_DTYPE_COUNT] = {0};
        for (int i = 0; i < COUNT; i++) {
            const int64_t numel = i % 9 == 0 ? 0 : i % 13 == 0 ? 1001 - i % 2 : i % 6;
            const cg_dtype dtype = (cg_dtype)(i % CG_DTYPE_COUNT);
            tensors[i] = cg_full(CG_SHAPE(numel), (double)(i % 17), dtype);
            total[dtype] += numel;
        }
        bucket_log log = {{0}, {0}, 0};
        CHECK(cg_buckets_run(tensors, NULL, COUNT, bucket_sizes[b], NULL, number_elements, &log) ==
              0);
        int64_t position[CG_DTYPE_COUNT] = {0};
        for (int i = 0; i < COUNT; i++) {
            const cg_dtype dtype = (cg_dtype)(i % CG_DTYPE_COUNT);
            const int64_t numel = cg_numel(tensors[i]);
            double values[1024];
            CHECK(numel <= 1024);
            CHECK(cg_copy_to_array(cg_to_dtype(tensors[i], CG_FLOAT64), values,
                                   sizeof(double) * (size_t)numel) == 0);
            for (int64_t j = 0; j < numel; j++) {
                double expected = (double)(i % 17) + (double)(position[dtype] + j);
                if (dtype == CG_UINT8) expected = (double)((i % 17 + position[dtype] + j) % 256);
                if (dtype == CG_FLOAT32) expected = (double)(float)expected;
                CHECK_NEAR(values[j], expected, 0);
            }
            position[dtype] += numel;
        }
        for (int dtype = 0; dtype < CG_DTYPE_COUNT; dtype++) {
            const int64_t per_bucket =
                bucket_sizes[b] >= cg_dtype_size((cg_dtype)dtype)
                    ? (int64_t)(bucket_sizes[b] / cg_dtype_size((cg_dtype)dtype))
                    : 1;
            CHECK(log.elements[dtype] == total[dtype]);
            CHECK(log.buckets[dtype] == (total[dtype] + per_bucket - 1) / per_bucket);
        }
        CHECK(log.largest_bytes <= (bucket_sizes[b] > 8 ? bucket_sizes[b] : 8));
        cg_scope_end();
    }
}

/* Weights multiply each float tensor's elements as they are packed, before the exchange (which
 * adds the element's position here); a weight of 1 leaves integer tensors as they are. */
TEST(distributed_buckets_weigh_tensors_as_they_pack) {
    cg_scope_begin();
    cg_tensor *tensors[] = {
        cg_full(CG_SHAPE(5), 3.0, CG_FLOAT32), cg_full(CG_SHAPE(0), 1.0, CG_FLOAT64),
        cg_full(CG_SHAPE(3), 0.5, CG_FLOAT64), cg_full(CG_SHAPE(2), 7.0, CG_INT32)};
    const double weights[] = {0.25, 9.0, -2.0, 1.0};
    bucket_log log = {{0}, {0}, 0};
    CHECK(cg_buckets_run(tensors, weights, 4, 16, NULL, number_elements, &log) == 0);
    const double expected[][5] = {
        {0.75, 1.75, 2.75, 3.75, 4.75}, {0}, {-1.0, 0.0, 1.0}, {7.0, 8.0}};
    for (int i = 0; i < 4; i++) {
        double values[5];
        const int64_t numel = cg_numel(tensors[i]);
        CHECK(cg_copy_to_array(cg_to_dtype(tensors[i], CG_FLOAT64), values,
                               sizeof(double) * (size_t)numel) == 0);
        for (int64_t j = 0; j < numel; j++)
            CHECK_NEAR(values[j], expected[i][j], 0);
    }
    /* In a world of one the weighted sum is each tensor times its weight. */
    CHECK(cg_distributed_all_reduce_weighted(tensors, weights, 4) == 0);
    CHECK_NEAR(cg_get(tensors[0], (int64_t[]){4}), 4.75 * 0.25, 0);
    CHECK_NEAR(cg_get(tensors[2], (int64_t[]){0}), 2.0, 0);
    CHECK_NEAR(cg_get(tensors[3], (int64_t[]){1}), 8.0, 0);
    const double integer_weight[] = {1, 1, 1, 0.5};
    CHECK_ERROR(cg_distributed_all_reduce_weighted(tensors, integer_weight, 4),
                "a weight other than 1 needs float tensors, but tensor 3 is int32");
    cg_scope_end();
}

/* ----- shards ----- */

/* Two ranks with batches of 8 take, between them, the batches of 16 of one rank in the same
 * order; the last global batch of 100 samples (4) is all rank 0's. */
TEST(distributed_shards_split_each_global_batch) {
    const int64_t samples = 100;
    CHECK(cg_shard_batch_count(samples, 8, 0, 2) == 7);
    CHECK(cg_shard_batch_count(samples, 8, 1, 2) == 6);
    CHECK(cg_shard_batch_count(samples, 16, 0, 1) == 7);
    CHECK(cg_shard_batch_count(3, 8, 1, 2) == 0);
    for (int64_t batch = 0; batch < 7; batch++) {
        int64_t whole_start, start0, start1;
        const int64_t whole = cg_shard_batch(samples, 16, 0, 1, batch, &whole_start);
        const int64_t count0 = cg_shard_batch(samples, 8, 0, 2, batch, &start0);
        const int64_t count1 = cg_shard_batch(samples, 8, 1, 2, batch, &start1);
        CHECK(whole_start == 16 * batch && start0 == whole_start);
        CHECK(count0 + count1 == whole);
        if (count1 > 0) CHECK(start1 == start0 + count0);
    }
    int64_t start;
    CHECK(cg_shard_batch(samples, 8, 1, 2, 6, &start) == 0);
    CHECK(cg_shard_batch(samples, 8, 0, 2, 6, &start) == 4 && start == 96);
}

/* ----- two ranks under mpirun ----- */

#ifdef CG_MPIEXEC
/* mpirun with two ranks on this machine, as root too (as in CI containers), leaks not checked
 * in the ranks (MPI itself keeps memory until exit). */
static const char MPIRUN[] = "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
                             "ASAN_OPTIONS=detect_leaks=0 '" CG_MPIEXEC "' --oversubscribe -np";
#endif

/* The path of tests/mpi/distributed_worker and of mpirun, or a reason to skip. */
static const char *mpi_skip_reason(void) {
#ifdef CG_MPIEXEC
    if (access(CG_MPIEXEC, X_OK) != 0) return "mpirun (" CG_MPIEXEC ") is not installed";
    if (access(CG_BINARY_DIR "/distributed_worker", X_OK) != 0)
        return "tests/mpi/distributed_worker was not built";
    return NULL;
#else
    return "this build has no MPI (install libopenmpi-dev and openmpi-bin)";
#endif
}

#ifdef CG_MPIEXEC
typedef struct {
    int status; /* exit status, -1 when killed by a signal */
    char output[1 << 14];
    double seconds;
} command_run;

/* Runs a shell command with its standard error joined to its standard output. */
static bool run_command(const char *command, command_run *run) {
    char joined[4096];
    snprintf(joined, sizeof joined, "%s 2>&1", command);
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    FILE *pipe = popen(joined, "r");
    if (!pipe) return false;
    const size_t got = fread(run->output, 1, sizeof run->output - 1, pipe);
    run->output[got] = '\0';
    /* Reads what is left so that the command does not block on a full pipe. */
    char rest[4096];
    while (fread(rest, 1, sizeof rest, pipe) > 0) {
    }
    const int status = pclose(pipe);
    clock_gettime(CLOCK_MONOTONIC, &end);
    run->seconds =
        (double)(end.tv_sec - start.tv_sec) + 1e-9 * (double)(end.tv_nsec - start.tv_nsec);
    run->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return true;
}

/* Runs the worker on ranks ranks (0: as a plain process, a world of one) with arguments. */
static bool run_worker(int ranks, const char *arguments, command_run *run) {
    char command[2048];
    if (ranks > 0)
        snprintf(command, sizeof command, "timeout 120 %s %d '%s/distributed_worker' %s", MPIRUN,
                 ranks, CG_BINARY_DIR, arguments);
    else
        snprintf(command, sizeof command, "'%s/distributed_worker' %s", CG_BINARY_DIR, arguments);
    return run_command(command, run);
}

/* The values of lines "NAME INDEX VALUE" of a worker's result file, in order. */
static int read_values(const char *path, double *values, int capacity) {
    FILE *in = fopen(path, "r");
    if (!in) return -1;
    int count = 0;
    char name[32];
    int index;
    double value;
    while (count < capacity && fscanf(in, "%31s %d %lf", name, &index, &value) == 3)
        values[count++] = value;
    fclose(in);
    return count;
}
#endif

/* Runs the worker on ranks ranks with arguments and checks that it succeeds and prints expected. */
static void check_worker_says(int ranks, const char *arguments, const char *expected) {
    const char *skip = mpi_skip_reason();
    if (skip) SKIP(skip);
#ifdef CG_MPIEXEC
    static command_run run;
    CHECK(run_worker(ranks, arguments, &run));
    if (run.status != 0) test_fail(__FILE__, __LINE__, "the worker said:\n%s", run.output);
    CHECK(run.status == 0);
    CHECK(strstr(run.output, expected));
#else
    (void)ranks, (void)arguments, (void)expected;
#endif
}

TEST(distributed_all_reduce_is_exact_on_two_ranks) {
    check_worker_says(2, "collectives", "collectives exact on 2 ranks");
}

/* Three ranks sum through shared memory in shares that do not split evenly. */
TEST(distributed_all_reduce_is_exact_on_three_ranks) {
    check_worker_says(3, "collectives", "collectives exact on 3 ranks");
}

/* The required equivalence: 2 ranks x batch 8 = 1 rank x batch 16 over the same sample order,
 * with 100 samples so that the last global batch (4 samples) leaves rank 1 without any. */
TEST(distributed_fit_on_two_ranks_matches_one_rank_with_twice_the_batch) {
    const char *skip = mpi_skip_reason();
    if (skip) SKIP(skip);
#ifdef CG_MPIEXEC
    temp_dir dir;
    CHECK(temp_dir_create(&dir));
    char arguments[512];
    static command_run run;
    snprintf(arguments, sizeof arguments, "train '%s' 8", temp_dir_file(&dir, "two.txt"));
    CHECK(run_worker(2, arguments, &run));
    if (run.status != 0) test_fail(__FILE__, __LINE__, "the worker said:\n%s", run.output);
    snprintf(arguments, sizeof arguments, "train '%s' 16", temp_dir_file(&dir, "one.txt"));
    CHECK(run_worker(0, arguments, &run));
    if (run.status != 0) test_fail(__FILE__, __LINE__, "the worker said:\n%s", run.output);
    enum { CAPACITY = 1024 };
    static double two[CAPACITY], one[CAPACITY];
    const int count = read_values(temp_dir_file(&dir, "two.txt"), two, CAPACITY);
    CHECK(count > 16 && read_values(temp_dir_file(&dir, "one.txt"), one, CAPACITY) == count);
    temp_dir_remove(&dir);
    /* The first 16 values are the 4 epochs' loss, accuracy, val_loss and val_accuracy. */
    CHECK(one[3] < 0.8 * one[0]);
    double difference = 0, norm = 0;
    for (int i = 0; i < count; i++) {
        if (i < 16) CHECK_NEAR(two[i], one[i], 1e-5 * (1 + fabs(one[i])));
        difference += (two[i] - one[i]) * (two[i] - one[i]);
        norm += one[i] * one[i];
    }
    CHECK(sqrt(difference) <= 1e-5 * sqrt(norm));
#endif
}

/* Runs the worker's overlap mode on ranks ranks with CGRAD_GRADIENT_OVERLAP=overlap, writing to
 * path; false, with the output shown, when it fails. */
#ifdef CG_MPIEXEC
static bool run_overlap(int ranks, const char *overlap, const char *path, command_run *run) {
    char arguments[512];
    snprintf(arguments, sizeof arguments, "overlap '%s'", path);
    setenv("CGRAD_GRADIENT_OVERLAP", overlap, 1);
    const bool ran = run_worker(ranks, arguments, run);
    unsetenv("CGRAD_GRADIENT_OVERLAP");
    if (ran && run->status == 0) return true;
    test_fail(__FILE__, __LINE__, "the worker said:\n%s", ran ? run->output : "(did not start)");
    return false;
}
#endif

/* The all-reduce overlapped with the backward pass on ranks ranks: the worker's model has three
 * buckets, the first two of which start before the pass returns (the model's last layers finish
 * their gradients first; the worker says how many), the bucket of a parameter that gets no
 * gradient still completes (with zeros, so the parameter keeps its value: the worker checks),
 * and the weights are byte for byte those of the all-reduce after the pass. */
static void check_overlap(int ranks, const char *expected) {
    const char *skip = mpi_skip_reason();
    if (skip) SKIP(skip);
#ifdef CG_MPIEXEC
    temp_dir dir;
    CHECK(temp_dir_create(&dir));
    char overlapped[256], after[256];
    snprintf(overlapped, sizeof overlapped, "%s", temp_dir_file(&dir, "overlapped.txt"));
    snprintf(after, sizeof after, "%s", temp_dir_file(&dir, "after.txt"));
    static command_run run;
    CHECK(run_overlap(ranks, "1", overlapped, &run));
    CHECK(strstr(run.output, expected));
    CHECK(run_overlap(ranks, "0", after, &run));
    CHECK(strstr(run.output, "0 of 0 buckets started during backward"));
    CHECK(same_file_bytes(overlapped, after));
    temp_dir_remove(&dir);
#else
    (void)ranks, (void)expected;
#endif
}

/* 100 samples in global batches of 32: 4 steps an epoch, 2 epochs. */
TEST(distributed_fit_overlaps_the_all_reduce_with_backward_on_two_ranks) {
    check_overlap(2, "overlapped 8 of 8 steps, 16 of 24 buckets started during backward");
}

/* Global batches of 48: 3 steps an epoch, the last of which leaves ranks 1 and 2 no samples. */
TEST(distributed_fit_overlaps_the_all_reduce_with_backward_on_three_ranks) {
    check_overlap(3, "overlapped 6 of 6 steps, 12 of 18 buckets started during backward");
}

TEST(distributed_fit_names_the_rank_that_failed) {
    check_worker_says(2, "fail", "cg_fit: rank 1 of 2 failed: cg_loss_compute");
}

/* A rank killed in the third epoch ends the job (mpirun tears it down) well within the bound,
 * and the checkpoint rank 0 wrote at the end of the second epoch still loads. */
TEST(distributed_killed_rank_ends_the_job) {
    const char *skip = mpi_skip_reason();
    if (skip) SKIP(skip);
#ifdef CG_MPIEXEC
    temp_dir dir;
    CHECK(temp_dir_create(&dir));
    const char *checkpoint = temp_dir_file(&dir, "checkpoint.safetensors");
    char arguments[512];
    snprintf(arguments, sizeof arguments, "kill '%s'", checkpoint);
    static command_run run;
    CHECK(run_worker(2, arguments, &run));
    if (run.status == 0 || run.status == 124)
        test_fail(__FILE__, __LINE__, "status %d after %.1f s; the worker said:\n%s", run.status,
                  run.seconds, run.output);
    CHECK(run.status != 0 && run.status != 124);
    CHECK(run.seconds < 60);
    /* The launcher names the rank that died and how (OpenMPI's and MPICH's wording). */
    CHECK(strstr(run.output, "rank 1") || strstr(run.output, "RANK 1"));
    CHECK(strstr(run.output, "signal 9") || strstr(run.output, "SIGNAL: 9"));
    cg_model *model = cg_model_load(checkpoint);
    CHECK(model);
    cg_model_free(model);
    temp_dir_remove(&dir);
#endif
}

/* The tool under mpirun (cg_fit_dataset): one report, from rank 0, with "ranks": 2, and the
 * model of 2 ranks x batch 8 is that of 1 rank x batch 16. */
TEST(distributed_tool_trains_on_two_ranks) {
    const char *skip = mpi_skip_reason();
    if (skip) SKIP(skip);
#ifdef CG_MPIEXEC
    char train[1024], command[2048];
    snprintf(train, sizeof train,
             "'%s/cgrad' train --model '%s/examples/models/iris_mlp.cfg' --data "
             "'%s/data/iris.csv' --epochs 5 --quiet --json --threads 1 --batch-size",
             CG_BINARY_DIR, CG_SOURCE_DIR, CG_SOURCE_DIR);
    snprintf(command, sizeof command, "timeout 120 %s 2 %s 8", MPIRUN, train);
    static command_run two, one;
    CHECK(run_command(command, &two));
    if (two.status != 0) test_fail(__FILE__, __LINE__, "the tool said:\n%s", two.output);
    CHECK(two.status == 0);
    const char *json = strstr(two.output, "{\"epochs\": 5");
    CHECK(json && !strstr(json + 1, "{\"epochs\""));
    CHECK(strstr(json, "\"ranks\": 2}"));
    snprintf(command, sizeof command, "%s 16", train);
    CHECK(run_command(command, &one) && one.status == 0);
    CHECK(strstr(one.output, "\"ranks\": 1}"));
    const char *keys[] = {"loss", "accuracy", "val_loss"};
    for (int k = 0; k < 3; k++) {
        const double expected = json_value(last_line(one.output), keys[k]);
        CHECK(isfinite(expected));
        CHECK_NEAR(json_value(json, keys[k]), expected, 1e-5 * fabs(expected));
    }
#endif
}

/* A data-parallel run of the tool checkpoints at epoch ends (rank 0 writes the file) and resumes
 * from it on two ranks to the model of a run that went straight through. */
TEST(distributed_tool_resumes_from_a_checkpoint) {
    const char *skip = mpi_skip_reason();
    if (skip) SKIP(skip);
#ifdef CG_MPIEXEC
    temp_dir dir;
    CHECK(temp_dir_create(&dir));
    char straight[256], resumed[256], checkpoint[256], train[1024], command[4096];
    snprintf(straight, sizeof straight, "%s", temp_dir_file(&dir, "straight.safetensors"));
    snprintf(resumed, sizeof resumed, "%s", temp_dir_file(&dir, "resumed.safetensors"));
    snprintf(checkpoint, sizeof checkpoint, "%s", temp_dir_file(&dir, "run.ckpt"));
    snprintf(train, sizeof train,
             "timeout 120 %s 2 '%s/cgrad' train --model '%s/examples/models/iris_mlp.cfg' --data "
             "'%s/data/iris.csv' --quiet --threads 1 --batch-size 8",
             MPIRUN, CG_BINARY_DIR, CG_SOURCE_DIR, CG_SOURCE_DIR);
    static command_run straight_run, first_run, resumed_run;
    snprintf(command, sizeof command, "%s --epochs 5 --save '%s'", train, straight);
    CHECK(run_command(command, &straight_run) && straight_run.status == 0);
    snprintf(command, sizeof command, "%s --epochs 2 --checkpoint '%s'", train, checkpoint);
    CHECK(run_command(command, &first_run) && first_run.status == 0);
    snprintf(command, sizeof command, "%s --epochs 5 --resume '%s' --save '%s'", train, checkpoint,
             resumed);
    CHECK(run_command(command, &resumed_run));
    if (resumed_run.status != 0)
        test_fail(__FILE__, __LINE__, "the tool said:\n%s", resumed_run.output);
    CHECK(resumed_run.status == 0);
    CHECK(same_file_bytes(straight, resumed));
    temp_dir_remove(&dir);
#endif
}
