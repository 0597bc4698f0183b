/* A loader for the reference fixtures under tests/fixtures: cases of named tensors and numeric
 * attributes (the format is described at the top of tests/fixtures/make_fixtures.py). */
#ifndef CG_TEST_FIXTURE_H
#define CG_TEST_FIXTURE_H

#include "cgrad.h"

enum { FIXTURE_NAME_SIZE = 64, FIXTURE_MAX_TENSORS = 16, FIXTURE_MAX_ATTRS = 12 };

typedef struct {
    char name[FIXTURE_NAME_SIZE];
    cg_tensor *tensor; /* float64, int64 or int32; owned by the fixture */
} fixture_tensor;

typedef struct {
    char name[FIXTURE_NAME_SIZE];
    int count;
    double values[CG_MAX_DIMS];
} fixture_attr;

typedef struct {
    char name[FIXTURE_NAME_SIZE];
    char op[FIXTURE_NAME_SIZE];
    int line; /* of the case header, for messages */
    int tensor_count;
    fixture_tensor tensors[FIXTURE_MAX_TENSORS];
    int attr_count;
    fixture_attr attrs[FIXTURE_MAX_ATTRS];
} fixture_case;

typedef struct {
    char path[256];
    int case_count;
    fixture_case *cases;
} fixture_file;

/* Parses fixture text; source names it in messages. Returns a fixture the caller frees with
 * fixture_free, or NULL with an error "source:line: what is wrong". Call it outside any scope:
 * the fixture owns its tensors. */
fixture_file *fixture_parse(const char *text, const char *source);
/* Reads and parses the file at path; NULL with an error naming the file (and line) otherwise. */
fixture_file *fixture_load(const char *path);
/* Releases the tensors and the cases. NULL is ignored. */
void fixture_free(fixture_file *file);

/* The case's tensor or attribute with that name; NULL when it has none. */
cg_tensor *fixture_find_tensor(const fixture_case *fixture, const char *name);
const fixture_attr *fixture_find_attr(const fixture_case *fixture, const char *name);

#endif
