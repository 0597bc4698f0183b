/* Image bytes to float32 features, as the loader assembles batches: each byte times the data
 * set's feature scale, computed in double and rounded once to float, the same value on every
 * machine and instruction set. */
#ifndef CG_IO_BYTE_SCALING_H
#define CG_IO_BYTE_SCALING_H

#include <stdint.h>

/* out[i] = (float)((double)bytes[i] * scale) for i < count, with AVX2 where the CPU has it. The
 * arrays must not overlap. */
void cg_scale_bytes(const uint8_t *bytes, int64_t count, double scale, float *out);
/* The same with the instructions every x86-64 has (SSE2), whatever the CPU; for tests. */
void cg_scale_bytes_baseline(const uint8_t *bytes, int64_t count, double scale, float *out);

/* Rows rows[0 .. count) of the byte matrix bytes (width bytes a row), scaled as cg_scale_bytes
 * does, into out (count x width floats), in one pass. */
void cg_gather_scaled_bytes(const uint8_t *bytes, int64_t width, const int64_t *rows, int64_t count,
                            double scale, float *out);

#endif
