#include <string.h>

#include "autograd/anomaly.h"
#include "autograd/leaf_hook.h"
#include "autograd/node.h"
#include "core/alloc.h"
#include "core/error.h"
#include "ops/ops.h"

static _Thread_local bool grad_enabled = true;
static _Thread_local uint64_t visit_generation;
static _Thread_local cg_leaf_grad_hook leaf_hook;
static _Thread_local void *leaf_hook_userdata;

void cg_leaf_grad_hook_set(cg_leaf_grad_hook hook, void *userdata, cg_leaf_grad_hook *previous,
                           void **previous_userdata) {
    if (previous) *previous = leaf_hook;
    if (previous_userdata) *previous_userdata = leaf_hook_userdata;
    leaf_hook = hook;
    leaf_hook_userdata = userdata;
}

bool cg_set_grad_enabled(bool enabled) {
    bool previous = grad_enabled;
    grad_enabled = enabled;
    return previous;
}

bool cg_is_grad_enabled(void) { return grad_enabled; }

cg_tensor *cg_set_requires_grad(cg_tensor *t, bool requires_grad) {
    if (!t) return NULL;
    if (t->grad_fn) {
        cg_error_set("set_requires_grad: only leaf tensors can change requires_grad; this one "
                     "was made by %s (detach it first)",
                     t->grad_fn->op->name);
        return NULL;
    }
    if (requires_grad && !cg_require_float("set_requires_grad", t)) return NULL;
    t->requires_grad = requires_grad;
    return t;
}

bool cg_requires_grad(const cg_tensor *t) { return t && t->requires_grad; }

cg_tensor *cg_grad(const cg_tensor *t) { return t ? t->grad : NULL; }

void cg_zero_grad(cg_tensor *t) {
    if (!t) return;
    cg_tensor_decref(t->grad);
    t->grad = NULL;
}

/* A growable array of tensor pointers from the caching allocator. */
typedef struct {
    cg_tensor **items;
    int64_t count, capacity;
} tensor_list;

static bool list_push(tensor_list *list, cg_tensor *t) {
    if (list->count == list->capacity) {
        int64_t capacity = list->capacity ? list->capacity * 2 : 64;
        cg_tensor **items = cg_alloc(sizeof(cg_tensor *) * (size_t)capacity);
        if (!items) return false;
        if (list->count) memcpy(items, list->items, sizeof(cg_tensor *) * (size_t)list->count);
        cg_free(list->items, sizeof(cg_tensor *) * (size_t)list->capacity);
        list->items = items;
        list->capacity = capacity;
    }
    list->items[list->count++] = t;
    return true;
}

static void list_free(tensor_list *list) {
    cg_free(list->items, sizeof(cg_tensor *) * (size_t)list->capacity);
}

/* Post-order of the graph below root (inputs before the tensors made from them), iteratively so
 * deep graphs cannot overflow the stack. */
static bool topological_order(cg_tensor *root, tensor_list *order) {
    tensor_list stack = {0};
    const uint64_t mark = ++visit_generation;
    bool ok = list_push(&stack, root);
    root->visit_mark = mark;
    while (ok && stack.count > 0) {
        cg_tensor *t = stack.items[stack.count - 1];
        cg_tensor *next = NULL;
        if (t->grad_fn) {
            for (int i = 0; i < t->grad_fn->input_count && !next; i++) {
                cg_tensor *input = t->grad_fn->inputs[i];
                if (input->requires_grad && input->visit_mark != mark) next = input;
            }
        }
        if (next) {
            next->visit_mark = mark;
            ok = list_push(&stack, next);
        } else {
            stack.count--;
            ok = list_push(order, t);
        }
    }
    list_free(&stack);
    if (!ok) cg_error_set("backward: out of memory while ordering the graph");
    return ok;
}

static bool accumulate(cg_tensor **slot, cg_tensor *grad) {
    if (!*slot) {
        *slot = cg_tensor_incref(grad);
        return true;
    }
    cg_tensor *sum = cg_add(*slot, grad);
    if (!sum) return false;
    cg_tensor_decref(*slot);
    *slot = cg_tensor_incref(sum);
    return true;
}

/* Nothing but the engine reaches it, so it can become a leaf's .grad without a copy, or a
 * backward rule's result in place. */
bool cg_gradient_unshared(const cg_tensor *grad) {
    return grad->refcount == 1 && grad->storage->refcount == 1 && grad->scope_depth == 0 &&
           !grad->requires_grad && grad->offset == 0 && cg_tensor_is_contiguous(grad) &&
           grad->storage->nbytes ==
               (size_t)cg_shape_numel(grad->ndim, grad->shape) * cg_dtype_size(grad->dtype);
}

static bool accumulate_leaf(cg_tensor *leaf, cg_tensor *grad) {
    if (leaf->grad) return cg_add_scaled_(leaf->grad, grad, 1.0) == 0;
    if (cg_gradient_unshared(grad)) {
        leaf->grad = cg_tensor_incref(grad);
        return true;
    }
    cg_tensor *copy = cg_clone(grad);
    if (!copy) return false;
    cg_tensor_unscope(copy);
    leaf->grad = copy;
    return true;
}

/* Runs one node's backward rule and hands each input its share, inside a scope of its own so the
 * rule's temporaries are freed at once. A leaf comes after every node made from it in the order
 * the engine walks, so its gradient is final once added: the hook hears of it then. */
static bool propagate(cg_tensor *t) {
    cg_tensor *grad = t->pending_grad;
    if (!t->grad_fn)
        return !t->requires_grad ||
               (accumulate_leaf(t, grad) && (!leaf_hook || leaf_hook(t, leaf_hook_userdata) == 0));
    const cg_node *node = t->grad_fn;
    cg_tensor *grads[CG_NODE_MAX_INPUTS] = {0};
    if (node->op->backward(node, t, grad, grads) != 0) return false;
    for (int i = 0; i < node->input_count; i++) {
        cg_tensor *input = node->inputs[i];
        if (!grads[i] || !input->requires_grad) continue;
        if (grads[i]->ndim != input->ndim ||
            memcmp(grads[i]->shape, input->shape, sizeof(int64_t) * (size_t)input->ndim) != 0) {
            cg_error_set("backward of %s: gradient of shape %s for an input of shape %s",
                         node->op->name, cg_shape_text(grads[i]), cg_shape_text(input));
            return false;
        }
        if (!cg_anomaly_check_gradient(grads[i], node, i)) return false;
        if (!accumulate(&input->pending_grad, grads[i])) return false;
    }
    return true;
}

int cg_backward_with(cg_tensor *t, const cg_tensor *grad_output) {
    if (!t || !grad_output) return -1;
    if (!t->requires_grad) {
        cg_error_set("backward: the tensor does not require grad (no input of it requires grad, "
                     "or it was computed with grad disabled)");
        return -1;
    }
    if (grad_output->ndim != t->ndim ||
        memcmp(grad_output->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim) != 0 ||
        grad_output->dtype != t->dtype) {
        cg_error_set("backward: grad_output %s %s does not match the tensor's %s %s",
                     cg_dtype_name(grad_output->dtype), cg_shape_text(grad_output),
                     cg_dtype_name(t->dtype), cg_shape_text(t));
        return -1;
    }
    tensor_list order = {0};
    if (!topological_order(t, &order)) {
        list_free(&order);
        return -1;
    }
    const bool previous = cg_set_grad_enabled(false);
    t->pending_grad = cg_tensor_incref((cg_tensor *)grad_output);
    bool ok = true;
    for (int64_t i = order.count - 1; i >= 0; i--) {
        cg_tensor *node_tensor = order.items[i];
        if (ok && node_tensor->pending_grad) {
            cg_scope_begin();
            ok = propagate(node_tensor);
            cg_scope_end();
        }
        cg_tensor_decref(node_tensor->pending_grad);
        node_tensor->pending_grad = NULL;
    }
    cg_set_grad_enabled(previous);
    list_free(&order);
    return ok ? 0 : -1;
}

int cg_backward(cg_tensor *t) {
    if (!t) return -1;
    if (cg_shape_numel(t->ndim, t->shape) != 1) {
        cg_error_set("backward: expected a one-element tensor (a loss), got shape %s; use "
                     "cg_backward_with to pass a gradient",
                     cg_shape_text(t));
        return -1;
    }
    const bool previous = cg_set_grad_enabled(false);
    cg_scope_begin();
    cg_tensor *seed = cg_ones_like(t);
    int status = seed ? cg_backward_with(t, seed) : -1;
    cg_scope_end();
    cg_set_grad_enabled(previous);
    return status;
}
