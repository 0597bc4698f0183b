/* The worker pool: every index of a parallel_for runs exactly once, small ranges and one-thread
 * settings run inline on the caller, nested calls and concurrent callers neither deadlock nor
 * race (make test-tsan runs the concurrent one under ThreadSanitizer), and the thread count
 * setting. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/thread_pool.h"
#include "test.h"

enum { INDEX_COUNT = 1000 };

typedef struct {
    int visits[INDEX_COUNT];
    atomic_int calls;
} index_visits;

static void visit_range(int64_t begin, int64_t end, void *ctx) {
    index_visits *v = ctx;
    atomic_fetch_add(&v->calls, 1);
    for (int64_t i = begin; i < end; i++)
        v->visits[i]++;
}

TEST(parallel_for_runs_every_index_once_in_the_expected_chunks) {
    const int saved = cg_get_num_threads();
    for (int threads = 1; threads <= 4; threads++) {
        CHECK(cg_set_num_threads(threads) == 0);
        for (int64_t grain = 1; grain <= 400; grain *= 20) {
            index_visits *v = calloc(1, sizeof *v);
            CHECK(v);
            cg_parallel_for(INDEX_COUNT, grain, visit_range, v);
            const int64_t worth = INDEX_COUNT / grain;
            const int chunks = (int)(worth < threads ? worth : threads);
            const int calls = atomic_load(&v->calls);
            bool once = true;
            for (int i = 0; i < INDEX_COUNT; i++)
                once = once && v->visits[i] == 1;
            free(v);
            CHECK(once);
            CHECK(calls == (chunks < 2 ? 1 : chunks));
        }
    }
    CHECK(cg_set_num_threads(saved) == 0);
}

typedef struct {
    pthread_t caller;
    int calls;
    int64_t begin, end;
    bool on_caller;
} inline_record;

static void record_call(int64_t begin, int64_t end, void *ctx) {
    inline_record *r = ctx;
    r->calls++;
    r->begin = begin;
    r->end = end;
    r->on_caller = pthread_equal(pthread_self(), r->caller);
}

TEST(parallel_for_below_the_grain_or_on_one_thread_runs_inline) {
    const int saved = cg_get_num_threads();
    CHECK(cg_set_num_threads(2) == 0);
    inline_record small = {.caller = pthread_self()};
    cg_parallel_for(15, 8, record_call, &small); /* 15 items are 1 chunk's worth of 8 */
    CHECK(small.calls == 1 && small.begin == 0 && small.end == 15 && small.on_caller);
    CHECK(cg_set_num_threads(1) == 0);
    inline_record single = {.caller = pthread_self()};
    cg_parallel_for(1000, 1, record_call, &single);
    CHECK(single.calls == 1 && single.begin == 0 && single.end == 1000 && single.on_caller);
    inline_record empty = {.caller = pthread_self()};
    cg_parallel_for(0, 1, record_call, &empty);
    CHECK(empty.calls == 0);
    CHECK(cg_set_num_threads(saved) == 0);
}

/* Each chunk runs a parallel_for of its own; the pool is busy, so the inner ones run inline. */
static void nested_range(int64_t begin, int64_t end, void *ctx) {
    for (int64_t i = begin; i < end; i++) {
        index_visits *inner = (index_visits *)ctx + i;
        cg_parallel_for(INDEX_COUNT, 1, visit_range, inner);
    }
}

TEST(parallel_for_nested_in_a_chunk_completes) {
    const int saved = cg_get_num_threads();
    CHECK(cg_set_num_threads(2) == 0);
    index_visits *v = calloc(4, sizeof *v);
    CHECK(v);
    cg_parallel_for(4, 1, nested_range, v);
    bool once = true;
    for (int outer = 0; outer < 4; outer++)
        for (int i = 0; i < INDEX_COUNT; i++)
            once = once && v[outer].visits[i] == 1;
    free(v);
    CHECK(once);
    CHECK(cg_set_num_threads(saved) == 0);
}

/* Two user threads each sum 1..n many times with parallel_for at once: one gets the pool, the
 * other runs inline whenever the pool is taken; both must always get the right sum. */
enum { SUM_COUNT = 20000, SUM_ROUNDS = 200 };

typedef struct {
    atomic_llong total;
} parallel_sum;

static void add_range(int64_t begin, int64_t end, void *ctx) {
    long long partial = 0;
    for (int64_t i = begin; i < end; i++)
        partial += i + 1;
    atomic_fetch_add(&((parallel_sum *)ctx)->total, partial);
}

static void *sum_repeatedly(void *wrong_sums) {
    for (int round = 0; round < SUM_ROUNDS; round++) {
        parallel_sum sum = {0};
        cg_parallel_for(SUM_COUNT, 100, add_range, &sum);
        if (atomic_load(&sum.total) != (long long)SUM_COUNT * (SUM_COUNT + 1) / 2)
            (*(int *)wrong_sums)++;
    }
    return NULL;
}

TEST(parallel_for_from_two_concurrent_user_threads_sums_correctly) {
    const int saved = cg_get_num_threads();
    CHECK(cg_set_num_threads(2) == 0);
    int wrong[2] = {0, 0};
    pthread_t users[2];
    const bool started = pthread_create(&users[0], NULL, sum_repeatedly, &wrong[0]) == 0 &&
                         pthread_create(&users[1], NULL, sum_repeatedly, &wrong[1]) == 0;
    /* Without both threads there is nothing concurrent to test; report it. */
    if (started) {
        pthread_join(users[0], NULL);
        pthread_join(users[1], NULL);
    }
    CHECK(cg_set_num_threads(saved) == 0);
    CHECK(started);
    CHECK(wrong[0] == 0 && wrong[1] == 0);
}

TEST(num_threads_setting_round_trips_and_rejects_bad_counts) {
    const int saved = cg_get_num_threads();
    CHECK(saved >= 1);
    CHECK(cg_set_num_threads(3) == 0);
    CHECK(cg_get_num_threads() == 3);
    CHECK_ERROR(cg_set_num_threads(0), "set_num_threads");
    CHECK_ERROR(cg_set_num_threads(-2), "set_num_threads");
    CHECK(cg_get_num_threads() == 3);
    CHECK(cg_set_num_threads(saved) == 0);
}
