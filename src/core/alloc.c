/* madvise and MADV_HUGEPAGE */
#define _DEFAULT_SOURCE

#include "core/alloc.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cgrad.h"
#include "core/error.h"

/* Blocks are rounded up to size classes (four per power of two, so at most 25% is wasted) and
 * kept on one free list per class when returned. */
enum { ALIGNMENT = 64, CLASSES_PER_OCTAVE = 4, CLASS_COUNT = 64 * CLASSES_PER_OCTAVE };
/* Blocks of at least LARGE_BLOCK_BYTES start on a huge-page boundary and ask for transparent huge
 * pages (Linux, where they are enabled "always" or "madvise"): the first touch of a 47 MB data set
 * then takes 23 page faults instead of 11,500, which were most of the time of reading it. The
 * cost: up to 2 MiB of a block's last huge page may be resident without being used. */
enum { HUGE_PAGE_BYTES = 2 << 20, LARGE_BLOCK_BYTES = 8 << 20 };

typedef struct free_block {
    struct free_block *next;
} free_block;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static free_block *free_lists[CLASS_COUNT];
static cg_memory_stats stats;
static long fail_countdown;
/* This thread's cap (SIZE_MAX: none) and what it holds against it; see cg_alloc_limit_thread. */
static _Thread_local size_t thread_limit = SIZE_MAX, thread_taken;

static int size_class(size_t size, size_t *rounded) {
    if (size <= ALIGNMENT) {
        *rounded = ALIGNMENT;
        return 0;
    }
    int octave = 63 - __builtin_clzll((unsigned long long)(size - 1)); /* 2^octave < size */
    size_t step = ((size_t)1 << octave) / CLASSES_PER_OCTAVE;
    size_t steps = (size - ((size_t)1 << octave) + step - 1) / step; /* 1..CLASSES_PER_OCTAVE */
    /* aligned_alloc wants a multiple of the alignment. */
    *rounded = (((size_t)1 << octave) + steps * step + ALIGNMENT - 1) & ~(size_t)(ALIGNMENT - 1);
    return octave * CLASSES_PER_OCTAVE + (int)steps - 1;
}

static void *system_alloc(size_t rounded) {
    if (fail_countdown > 0 && --fail_countdown == 0) return NULL;
    const bool large = rounded >= LARGE_BLOCK_BYTES;
    /* Classes from 8 MiB up are multiples of 2 MiB, as aligned_alloc wants. */
    void *block = aligned_alloc(large ? HUGE_PAGE_BYTES : ALIGNMENT, rounded);
#ifdef MADV_HUGEPAGE
    /* Only a hint: where it fails, the block works with small pages. */
    if (block && large) madvise(block, rounded, MADV_HUGEPAGE);
#endif
    if (block) stats.system_allocs++;
    return block;
}

void *cg_alloc(size_t size) {
    size_t rounded;
    int cls = size_class(size ? size : 1, &rounded);
    if (thread_limit != SIZE_MAX) {
        if (rounded > thread_limit - thread_taken) {
            cg_error_set("allocating %zu bytes would pass the limit of %zu bytes that the data "
                         "read justifies",
                         size, thread_limit);
            return NULL;
        }
        thread_taken += rounded;
    }
    pthread_mutex_lock(&cache_lock);
    void *block = free_lists[cls];
    if (block) {
        free_lists[cls] = free_lists[cls]->next;
        stats.cached_bytes -= rounded;
    } else {
        block = system_alloc(rounded);
    }
    if (block) {
        stats.live_bytes += rounded;
        if (stats.live_bytes > stats.peak_live_bytes) stats.peak_live_bytes = stats.live_bytes;
    }
    pthread_mutex_unlock(&cache_lock);
    if (!block) cg_error_set("out of memory allocating %zu bytes", size);
    return block;
}

void *cg_alloc_zeroed(size_t size) {
    void *block = cg_alloc(size);
    if (block) memset(block, 0, size);
    return block;
}

void cg_free(void *block, size_t size) {
    if (!block) return;
    size_t rounded;
    int cls = size_class(size ? size : 1, &rounded);
    if (thread_limit != SIZE_MAX) thread_taken -= rounded < thread_taken ? rounded : thread_taken;
    pthread_mutex_lock(&cache_lock);
    free_block *node = block;
    node->next = free_lists[cls];
    free_lists[cls] = node;
    stats.live_bytes -= rounded;
    stats.cached_bytes += rounded;
    pthread_mutex_unlock(&cache_lock);
}

size_t cg_alloc_limit_thread(size_t limit) {
    const size_t previous = thread_limit;
    thread_limit = limit;
    thread_taken = 0;
    return previous;
}

void cg_alloc_fail_after(long n) {
    pthread_mutex_lock(&cache_lock);
    fail_countdown = n;
    pthread_mutex_unlock(&cache_lock);
}

cg_memory_stats cg_memory_get_stats(void) {
    pthread_mutex_lock(&cache_lock);
    cg_memory_stats copy = stats;
    pthread_mutex_unlock(&cache_lock);
    return copy;
}

void cg_memory_release_cached(void) {
    pthread_mutex_lock(&cache_lock);
    for (int cls = 0; cls < CLASS_COUNT; cls++) {
        while (free_lists[cls]) {
            free_block *next = free_lists[cls]->next;
            free(free_lists[cls]);
            free_lists[cls] = next;
            stats.system_frees++;
        }
    }
    stats.cached_bytes = 0;
    pthread_mutex_unlock(&cache_lock);
}
