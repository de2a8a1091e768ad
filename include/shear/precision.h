// The GEMM precision of the inference commands (shear eval, shear generate). A model trained with
// run.precision: bf16 records precision = "bf16" in its file (modelfile.h) and is then evaluated and sampled
// with the GEMMs it was trained with; --precision fp32|bf16 overrides the file.
#ifndef SHEAR_PRECISION_H
#define SHEAR_PRECISION_H

#include "shear/ops.h"

// "fp32" or "bf16" into *p: 0, or -1 for any other text.
int precision_parse(const char *text, ShearPrecision *p);
const char *precision_name(ShearPrecision p);
// The value of --precision: its precision, or a usage error (exit 2) naming the option and what it takes.
ShearPrecision precision_option(const char *value);
// option: the value of --precision, NULL when it was not given (a bad value is a usage error, exit 2). Else the
// model file's root attribute precision (absent: fp32; another value dies naming the file). *source names
// where the answer came from, for the set-up line: "--precision", "model file" or "default".
ShearPrecision precision_for_model(const char *option, const char *model_path, const char **source);
// ops->set_precision(p), or dies naming the backend that cannot do it.
void precision_apply(const ShearOps *ops, ShearPrecision p);

#endif
