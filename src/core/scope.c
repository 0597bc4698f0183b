#include "core/scope.h"

#include <string.h>

#include "core/alloc.h"

enum { MAX_SCOPE_DEPTH = 64 };

typedef struct {
    cg_tensor **items;
    int64_t count;
    int64_t capacity;
} scope_frame;

static _Thread_local scope_frame frames[MAX_SCOPE_DEPTH];
static _Thread_local int depth;
/* Scopes opened beyond MAX_SCOPE_DEPTH are counted but own nothing (their tensors go to the
 * deepest real frame), so begin/end stay balanced. */
static _Thread_local int overflow;

static bool frame_push(int frame_depth, cg_tensor *t) {
    scope_frame *frame = &frames[frame_depth - 1];
    if (frame->count == frame->capacity) {
        int64_t capacity = frame->capacity ? frame->capacity * 2 : 256;
        cg_tensor **items = cg_alloc(sizeof(cg_tensor *) * (size_t)capacity);
        if (!items) return false;
        if (frame->count) memcpy(items, frame->items, sizeof(cg_tensor *) * (size_t)frame->count);
        cg_free(frame->items, sizeof(cg_tensor *) * (size_t)frame->capacity);
        frame->items = items;
        frame->capacity = capacity;
    }
    t->scope_depth = frame_depth;
    t->scope_slot = frame->count;
    frame->items[frame->count++] = t;
    return true;
}

bool cg_scope_adopt(cg_tensor *t) { return depth == 0 || frame_push(depth, t); }

void cg_tensor_unscope(cg_tensor *t) {
    if (t->scope_depth == 0) return;
    frames[t->scope_depth - 1].items[t->scope_slot] = NULL;
    t->scope_depth = 0;
}

void cg_scope_begin(void) {
    if (depth == MAX_SCOPE_DEPTH) {
        overflow++;
        return;
    }
    depth++;
}

void cg_scope_end(void) {
    if (overflow > 0) {
        overflow--;
        return;
    }
    if (depth == 0) return;
    scope_frame *frame = &frames[depth - 1];
    /* Newest first: later tensors tend to hold references to earlier ones through the graph. */
    for (int64_t i = frame->count - 1; i >= 0; i--) {
        cg_tensor *t = frame->items[i];
        if (!t) continue;
        t->scope_depth = 0;
        cg_tensor_decref(t);
    }
    /* The array goes back to the caching allocator, which hands the same block to the next
     * scope; holding it here would leak it when the thread ends. */
    cg_free(frame->items, sizeof(cg_tensor *) * (size_t)frame->capacity);
    *frame = (scope_frame){0};
    depth--;
}

cg_tensor *cg_keep(cg_tensor *t) {
    if (!t || t->scope_depth == 0 || t->scope_depth != depth) return t;
    cg_tensor_unscope(t);
    /* A tensor the enclosing scope cannot take would belong to nobody: drop it and fail (the
     * allocator has set the error). */
    if (depth > 1 && !frame_push(depth - 1, t)) {
        cg_tensor_decref(t);
        return NULL;
    }
    return t;
}

int cg_scope_depth(void) { return depth + overflow; }
