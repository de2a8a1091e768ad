// The GEMM precision of shear eval and shear generate (see precision.h).
#include "shear/precision.h"

#include <string.h>

#include "shear/common.h"
#include "shear/modelfile.h"

int precision_parse(const char *text, ShearPrecision *p) {
    if (strcmp(text, "fp32") == 0) *p = SHEAR_FP32;
    else if (strcmp(text, "bf16") == 0) *p = SHEAR_BF16;
    else return -1;
    return 0;
}

const char *precision_name(ShearPrecision p) { return p == SHEAR_BF16 ? "bf16" : "fp32"; }

ShearPrecision precision_option(const char *value) {
    ShearPrecision p;
    if (precision_parse(value, &p)) shear_usage_error("shear: option --precision: expected fp32 or bf16, got '%s'\n", value);
    return p;
}

ShearPrecision precision_for_model(const char *option, const char *model_path, const char **source) {
    ShearPrecision p = SHEAR_FP32;
    if (option) {
        *source = "--precision";
        return precision_option(option);
    }
    ModelConfig cfg;
    ModelFileReader *r = modelfile_open(model_path, &cfg);
    char rec[32];
    *source = "default";
    if (modelfile_read_attr_string(r, "precision", rec, sizeof rec) == 0) {
        if (precision_parse(rec, &p))
            SHEAR_DIE("'%s': root attribute precision is '%s'; expected fp32 or bf16 (the run.precision it was "
                      "trained in), or give --precision fp32|bf16", model_path, rec);
        *source = "model file";
    }
    modelfile_close(r);
    return p;
}

void precision_apply(const ShearOps *ops, ShearPrecision p) {
    if (!ops->set_precision || ops->set_precision(p) != 0)
        SHEAR_DIE("the %s backend cannot compute %s GEMMs; use --precision fp32", ops->name, precision_name(p));
}
