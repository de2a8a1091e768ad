// The per-step scalars of AdamW, shared by the CPU and CUDA backends so both compute the same floats (and so the
// same update bits). torch.optim.AdamW computes them in Python doubles from the hyperparameters the user wrote;
// here the float hyperparameters are read back as those decimal doubles (0.9f -> 0.9, not 0.899999976), the
// scalars are computed in double and rounded to float once. Host-only, header-only.
#ifndef SHEAR_ADAMW_COEF_H
#define SHEAR_ADAMW_COEF_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    float decay;                      // 1 - lr * wd: p is decayed first, as torch does
    float one_minus_b1, one_minus_b2;
    float neg_step;                   // -lr / (1 - b1^t)
    float bc2_sqrt;                   // sqrt(1 - b2^t)
} AdamWCoef;

// The shortest decimal that rounds to f, read back as a double.
static inline double adamw_decimal_double(float f) {
    char text[32];
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, (double)f);
        if (strtof(text, NULL) == f) return strtod(text, NULL);
    }
    return (double)f;
}

// t >= 1 (the caller checks)
static inline AdamWCoef adamw_coef(float lr, float b1, float b2, float wd, int t) {
    const double lr_d = adamw_decimal_double(lr), wd_d = adamw_decimal_double(wd);
    const double b1_d = adamw_decimal_double(b1), b2_d = adamw_decimal_double(b2);
    AdamWCoef c;
    c.decay = (float)(1.0 - lr_d * wd_d);
    c.one_minus_b1 = (float)(1.0 - b1_d);
    c.one_minus_b2 = (float)(1.0 - b2_d);
    c.neg_step = (float)(-(lr_d / (1.0 - pow(b1_d, (double)t))));
    c.bc2_sqrt = (float)sqrt(1.0 - pow(b2_d, (double)t));
    return c;
}

#endif
