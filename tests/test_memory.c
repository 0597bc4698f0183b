/* Memory: the caching allocator serves a steady training loop without the system allocator,
 * scopes give back every temporary of a step, and an allocation failure anywhere in a step
 * comes back as an "out of memory" error without leaking. */
#include <string.h>

#include "core/alloc.h"
#include "test.h"

enum { FEATURES = 4, HIDDEN = 16, CLASSES = 3, BATCH = 32 };

typedef struct {
    cg_tensor *w1, *b1, *w2, *b2;
} network;

static cg_tensor *parameter(cg_shape shape, double scale) {
    cg_scope_begin();
    cg_tensor *p = cg_keep(cg_mul_scalar(cg_randn(shape, CG_FLOAT32), scale));
    cg_scope_end();
    return cg_set_requires_grad(p, true);
}

static network make_network(void) {
    return (network){.w1 = parameter(CG_SHAPE(FEATURES, HIDDEN), 0.5),
                     .b1 = parameter(CG_SHAPE(HIDDEN), 0.1),
                     .w2 = parameter(CG_SHAPE(HIDDEN, CLASSES), 0.5),
                     .b2 = parameter(CG_SHAPE(CLASSES), 0.1)};
}

static void release_network(network *net) {
    cg_release(net->w1);
    cg_release(net->b1);
    cg_release(net->w2);
    cg_release(net->b2);
}

/* Random inputs and one-hot targets whose class is the largest of the first three features, so
 * there is something to learn. */
static void make_batch(cg_tensor **inputs, cg_tensor **targets) {
    *inputs = cg_randn(CG_SHAPE(BATCH, FEATURES), CG_FLOAT32);
    *targets = cg_zeros(CG_SHAPE(BATCH, CLASSES), CG_FLOAT32);
    for (int64_t row = 0; row < BATCH; row++) {
        int64_t best = 0;
        for (int64_t c = 1; c < CLASSES; c++)
            if (cg_get(*inputs, (const int64_t[]){row, c}) >
                cg_get(*inputs, (const int64_t[]){row, best}))
                best = c;
        cg_set(*targets, (const int64_t[]){row, best}, 1.0);
    }
}

/* Mean cross-entropy of the network's logits against one-hot targets:
 * mean(logsumexp(logits) - sum(logits * targets)). */
static cg_tensor *cross_entropy(const network *net, const cg_tensor *inputs,
                                const cg_tensor *targets) {
    cg_tensor *hidden = cg_relu(cg_add(cg_matmul(inputs, net->w1), net->b1));
    cg_tensor *logits = cg_add(cg_matmul(hidden, net->w2), net->b2);
    cg_tensor *picked = cg_sum(cg_mul(logits, targets), CG_DIMS(-1), false);
    return cg_mean(cg_sub(cg_logsumexp(logits, CG_DIMS(-1), false), picked), CG_ALL_DIMS, false);
}

/* One step of plain SGD; returns the loss before the update (NaN on failure). */
static double sgd_step(network *net, const cg_tensor *inputs, const cg_tensor *targets) {
    const double learning_rate = 0.5;
    cg_tensor *params[] = {net->w1, net->b1, net->w2, net->b2};
    cg_scope_begin();
    cg_tensor *loss = cross_entropy(net, inputs, targets);
    double value = cg_item(loss);
    if (cg_backward(loss) != 0) value = NAN;
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
        if (cg_add_scaled_(params[i], cg_grad(params[i]), -learning_rate) != 0) value = NAN;
        cg_zero_grad(params[i]);
    }
    cg_scope_end();
    return value;
}

TEST(steady_training_step_makes_no_system_allocations) {
    network net = make_network();
    cg_tensor *inputs, *targets;
    make_batch(&inputs, &targets);
    const double first_loss = sgd_step(&net, inputs, targets);
    CHECK(!isnan(first_loss));
    CHECK(!isnan(sgd_step(&net, inputs, targets)));
    const cg_memory_stats warm = cg_memory_get_stats();
    double loss = first_loss;
    for (int step = 0; step < 20 && !isnan(loss); step++)
        loss = sgd_step(&net, inputs, targets);
    const cg_memory_stats after = cg_memory_get_stats();
    CHECK(!isnan(loss));
    CHECK(after.system_allocs == warm.system_allocs);
    CHECK(after.live_bytes == warm.live_bytes);
    CHECK(loss < 0.5 * first_loss); /* it really trains */
    cg_release(inputs);
    cg_release(targets);
    release_network(&net);
}

/* A graph whose form depends on the iteration, as define-by-run allows. */
static cg_tensor *varying_graph(const cg_tensor *w, const cg_tensor *x, int iteration) {
    cg_tensor *h = cg_matmul(x, w);
    for (int depth = 0; depth < iteration % 4; depth++)
        h = iteration % 2 ? cg_tanh(h) : cg_mul(cg_sigmoid(h), h);
    return cg_sum(cg_pow_scalar(h, 2.0), CG_ALL_DIMS, false);
}

TEST(thousand_scoped_steps_keep_live_memory_flat) {
    cg_tensor *w = cg_set_requires_grad(cg_randn(CG_SHAPE(8, 8), CG_FLOAT64), true);
    cg_tensor *x = cg_randn(CG_SHAPE(4, 8), CG_FLOAT64);
    cg_memory_stats settled = {0};
    for (int iteration = 0; iteration < 1000; iteration++) {
        cg_scope_begin();
        const int status = cg_backward(varying_graph(w, x, iteration));
        cg_scope_end();
        CHECK(status == 0);
        /* The gradient, accumulated in place, is the only thing that outlives a step; it
         * exists from the first step on. Every graph form has run after four steps. */
        const cg_memory_stats now = cg_memory_get_stats();
        if (iteration == 4) settled = now;
        if (iteration > 4) {
            if (now.live_bytes != settled.live_bytes || now.system_allocs != settled.system_allocs)
                test_fail(__FILE__, __LINE__,
                          "iteration %d: %zu live bytes and %llu system allocations, %zu and "
                          "%llu after iteration 4",
                          iteration, now.live_bytes, (unsigned long long)now.system_allocs,
                          settled.live_bytes, (unsigned long long)settled.system_allocs);
            CHECK(now.live_bytes == settled.live_bytes);
            CHECK(now.system_allocs == settled.system_allocs);
        }
    }
    cg_release(w);
    cg_release(x);
}

TEST(scope_end_frees_graph_and_temporaries) {
    cg_tensor *w = cg_set_requires_grad(cg_randn(CG_SHAPE(5, 5), CG_FLOAT32), true);
    const size_t before = cg_memory_get_stats().live_bytes;
    cg_scope_begin();
    cg_tensor *loss = cg_sum(cg_exp(cg_matmul(w, w)), CG_ALL_DIMS, false);
    CHECK(cg_memory_get_stats().live_bytes > before);
    cg_scope_begin(); /* an inner scope frees only its own tensors */
    cg_tensor *inner = cg_mul_scalar(loss, 2.0);
    cg_tensor *kept = cg_keep(cg_add_scalar(inner, 1.0));
    cg_scope_end();
    CHECK_NEAR(cg_item(kept), 2.0 * cg_item(loss) + 1.0, 1e-3 * fabs(cg_item(loss)));
    cg_scope_end();
    CHECK(cg_memory_get_stats().live_bytes == before);
    cg_release(w);
}

/* ----- allocation failure ----- */

TEST(failed_allocation_reports_out_of_memory) {
    cg_tensor *a = cg_ones(CG_SHAPE(64), CG_FLOAT32);
    const size_t live_before = cg_memory_get_stats().live_bytes;
    /* Empty the cache so the next request reaches the system allocator. */
    cg_memory_release_cached();
    cg_alloc_fail_after(1);
    cg_tensor *sum = cg_add(a, a);
    cg_alloc_fail_after(0);
    CHECK(sum == NULL);
    CHECK(strstr(cg_last_error(), "out of memory") != NULL);
    CHECK(cg_memory_get_stats().live_bytes == live_before);
    /* Once the failure is over the same op succeeds. */
    cg_scope_begin();
    CHECK_NEAR(cg_item(cg_sum(cg_add(a, a), CG_ALL_DIMS, false)), 128, 0);
    cg_scope_end();
    cg_release(a);
}

/* A forward and backward pass through several op families; 0 or -1 with the error. */
static int step_under_test(cg_tensor *w, const cg_tensor *x) {
    cg_scope_begin();
    cg_tensor *h = cg_tanh(cg_matmul(x, cg_transpose(w, 0, 1)));
    cg_tensor *loss = cg_sum(cg_logsumexp(cg_mul(h, h), CG_DIMS(1), true), CG_ALL_DIMS, false);
    const int status = loss ? cg_backward(loss) : -1;
    cg_scope_end();
    return status;
}

/* The number of system allocations step_under_test makes from an empty cache. */
static uint64_t allocations_of_step(cg_tensor *w, const cg_tensor *x) {
    cg_memory_release_cached();
    const uint64_t before = cg_memory_get_stats().system_allocs;
    const int status = step_under_test(w, x);
    cg_zero_grad(w);
    return status == 0 ? cg_memory_get_stats().system_allocs - before : 0;
}

TEST(allocation_failure_at_every_point_of_a_step_is_clean) {
    cg_tensor *w = cg_set_requires_grad(cg_randn(CG_SHAPE(6, 5), CG_FLOAT64), true);
    cg_tensor *x = cg_randn(CG_SHAPE(3, 5), CG_FLOAT64);
    const uint64_t total = allocations_of_step(w, x);
    CHECK(total > 10);
    for (uint64_t n = 1; n <= total; n++) {
        const size_t live_before = cg_memory_get_stats().live_bytes;
        cg_memory_release_cached();
        cg_clear_error();
        cg_alloc_fail_after((long)n);
        const int status = step_under_test(w, x);
        cg_alloc_fail_after(0);
        cg_zero_grad(w);
        if (status == 0 || !strstr(cg_last_error(), "out of memory"))
            test_fail(__FILE__, __LINE__, "allocation %llu of %llu failed: status %d, error \"%s\"",
                      (unsigned long long)n, (unsigned long long)total, status, cg_last_error());
        const size_t live_after = cg_memory_get_stats().live_bytes;
        if (live_after != live_before)
            test_fail(__FILE__, __LINE__, "allocation %llu of %llu failed: %lld bytes leaked",
                      (unsigned long long)n, (unsigned long long)total,
                      (long long)(live_after - live_before));
        if (test_failed()) break;
    }
    /* And the step still works afterwards. */
    CHECK(step_under_test(w, x) == 0 && cg_grad(w) != NULL);
    cg_release(w);
    cg_release(x);
}

TEST(keep_into_a_scope_that_cannot_grow_fails_cleanly) {
    /* A scope's list of tensors starts with room for 256 and doubles when full; fill it so
     * that taking one more tensor needs an allocation. */
    enum { FIRST_CAPACITY = 256 };
    cg_scope_begin();
    for (int i = 0; i < FIRST_CAPACITY; i++)
        cg_zeros(CG_SHAPE(1), CG_FLOAT32);
    const size_t live_before = cg_memory_get_stats().live_bytes;
    cg_scope_begin();
    cg_tensor *inner = cg_ones(CG_SHAPE(3), CG_FLOAT32);
    cg_memory_release_cached();
    cg_alloc_fail_after(1);
    cg_tensor *kept = cg_keep(inner);
    cg_alloc_fail_after(0);
    const bool failed_cleanly = kept == NULL && strstr(cg_last_error(), "out of memory");
    cg_scope_end();
    const size_t live_after = cg_memory_get_stats().live_bytes;
    cg_scope_end();
    CHECK(failed_cleanly);
    CHECK(live_after == live_before);
}
