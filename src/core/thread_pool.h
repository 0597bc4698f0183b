/* The persistent worker pool behind the CPU kernels' threads. It starts lazily, at the first
 * cg_parallel_for that needs it, with cg_get_num_threads() - 1 workers (the caller is the last
 * one). A worker that finished a job stays awake for a fraction of a millisecond, yielding its
 * core to any thread that wants it, so the next operation of a training step finds it running;
 * then it sleeps on a condition variable, so an idle pool costs nothing.
 *
 * One submission runs at a time. A cg_parallel_for that finds the pool busy (another user thread
 * submitting, or a call nested inside a running chunk) runs its whole range inline on the calling
 * thread instead of waiting, so the pool never deadlocks and concurrent callers each keep a core.
 */
#ifndef CG_CORE_THREAD_POOL_H
#define CG_CORE_THREAD_POOL_H

#include <stdint.h>

/* Runs fn over [0, count) in chunks [begin, end), and returns when every chunk is done. grain is
 * the smallest number of items worth a chunk of its own: the range is split into
 * min(threads, count / grain) chunks, and runs inline as one call fn(0, count, ctx) when that is
 * fewer than 2 (small work, or one thread configured). Chunks may run on worker threads, so fn
 * must not rely on per-thread state (errors, scopes, the random generator) and must not fail. */
void cg_parallel_for(int64_t count, int64_t grain,
                     void (*fn)(int64_t begin, int64_t end, void *ctx), void *ctx);

/* Reads CGRAD_NUM_THREADS once (the first call of any thread function does it); callers that
 * hand work to another threaded library call it first so that library sees the same setting. */
void cg_threads_configure(void);

#endif
