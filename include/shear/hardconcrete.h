// Hard-concrete (L0) gate math for one element, shared by the CPU kernels, the CUDA kernels and the host mask
// code so that all three compute the same numbers. Constants and formulas: shared/spec/shearing.md section 2.
// Header-only and dependency-free like rng.h; everything is computed in double and rounded to float by the
// caller once.
#ifndef SHEAR_HARDCONCRETE_H
#define SHEAR_HARDCONCRETE_H

#include <stdint.h>

#include "shear/rng.h"

#define HC_GAMMA (-0.1)       // lower stretch limit
#define HC_ZETA 1.1           // upper stretch limit
#define HC_BETA (2.0 / 3.0)   // temperature
#define HC_EPS 1e-6           // u in [eps, 1-eps]; score clamp
#define HC_DET_SCALE 0.8      // deterministic soft value sigmoid(a / beta * 0.8) = sigmoid(1.2 a)
// beta * ln(-gamma / zeta) = (2/3) ln(1/11): the logit of the probability mass the stretch puts below 0
#define HC_LOGIT_ZERO (HC_BETA * -2.3978952727983707)

// a*b + c with two roundings on every target: nvcc would fuse it into one fma in device code, which the CPU build
// (x86-64-v2, no fma) never does, and the GPU would draw u and z one ulp apart from the CPU.
#ifdef __CUDA_ARCH__
#define HC_MAD(a, b, c) __dadd_rn(__dmul_rn((a), (b)), (c))
#else
#define HC_MAD(a, b, c) ((a) * (b) + (c))
#endif

SHEAR_HD double hc_sigmoid(double x) { return 1.0 / (1.0 + __builtin_exp(-x)); }

// u of the gate whose Philox counter is `counter`: U(eps, 1-eps) as torch's uniform_(eps, 1 - eps)
SHEAR_HD double hc_uniform(uint64_t seed, uint64_t counter) {
    return HC_MAD(1.0 - 2.0 * HC_EPS, rng_uniform(seed, RNG_STREAM_MASK, counter), HC_EPS);
}

// y = sigmoid((log u - log(1-u) + a) / beta)
SHEAR_HD double hc_y(double u, double a) {
    return hc_sigmoid((__builtin_log(u) - __builtin_log1p(-u) + a) / HC_BETA);
}

// z = clamp(y (zeta - gamma) + gamma, 0, 1)
SHEAR_HD double hc_z(double y) {
    double s = HC_MAD(y, HC_ZETA - HC_GAMMA, HC_GAMMA);
    return s < 0.0 ? 0.0 : (s > 1.0 ? 1.0 : s);
}

// dz/da = 1[0 < stretched < 1] (zeta - gamma) y (1 - y) / beta (hardtanh passes no gradient at its limits)
SHEAR_HD double hc_dz_da(double y) {
    double s = HC_MAD(y, HC_ZETA - HC_GAMMA, HC_GAMMA);
    return (s > 0.0 && s < 1.0) ? (HC_ZETA - HC_GAMMA) * y * (1.0 - y) / HC_BETA : 0.0;
}

// Q0(a) = clamp(sigmoid(beta ln(-gamma/zeta) - a), eps, 1-eps): probability that the gate is exactly 0
SHEAR_HD double hc_q0(double a) {
    double q = hc_sigmoid(HC_LOGIT_ZERO - a);
    return q < HC_EPS ? HC_EPS : (q > 1.0 - HC_EPS ? 1.0 - HC_EPS : q);
}

// Keep probability ("score") s(a) = 1 - Q0(a)
SHEAR_HD double hc_score(double a) { return 1.0 - hc_q0(a); }

// ds/da = Q0 (1 - Q0) inside the clamp; torch's clamp passes the gradient at the limits too (>=, <=)
SHEAR_HD double hc_dscore(double a) {
    double q = hc_sigmoid(HC_LOGIT_ZERO - a);
    return (q >= HC_EPS && q <= 1.0 - HC_EPS) ? q * (1.0 - q) : 0.0;
}

// Deterministic soft value sigmoid(a / beta * 0.8)
SHEAR_HD double hc_soft(double a) { return hc_sigmoid(a / HC_BETA * HC_DET_SCALE); }

#endif
