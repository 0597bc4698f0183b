/* The thread count setting and the worker pool. Workers live for the rest of the process; they
 * and their handle array stay reachable from the pool, so leak checkers see no leak. */
#define _POSIX_C_SOURCE 200809L

#include "core/thread_pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "backend/cpu/gemm.h"
#include "cgrad.h"
#include "core/error.h"

/* More threads than this is taken for a mistake in the setting, not honoured. */
enum { MAX_THREADS = 1024 };
/* How many times a submitter looks for its workers to finish before it sleeps (some tens of
 * microseconds). */
enum { FINISH_SPIN_CHECKS = 20000 };

typedef void (*chunk_fn)(int64_t begin, int64_t end, void *ctx);

static pthread_once_t configure_once = PTHREAD_ONCE_INIT;
static atomic_int thread_count = 1;

static struct {
    pthread_mutex_t submit;  /* held by the one submission in progress */
    pthread_mutex_t lock;    /* guards every field below */
    pthread_cond_t has_work; /* a job with chunks left was posted */
    pthread_cond_t finished; /* the job's last chunk finished */
    pthread_t *workers;
    int worker_count;
    /* The job: its range splits into chunks; next_chunk is the first one nobody took yet. */
    chunk_fn fn;
    void *ctx;
    int64_t count;
    int chunks, next_chunk;
    atomic_int chunks_running_or_left; /* also read without the lock, to wait by spinning */
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
        if (end != setting && *end == '\0' && requested >= 1 && requested <= MAX_THREADS) {
            count = (int)requested;
            cg_gemm_blas_set_num_threads(count);
        }
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
    cg_gemm_blas_set_num_threads(count);
    return 0;
}

int cg_get_num_threads(void) {
    cg_threads_configure();
    return atomic_load(&thread_count);
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
        pthread_mutex_lock(&pool.lock);
        if (atomic_fetch_sub(&pool.chunks_running_or_left, 1) == 1)
            pthread_cond_signal(&pool.finished);
    }
}

static void *worker_main(void *unused) {
    (void)unused;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        while (pool.next_chunk >= pool.chunks)
            pthread_cond_wait(&pool.has_work, &pool.lock);
        run_chunks();
    }
    return NULL; /* never reached: workers live as long as the process */
}

/* Grows the pool to wanted workers; called with the lock held. When the system refuses a thread
 * the pool keeps the workers it has: the submitter takes the chunks nobody else does. */
static void start_workers(int wanted) {
    if (pool.worker_count >= wanted) return;
    pthread_t *grown = realloc(pool.workers, sizeof(pthread_t) * (size_t)wanted);
    if (!grown) return;
    pool.workers = grown;
    while (pool.worker_count < wanted &&
           pthread_create(&pool.workers[pool.worker_count], NULL, worker_main, NULL) == 0)
        pool.worker_count++;
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
    pthread_mutex_lock(&pool.lock);
    start_workers(chunks - 1);
    pool.fn = fn;
    pool.ctx = ctx;
    pool.count = count;
    pool.chunks = chunks;
    pool.next_chunk = 0;
    atomic_store(&pool.chunks_running_or_left, chunks);
    pthread_cond_broadcast(&pool.has_work);
    run_chunks();
    /* The workers' chunks usually end within microseconds of the caller's: wait for them awake
     * for a moment, as going to sleep would put a wake-up on the path to the result. */
    pthread_mutex_unlock(&pool.lock);
    for (int check = 0; check < FINISH_SPIN_CHECKS && atomic_load(&pool.chunks_running_or_left);
         check++)
        continue;
    pthread_mutex_lock(&pool.lock);
    while (atomic_load(&pool.chunks_running_or_left) > 0)
        pthread_cond_wait(&pool.finished, &pool.lock);
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&pool.submit);
}
