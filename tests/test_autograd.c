/* The backward engine: accumulation, shared subexpressions, no-grad mode, detach, scopes. */
#include "test.h"

TEST(backward_accumulates_across_calls) {
    cg_tensor *x = cg_set_requires_grad(cg_full(CG_SHAPE(2), 3.0, CG_FLOAT64), true);
    cg_scope_begin();
    cg_tensor *y = cg_sum(cg_mul(x, x), CG_ALL_DIMS, false); /* dy/dx = 2x = 6 */
    CHECK(cg_backward(y) == 0);
    CHECK(cg_backward(y) == 0);
    cg_scope_end();
    const int64_t i0[1] = {0};
    CHECK_NEAR(cg_get(cg_grad(x), i0), 12.0, 1e-12);
    cg_zero_grad(x);
    CHECK(cg_grad(x) == NULL);
    cg_release(x);
}

TEST(shared_subexpression_gets_summed_gradient) {
    cg_tensor *x = cg_set_requires_grad(cg_scalar(2.0, CG_FLOAT64), true);
    cg_scope_begin();
    cg_tensor *s = cg_exp(x);
    cg_tensor *y = cg_add(cg_mul(s, s), s); /* e^2x + e^x, derivative 2e^2x + e^x */
    CHECK(cg_backward(y) == 0);
    CHECK_NEAR(cg_item(cg_grad(x)), 2 * exp(4.0) + exp(2.0), 1e-9);
    cg_scope_end();
    cg_release(x);
}

TEST(broadcast_gradient_is_reduced_to_operand_shape) {
    cg_tensor *a = cg_set_requires_grad(cg_ones(CG_SHAPE(3, 4), CG_FLOAT64), true);
    cg_tensor *b = cg_set_requires_grad(cg_ones(CG_SHAPE(4), CG_FLOAT64), true);
    cg_scope_begin();
    CHECK(cg_backward(cg_sum(cg_add(a, b), CG_ALL_DIMS, false)) == 0);
    CHECK(cg_ndim(cg_grad(b)) == 1 && cg_dim(cg_grad(b), 0) == 4);
    const int64_t i0[1] = {0};
    CHECK_NEAR(cg_get(cg_grad(b), i0), 3.0, 1e-12);
    cg_scope_end();
    cg_release(a);
    cg_release(b);
}

TEST(no_grad_mode_records_nothing) {
    cg_tensor *x = cg_set_requires_grad(cg_ones(CG_SHAPE(2), CG_FLOAT32), true);
    const bool previous = cg_set_grad_enabled(false);
    cg_tensor *y = cg_mul_scalar(x, 2.0);
    cg_set_grad_enabled(previous);
    CHECK(!cg_requires_grad(y));
    cg_scope_begin();
    CHECK_ERROR(cg_backward(cg_sum(y, CG_ALL_DIMS, false)), "does not require grad");
    cg_scope_end();
    cg_release(y);
    cg_release(x);
}

TEST(detach_cuts_the_graph) {
    cg_tensor *x = cg_set_requires_grad(cg_scalar(3.0, CG_FLOAT64), true);
    cg_scope_begin();
    cg_tensor *y = cg_mul(cg_detach(x), x); /* only the second factor carries gradient */
    CHECK(cg_backward(y) == 0);
    CHECK_NEAR(cg_item(cg_grad(x)), 3.0, 1e-12);
    cg_scope_end();
    cg_release(x);
}

TEST(scope_keep_hands_result_out) {
    cg_tensor *kept;
    cg_scope_begin();
    cg_tensor *a = cg_ones(CG_SHAPE(2, 2), CG_FLOAT32);
    kept = cg_keep(cg_add(a, a));
    cg_scope_end();
    cg_tensor *total = cg_sum(kept, CG_ALL_DIMS, false);
    CHECK_NEAR(cg_item(total), 8.0, 0);
    cg_release(total);
    cg_release(kept);
}

TEST(retain_release_pairs_inside_a_scope) {
    cg_scope_begin();
    cg_tensor *a = cg_ones(CG_SHAPE(2), CG_FLOAT32);
    cg_retain(a);
    cg_release(a); /* pays back the retain; the scope still owns a */
    CHECK_NEAR(cg_item(cg_sum(a, CG_ALL_DIMS, false)), 2.0, 0);
    cg_scope_end();
}

/* A leaf takes the gradient the engine made for it as its .grad without a copy, but never a
 * tensor the caller can still reach: the gradient passed to backward, or a view of it. */
TEST(leaf_gradients_never_share_the_callers_memory) {
    cg_tensor *w = cg_set_requires_grad(cg_zeros(CG_SHAPE(2, 3), CG_FLOAT64), true);
    cg_tensor *seed = cg_full(CG_SHAPE(2, 3), 2.0, CG_FLOAT64);
    const int64_t at[2] = {1, 2};
    cg_scope_begin();
    CHECK(cg_backward_with(cg_unsqueeze(w, 0), cg_unsqueeze(seed, 0)) == 0);
    cg_scope_end();
    CHECK(cg_fill_(seed, 5.0) == 0);
    CHECK_NEAR(cg_get(cg_grad(w), at), 2.0, 0);
    cg_zero_grad(w);
    CHECK(cg_backward_with(w, seed) == 0);
    CHECK(cg_fill_(seed, 7.0) == 0);
    CHECK_NEAR(cg_get(cg_grad(w), at), 5.0, 0);
    /* A gradient the engine made is taken over, then accumulated into by the next backward. */
    cg_zero_grad(w);
    cg_scope_begin();
    cg_tensor *loss = cg_sum(cg_mul(w, seed), CG_ALL_DIMS, false);
    CHECK(cg_backward(loss) == 0 && cg_backward(loss) == 0);
    cg_scope_end();
    CHECK_NEAR(cg_get(cg_grad(w), at), 14.0, 0);
    CHECK_NEAR(cg_get(seed, at), 7.0, 0);
    cg_release(seed);
    cg_release(w);
}
