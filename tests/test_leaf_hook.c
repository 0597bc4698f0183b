/* The backward engine's leaf hook (autograd/leaf_hook.h): it hears of each leaf once, when the
 * leaf's gradient holds every contribution, a later layer's leaves before an earlier one's. */
#include "autograd/leaf_hook.h"
#include "core/error.h"
#include "test.h"

enum { MAX_CALLS = 8 };

/* What the hook saw: the leaves in order and each one's gradient (its first element) then. */
typedef struct {
    cg_tensor *leaves[MAX_CALLS];
    float first_grad[MAX_CALLS];
    int calls;
    int fail_at; /* the call that fails, or -1 */
} hook_log;

static int record(cg_tensor *leaf, void *userdata) {
    hook_log *log = userdata;
    if (log->calls == log->fail_at) {
        cg_error_set("the hook failed at call %d", log->calls);
        return -1;
    }
    if (log->calls < MAX_CALLS) {
        log->leaves[log->calls] = leaf;
        cg_copy_to_array(cg_grad(leaf), &log->first_grad[log->calls], sizeof(float));
    }
    log->calls++;
    return 0;
}

/* loss = sum(tanh(x * w1) * w2 + w1 * 3), the layers' inputs first as in the library's layers:
 * w1 reaches the loss by two paths, so its gradient is final only after both; w2's is final
 * first. */
static cg_tensor *two_layer_loss(cg_tensor *x, cg_tensor *w1, cg_tensor *w2) {
    return cg_sum(cg_add(cg_mul(cg_tanh(cg_mul(x, w1)), w2), cg_mul_scalar(w1, 3)), CG_ALL_DIMS,
                  false);
}

TEST(leaf_hook_hears_of_each_leaf_once_its_gradient_is_final) {
    cg_scope_begin();
    const float x_value = 0.5f, w1_value = 0.8f, w2_value = -1.5f;
    cg_tensor *x = cg_full(CG_SHAPE(1), x_value, CG_FLOAT32);
    cg_tensor *w1 = cg_set_requires_grad(cg_full(CG_SHAPE(1), w1_value, CG_FLOAT32), true);
    cg_tensor *w2 = cg_set_requires_grad(cg_full(CG_SHAPE(1), w2_value, CG_FLOAT32), true);
    hook_log log = {.fail_at = -1};
    cg_leaf_grad_hook previous = NULL;
    void *previous_userdata = NULL;
    cg_leaf_grad_hook_set(record, &log, &previous, &previous_userdata);
    CHECK(previous == NULL);
    CHECK(cg_backward(two_layer_loss(x, w1, w2)) == 0);
    cg_leaf_grad_hook_set(previous, previous_userdata, NULL, NULL);
    /* x requires no grad and is no leaf of interest. */
    CHECK(log.calls == 2 && log.leaves[0] == w2 && log.leaves[1] == w1);
    const double t = tanh((double)w1_value * x_value);
    CHECK_NEAR(log.first_grad[0], t, 1e-6);
    CHECK_NEAR(log.first_grad[1], w2_value * (1 - t * t) * x_value + 3, 1e-6);
    cg_zero_grad(w1);
    cg_zero_grad(w2);
    /* Without a hook nothing is called; a failing hook fails the backward pass with its error. */
    CHECK(cg_backward(two_layer_loss(x, w1, w2)) == 0 && log.calls == 2);
    cg_zero_grad(w1);
    cg_zero_grad(w2);
    log = (hook_log){.fail_at = 0};
    cg_leaf_grad_hook_set(record, &log, NULL, NULL);
    CHECK_ERROR(cg_backward(two_layer_loss(x, w1, w2)), "the hook failed at call 0");
    cg_leaf_grad_hook_set(NULL, NULL, NULL, NULL);
    cg_zero_grad(w1);
    cg_zero_grad(w2);
    cg_scope_end();
}
