/* Finding data files: in the directory the user named (a --data argument), else in $CGRAD_DATA,
 * else in data/, as NAME or NAME.gz. A miss says where it looked and how to fetch the files. */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cgrad.h"
#include "core/error.h"

static const char *const DEFAULT_DATA_DIR = "data";

static bool is_regular_file(const char *path) {
    struct stat info;
    return stat(path, &info) == 0 && S_ISREG(info.st_mode);
}

int cg_data_path(const char *file_name, const char *explicit_dir, char *path, size_t size) {
    if (!file_name || !*file_name || !path || size == 0) {
        cg_error_set("cg_data_path: the file name and the path buffer must be given");
        return -1;
    }
    const char *environment = getenv("CGRAD_DATA");
    const char *dir = DEFAULT_DATA_DIR;
    const char *origin = "the default; neither a directory nor $CGRAD_DATA was given";
    if (explicit_dir) {
        dir = explicit_dir;
        origin = "the directory given";
    } else if (environment && *environment) {
        dir = environment;
        origin = "from $CGRAD_DATA";
    }
    const size_t dir_length = strlen(dir);
    const char *separator = dir_length == 0 || dir[dir_length - 1] == '/' ? "" : "/";
    const char *const suffixes[] = {"", ".gz"};
    for (size_t k = 0; k < sizeof suffixes / sizeof suffixes[0]; k++) {
        const int length = snprintf(path, size, "%s%s%s%s", dir, separator, file_name, suffixes[k]);
        if (length < 0 || (size_t)length >= size) {
            cg_error_set("cg_data_path: the path of '%s' in '%s' does not fit in %zu bytes",
                         file_name, dir, size);
            path[0] = '\0';
            return -1;
        }
        if (is_regular_file(path)) return 0;
    }
    path[0] = '\0';
    char hint[512] = "";
    if (strstr(file_name, "-ubyte"))
        snprintf(hint, sizeof hint,
                 "; to download the MNIST files there, run: scripts/download-mnist.sh %s", dir);
    cg_error_set("cg_data_path: '%s' is not in '%s' (%s): looked for '%s%s%s' and '%s%s%s.gz'%s",
                 file_name, dir, origin, dir, separator, file_name, dir, separator, file_name,
                 hint);
    return -1;
}
