/* The arithmetic of every elementwise op and its derivative, written once for all backends. */
#ifndef CG_OPS_SCALAR_MATH_H
#define CG_OPS_SCALAR_MATH_H

#include <math.h>
#include <stdint.h>
#if !defined(__CUDACC__)
#include <tgmath.h>
#endif

#include "backend/backend.h"
#include "core/rng.h"

#define CG_SQRT1_2 0.70710678118654752440
#define CG_INV_SQRT_2PI 0.39894228040143267794

#define CG_DEFINE_UNARY_MATH(T, SUFFIX)                                                            \
    CG_HOST_DEVICE static inline T cg_sigmoid_##SUFFIX(T x) {                                      \
        if (x >= 0) return (T)1 / ((T)1 + exp(-x));                                                \
        T e = exp(x);                                                                              \
        return e / ((T)1 + e);                                                                     \
    }                                                                                              \
    CG_HOST_DEVICE static inline T cg_unary_forward_##SUFFIX(cg_unary_op op, T x, T p0, T p1) {    \
        switch (op) {                                                                              \
        case CG_UNARY_NEG: return -x;                                                              \
        case CG_UNARY_EXP: return exp(x);                                                          \
        case CG_UNARY_LOG: return log(x);                                                          \
        case CG_UNARY_SQRT: return sqrt(x);                                                        \
        case CG_UNARY_ABS: return fabs(x);                                                         \
        case CG_UNARY_CLAMP: return x < p0 ? p0 : (x > p1 ? p1 : x);                               \
        case CG_UNARY_SIGMOID: return cg_sigmoid_##SUFFIX(x);                                      \
        case CG_UNARY_TANH: return tanh(x);                                                        \
        case CG_UNARY_RELU: return x > 0 ? x : (T)0;                                               \
        case CG_UNARY_LEAKY_RELU: return x > 0 ? x : p0 * x;                                       \
        case CG_UNARY_ELU: return x > 0 ? x : p0 * expm1(x);                                       \
        case CG_UNARY_GELU: return (T)0.5 * x * ((T)1 + erf(x * (T)CG_SQRT1_2));                   \
        case CG_UNARY_SOFTPLUS: return (x > 0 ? x : (T)0) + log1p(exp(-fabs(x)));                  \
        case CG_UNARY_ADD_SCALAR: return x + p0;                                                   \
        case CG_UNARY_MUL_SCALAR: return x * p0;                                                   \
        case CG_UNARY_POW_SCALAR: return pow(x, p0);                                               \
        case CG_UNARY_IDENTITY: return x;                                                          \
        default: return x;                                                                         \
        }                                                                                          \
    }                                                                                              \
    /* d op(x) / dx, given x and the forward output y. */                                          \
    CG_HOST_DEVICE static inline T cg_unary_derivative_##SUFFIX(cg_unary_op op, T x, T y, T p0,    \
                                                                T p1) {                            \
        switch (op) {                                                                              \
        case CG_UNARY_NEG: return (T)-1;                                                           \
        case CG_UNARY_EXP: return y;                                                               \
        case CG_UNARY_LOG: return (T)1 / x;                                                        \
        case CG_UNARY_SQRT: return (T)0.5 / y;                                                     \
        case CG_UNARY_ABS: return x > 0 ? (T)1 : (x < 0 ? (T)-1 : (T)0);                           \
        case CG_UNARY_CLAMP: return x >= p0 && x <= p1 ? (T)1 : (T)0;                              \
        case CG_UNARY_SIGMOID: return y * ((T)1 - y);                                              \
        case CG_UNARY_TANH: return (T)1 - y * y;                                                   \
        case CG_UNARY_RELU: return x > 0 ? (T)1 : (T)0;                                            \
        case CG_UNARY_LEAKY_RELU: return x > 0 ? (T)1 : p0;                                        \
        case CG_UNARY_ELU: return x > 0 ? (T)1 : y + p0;                                           \
        case CG_UNARY_GELU:                                                                        \
            return (T)0.5 * ((T)1 + erf(x * (T)CG_SQRT1_2)) +                                      \
                   x * (T)CG_INV_SQRT_2PI * exp((T)-0.5 * x * x);                                  \
        case CG_UNARY_SOFTPLUS: return cg_sigmoid_##SUFFIX(x);                                     \
        case CG_UNARY_ADD_SCALAR: return (T)1;                                                     \
        case CG_UNARY_MUL_SCALAR: return p0;                                                       \
        case CG_UNARY_POW_SCALAR: return p0 * pow(x, p0 - (T)1);                                   \
        case CG_UNARY_IDENTITY: return (T)1;                                                       \
        default: return (T)0;                                                                      \
        }                                                                                          \
    }

#define CG_DEFINE_BINARY_MATH(T, SUFFIX)                                                           \
    CG_HOST_DEVICE static inline T cg_binary_forward_##SUFFIX(cg_binary_op op, T a, T b) {         \
        switch (op) {                                                                              \
        case CG_BINARY_ADD: return a + b;                                                          \
        case CG_BINARY_SUB: return a - b;                                                          \
        case CG_BINARY_MUL: return a * b;                                                          \
        case CG_BINARY_DIV: /* integer x / 0 gives 0 rather than undefined behaviour */          \
            return b == 0 && (T)0.5 == 0 ? (T)0 : a / b;                                           \
        case CG_BINARY_POW: return (T)pow(a, b);                                                   \
        case CG_BINARY_MAXIMUM: return a != a || a > b ? a : b;                                    \
        case CG_BINARY_MINIMUM: return a != a || a < b ? a : b;                                    \
        case CG_BINARY_EQ: return (T)(a == b);                                                     \
        case CG_BINARY_NE: return (T)(a != b);                                                     \
        case CG_BINARY_LT: return (T)(a < b);                                                      \
        case CG_BINARY_LE: return (T)(a <= b);                                                     \
        case CG_BINARY_GT: return (T)(a > b);                                                      \
        case CG_BINARY_GE: return (T)(a >= b);                                                     \
        default: return a;                                                                         \
        }                                                                                          \
    }

CG_DEFINE_UNARY_MATH(float, f32)
CG_DEFINE_UNARY_MATH(double, f64)
CG_DEFINE_BINARY_MATH(float, f32)
CG_DEFINE_BINARY_MATH(double, f64)
CG_DEFINE_BINARY_MATH(int32_t, i32)
CG_DEFINE_BINARY_MATH(int64_t, i64)
CG_DEFINE_BINARY_MATH(uint8_t, u8)

#if !defined(__CUDACC__)
#define CG_UNARY_FORWARD(T, op, x, p0, p1)                                                         \
    _Generic((x), float: cg_unary_forward_f32, double: cg_unary_forward_f64)(op, x, p0, p1)
#define CG_UNARY_DERIVATIVE(T, op, x, y, p0, p1)                                                   \
    _Generic((x), float: cg_unary_derivative_f32, double: cg_unary_derivative_f64)(op, x, y, p0,  \
                                                                                    p1)
#define CG_BINARY_FORWARD(T, op, a, b)                                                             \
    _Generic((a), float: cg_binary_forward_f32, double: cg_binary_forward_f64,                     \
             int32_t: cg_binary_forward_i32, int64_t: cg_binary_forward_i64,                       \
             uint8_t: cg_binary_forward_u8)(op, a, b)
#endif

#endif
