/* Optimizers: their options and checks, per-parameter state kept by position, gradient clipping
 * by global norm, and the step, which hands each parameter to one fused backend kernel. The update
 * rules are PyTorch's (torch.optim.SGD, Adam, AdamW, RMSprop with their default flags). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/device.h"
#include "core/error.h"
#include "core/tensor.h"
#include "nn/nn_internal.h"

enum { STATE_SLOTS = 2 };

typedef struct {
    cg_tensor *state[STATE_SLOTS]; /* owned; created at the parameter's first gradient */
    int64_t steps;                 /* steps that updated this parameter (Adam's bias correction) */
} parameter_state;

struct cg_optimizer {
    cg_optimizer_kind kind;
    cg_optimizer_options options;
    parameter_state *parameters; /* one per position in the list, allocated by the first step */
    int parameter_count;         /* -1 before the first step */
};

static const char *const optimizer_names[CG_OPTIMIZER_COUNT] = {"sgd", "adam", "adamw", "rmsprop"};

static bool valid_kind(cg_optimizer_kind kind) { return (unsigned)kind < CG_OPTIMIZER_COUNT; }

const char *cg_optimizer_name(cg_optimizer_kind kind) {
    return valid_kind(kind) ? optimizer_names[kind] : "invalid";
}

int cg_optimizer_parse(const char *name, cg_optimizer_kind *kind) {
    for (int k = 0; name && k < CG_OPTIMIZER_COUNT; k++) {
        if (strcmp(name, optimizer_names[k]) == 0) {
            *kind = (cg_optimizer_kind)k;
            return 0;
        }
    }
    cg_error_set("unknown optimizer '%s' (expected sgd, adam, adamw or rmsprop)",
                 name ? name : "(null)");
    return -1;
}

/* ----- options ----- */

cg_optimizer_options cg_optimizer_defaults(cg_optimizer_kind kind) {
    switch (kind) {
    case CG_OPTIMIZER_SGD: return (cg_optimizer_options){.learning_rate = 0.01};
    case CG_OPTIMIZER_ADAM:
        return (cg_optimizer_options){
            .learning_rate = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .epsilon = 1e-8};
    case CG_OPTIMIZER_ADAMW:
        return (cg_optimizer_options){.learning_rate = 1e-3,
                                      .beta1 = 0.9,
                                      .beta2 = 0.999,
                                      .epsilon = 1e-8,
                                      .weight_decay = 0.01};
    case CG_OPTIMIZER_RMSPROP:
        return (cg_optimizer_options){.learning_rate = 0.01, .rho = 0.99, .epsilon = 1e-8};
    default: break;
    }
    cg_error_set("optimizer defaults: unknown optimizer kind %d", (int)kind);
    return (cg_optimizer_options){0};
}

/* Which kinds read each option; an option a kind does not read must stay 0, so that a setting
 * meant for another optimizer is reported instead of silently ignored. */
enum {
    FOR_ALL = (1 << CG_OPTIMIZER_COUNT) - 1,
    FOR_SGD = 1 << CG_OPTIMIZER_SGD,
    FOR_ADAM = (1 << CG_OPTIMIZER_ADAM) | (1 << CG_OPTIMIZER_ADAMW),
    FOR_RMSPROP = 1 << CG_OPTIMIZER_RMSPROP,
};

typedef struct {
    unsigned read_by;
    const char *name;
    double value;
    double low, high; /* the value must lie in [low, high), or (low, high) when low_open */
    bool low_open;
} option_rule;

static bool check_option(cg_optimizer_kind kind, const option_rule *rule) {
    const char *optimizer = optimizer_names[kind];
    if (!(rule->read_by & (1u << kind))) {
        if (rule->value == 0) return true;
        cg_error_set("%s: %s is not an option of %s (leave it 0)", optimizer, rule->name,
                     optimizer);
        return false;
    }
    const bool above = rule->low_open ? rule->value > rule->low : rule->value >= rule->low;
    if (above && rule->value < rule->high) return true;
    cg_error_set("%s: %s must be in %c%g, %g), got %g", optimizer, rule->name,
                 rule->low_open ? '(' : '[', rule->low, rule->high, rule->value);
    return false;
}

static bool check_options(cg_optimizer_kind kind, const cg_optimizer_options *o) {
    const option_rule rules[] = {
        {FOR_ALL, "learning_rate", o->learning_rate, 0, INFINITY, true},
        {FOR_ALL, "weight_decay", o->weight_decay, 0, INFINITY, false},
        {FOR_ALL, "clip_norm", o->clip_norm, 0, INFINITY, false},
        {FOR_SGD | FOR_RMSPROP, "momentum", o->momentum, 0, 1, false},
        {FOR_ADAM, "beta1", o->beta1, 0, 1, false},
        {FOR_ADAM, "beta2", o->beta2, 0, 1, false},
        {FOR_ADAM | FOR_RMSPROP, "epsilon", o->epsilon, 0, INFINITY, true},
        {FOR_RMSPROP, "rho", o->rho, 0, 1, false},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (!check_option(kind, &rules[i])) return false;
    if (!o->nesterov) return true;
    if (kind != CG_OPTIMIZER_SGD)
        cg_error_set("%s: nesterov is not an option of %s (leave it false)", optimizer_names[kind],
                     optimizer_names[kind]);
    else if (o->momentum == 0)
        cg_error_set("sgd: nesterov needs a momentum > 0");
    return kind == CG_OPTIMIZER_SGD && o->momentum > 0;
}

cg_optimizer *cg_optimizer_new(cg_optimizer_kind kind, const cg_optimizer_options *options) {
    if (!valid_kind(kind)) {
        cg_error_set("optimizer: unknown optimizer kind %d", (int)kind);
        return NULL;
    }
    const cg_optimizer_options chosen = options ? *options : cg_optimizer_defaults(kind);
    if (!check_options(kind, &chosen)) return NULL;
    cg_optimizer *optimizer = calloc(1, sizeof *optimizer);
    if (!optimizer) {
        cg_error_set("%s: out of memory", optimizer_names[kind]);
        return NULL;
    }
    optimizer->kind = kind;
    optimizer->options = chosen;
    optimizer->parameter_count = -1;
    return optimizer;
}

cg_optimizer *cg_sgd(double learning_rate, double momentum, bool nesterov) {
    cg_optimizer_options options = cg_optimizer_defaults(CG_OPTIMIZER_SGD);
    options.learning_rate = learning_rate;
    options.momentum = momentum;
    options.nesterov = nesterov;
    return cg_optimizer_new(CG_OPTIMIZER_SGD, &options);
}

cg_optimizer *cg_adam(double learning_rate) {
    cg_optimizer_options options = cg_optimizer_defaults(CG_OPTIMIZER_ADAM);
    options.learning_rate = learning_rate;
    return cg_optimizer_new(CG_OPTIMIZER_ADAM, &options);
}

cg_optimizer *cg_adamw(double learning_rate, double weight_decay) {
    cg_optimizer_options options = cg_optimizer_defaults(CG_OPTIMIZER_ADAMW);
    options.learning_rate = learning_rate;
    options.weight_decay = weight_decay;
    return cg_optimizer_new(CG_OPTIMIZER_ADAMW, &options);
}

cg_optimizer *cg_rmsprop(double learning_rate) {
    cg_optimizer_options options = cg_optimizer_defaults(CG_OPTIMIZER_RMSPROP);
    options.learning_rate = learning_rate;
    return cg_optimizer_new(CG_OPTIMIZER_RMSPROP, &options);
}

/* ----- accessors ----- */

double cg_optimizer_learning_rate(const cg_optimizer *optimizer) {
    if (!optimizer) {
        cg_error_set("optimizer learning rate: optimizer is NULL");
        return NAN;
    }
    return optimizer->options.learning_rate;
}

void cg_optimizer_set_learning_rate(cg_optimizer *optimizer, double learning_rate) {
    if (!optimizer) {
        cg_error_set("optimizer set learning rate: optimizer is NULL");
        return;
    }
    /* 0 is allowed here: a cosine schedule ends at min_lr, which may be 0. */
    if (!(learning_rate >= 0) || isinf(learning_rate)) {
        cg_error_set("%s: learning rate must be finite and >= 0, got %g (left at %g)",
                     optimizer_names[optimizer->kind], learning_rate,
                     optimizer->options.learning_rate);
        return;
    }
    optimizer->options.learning_rate = learning_rate;
}

cg_optimizer_kind cg_optimizer_get_kind(const cg_optimizer *optimizer) {
    if (!optimizer) {
        cg_error_set("optimizer kind: optimizer is NULL");
        return CG_OPTIMIZER_COUNT;
    }
    return optimizer->kind;
}

cg_optimizer_options cg_optimizer_get_options(const cg_optimizer *optimizer) {
    if (optimizer) return optimizer->options;
    cg_error_set("optimizer options: optimizer is NULL");
    return (cg_optimizer_options){0};
}

void cg_optimizer_free(cg_optimizer *optimizer) {
    if (!optimizer) return;
    for (int i = 0; i < optimizer->parameter_count; i++)
        for (int s = 0; s < STATE_SLOTS; s++)
            cg_release(optimizer->parameters[i].state[s]);
    free(optimizer->parameters);
    free(optimizer);
}

int cg_optimizer_move_state(cg_optimizer *optimizer, cg_device device) {
    for (int i = 0; i < optimizer->parameter_count; i++)
        for (int s = 0; s < STATE_SLOTS; s++)
            if (optimizer->parameters[i].state[s] &&
                cg_tensor_move_(optimizer->parameters[i].state[s], device) != 0)
                return -1;
    return 0;
}

/* ----- step ----- */

/* How many state tensors the rule keeps per parameter (see cg_optimizer_update). */
static int state_slots_used(const cg_optimizer *optimizer) {
    const bool momentum = optimizer->options.momentum > 0;
    switch (optimizer->kind) {
    case CG_OPTIMIZER_SGD: return momentum ? 1 : 0;
    case CG_OPTIMIZER_RMSPROP: return momentum ? 2 : 1;
    default: return 2;
    }
}

/* The first step fixes the number of positions; later steps must pass as many parameters. */
static int claim_positions(cg_optimizer *optimizer, int count) {
    const char *name = optimizer_names[optimizer->kind];
    if (optimizer->parameter_count >= 0) {
        if (count == optimizer->parameter_count) return 0;
        cg_error_set("%s step: %d parameters, but earlier steps had %d (pass the same list every "
                     "step)",
                     name, count, optimizer->parameter_count);
        return -1;
    }
    optimizer->parameters = calloc((size_t)(count > 0 ? count : 1), sizeof(parameter_state));
    if (!optimizer->parameters) {
        cg_error_set("%s step: out of memory for the state of %d parameters", name, count);
        return -1;
    }
    optimizer->parameter_count = count;
    return 0;
}

static bool same_geometry(const cg_tensor *a, const cg_tensor *b) {
    return a->dtype == b->dtype && a->ndim == b->ndim &&
           memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim) == 0 &&
           cg_device_equal(a->storage->device, b->storage->device);
}

/* Checks parameter i and its gradient against each other and against the state kept for the
 * position, and creates the state at the parameter's first gradient (outside any scope, since the
 * optimizer owns it). */
static int prepare_parameter(cg_optimizer *optimizer, cg_tensor *param, int i) {
    const char *name = optimizer_names[optimizer->kind];
    if (!param) {
        cg_error_set("%s step: parameter %d is NULL", name, i);
        return -1;
    }
    if (!cg_dtype_is_float(param->dtype)) {
        cg_error_set("%s step: parameter %d is %s; only float32 and float64 can be trained", name,
                     i, cg_dtype_name(param->dtype));
        return -1;
    }
    if (!param->grad) return 0;
    if (!same_geometry(param, param->grad)) {
        cg_error_set("%s step: parameter %d is %s %s but its gradient is %s %s", name, i,
                     cg_shape_text(param), cg_dtype_name(param->dtype), cg_shape_text(param->grad),
                     cg_dtype_name(param->grad->dtype));
        return -1;
    }
    const cg_backend *backend = cg_tensor_backend(param);
    if (!backend) return -1;
    if (!backend->optimizer_update || !backend->sum_of_squares) {
        cg_error_set("%s step: the %s backend has no optimizer kernels", name, backend->name);
        return -1;
    }
    parameter_state *kept = &optimizer->parameters[i];
    for (int s = 0; s < state_slots_used(optimizer); s++) {
        if (kept->state[s] && !same_geometry(param, kept->state[s])) {
            cg_error_set("%s step: parameter %d is %s %s but its state is for %s %s (pass the same "
                         "list every step)",
                         name, i, cg_shape_text(param), cg_dtype_name(param->dtype),
                         cg_shape_text(kept->state[s]), cg_dtype_name(kept->state[s]->dtype));
            return -1;
        }
        if (kept->state[s]) continue;
        cg_tensor *zeros = cg_zeros_like(param);
        if (!zeros) return -1;
        cg_tensor_unscope(zeros);
        kept->state[s] = zeros;
    }
    return 0;
}

/* The factor of torch.nn.utils.clip_grad_norm_: clip_norm / (norm + 1e-6) capped at 1, where norm
 * is the L2 norm of every gradient together. A non-finite norm gives NaN, as in PyTorch, so the
 * failure shows in the parameters instead of being hidden. */
static int clipping_factor(cg_tensor *const *params, int count, double clip_norm, double *factor) {
    double total = 0;
    for (int i = 0; i < count; i++) {
        const cg_tensor *grad = params[i]->grad;
        double squares;
        if (!grad) continue;
        if (cg_tensor_backend(grad)->sum_of_squares(grad, &squares) != 0) return -1;
        total += squares;
    }
    const double scale = clip_norm / (sqrt(total) + 1e-6);
    *factor = scale > 1 ? 1 : scale;
    return 0;
}

static int update_parameter(cg_optimizer *optimizer, cg_tensor *param, int i, double grad_scale) {
    parameter_state *kept = &optimizer->parameters[i];
    const cg_optimizer_options *o = &optimizer->options;
    kept->steps++;
    cg_optimizer_update update = {
        .rule = CG_UPDATE_SGD,
        .grad_scale = grad_scale,
        .weight_decay = o->weight_decay,
        .param_scale = 1,
        .learning_rate = o->learning_rate,
        .momentum = o->momentum,
        .nesterov = o->nesterov,
        .beta1 = o->beta1,
        .beta2 = o->beta2,
        .rho = o->rho,
        .epsilon = o->epsilon,
    };
    switch (optimizer->kind) {
    case CG_OPTIMIZER_SGD: break;
    case CG_OPTIMIZER_RMSPROP: update.rule = CG_UPDATE_RMSPROP; break;
    case CG_OPTIMIZER_ADAMW: /* decoupled decay: p *= 1 - lr * wd instead of an L2 gradient term */
        update.param_scale = 1 - o->learning_rate * o->weight_decay;
        update.weight_decay = 0;
        /* fall through */
    default:
        update.rule = CG_UPDATE_ADAM;
        update.step_size = o->learning_rate / (1 - pow(o->beta1, (double)kept->steps));
        update.bias_correction2_sqrt = sqrt(1 - pow(o->beta2, (double)kept->steps));
        break;
    }
    return cg_tensor_backend(param)->optimizer_update(&update, param, param->grad, kept->state);
}

int cg_optimizer_step(cg_optimizer *optimizer, cg_tensor *const *params, int count) {
    if (!optimizer) {
        cg_error_set("optimizer step: optimizer is NULL");
        return -1;
    }
    const char *name = optimizer_names[optimizer->kind];
    if (count < 0 || (count > 0 && !params)) {
        cg_error_set(count < 0 ? "%s step: negative parameter count %d"
                               : "%s step: %d parameters in a NULL list",
                     name, count);
        return -1;
    }
    if (claim_positions(optimizer, count) != 0) return -1;
    /* Every check and allocation comes before the first update, so a failed step changes
     * nothing. */
    for (int i = 0; i < count; i++)
        if (prepare_parameter(optimizer, params[i], i) != 0) return -1;
    double grad_scale = 1;
    if (optimizer->options.clip_norm > 0 &&
        clipping_factor(params, count, optimizer->options.clip_norm, &grad_scale) != 0)
        return -1;
    for (int i = 0; i < count; i++)
        if (params[i]->grad && update_parameter(optimizer, params[i], i, grad_scale) != 0)
            return -1;
    return 0;
}

/* ----- state for checkpoints ----- */

/* PyTorch's state_dict names of each kind's slots, in slot order. */
static const char *const slot_names[CG_OPTIMIZER_COUNT][STATE_SLOTS] = {
    [CG_OPTIMIZER_SGD] = {"momentum_buffer", NULL},
    [CG_OPTIMIZER_ADAM] = {"exp_avg", "exp_avg_sq"},
    [CG_OPTIMIZER_ADAMW] = {"exp_avg", "exp_avg_sq"},
    [CG_OPTIMIZER_RMSPROP] = {"square_avg", "momentum_buffer"},
};

int cg_optimizer_state_positions(const cg_optimizer *optimizer) {
    return optimizer->parameter_count;
}

int cg_optimizer_state_slots(const cg_optimizer *optimizer) { return state_slots_used(optimizer); }

const char *cg_optimizer_state_slot_name(const cg_optimizer *optimizer, int slot) {
    return slot_names[optimizer->kind][slot];
}

cg_tensor *cg_optimizer_state_tensor(const cg_optimizer *optimizer, int position, int slot) {
    return optimizer->parameters[position].state[slot];
}

int64_t cg_optimizer_state_steps(const cg_optimizer *optimizer, int position) {
    return optimizer->parameters[position].steps;
}

int cg_optimizer_restore_state(cg_optimizer *optimizer, int positions, cg_tensor *const *tensors,
                               const int64_t *steps) {
    parameter_state *restored = NULL;
    if (positions >= 0) {
        restored = calloc((size_t)(positions > 0 ? positions : 1), sizeof *restored);
        if (!restored) {
            cg_error_set("%s: out of memory restoring the state", optimizer_names[optimizer->kind]);
            return -1;
        }
    }
    for (int i = 0; i < positions; i++) {
        restored[i].steps = steps[i];
        for (int s = 0; s < STATE_SLOTS; s++) {
            cg_tensor *tensor = tensors[(size_t)i * STATE_SLOTS + s];
            if (tensor) cg_tensor_unscope(tensor);
            restored[i].state[s] = tensor;
        }
    }
    for (int i = 0; i < optimizer->parameter_count; i++)
        for (int s = 0; s < STATE_SLOTS; s++)
            cg_release(optimizer->parameters[i].state[s]);
    free(optimizer->parameters);
    optimizer->parameters = restored;
    optimizer->parameter_count = positions;
    return 0;
}
