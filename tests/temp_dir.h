/* Scratch directories for tests that write files: each test gets a fresh directory, so that its
 * files have their own names in error messages and a listing shows exactly what was left. */
#ifndef CG_TEST_TEMP_DIR_H
#define CG_TEST_TEMP_DIR_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char path[256];
} temp_dir;

/* Creates a new empty directory under $TMPDIR (or /tmp); false (and the test fails) otherwise. */
bool temp_dir_create(temp_dir *dir);
/* The path of name inside dir, in a rotating buffer valid for the next few calls. */
const char *temp_dir_file(const temp_dir *dir, const char *name);
/* How many entries dir holds, and whether one of their names contains text. */
int temp_dir_entry_count(const temp_dir *dir);
bool temp_dir_has_entry_containing(const temp_dir *dir, const char *text);
/* Removes the files (and empty subdirectories) in dir, then dir. */
void temp_dir_remove(temp_dir *dir);

/* Writes size bytes to path; false when it cannot. */
bool write_file(const char *path, const void *data, size_t size);
/* The bytes of path (malloc'd, the caller frees them) and their count; NULL when unreadable. */
unsigned char *read_file(const char *path, size_t *size);
/* Whether a and b are readable and hold the same bytes. */
bool same_file_bytes(const char *a, const char *b);

#endif
