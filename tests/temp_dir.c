#define _POSIX_C_SOURCE 200809L

#include "temp_dir.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

bool temp_dir_create(temp_dir *dir) {
    const char *tmp = getenv("TMPDIR");
    snprintf(dir->path, sizeof dir->path, "%s/cgrad-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir->path)) return true;
    test_fail(__FILE__, __LINE__, "cannot create a temporary directory from %s", dir->path);
    return false;
}

const char *temp_dir_file(const temp_dir *dir, const char *name) {
    static char buffers[4][512];
    static int next;
    char *path = buffers[next++ % 4];
    snprintf(path, sizeof buffers[0], "%s/%s", dir->path, name);
    return path;
}

/* Calls visit for each entry of dir other than . and ..; stops early when it returns true. */
static bool for_each_entry(const temp_dir *dir, bool (*visit)(const char *name, void *userdata),
                           void *userdata) {
    DIR *stream = opendir(dir->path);
    bool stopped = false;
    for (struct dirent *entry; stream && !stopped && (entry = readdir(stream));) {
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
            stopped = visit(entry->d_name, userdata);
    }
    if (stream) closedir(stream);
    return stopped;
}

static bool count_entry(const char *name, void *userdata) {
    (void)name;
    ++*(int *)userdata;
    return false;
}

int temp_dir_entry_count(const temp_dir *dir) {
    int count = 0;
    for_each_entry(dir, count_entry, &count);
    return count;
}

static bool name_contains(const char *name, void *userdata) { return strstr(name, userdata); }

bool temp_dir_has_entry_containing(const temp_dir *dir, const char *text) {
    return for_each_entry(dir, name_contains, (void *)text);
}

static bool remove_entry(const char *name, void *userdata) {
    remove(temp_dir_file(userdata, name));
    return false;
}

void temp_dir_remove(temp_dir *dir) {
    for_each_entry(dir, remove_entry, dir);
    rmdir(dir->path);
}

bool write_file(const char *path, const void *data, size_t size) {
    FILE *file = fopen(path, "wb");
    const bool written = file && fwrite(data, 1, size, file) == size;
    return file && fclose(file) == 0 && written;
}

unsigned char *read_file(const char *path, size_t *size) {
    FILE *file = fopen(path, "rb");
    if (!file) return NULL;
    unsigned char *data = NULL;
    long length = -1;
    if (fseek(file, 0, SEEK_END) == 0 && (length = ftell(file)) >= 0 &&
        fseek(file, 0, SEEK_SET) == 0)
        data = malloc((size_t)length + 1);
    if (data && fread(data, 1, (size_t)length, file) != (size_t)length) {
        free(data);
        data = NULL;
    }
    fclose(file);
    *size = data ? (size_t)length : 0;
    return data;
}

bool same_file_bytes(const char *a, const char *b) {
    size_t size_a = 0, size_b = 0;
    unsigned char *bytes_a = read_file(a, &size_a), *bytes_b = read_file(b, &size_b);
    const bool same = bytes_a && bytes_b && size_a == size_b && !memcmp(bytes_a, bytes_b, size_a);
    free(bytes_a);
    free(bytes_b);
    return same;
}
