/* One input through one parser, as the fuzz targets (tests/fuzz) and the corpus replay test run
 * it: the parser must accept the input or reject it with an error, never crash, and give back
 * every byte it took; what it accepts must hold together (shapes, ranges, names, a round trip).
 *
 * Each check returns NULL when all of that holds, or a description of the broken promise. The
 * first byte(s) of some inputs choose the parser's options, so that one corpus covers them all. */
#ifndef CG_TEST_PARSER_CHECKS_H
#define CG_TEST_PARSER_CHECKS_H

#include <stddef.h>
#include <stdint.h>

/* Byte 0 picks the delimiter, the header flag and the label column; byte 1 is the delimiter
 * when byte 0 asks for a custom one; the rest is the file for cg_csv_read and
 * cg_csv_read_header. */
const char *check_csv_input(const uint8_t *data, size_t size);
/* The whole input is the file for cg_safetensors_read. */
const char *check_safetensors_input(const uint8_t *data, size_t size);
/* The whole input is the text for cg_json_parse; accepted documents are written back and parsed
 * again to the same values. */
const char *check_json_input(const uint8_t *data, size_t size);
/* The input, up to its first NUL, is the text for cg_model_from_spec; an accepted model's spec
 * (cg_model_to_spec) must read back to the same spec. */
const char *check_spec_input(const uint8_t *data, size_t size);
/* Byte 0 says whether there is a label file, bytes 1-2 where the labels start in the rest; the
 * images (and labels) go to cg_idx_read. */
const char *check_idx_input(const uint8_t *data, size_t size);

/* The whole input is the file for cg_model_load; a loaded, compiled model also takes it through
 * cg_checkpoint_load (a model file or a training checkpoint). */
const char *check_model_input(const uint8_t *data, size_t size);

/* The checks above by corpus name ("csv", "safetensors", "json", "spec", "idx", "model"), or
 * NULL. */
typedef const char *(*parser_check)(const uint8_t *data, size_t size);
parser_check parser_check_named(const char *name);

#endif
