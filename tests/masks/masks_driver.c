// masks_driver CASE.h5 MASKS.h5 OUT.h5: runs Shear's masks (src/masks.c on the CPU backend) on a parity case
// (tests/parity/make_case.py: model + batch) and a mask setting (tests/masks/make_masks.py: learned types,
// target, log-alphas, lambdas, seed/step/micro-batch, schedule) and writes what tests/masks/check_masks.py
// compares with validation/ref_masks.py + ref_llama.py:
//   /clamped/<t>        log-alphas after masks_clamp                       [rows, cols]
//   /lag/...            masks_lagrangian alone: grad/<t>, lambda_grad/<t> [2], term, expected_sparsity/<t>,
//                       target_sparsity/<t>, expected_params
//   /det_exact/<t>, /det_expected/<t>   masks_deterministic(1) and (0)
//   /z/<t>              masks_sample(seed, step, microbatch)
//   /chain/...          LM loss (mean over scored tokens) through the sampled gates + Lagrangian:
//                       loss, lm_grad/<t> (masks_backward_sample alone), grad/<t> (then + masks_lagrangian),
//                       lambda_grad/<t>
#include <hdf5.h>
#include <string.h>

#include "../parity/case_io.h"
#include "shear/common.h"
#include "shear/h5util.h"
#include "shear/masks.h"
#include "shear/model.h"
#include "shear/modelfile.h"


static void write_scalar(hid_t f, const char *name, double v) { case_write(f, name, H5T_NATIVE_DOUBLE, &v, 0, NULL); }

// every learned type of a [total] backend buffer as /group/<type> [rows, cols]
static void write_types(hid_t out, const char *group, const Masks *m, const float *buf) {
    for (int t = 0; t < MASK_TYPES; t++) {
        if (!m->on[t]) continue;
        float *h = shear_malloc((size_t)m->rows[t] * m->cols[t] * sizeof(float));
        masks_download(m, (MaskType)t, buf, h);
        char name[128];
        snprintf(name, sizeof name, "%s/%s", group, MASK_NAMES[t]);
        hsize_t dims[2] = {(hsize_t)m->rows[t], (hsize_t)m->cols[t]};
        case_write(out, name, H5T_NATIVE_FLOAT, h, 2, dims);
        free(h);
    }
}

static void write_lambda_grads(hid_t out, const char *group, const Masks *m) {
    for (int t = 0; t < MASK_TYPES; t++) {
        if (!m->on[t]) continue;
        char name[128];
        snprintf(name, sizeof name, "%s/%s", group, MASK_NAMES[t]);
        hsize_t two = 2;
        case_write(out, name, H5T_NATIVE_FLOAT, m->lambda_grad[t], 1, &two);
    }
}

static int64_t attr_int(hid_t obj, const char *name) {
    int64_t v;
    SHEAR_CHECK(!h5_attr_read_int(obj, name, &v), "masks file: attribute '%s' is missing", name);
    return v;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: masks_driver CASE.h5 MASKS.h5 OUT.h5\n");
        return 2;
    }
    h5_quiet();
    const ShearOps *ops = ops_cpu();
    ModelConfig c;
    modelfile_read_config(argv[1], &c);
    Model model;
    model_create(&model, ops, &c);
    modelfile_load_weights(argv[1], &model);

    hid_t f = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
    SHEAR_CHECK(f >= 0, "cannot open case '%s'", argv[1]);
    int B, T;
    int32_t *tok, *tgt_tok; // [B,T]
    case_read_batch(f, &B, &T, &tok, &tgt_tok);
    size_t N = (size_t)B * T;
    H5Fclose(f);

    // the mask setting
    hid_t mf = H5Fopen(argv[2], H5F_ACC_RDONLY, H5P_DEFAULT);
    SHEAR_CHECK(mf >= 0, "cannot open masks file '%s'", argv[2]);
    ModelConfig tc = c;
    tc.dim = (int)attr_int(mf, "target_dim");
    tc.n_layers = (int)attr_int(mf, "target_n_layers");
    tc.n_heads = (int)attr_int(mf, "target_n_heads");
    tc.intermediate = (int)attr_int(mf, "target_intermediate");
    tc.n_kv_heads = tc.n_heads / (c.n_heads / c.n_kv_heads);
    uint64_t seed = (uint64_t)attr_int(mf, "seed"), step = (uint64_t)attr_int(mf, "step");
    uint64_t mb = (uint64_t)attr_int(mf, "microbatch");
    int total_steps = (int)attr_int(mf, "total_steps");
    double warmup_frac;
    SHEAR_CHECK(!h5_attr_read_double(mf, "warmup_frac", &warmup_frac), "masks file: warmup_frac is missing");
    char list[256];
    SHEAR_CHECK(!h5_attr_read_string(mf, "masks", list, sizeof list), "masks file: masks is missing");
    char names[MASK_TYPES][32];
    int n_names = 0;
    for (char *tokp = strtok(list, ","); tokp && n_names < MASK_TYPES; tokp = strtok(NULL, ","))
        snprintf(names[n_names++], 32, "%s", tokp);

    Masks m;
    char err[512];
    if (masks_create(&m, ops, &c, &tc, names, n_names, err, sizeof err)) SHEAR_DIE("masks_create: %s", err);
    float *la = shear_malloc(m.total * sizeof(float)); // [total]
    for (int t = 0; t < MASK_TYPES; t++) {
        if (!m.on[t]) continue;
        char name[128];
        snprintf(name, sizeof name, "log_alpha/%s", MASK_NAMES[t]);
        case_read(mf, name, H5T_NATIVE_FLOAT, la + m.offset[t], (size_t)m.rows[t] * m.cols[t]);
        snprintf(name, sizeof name, "lambda/%s", MASK_NAMES[t]);
        case_read(mf, name, H5T_NATIVE_FLOAT, m.lambda[t], 2);
    }
    H5Fclose(mf);
    ops->upload(m.log_alpha, la, m.total * sizeof(float));
    free(la);
    masks_clamp(&m);

    hid_t out = H5Fcreate(argv[3], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    SHEAR_CHECK(out >= 0, "cannot create '%s'", argv[3]);
    write_types(out, "clamped", &m, m.log_alpha);

    // the Lagrangian alone
    MaskStats st;
    masks_zero_grad(&m);
    double term = masks_lagrangian(&m, (int)step, total_steps, warmup_frac, &st);
    write_types(out, "lag/grad", &m, m.grad);
    write_lambda_grads(out, "lag/lambda_grad", &m);
    write_scalar(out, "lag/term", term);
    write_scalar(out, "lag/expected_params", st.expected_params);
    for (int t = 0; t < MASK_TYPES; t++) {
        if (!m.on[t]) continue;
        char name[128];
        snprintf(name, sizeof name, "lag/expected_sparsity/%s", MASK_NAMES[t]);
        write_scalar(out, name, st.expected_sparsity[t]);
        snprintf(name, sizeof name, "lag/target_sparsity/%s", MASK_NAMES[t]);
        write_scalar(out, name, st.target_sparsity[t]);
    }

    // deterministic masks
    masks_deterministic(&m, 1);
    write_types(out, "det_exact", &m, m.z);
    masks_deterministic(&m, 0);
    write_types(out, "det_expected", &m, m.z);

    // the full chain: LM loss through the sampled gates, plus the Lagrangian
    int scored = 0;
    for (size_t i = 0; i < N; i++) scored += tgt_tok[i] >= 0;
    SHEAR_CHECK(scored > 0, "case file: no scored targets");
    model_alloc_acts(&model, B, T);
    masks_zero_grad(&m);
    masks_sample(&m, seed, step, mb);
    write_types(out, "z", &m, m.z);
    ModelGates g;
    masks_gates(&m, &g);
    ops->zero(model.g, model.table.total * sizeof(float));
    double loss = model_forward_backward(&model, B, tok, tgt_tok, &g, 1.0f / (float)scored) / scored;
    masks_backward_sample(&m, seed, step, mb);
    write_types(out, "chain/lm_grad", &m, m.grad);
    masks_lagrangian(&m, (int)step, total_steps, warmup_frac, NULL);
    write_scalar(out, "chain/loss", loss);
    write_types(out, "chain/grad", &m, m.grad);
    write_lambda_grads(out, "chain/lambda_grad", &m);
    H5Fclose(out);
    printf("masks_driver: %zu gates, B=%d T=%d, LM loss %.6f, Lagrangian %.6g, E[params] %.6g\n", m.total, B, T,
           loss, term, st.expected_params);
    free(tok);
    free(tgt_tok);
    masks_free(&m);
    model_free(&model);
    return 0;
}
