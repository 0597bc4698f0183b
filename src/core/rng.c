#include "core/rng.h"

#include "cgrad.h"

static _Thread_local cg_rng_state thread_rng = {.seed = 0x2545F4914F6CDD1Dull, .offset = 0};

void cg_manual_seed(uint64_t seed) {
    thread_rng.seed = seed;
    thread_rng.offset = 0;
}

cg_rng_state cg_rng_get_state(void) { return thread_rng; }

void cg_rng_set_state(cg_rng_state state) { thread_rng = state; }

uint64_t cg_rng_reserve(uint64_t count, uint64_t *key) {
    *key = thread_rng.seed;
    uint64_t first = thread_rng.offset;
    thread_rng.offset += count;
    return first;
}
