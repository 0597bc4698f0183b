/* The byte-to-float conversion of batch assembly: the vectorised kernels (AVX2 where the CPU has
 * it, and the baseline) give exactly the scalar definition, a byte times the scale in double
 * rounded once to float, for every byte value, length and alignment, and write nothing past the
 * end; the gather picks rows in the order given. */
#include <string.h>

#include "io/byte_scaling.h"
#include "test.h"

enum { PATTERN_BYTES = 3 * 256 + 61, MAX_OFFSET = 33, GUARD = 8 };

/* Bytes running over every value 0..255 in a scrambled order (167 is odd, so i * 167 mod 256
 * visits all of them in each 256 consecutive bytes). */
static void byte_pattern(uint8_t *bytes, int count) {
    for (int i = 0; i < count; i++)
        bytes[i] = (uint8_t)(i * 167 + 13);
}

/* The definition, one element at a time. */
static float scaled(uint8_t byte, double scale) { return (float)((double)byte * scale); }

typedef void scale_fn(const uint8_t *bytes, int64_t count, double scale, float *out);

/* Checks one kernel on count bytes read from source_offset and written at out_offset: equal bits
 * to the definition, and the guard floats after the end untouched. */
static bool kernel_matches(scale_fn *kernel, const char *name, const uint8_t *pattern,
                           int source_offset, int out_offset, int count, double scale) {
    float out[PATTERN_BYTES + MAX_OFFSET + GUARD], want[PATTERN_BYTES + MAX_OFFSET + GUARD];
    const float sentinel = -12345.0f;
    for (int i = 0; i < (int)(sizeof out / sizeof out[0]); i++)
        out[i] = want[i] = sentinel;
    for (int i = 0; i < count; i++)
        want[out_offset + i] = scaled(pattern[source_offset + i], scale);
    kernel(pattern + source_offset, count, scale, out + out_offset);
    if (memcmp(out, want, sizeof out) == 0) return true;
    test_fail(__FILE__, __LINE__, "%s: %d bytes from offset %d to offset %d, scale %g differ", name,
              count, source_offset, out_offset, scale);
    return false;
}

TEST(byte_scaling_equals_the_scalar_definition_at_every_length_and_alignment) {
    uint8_t pattern[PATTERN_BYTES + MAX_OFFSET];
    byte_pattern(pattern, (int)sizeof pattern);
    /* 1/255 is the images' scale; the others round differently in float than in double. */
    const double scales[] = {1.0 / 255.0, 1.0, 0.1, -3.7e-3, 1e-30, 6.02e23};
    bool all = true;
    for (size_t s = 0; s < sizeof scales / sizeof scales[0]; s++) {
        for (int offset = 0; offset < MAX_OFFSET && all; offset++) {
            const int out_offset = (offset * 7) % MAX_OFFSET;
            for (int count = 0; count <= 80 && all; count++) {
                all = kernel_matches(cg_scale_bytes, "cg_scale_bytes", pattern, offset, out_offset,
                                     count, scales[s]) &&
                      kernel_matches(cg_scale_bytes_baseline, "baseline", pattern, offset,
                                     out_offset, count, scales[s]);
            }
            /* Long runs through the vector loops, of odd lengths. */
            all = all &&
                  kernel_matches(cg_scale_bytes, "cg_scale_bytes", pattern, offset, out_offset,
                                 PATTERN_BYTES - offset % 2, scales[s]) &&
                  kernel_matches(cg_scale_bytes_baseline, "baseline", pattern, offset, out_offset,
                                 PATTERN_BYTES - 1 - offset % 2, scales[s]);
        }
    }
    CHECK(all);
}

TEST(byte_scaling_of_images_is_the_quotient_by_255) {
    uint8_t bytes[256];
    float out[256];
    for (int v = 0; v < 256; v++)
        bytes[v] = (uint8_t)v;
    cg_scale_bytes(bytes, 256, 1.0 / 255.0, out);
    for (int v = 0; v < 256; v++)
        CHECK(out[v] == (float)v / 255.0f);
    CHECK(out[0] == 0.0f && out[255] == 1.0f);
}

TEST(gather_scaled_bytes_takes_the_rows_in_the_order_given) {
    enum { WIDTH = 37, ROWS = 9, PICKED = 6 };
    uint8_t matrix[WIDTH * ROWS];
    byte_pattern(matrix, WIDTH * ROWS);
    const int64_t rows[PICKED] = {8, 0, 3, 3, 7, 1};
    const double scale = 0.3;
    float out[WIDTH * PICKED + GUARD], want[WIDTH * PICKED + GUARD];
    for (int i = 0; i < WIDTH * PICKED + GUARD; i++)
        out[i] = want[i] = -1.0f;
    for (int i = 0; i < PICKED; i++)
        for (int j = 0; j < WIDTH; j++)
            want[i * WIDTH + j] = scaled(matrix[rows[i] * WIDTH + j], scale);
    cg_gather_scaled_bytes(matrix, WIDTH, rows, PICKED, scale, out);
    CHECK(memcmp(out, want, sizeof out) == 0);
}
