/* safetensors files. The reader trusts no number in the file: the header length is checked
 * against the file's size and a limit before anything is allocated, every tensor's byte range is
 * checked against its shape and dtype and against the others (they must tile the data exactly),
 * and only then are the tensors allocated and read, each straight into its own buffer. */
#define _POSIX_C_SOURCE 200809L

#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/tensor.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "safetensors data is little-endian and is copied as is: a big-endian host needs byte swaps"
#endif

enum { LENGTH_FIELD_BYTES = 8 };

/* Every dtype needs its code: the reader compares each against the file's. */
static const char *const dtype_codes[CG_DTYPE_COUNT] = {[CG_FLOAT32] = "F32",
                                                        [CG_FLOAT64] = "F64",
                                                        [CG_INT32] = "I32",
                                                        [CG_INT64] = "I64",
                                                        [CG_UINT8] = "U8"};

/* Sets "safetensors: 'path': message". The message is formatted first, so an argument may be
 * cg_last_error() itself. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
file_error(const char *path, const char *format, ...) {
    char message[768];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    cg_error_set("safetensors: '%s': %s", path, message);
}

static int compare_first_strings(const void *a, const void *b) {
    return strcmp(**(const char *const *const *)a, **(const char *const *const *)b);
}

/* The first name given twice among count items of stride bytes, each starting with its name (a
 * const char *); NULL when all differ. *failed reports running out of memory. */
static const char *find_duplicate(const void *items, size_t count, size_t stride, bool *failed) {
    *failed = false;
    if (count < 2) return NULL;
    const char *const **names = malloc(count * sizeof *names);
    if (!names) {
        *failed = true;
        return NULL;
    }
    for (size_t i = 0; i < count; i++)
        names[i] = (const char *const *)((const char *)items + i * stride);
    qsort(names, count, sizeof *names, compare_first_strings);
    const char *duplicate = NULL;
    for (size_t i = 1; i < count && !duplicate; i++) {
        if (strcmp(*names[i - 1], *names[i]) == 0) duplicate = *names[i];
    }
    free(names);
    return duplicate;
}

/* ----- writing ----- */

static size_t tensor_bytes(const cg_tensor *t) {
    return (size_t)cg_numel(t) * cg_dtype_size(cg_tensor_dtype(t));
}

static int check_inputs(const char *path, const cg_safetensors_entry *tensors, size_t tensor_count,
                        const cg_safetensors_metadata *metadata, size_t metadata_count) {
    for (size_t i = 0; i < tensor_count; i++) {
        const char *name = tensors[i].name;
        if (!name || !tensors[i].tensor) {
            file_error(path, "tensor %zu ('%s') has no %s", i, name ? name : "",
                       name ? "tensor" : "name");
            return -1;
        }
        if (strcmp(name, "__metadata__") == 0) {
            file_error(path, "'__metadata__' is reserved and cannot name a tensor");
            return -1;
        }
    }
    for (size_t i = 0; i < metadata_count; i++) {
        if (!metadata[i].key || !metadata[i].value) {
            file_error(path, "metadata entry %zu has no %s", i, metadata[i].key ? "value" : "key");
            return -1;
        }
    }
    bool failed;
    const char *duplicate = find_duplicate(tensors, tensor_count, sizeof *tensors, &failed);
    if (duplicate) file_error(path, "two tensors are named '%s'", duplicate);
    if (!duplicate && !failed) {
        duplicate = find_duplicate(metadata, metadata_count, sizeof *metadata, &failed);
        if (duplicate) file_error(path, "two metadata entries have the key '%s'", duplicate);
    }
    if (failed) file_error(path, "out of memory checking names");
    return duplicate || failed ? -1 : 0;
}

/* Writes text as a JSON string; false with an error saying which string (role, index) failed. */
static bool write_header_string(cg_json_writer *writer, const char *text, const char *path,
                                const char *role, size_t index) {
    cg_json_write_string(writer, text);
    if (writer->failed) file_error(path, "%s %zu: %s", role, index, cg_last_error());
    return !writer->failed;
}

/* The header: metadata first, then the tensors with consecutive byte ranges in the order given,
 * padded with spaces so that the data starts 8-byte aligned (as the reference writer does). */
static int build_header(cg_json_writer *writer, const char *path,
                        const cg_safetensors_entry *tensors, size_t tensor_count,
                        const cg_safetensors_metadata *metadata, size_t metadata_count) {
    cg_json_write_raw(writer, "{");
    if (metadata_count) cg_json_write_raw(writer, "\"__metadata__\":{");
    for (size_t i = 0; i < metadata_count; i++) {
        if (i) cg_json_write_raw(writer, ",");
        if (!write_header_string(writer, metadata[i].key, path, "metadata key", i)) return -1;
        cg_json_write_raw(writer, ":");
        if (!write_header_string(writer, metadata[i].value, path, "metadata value", i)) return -1;
    }
    if (metadata_count) cg_json_write_raw(writer, "}");
    uint64_t offset = 0;
    for (size_t i = 0; i < tensor_count; i++) {
        const cg_tensor *t = tensors[i].tensor;
        if (i || metadata_count) cg_json_write_raw(writer, ",");
        if (!write_header_string(writer, tensors[i].name, path, "tensor name", i)) return -1;
        cg_json_write_raw(writer, ":{\"dtype\":\"");
        cg_json_write_raw(writer, dtype_codes[cg_tensor_dtype(t)]);
        cg_json_write_raw(writer, "\",\"shape\":[");
        const cg_shape shape = cg_tensor_shape(t);
        for (int d = 0; d < shape.ndim; d++) {
            if (d) cg_json_write_raw(writer, ",");
            cg_json_write_integer(writer, shape.dims[d]);
        }
        cg_json_write_raw(writer, "],\"data_offsets\":[");
        cg_json_write_integer(writer, (int64_t)offset);
        cg_json_write_raw(writer, ",");
        offset += tensor_bytes(t);
        cg_json_write_integer(writer, (int64_t)offset);
        cg_json_write_raw(writer, "]}");
    }
    cg_json_write_raw(writer, "}");
    while (!writer->failed && (LENGTH_FIELD_BYTES + writer->length) % 8 != 0)
        cg_json_write_raw(writer, " ");
    if (writer->failed) {
        file_error(path, "%s", cg_last_error());
        return -1;
    }
    /* A reader (this one included) would refuse the file. */
    if (writer->length > CG_SAFETENSORS_MAX_HEADER) {
        file_error(path, "the header would be %zu bytes, over the limit of %u", writer->length,
                   CG_SAFETENSORS_MAX_HEADER);
        return -1;
    }
    return 0;
}

/* Writes the length field, the header and each tensor's data; false with an error. */
static bool write_contents(FILE *stream, const char *path, const cg_json_writer *header,
                           const cg_safetensors_entry *tensors, size_t tensor_count) {
    unsigned char length_field[LENGTH_FIELD_BYTES];
    for (int i = 0; i < LENGTH_FIELD_BYTES; i++)
        length_field[i] = (unsigned char)((uint64_t)header->length >> (8 * i));
    bool ok = fwrite(length_field, 1, sizeof length_field, stream) == sizeof length_field &&
              fwrite(header->text, 1, header->length, stream) == header->length;
    if (!ok) file_error(path, "cannot write the header: %s", strerror(errno));
    /* A non-contiguous tensor, or one on a GPU, is copied to dense host memory first; the copy is
     * no part of any graph. */
    const bool grad_enabled = cg_set_grad_enabled(false);
    for (size_t i = 0; ok && i < tensor_count; i++) {
        const cg_tensor *t = tensors[i].tensor;
        cg_tensor *dense = cg_tensor_device(t).type == CG_DEVICE_CPU
                               ? cg_contiguous(t)
                               : cg_to_device(t, cg_device_cpu());
        if (!dense) {
            file_error(path, "tensor '%s': %s", tensors[i].name, cg_last_error());
            ok = false;
            break;
        }
        const size_t bytes = tensor_bytes(dense);
        ok = bytes == 0 || fwrite(cg_tensor_data(dense), 1, bytes, stream) == bytes;
        if (!ok) file_error(path, "cannot write tensor '%s': %s", tensors[i].name, strerror(errno));
        cg_release(dense);
    }
    cg_set_grad_enabled(grad_enabled);
    return ok;
}

/* Makes the rename that put path in place durable by syncing the directory that holds it. */
static int sync_directory(const char *path) {
    const char *slash = strrchr(path, '/');
    const size_t length = slash ? (slash == path ? 1 : (size_t)(slash - path)) : 1;
    char *directory = malloc(length + 1);
    if (!directory) {
        file_error(path, "out of memory");
        return -1;
    }
    memcpy(directory, slash ? path : ".", length);
    directory[length] = '\0';
    const int fd = open(directory, O_RDONLY | O_DIRECTORY);
    const int status = fd >= 0 && fsync(fd) == 0 ? 0 : -1;
    if (status < 0)
        file_error(path, "written, but syncing its directory '%s' failed: %s", directory,
                   strerror(errno));
    if (fd >= 0) close(fd);
    free(directory);
    return status;
}

static int write_atomically(const char *path, const cg_json_writer *header,
                            const cg_safetensors_entry *tensors, size_t tensor_count) {
    const size_t temporary_size = strlen(path) + 32;
    char *temporary = malloc(temporary_size);
    if (!temporary) {
        file_error(path, "out of memory");
        return -1;
    }
    snprintf(temporary, temporary_size, "%s.tmp.%ld", path, (long)getpid());
    FILE *stream = fopen(temporary, "wb");
    if (!stream) {
        file_error(path, "cannot create the temporary file '%s': %s", temporary, strerror(errno));
        free(temporary);
        return -1;
    }
    bool ok = write_contents(stream, path, header, tensors, tensor_count);
    if (ok && (fflush(stream) != 0 || fsync(fileno(stream)) != 0)) {
        file_error(path, "cannot flush the temporary file to disk: %s", strerror(errno));
        ok = false;
    }
    if (fclose(stream) != 0 && ok) {
        file_error(path, "cannot close the temporary file: %s", strerror(errno));
        ok = false;
    }
    if (ok && rename(temporary, path) != 0) {
        file_error(path, "cannot rename the temporary file over it: %s", strerror(errno));
        ok = false;
    }
    if (!ok) remove(temporary);
    free(temporary);
    return ok ? sync_directory(path) : -1;
}

int cg_safetensors_write(const char *path, const cg_safetensors_entry *tensors, size_t tensor_count,
                         const cg_safetensors_metadata *metadata, size_t metadata_count) {
    if (!path) {
        cg_error_set("safetensors: no path given");
        return -1;
    }
    if (check_inputs(path, tensors, tensor_count, metadata, metadata_count) < 0) return -1;
    cg_json_writer header = {0};
    int status = build_header(&header, path, tensors, tensor_count, metadata, metadata_count);
    if (status == 0) status = write_atomically(path, &header, tensors, tensor_count);
    cg_json_writer_free(&header);
    return status;
}

/* ----- reading ----- */

/* What the header says about one tensor, checked against the data size. */
typedef struct {
    const char *name;
    cg_dtype dtype;
    cg_shape shape;
    uint64_t begin, end;
} tensor_info;

static int parse_dtype(const char *path, const char *name, const cg_json_value *value,
                       cg_dtype *dtype) {
    if (value->type != CG_JSON_STRING) {
        file_error(path, "tensor '%s': dtype must be a string, not %s", name,
                   cg_json_type_name(value->type));
        return -1;
    }
    for (int d = 0; d < CG_DTYPE_COUNT; d++) {
        if (strcmp(value->as.string.text, dtype_codes[d]) == 0) {
            *dtype = (cg_dtype)d;
            return 0;
        }
    }
    file_error(path, "tensor '%s': dtype '%s' is not supported (F32, F64, I32, I64 or U8)", name,
               value->as.string.text);
    return -1;
}

/* A JSON array of at most max_count non-negative integers into values; -1 with an error. */
static int parse_sizes(const char *path, const char *name, const char *field,
                       const cg_json_value *value, uint32_t max_count, int64_t *values,
                       uint32_t *count) {
    if (value->type != CG_JSON_ARRAY) {
        file_error(path, "tensor '%s': %s must be an array, not %s", name, field,
                   cg_json_type_name(value->type));
        return -1;
    }
    if (value->count > max_count) {
        file_error(path, "tensor '%s': %s has %" PRIu32 " entries, at most %" PRIu32 " allowed",
                   name, field, value->count, max_count);
        return -1;
    }
    const cg_json_value *item = cg_json_first(value);
    for (uint32_t i = 0; i < value->count; i++, item = cg_json_next(item)) {
        if (item->type != CG_JSON_INTEGER || item->as.integer < 0) {
            file_error(path, "tensor '%s': %s[%" PRIu32 "] must be a non-negative integer", name,
                       field, i);
            return -1;
        }
        values[i] = item->as.integer;
    }
    *count = value->count;
    return 0;
}

static int parse_tensor_info(const char *path, const char *name, const cg_json_value *value,
                             tensor_info *info) {
    if (value->type != CG_JSON_OBJECT) {
        file_error(path, "tensor '%s': expected an object, found %s", name,
                   cg_json_type_name(value->type));
        return -1;
    }
    static const char *const fields[] = {"dtype", "shape", "data_offsets"};
    const cg_json_value *found[3] = {NULL, NULL, NULL};
    const cg_json_value *key = cg_json_first(value);
    for (uint32_t i = 0; i < value->count; i++, key = cg_json_next(key + 1)) {
        size_t f = 0;
        while (f < 3 && strcmp(key->as.string.text, fields[f]) != 0)
            f++;
        if (f == 3) {
            file_error(path, "tensor '%s': unknown field '%s'", name, key->as.string.text);
            return -1;
        }
        found[f] = key + 1;
    }
    for (size_t f = 0; f < 3; f++) {
        if (!found[f]) {
            file_error(path, "tensor '%s': missing field '%s'", name, fields[f]);
            return -1;
        }
    }
    int64_t offsets[2];
    uint32_t ndim, offset_count;
    *info = (tensor_info){.name = name};
    if (parse_dtype(path, name, found[0], &info->dtype) < 0 ||
        parse_sizes(path, name, "shape", found[1], CG_MAX_DIMS, info->shape.dims, &ndim) < 0 ||
        parse_sizes(path, name, "data_offsets", found[2], 2, offsets, &offset_count) < 0)
        return -1;
    if (offset_count != 2) {
        file_error(path, "tensor '%s': data_offsets must hold two integers, [begin, end]", name);
        return -1;
    }
    info->shape.ndim = (int)ndim;
    info->begin = (uint64_t)offsets[0];
    info->end = (uint64_t)offsets[1];
    return 0;
}

/* Checks one tensor's byte range against its shape and dtype and against the data size. */
static int check_tensor_size(const char *path, const tensor_info *info, uint64_t data_size) {
    const char *shape_text = cg_dims_text(info->shape.ndim, info->shape.dims);
    uint64_t bytes = cg_dtype_size(info->dtype);
    for (int d = 0; d < info->shape.ndim; d++) {
        if (__builtin_mul_overflow(bytes, (uint64_t)info->shape.dims[d], &bytes) ||
            bytes > INT64_MAX) {
            file_error(path, "tensor '%s': shape %s overflows the size arithmetic", info->name,
                       shape_text);
            return -1;
        }
    }
    if (info->begin > info->end) {
        file_error(path,
                   "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] end before they begin",
                   info->name, info->begin, info->end);
        return -1;
    }
    if (info->end > data_size) {
        file_error(path,
                   "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                   "] go past the end of the %" PRIu64 "-byte data",
                   info->name, info->begin, info->end, data_size);
        return -1;
    }
    if (info->end - info->begin != bytes) {
        file_error(path,
                   "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64
                   " bytes, but shape %s of %s needs %" PRIu64,
                   info->name, info->begin, info->end, info->end - info->begin, shape_text,
                   dtype_codes[info->dtype], bytes);
        return -1;
    }
    return 0;
}

static int parse_metadata(const char *path, const cg_json_value *object,
                          cg_safetensors_contents *contents) {
    if (object->type != CG_JSON_OBJECT) {
        file_error(path, "__metadata__ must be an object, not %s", cg_json_type_name(object->type));
        return -1;
    }
    contents->metadata = malloc((object->count ? object->count : 1) * sizeof *contents->metadata);
    if (!contents->metadata) {
        file_error(path, "out of memory reading the metadata");
        return -1;
    }
    const cg_json_value *key = cg_json_first(object);
    for (uint32_t i = 0; i < object->count; i++, key = cg_json_next(key + 1)) {
        if (key[1].type != CG_JSON_STRING) {
            file_error(path, "__metadata__ '%s': the value must be a string, not %s",
                       key->as.string.text, cg_json_type_name(key[1].type));
            return -1;
        }
        contents->metadata[contents->metadata_count++] =
            (cg_safetensors_metadata){key->as.string.text, key[1].as.string.text};
    }
    return 0;
}

static int compare_ranges(const void *a, const void *b) {
    const tensor_info *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* Sorted by position, the byte ranges must tile the data: no overlap, no gap, nothing after. */
static int check_tiling(const char *path, tensor_info *infos, size_t count, uint64_t data_size) {
    qsort(infos, count, sizeof *infos, compare_ranges);
    uint64_t expected = 0;
    for (size_t i = 0; i < count; i++) {
        if (infos[i].begin < expected) {
            file_error(path,
                       "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] overlap tensor '%s'",
                       infos[i].name, infos[i].begin, infos[i].end, infos[i - 1].name);
            return -1;
        }
        if (infos[i].begin > expected) {
            file_error(path,
                       "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] leave %" PRIu64
                       " unused bytes before it",
                       infos[i].name, infos[i].begin, infos[i].end, infos[i].begin - expected);
            return -1;
        }
        expected = infos[i].end;
    }
    if (expected != data_size) {
        file_error(path, "%" PRIu64 " bytes of trailing data after the last tensor",
                   data_size - expected);
        return -1;
    }
    return 0;
}

/* Reads the tensors in file order (infos sorted by position) from the start of the data. */
static int read_tensors(FILE *stream, const char *path, const tensor_info *infos, size_t count,
                        cg_safetensors_contents *contents) {
    contents->tensors = malloc((count ? count : 1) * sizeof *contents->tensors);
    if (!contents->tensors) {
        file_error(path, "out of memory for %zu tensors", count);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        cg_tensor *t = cg_empty(infos[i].shape, infos[i].dtype);
        if (!t) {
            file_error(path, "tensor '%s': %s", infos[i].name, cg_last_error());
            return -1;
        }
        cg_tensor_unscope(t);
        contents->tensors[contents->tensor_count++] = (cg_safetensors_entry){infos[i].name, t};
        const size_t bytes = (size_t)(infos[i].end - infos[i].begin);
        if (bytes && fread(cg_tensor_data(t), 1, bytes, stream) != bytes) {
            file_error(path, "tensor '%s': the file ended early (was it changed while read?)",
                       infos[i].name);
            return -1;
        }
    }
    return 0;
}

/* Parses the header's tensors and metadata, checks them and reads the data. */
static int read_body(FILE *stream, const char *path, uint64_t data_size,
                     cg_safetensors_contents *contents) {
    const cg_json_value *root = contents->header.values;
    if (root->type != CG_JSON_OBJECT) {
        file_error(path, "the header must be a JSON object, not %s", cg_json_type_name(root->type));
        return -1;
    }
    tensor_info *infos = malloc((root->count ? root->count : 1) * sizeof *infos);
    if (!infos) {
        file_error(path, "out of memory for %" PRIu32 " header entries", root->count);
        return -1;
    }
    size_t count = 0;
    int status = 0;
    const cg_json_value *key = cg_json_first(root);
    for (uint32_t i = 0; i < root->count && status == 0; i++, key = cg_json_next(key + 1)) {
        const char *name = key->as.string.text;
        if (strcmp(name, "__metadata__") == 0) {
            status = parse_metadata(path, key + 1, contents);
            continue;
        }
        status = parse_tensor_info(path, name, key + 1, &infos[count]);
        if (status == 0) status = check_tensor_size(path, &infos[count++], data_size);
    }
    if (status == 0) status = check_tiling(path, infos, count, data_size);
    if (status == 0) status = read_tensors(stream, path, infos, count, contents);
    free(infos);
    return status;
}

static int read_contents(FILE *stream, const char *path, cg_safetensors_contents *contents) {
    struct stat info;
    if (fstat(fileno(stream), &info) != 0 || !S_ISREG(info.st_mode)) {
        file_error(path, "not a regular file");
        return -1;
    }
    const uint64_t file_size = (uint64_t)info.st_size;
    unsigned char length_field[LENGTH_FIELD_BYTES];
    if (file_size < LENGTH_FIELD_BYTES ||
        fread(length_field, 1, sizeof length_field, stream) != sizeof length_field) {
        file_error(path, "the file is %" PRIu64 " bytes, too short for the 8-byte header length",
                   file_size);
        return -1;
    }
    uint64_t header_length = 0;
    for (int i = LENGTH_FIELD_BYTES - 1; i >= 0; i--)
        header_length = header_length << 8 | length_field[i];
    if (header_length > CG_SAFETENSORS_MAX_HEADER) {
        file_error(path, "the header length %" PRIu64 " is over the limit of %u bytes",
                   header_length, CG_SAFETENSORS_MAX_HEADER);
        return -1;
    }
    if (header_length > file_size - LENGTH_FIELD_BYTES) {
        file_error(path,
                   "the header length %" PRIu64 " is larger than the %" PRIu64
                   " bytes that follow it (truncated file?)",
                   header_length, file_size - LENGTH_FIELD_BYTES);
        return -1;
    }
    char *text = malloc(header_length ? header_length : 1);
    if (!text) {
        file_error(path, "out of memory for a header of %" PRIu64 " bytes", header_length);
        return -1;
    }
    int status = 0;
    if (fread(text, 1, header_length, stream) != header_length) {
        file_error(path, "cannot read the header");
        status = -1;
    } else if (cg_json_parse(text, header_length, &contents->header) < 0) {
        file_error(path, "the header is not valid JSON: %s", cg_last_error());
        status = -1;
    }
    free(text);
    if (status == 0)
        status = read_body(stream, path, file_size - LENGTH_FIELD_BYTES - header_length, contents);
    return status;
}

cg_safetensors_contents *cg_safetensors_read(const char *path) {
    if (!path) {
        cg_error_set("safetensors: no path given");
        return NULL;
    }
    FILE *stream = fopen(path, "rb");
    if (!stream) {
        file_error(path, "cannot open: %s", strerror(errno));
        return NULL;
    }
    cg_safetensors_contents *contents = calloc(1, sizeof *contents);
    int status = -1;
    if (!contents)
        file_error(path, "out of memory");
    else
        status = read_contents(stream, path, contents);
    fclose(stream);
    if (status < 0) {
        cg_safetensors_contents_free(contents);
        return NULL;
    }
    return contents;
}

void cg_safetensors_contents_free(cg_safetensors_contents *contents) {
    if (!contents) return;
    for (size_t i = 0; i < contents->tensor_count; i++)
        cg_release(contents->tensors[i].tensor);
    free(contents->tensors);
    free(contents->metadata);
    cg_json_free(&contents->header);
    free(contents);
}

cg_tensor *cg_safetensors_find(const cg_safetensors_contents *contents, const char *name) {
    for (size_t i = 0; i < contents->tensor_count; i++) {
        if (strcmp(contents->tensors[i].name, name) == 0) return contents->tensors[i].tensor;
    }
    return NULL;
}

const char *cg_safetensors_find_metadata(const cg_safetensors_contents *contents, const char *key) {
    for (size_t i = 0; i < contents->metadata_count; i++) {
        if (strcmp(contents->metadata[i].key, key) == 0) return contents->metadata[i].value;
    }
    return NULL;
}
