/* The thread count setting and the worker pool. Workers are detached threads that live for the
 * rest of the process, blocked in pthread_cond_wait whenever there is no job. */
#define _POSIX_C_SOURCE 200809L

#include "core/thread_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cgrad.h"
#include "core/error.h"

/* More threads than this is taken for a mistake in the setting, not honoured. */
enum { MAX_THREADS = 1024 };
/* Waking a sleeping thread takes tens of microseconds (more on virtual machines), as long as a
 * small product. So a worker that ran out of work stays awake this long, yielding its core to
 * anyone who wants it, to catch the next job of a training step; and a submitter waits this long
 * awake for its workers' last chunks before it goes to sleep. */
enum { WORKER_SPIN_NANOSECONDS = 200 * 1000, FINISH_SPIN_NANOSECONDS = 50 * 1000 };
/* Tries at the pool's lock before a thread sleeps on it. */
enum { LOCK_ATTEMPTS_AWAKE = 1000 };

typedef void (*chunk_fn)(int64_t begin, int64_t end, void *ctx);

static pthread_once_t configure_once = PTHREAD_ONCE_INIT;
static atomic_int thread_count = 1;

static struct {
    pthread_mutex_t submit;  /* held by the one submission in progress */
    pthread_mutex_t lock;    /* guards every field below */
    pthread_cond_t has_work; /* a job with chunks left was posted */
    pthread_cond_t finished; /* the job's last chunk finished */
    int worker_count;
    /* The job: its range splits into chunks; next_chunk is the first one nobody took yet. */
    chunk_fn fn;
    void *ctx;
    int64_t count;
    int chunks, next_chunk;
    /* Also read without the lock, by threads waiting awake. */
    atomic_int chunks_running_or_left;
    atomic_uint jobs_posted;
} pool = {.submit = PTHREAD_MUTEX_INITIALIZER,
          .lock = PTHREAD_MUTEX_INITIALIZER,
          .has_work = PTHREAD_COND_INITIALIZER,
          .finished = PTHREAD_COND_INITIALIZER};

static void read_configuration(void) {
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    int count = online < 1 ? 1 : online > MAX_THREADS ? MAX_THREADS : (int)online;
    const char *setting = getenv("CGRAD_NUM_THREADS");
    if (setting) {
        char *end;
        const long requested = strtol(setting, &end, 10);
        /* A malformed setting is ignored: the library has no channel to report it at start. */
        if (end != setting && *end == '\0' && requested >= 1 && requested <= MAX_THREADS)
            count = (int)requested;
    }
    atomic_store(&thread_count, count);
}

void cg_threads_configure(void) { pthread_once(&configure_once, read_configuration); }

int cg_set_num_threads(int count) {
    if (count < 1 || count > MAX_THREADS) {
        cg_error_set("set_num_threads: %d threads requested; expected 1 to %d", count, MAX_THREADS);
        return -1;
    }
    cg_threads_configure(); /* so a later first use cannot overwrite this with the environment */
    atomic_store(&thread_count, count);
    return 0;
}

int cg_get_num_threads(void) {
    cg_threads_configure();
    return atomic_load(&thread_count);
}

/* Takes the pool's lock. Its holders keep it for a moment only, so trying again beats sleeping
 * on it, which would cost a wake-up when the holder lets go. */
static void lock_pool(void) {
    for (int attempt = 0; attempt < LOCK_ATTEMPTS_AWAKE; attempt++) {
        if (pthread_mutex_trylock(&pool.lock) == 0) return;
        sched_yield();
    }
    pthread_mutex_lock(&pool.lock);
}

/* Takes chunks of the posted job until none is left; called and returns with the lock held. */
static void run_chunks(void) {
    while (pool.next_chunk < pool.chunks) {
        const int chunk = pool.next_chunk++;
        const int64_t base = pool.count / pool.chunks, extra = pool.count % pool.chunks;
        const int64_t begin = chunk * base + (chunk < extra ? chunk : extra);
        const int64_t end = begin + base + (chunk < extra ? 1 : 0);
        const chunk_fn fn = pool.fn;
        void *ctx = pool.ctx;
        pthread_mutex_unlock(&pool.lock);
        fn(begin, end, ctx);
        lock_pool();
        if (atomic_fetch_sub(&pool.chunks_running_or_left, 1) == 1)
            pthread_cond_signal(&pool.finished);
    }
}

static int64_t monotonic_nanoseconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static void *worker_main(void *unused) {
    (void)unused;
    lock_pool();
    for (;;) {
        while (pool.next_chunk >= pool.chunks) {
            const unsigned seen = atomic_load(&pool.jobs_posted);
            pthread_mutex_unlock(&pool.lock);
            const int64_t give_up = monotonic_nanoseconds() + WORKER_SPIN_NANOSECONDS;
            while (atomic_load(&pool.jobs_posted) == seen && monotonic_nanoseconds() < give_up)
                sched_yield();
            lock_pool();
            if (pool.next_chunk >= pool.chunks && atomic_load(&pool.jobs_posted) == seen)
                pthread_cond_wait(&pool.has_work, &pool.lock);
        }
        run_chunks();
    }
    return NULL; /* never reached: workers live as long as the process */
}

/* Grows the pool to wanted workers; called with the lock held. When the system refuses a thread
 * the pool keeps the workers it has: the submitter takes the chunks nobody else does. */
static void start_workers(int wanted) {
    while (pool.worker_count < wanted) {
        pthread_t worker;
        if (pthread_create(&worker, NULL, worker_main, NULL) != 0) return;
        pthread_detach(worker);
        pool.worker_count++;
    }
}

void cg_parallel_for(int64_t count, int64_t grain, chunk_fn fn, void *ctx) {
    if (count <= 0) return;
    const int64_t threads = cg_get_num_threads();
    const int64_t worth = count / (grain > 1 ? grain : 1);
    const int chunks = (int)(worth < threads ? worth : threads);
    if (chunks < 2 || pthread_mutex_trylock(&pool.submit) != 0) {
        fn(0, count, ctx);
        return;
    }
    lock_pool();
    start_workers(chunks - 1);
    pool.fn = fn;
    pool.ctx = ctx;
    pool.count = count;
    pool.chunks = chunks;
    pool.next_chunk = 0;
    atomic_store(&pool.chunks_running_or_left, chunks);
    atomic_fetch_add(&pool.jobs_posted, 1);
    pthread_cond_broadcast(&pool.has_work);
    run_chunks();
    pthread_mutex_unlock(&pool.lock);
    const int64_t give_up = monotonic_nanoseconds() + FINISH_SPIN_NANOSECONDS;
    while (atomic_load(&pool.chunks_running_or_left) > 0 && monotonic_nanoseconds() < give_up)
        sched_yield();
    lock_pool();
    while (atomic_load(&pool.chunks_running_or_left) > 0)
        pthread_cond_wait(&pool.finished, &pool.lock);
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&pool.submit);
}
