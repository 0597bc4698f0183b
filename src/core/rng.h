/* Counter-based random numbers: element i of a draw is a pure function of (key, counter + i), so
 * every backend produces the same stream for a seed, in any order and in parallel. */
#ifndef CG_CORE_RNG_H
#define CG_CORE_RNG_H

#include <math.h>
#include <stdint.h>

#if defined(__CUDACC__)
#define CG_HOST_DEVICE __host__ __device__
#else
#define CG_HOST_DEVICE
#endif

/* 64 random bits for (key, counter): two rounds of the splitmix64 finaliser. */
CG_HOST_DEVICE static inline uint64_t cg_random_bits(uint64_t key, uint64_t counter) {
    uint64_t z = counter * 0x9E3779B97F4A7C15ull + (key ^ 0xD1B54A32D192ED03ull);
    for (int round = 0; round < 2; round++) {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        z += key;
    }
    return z;
}

/* Uniform in [0, 1) with 53 random bits. */
CG_HOST_DEVICE static inline double cg_random_uniform(uint64_t key, uint64_t counter) {
    return (double)(cg_random_bits(key, counter) >> 11) * 0x1.0p-53;
}

/* Standard normal by Box-Muller from two independent uniforms at the same position. */
CG_HOST_DEVICE static inline double cg_random_normal(uint64_t key, uint64_t counter) {
    double u1 = 1.0 - cg_random_uniform(key, counter); /* (0, 1], so log is finite */
    double u2 = cg_random_uniform(key ^ 0x5851F42D4C957F2Dull, counter);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Reserves count positions of this thread's stream; returns the first and sets *key. */
uint64_t cg_rng_reserve(uint64_t count, uint64_t *key);

#endif
