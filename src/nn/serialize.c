/* cg_model_save and cg_model_load: a model is a safetensors file holding every parameter and
 * buffer under its state-dict name ("0.weight", "1.running_mean"), with the architecture (the
 * model's spec text), the compile settings and the user's metadata in __metadata__. The
 * optimizer's state is not saved: a loaded model gets a fresh optimizer of the saved kind. A
 * training checkpoint (nn/checkpoint.c) is such a file with the training state added, so
 * cg_model_load reads its model and leaves the rest. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/tensor.h"
#include "io/safetensors.h"
#include "nn/checkpoint.h"
#include "nn/metrics.h"
#include "nn/nn_internal.h"

#define FORMAT_NAME "cgrad"
#define FORMAT_VERSION "1"
/* User metadata keys get this prefix, so they cannot collide with the format's own keys. */
#define USER_KEY_PREFIX "user."

/* The keys the format itself writes: format, format_version, architecture, loss, metrics and
 * optimizer. */
enum { FORMAT_KEY_COUNT = 6, METRICS_TEXT_MAX = 64 };
/* Room for tensor headers and small buffers beyond the tensors' data when rebuilding a model. */
enum { JUSTIFIED_SLACK_BYTES = 1 << 20 };

void cg_model_file_error(const char *function, const char *path, const char *format, ...) {
    char message[768];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    cg_error_set("%s: '%s': %s", function, path, message);
}

/* Puts "function: " in front of the last error. */
static void prefix_last_error(const char *function) {
    char message[768];
    snprintf(message, sizeof message, "%s", cg_last_error());
    cg_error_set("%s: %s", function, message);
}

/* ----- saving ----- */

/* The model's tensors with copies of their names (the visitor's name is temporary). */
typedef struct {
    cg_safetensors_entry *entries;
    size_t count, capacity;
} tensor_list;

static int collect_tensor(const char *name, cg_tensor *tensor, bool trainable, void *userdata) {
    (void)trainable;
    tensor_list *list = userdata;
    if (list->count == list->capacity) {
        const size_t capacity = list->capacity ? list->capacity * 2 : 16;
        cg_safetensors_entry *entries = realloc(list->entries, capacity * sizeof *entries);
        if (!entries) {
            cg_error_set("out of memory listing the tensors");
            return -1;
        }
        list->entries = entries;
        list->capacity = capacity;
    }
    char *copy = malloc(strlen(name) + 1);
    if (!copy) {
        cg_error_set("out of memory listing the tensors");
        return -1;
    }
    strcpy(copy, name);
    list->entries[list->count++] = (cg_safetensors_entry){copy, tensor};
    return 0;
}

static void tensor_list_free(tensor_list *list) {
    for (size_t i = 0; i < list->count; i++)
        free((char *)list->entries[i].name);
    free(list->entries);
}

/* "accuracy,mae": the names of the metric flags, in logging order. */
static void format_metrics(unsigned metrics, char *text, size_t size) {
    size_t used = 0;
    text[0] = '\0';
    for (int kind = 0; kind < CG_METRIC_KIND_COUNT; kind++) {
        if (!(metrics & cg_metric_flag(kind))) continue;
        used += (size_t)snprintf(text + used, size - used, "%s%s", used ? "," : "",
                                 cg_metric_name(kind));
    }
}

/* The metadata: the format's keys, then each user entry under USER_KEY_PREFIX + its key (those
 * keys are written into user_keys, which the caller frees). */
static int build_metadata(const cg_model *model, const char *architecture, const char *metrics,
                          cg_safetensors_metadata *metadata, size_t *count, char **user_keys) {
    size_t n = 0;
    metadata[n++] = (cg_safetensors_metadata){"format", FORMAT_NAME};
    metadata[n++] = (cg_safetensors_metadata){"format_version", FORMAT_VERSION};
    metadata[n++] = (cg_safetensors_metadata){"architecture", architecture};
    if (model->compiled) {
        metadata[n++] = (cg_safetensors_metadata){"loss", cg_loss_name(model->loss)};
        metadata[n++] = (cg_safetensors_metadata){"metrics", metrics};
        metadata[n++] = (cg_safetensors_metadata){
            "optimizer", cg_optimizer_name(cg_optimizer_get_kind(model->optimizer))};
    }
    for (int i = 0; i < model->metadata_count; i++) {
        const char *key = model->metadata[i].key;
        user_keys[i] = malloc(sizeof USER_KEY_PREFIX + strlen(key));
        if (!user_keys[i]) {
            cg_error_set("out of memory for the metadata");
            return -1;
        }
        strcat(strcpy(user_keys[i], USER_KEY_PREFIX), key);
        metadata[n++] = (cg_safetensors_metadata){user_keys[i], model->metadata[i].value};
    }
    *count = n;
    return 0;
}

/* The model's tensors, then the extra ones. */
static int collect_file_tensors(const cg_model *model, const cg_safetensors_entry *extra,
                                size_t extra_count, tensor_list *tensors) {
    if (cg_model_visit_tensors(model, collect_tensor, tensors) != 0) return -1;
    for (size_t i = 0; i < extra_count; i++)
        if (collect_tensor(extra[i].name, extra[i].tensor, false, tensors) != 0) return -1;
    return 0;
}

int cg_model_file_write(const cg_model *model, const char *path, const char *function,
                        const cg_safetensors_entry *extra_tensors, size_t extra_tensor_count,
                        const cg_safetensors_metadata *extra_metadata,
                        size_t extra_metadata_count) {
    if (!model || !path) {
        cg_error_set("%s: needs a model and a path", function);
        return -1;
    }
    if (!model->built) {
        cg_model_file_error(function, path,
                            "the model is not built (build it, or fit it, before saving)");
        return -1;
    }
    const size_t user_count = (size_t)model->metadata_count;
    tensor_list tensors = {0};
    char metrics[METRICS_TEXT_MAX];
    format_metrics(model->metrics, metrics, sizeof metrics);
    char *architecture = cg_model_to_spec(model);
    char **user_keys = calloc(user_count ? user_count : 1, sizeof *user_keys);
    cg_safetensors_metadata *metadata =
        malloc((FORMAT_KEY_COUNT + user_count + extra_metadata_count) * sizeof *metadata);
    size_t metadata_count = 0;
    int status = architecture ? 0 : -1;
    if (status == 0 && (!user_keys || !metadata)) {
        cg_error_set("out of memory for the metadata");
        status = -1;
    }
    if (status == 0)
        status = build_metadata(model, architecture, metrics, metadata, &metadata_count, user_keys);
    for (size_t i = 0; status == 0 && i < extra_metadata_count; i++)
        metadata[metadata_count++] = extra_metadata[i];
    if (status == 0)
        status = collect_file_tensors(model, extra_tensors, extra_tensor_count, &tensors);
    if (status != 0)
        cg_model_file_error(function, path, "%s", cg_last_error());
    else if (cg_safetensors_write(path, tensors.entries, tensors.count, metadata, metadata_count) <
             0) {
        prefix_last_error(function);
        status = -1;
    }
    for (size_t i = 0; user_keys && i < user_count; i++)
        free(user_keys[i]);
    free(user_keys);
    free(metadata);
    free(architecture);
    tensor_list_free(&tensors);
    return status == 0 ? 0 : -1;
}

int cg_model_save(const cg_model *model, const char *path) {
    return cg_model_file_write(model, path, "cg_model_save", NULL, 0, NULL, 0);
}

/* ----- loading ----- */

typedef struct {
    const char *function, *path;
    const cg_safetensors_contents *contents;
    bool *used; /* per file tensor: claimed by a model tensor */
} tensor_check;

static int check_tensor(const char *name, cg_tensor *tensor, bool trainable, void *userdata) {
    (void)trainable;
    const tensor_check *check = userdata;
    size_t i = 0;
    while (i < check->contents->tensor_count && strcmp(check->contents->tensors[i].name, name) != 0)
        i++;
    if (i == check->contents->tensor_count) {
        cg_model_file_error(check->function, check->path, "tensor '%s' is missing from the file",
                            name);
        return -1;
    }
    const cg_tensor *saved = check->contents->tensors[i].tensor;
    if (saved->dtype != tensor->dtype) {
        cg_model_file_error(check->function, check->path,
                            "tensor '%s' is %s in the file, but the architecture makes it %s", name,
                            cg_dtype_name(saved->dtype), cg_dtype_name(tensor->dtype));
        return -1;
    }
    if (saved->ndim != tensor->ndim ||
        memcmp(saved->shape, tensor->shape, sizeof(int64_t) * (size_t)saved->ndim) != 0) {
        cg_model_file_error(
            check->function, check->path,
            "tensor '%s' has shape %s in the file, but the architecture makes it %s", name,
            cg_shape_text(saved), cg_shape_text(tensor));
        return -1;
    }
    check->used[i] = true;
    return 0;
}

/* Whether the file is a training checkpoint, whose own tensors (cg_checkpoint_tensor_name) are
 * no part of the model. */
static bool is_checkpoint(const cg_safetensors_contents *contents) {
    return cg_safetensors_find_metadata(contents, CG_CHECKPOINT_FORMAT_KEY) != NULL;
}

int cg_model_file_check_tensors(const char *function, const char *path, const cg_model *model,
                                const cg_safetensors_contents *contents) {
    tensor_check check = {function, path, contents,
                          calloc(contents->tensor_count + 1, sizeof(bool))};
    if (!check.used) {
        cg_model_file_error(function, path, "out of memory");
        return -1;
    }
    const bool checkpoint = is_checkpoint(contents);
    int status = cg_model_visit_tensors(model, check_tensor, &check) == 0 ? 0 : -1;
    for (size_t i = 0; status == 0 && i < contents->tensor_count; i++) {
        const char *name = contents->tensors[i].name;
        if (!check.used[i] && !(checkpoint && cg_checkpoint_tensor_name(name))) {
            cg_model_file_error(function, path,
                                "unexpected tensor '%s' (the architecture has no such tensor)",
                                name);
            status = -1;
        }
    }
    free(check.used);
    return status;
}

typedef struct {
    const char *function, *path;
    const cg_safetensors_contents *contents;
} tensor_copy;

static int copy_tensor(const char *name, cg_tensor *tensor, bool trainable, void *userdata) {
    (void)trainable;
    const tensor_copy *copy = userdata;
    /* The file's tensors are on the CPU; a model may be on a GPU. */
    cg_tensor *saved =
        cg_to_device(cg_safetensors_find(copy->contents, name), cg_tensor_device(tensor));
    const int status = saved ? cg_copy_(tensor, saved) : -1;
    cg_release(saved);
    if (status == 0) return 0;
    cg_model_file_error(copy->function, copy->path, "tensor '%s': %s", name, cg_last_error());
    return -1;
}

int cg_model_file_copy_tensors(const char *function, const char *path, cg_model *model,
                               const cg_safetensors_contents *contents) {
    tensor_copy copy = {function, path, contents};
    const bool grad_was_enabled = cg_set_grad_enabled(false);
    const int status = cg_model_visit_tensors(model, copy_tensor, &copy) == 0 ? 0 : -1;
    cg_set_grad_enabled(grad_was_enabled);
    return status;
}

/* The first floating-point dtype among the file's tensors, or CG_DTYPE_COUNT when none is. */
static cg_dtype saved_float_dtype(const cg_safetensors_contents *contents) {
    for (size_t i = 0; i < contents->tensor_count; i++) {
        if (cg_dtype_is_float(contents->tensors[i].tensor->dtype))
            return contents->tensors[i].tensor->dtype;
    }
    return CG_DTYPE_COUNT;
}

/* Copies every tensor of the file into the rebuilt model: each model tensor must be in the file
 * with its dtype and shape, and the file may hold no other. A model saved in float64 (see
 * cg_model_to_dtype) is converted to float64 first, as the spec text does not record it. */
static int load_tensors(const char *path, cg_model *model,
                        const cg_safetensors_contents *contents) {
    if (saved_float_dtype(contents) == CG_FLOAT64 && cg_model_to_dtype(model, CG_FLOAT64) < 0) {
        cg_model_file_error("cg_model_load", path, "%s", cg_last_error());
        return -1;
    }
    if (cg_model_file_check_tensors("cg_model_load", path, model, contents) != 0) return -1;
    return cg_model_file_copy_tensors("cg_model_load", path, model, contents);
}

static int restore_user_metadata(const char *path, cg_model *model,
                                 const cg_safetensors_contents *contents) {
    const size_t prefix_length = strlen(USER_KEY_PREFIX);
    for (size_t i = 0; i < contents->metadata_count; i++) {
        const cg_safetensors_metadata *entry = &contents->metadata[i];
        if (strncmp(entry->key, USER_KEY_PREFIX, prefix_length) != 0) continue;
        if (cg_model_set_metadata(model, entry->key + prefix_length, entry->value) < 0) {
            cg_model_file_error("cg_model_load", path, "metadata '%s': %s", entry->key,
                                cg_last_error());
            return -1;
        }
    }
    return 0;
}

/* Parses "accuracy,mae" into CG_METRIC_* flags. */
static int parse_metrics(const char *path, const char *text, unsigned *metrics) {
    *metrics = 0;
    while (*text) {
        const size_t length = strcspn(text, ",");
        int kind = 0;
        while (kind < CG_METRIC_KIND_COUNT && (strlen(cg_metric_name(kind)) != length ||
                                               strncmp(text, cg_metric_name(kind), length) != 0))
            kind++;
        if (kind == CG_METRIC_KIND_COUNT) {
            cg_model_file_error("cg_model_load", path, "unknown metric '%.*s' in the metadata",
                                (int)length, text);
            return -1;
        }
        *metrics |= cg_metric_flag(kind);
        text += length + (text[length] == ',');
    }
    return 0;
}

/* Compiles the model as it was saved (loss, metrics, optimizer kind with default options), or
 * leaves it uncompiled when it was saved so. */
static int restore_compile(const char *path, cg_model *model,
                           const cg_safetensors_contents *contents) {
    const char *loss_name = cg_safetensors_find_metadata(contents, "loss");
    if (!loss_name) return 0;
    const char *metrics_text = cg_safetensors_find_metadata(contents, "metrics");
    const char *optimizer_name = cg_safetensors_find_metadata(contents, "optimizer");
    if (!metrics_text || !optimizer_name) {
        cg_model_file_error("cg_model_load", path, "the metadata has a loss but no %s",
                            metrics_text ? "optimizer" : "metrics");
        return -1;
    }
    cg_loss loss;
    cg_optimizer_kind kind;
    unsigned metrics;
    if (cg_loss_parse(loss_name, &loss) < 0 || cg_optimizer_parse(optimizer_name, &kind) < 0) {
        cg_model_file_error("cg_model_load", path, "%s", cg_last_error());
        return -1;
    }
    if (parse_metrics(path, metrics_text, &metrics) < 0) return -1;
    const cg_optimizer_options options = cg_optimizer_defaults(kind);
    if (cg_compile(model, cg_optimizer_new(kind, &options), loss, metrics) < 0) {
        cg_model_file_error("cg_model_load", path, "%s", cg_last_error());
        return -1;
    }
    return 0;
}

/* What rebuilding the architecture of a file may allocate: its tensors' bytes for the model's
 * tensors, as much again for a float64 conversion and for the initial values the layers draw
 * before the file's replace them, and a little for headers. */
static size_t justified_bytes(const cg_safetensors_contents *contents) {
    size_t bytes = 0;
    for (size_t i = 0; i < contents->tensor_count; i++) {
        const cg_tensor *tensor = contents->tensors[i].tensor;
        bytes += (size_t)cg_numel(tensor) * cg_dtype_size(tensor->dtype);
    }
    return 4 * bytes + JUSTIFIED_SLACK_BYTES;
}

static cg_model *model_from_contents(const char *path, const cg_safetensors_contents *contents) {
    const char *format = cg_safetensors_find_metadata(contents, "format");
    const char *version = cg_safetensors_find_metadata(contents, "format_version");
    const char *architecture = cg_safetensors_find_metadata(contents, "architecture");
    if (!format || strcmp(format, FORMAT_NAME) != 0) {
        cg_model_file_error("cg_model_load", path,
                            "not a cgrad model (its metadata has no \"format\": \"" FORMAT_NAME
                            "\")");
        return NULL;
    }
    if (!version || strcmp(version, FORMAT_VERSION) != 0) {
        cg_model_file_error("cg_model_load", path,
                            "format_version '%s' is not supported (this build reads " FORMAT_VERSION
                            ")",
                            version ? version : "(missing)");
        return NULL;
    }
    if (!architecture) {
        cg_model_file_error("cg_model_load", path, "the metadata has no architecture");
        return NULL;
    }
    /* The rebuilt model's tensors must match the file's, so the file's size bounds what building
     * may take; a crafted architecture line cannot make the loader allocate more. */
    const size_t previous_limit = cg_alloc_limit_thread(justified_bytes(contents));
    cg_model *model = cg_model_from_spec(architecture);
    if (!model) {
        cg_alloc_limit_thread(previous_limit);
        cg_model_file_error("cg_model_load", path, "architecture: %s", cg_last_error());
        return NULL;
    }
    int status = model->built ? 0 : -1;
    if (status != 0)
        cg_model_file_error("cg_model_load", path, "the architecture has no input line");
    if (status == 0) status = load_tensors(path, model, contents);
    cg_alloc_limit_thread(previous_limit);
    if (status != 0 || restore_user_metadata(path, model, contents) < 0 ||
        restore_compile(path, model, contents) < 0) {
        cg_model_free(model);
        return NULL;
    }
    return model;
}

cg_model *cg_model_load(const char *path) {
    if (!path) {
        cg_error_set("cg_model_load: no path given");
        return NULL;
    }
    cg_safetensors_contents *contents = cg_safetensors_read(path);
    if (!contents) {
        prefix_last_error("cg_model_load");
        return NULL;
    }
    cg_model *model = model_from_contents(path, contents);
    cg_safetensors_contents_free(contents);
    return model;
}
