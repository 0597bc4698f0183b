/* cg_model_summary: a Keras-style table of layers, output shapes and parameter counts. */
#include <ctype.h>
#include <string.h>

#include "core/error.h"
#include "nn/nn_internal.h"

enum { RULE_WIDTH = 72, NAME_WIDTH = 30, SHAPE_WIDTH = 26 };

static void print_rule(FILE *out, char c) {
    for (int i = 0; i < RULE_WIDTH; i++)
        fputc(c, out);
    fputc('\n', out);
}

/* "(None, 16)": the batch dim is open, as in Keras. */
static void format_output_shape(cg_shape shape, char *buffer, size_t size) {
    size_t used = (size_t)snprintf(buffer, size, "(None");
    for (int d = 0; d < shape.ndim && used < size; d++)
        used += (size_t)snprintf(buffer + used, size - used, ", %lld", (long long)shape.dims[d]);
    if (used < size) snprintf(buffer + used, size - used, ")");
}

/* Keras names layers by type, numbering repeats: dense, dense_1, dense_2. */
static void format_layer_name(const cg_model *model, int index, char *buffer, size_t size) {
    const char *type = model->layers[index]->layer_class->type;
    int earlier = 0;
    for (int i = 0; i < index; i++)
        earlier += strcmp(model->layers[i]->layer_class->type, type) == 0;
    char class_name[CG_NAME_MAX];
    snprintf(class_name, sizeof class_name, "%s", type);
    class_name[0] = (char)toupper((unsigned char)class_name[0]);
    if (earlier)
        snprintf(buffer, size, "%s_%d (%s)", type, earlier, class_name);
    else
        snprintf(buffer, size, "%s (%s)", type, class_name);
}

int cg_model_summary(const cg_model *model, FILE *out) {
    if (!model || !out) {
        cg_error_set("cg_model_summary: needs a model and an output stream");
        return -1;
    }
    if (!model->built) {
        cg_error_set("cg_model_summary: the model is not built yet (call cg_model_build, or "
                     "start its spec with an input line)");
        return -1;
    }
    int64_t trainable = 0, non_trainable = 0;
    print_rule(out, '_');
    fprintf(out, " %-*s %-*s %s\n", NAME_WIDTH, "Layer (type)", SHAPE_WIDTH, "Output Shape",
            "Param #");
    print_rule(out, '=');
    for (int i = 0; i < model->layer_count; i++) {
        const cg_layer *layer = model->layers[i];
        int64_t count = 0;
        for (int j = 0; j < layer->tensor_count; j++) {
            const int64_t numel = cg_numel(layer->tensors[j].tensor);
            count += numel;
            *(layer->tensors[j].trainable ? &trainable : &non_trainable) += numel;
        }
        char name[96], shape[96];
        format_layer_name(model, i, name, sizeof name);
        format_output_shape(layer->output_shape, shape, sizeof shape);
        fprintf(out, " %-*s %-*s %lld\n", NAME_WIDTH, name, SHAPE_WIDTH, shape, (long long)count);
    }
    print_rule(out, '=');
    fprintf(out, "Total params: %lld\nTrainable params: %lld\nNon-trainable params: %lld\n",
            (long long)(trainable + non_trainable), (long long)trainable, (long long)non_trainable);
    print_rule(out, '_');
    if (ferror(out)) {
        cg_error_set("cg_model_summary: writing the summary failed");
        return -1;
    }
    return 0;
}
