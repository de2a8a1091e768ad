// parity_driver CASE.h5 OUT.h5: runs Shear's CPU model on a case written by tests/parity/make_case.py and
// writes what tests/parity/compare.py checks against the PyTorch reference: logits, mean loss, every gradient,
// gate gradients (when the case has /gates), and 10 AdamW steps with clipping (losses, grad norms, weights).
#include <hdf5.h>
#include <string.h>

#include "case_io.h"
#include "shear/common.h"
#include "shear/h5util.h"
#include "shear/model.h"
#include "shear/modelfile.h"
#include "shear/optim.h"

static const char *GATE_NAMES[6] = {"layer", "head_layer", "mlp", "head", "intermediate", "hidden"};


static void write_tensors(hid_t out, const char *group, const Model *m, const float *buf) {
    float *h = shear_malloc(m->table.total * sizeof(float)); // [total]
    m->ops->download(h, buf, m->table.total * sizeof(float));
    char name[256];
    for (int i = 0; i < m->table.n; i++) {
        const ParamInfo *p = &m->table.p[i];
        hsize_t dims[2] = {(hsize_t)p->shape[0], (hsize_t)p->shape[1]};
        snprintf(name, sizeof name, "%s/%s", group, p->name);
        case_write(out, name, H5T_NATIVE_FLOAT, h + p->offset, p->ndim, dims);
    }
    free(h);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: parity_driver CASE.h5 OUT.h5\n");
        return 2;
    }
    h5_quiet();
    const ShearOps *ops = ops_cpu();
    ModelConfig c;
    modelfile_read_config(argv[1], &c);
    Model m;
    model_create(&m, ops, &c);
    modelfile_load_weights(argv[1], &m);

    hid_t f = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
    SHEAR_CHECK(f >= 0, "cannot open case '%s'", argv[1]);
    int B, T;
    int32_t *tok, *tgt; // [B,T]
    case_read_batch(f, &B, &T, &tok, &tgt);
    size_t N = (size_t)B * T;
    hid_t tr = H5Gopen2(f, "train", H5P_DEFAULT);
    SHEAR_CHECK(tr >= 0, "case file: /train is missing");
    double lr, b1, b2, eps, wd, clip;
    int64_t steps;
    SHEAR_CHECK(!h5_attr_read_double(tr, "lr", &lr) && !h5_attr_read_double(tr, "beta1", &b1) &&
                !h5_attr_read_double(tr, "beta2", &b2) && !h5_attr_read_double(tr, "eps", &eps) &&
                !h5_attr_read_double(tr, "weight_decay", &wd) && !h5_attr_read_double(tr, "grad_clip", &clip) &&
                !h5_attr_read_int(tr, "steps", &steps), "case file: /train attributes incomplete");
    int64_t gemm_bf16 = 0; // optional: the GEMMs' precision (make_case.py --precision)
    if (H5Aexists(tr, "gemm_bf16") > 0) SHEAR_CHECK(!h5_attr_read_int(tr, "gemm_bf16", &gemm_bf16), "case file: /train gemm_bf16");
    // PARITY_GEMM_FP32=1 runs fp32 GEMMs on a bf16 case: the check that compare.py catches a missed rounding
    const char *force = getenv("PARITY_GEMM_FP32");
    if (force && strcmp(force, "1") == 0) gemm_bf16 = 0;
    SHEAR_CHECK(ops->set_precision(gemm_bf16 ? SHEAR_BF16 : SHEAR_FP32) == 0, "the CPU backend refused bf16 GEMMs");
    H5Gclose(tr);

    // gates (optional): device buffers for z and their gradients
    ModelGates gates;
    memset(&gates, 0, sizeof gates);
    const float **zs[6] = {&gates.layer, &gates.head_layer, &gates.mlp, &gates.head, &gates.intermediate, &gates.hidden};
    float **dzs[6] = {&gates.d_layer, &gates.d_head_layer, &gates.d_mlp, &gates.d_head, &gates.d_intermediate,
                      &gates.d_hidden};
    size_t gn[6] = {(size_t)c.n_layers, (size_t)c.n_layers, (size_t)c.n_layers, (size_t)c.n_layers * c.n_kv_heads,
                    (size_t)c.n_layers * c.intermediate, (size_t)c.dim};
    int have_gates = 0;
    for (int i = 0; i < 6; i++) {
        char name[64];
        snprintf(name, sizeof name, "gates/%s", GATE_NAMES[i]);
        if (H5Lexists(f, "gates", H5P_DEFAULT) <= 0 || H5Lexists(f, name, H5P_DEFAULT) <= 0) continue;
        float *h = shear_malloc(gn[i] * sizeof(float)); // [gate count]
        case_read(f, name, H5T_NATIVE_FLOAT, h, gn[i]);
        float *z = ops->alloc(gn[i] * sizeof(float));
        ops->upload(z, h, gn[i] * sizeof(float));
        *zs[i] = z;
        *dzs[i] = ops->alloc(gn[i] * sizeof(float));
        free(h);
        have_gates = 1;
    }
    H5Fclose(f);
    const ModelGates *gp = have_gates ? &gates : NULL;

    int scored = 0;
    for (size_t i = 0; i < N; i++) scored += tgt[i] >= 0;
    SHEAR_CHECK(scored > 0, "case file: no scored targets");
    model_alloc_acts(&m, B, T);

    hid_t out = H5Fcreate(argv[2], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    SHEAR_CHECK(out >= 0, "cannot create '%s'", argv[2]);
    float *logits = shear_malloc(N * (size_t)c.vocab * sizeof(float)); // [B,T,V]
    double loss = model_forward(&m, B, tok, tgt, gp, NULL, logits) / scored;
    hsize_t ld[3] = {(hsize_t)B, (hsize_t)T, (hsize_t)c.vocab};
    case_write(out, "out/logits", H5T_NATIVE_FLOAT, logits, 3, ld);
    case_write(out, "out/loss", H5T_NATIVE_DOUBLE, &loss, 0, NULL);
    free(logits);

    const float dscale = 1.0f / (float)scored;
    ops->zero(m.g, m.table.total * sizeof(float));
    model_forward_backward(&m, B, tok, tgt, gp, dscale);
    write_tensors(out, "out/grad", &m, m.g);
    for (int i = 0; i < 6; i++) {
        if (!*dzs[i]) continue;
        float *h = shear_malloc(gn[i] * sizeof(float));
        ops->download(h, *dzs[i], gn[i] * sizeof(float));
        char name[64];
        snprintf(name, sizeof name, "out/gate_grad/%s", GATE_NAMES[i]);
        // head [L,G] and intermediate [L,I] are 2-D; the others are vectors
        int two_d = i == 3 || i == 4;
        hsize_t dims[2] = {two_d ? (hsize_t)c.n_layers : gn[i], two_d ? gn[i] / (hsize_t)c.n_layers : 0};
        case_write(out, name, H5T_NATIVE_FLOAT, h, two_d ? 2 : 1, dims);
        free(h);
    }

    AdamW opt;
    adamw_create(&opt, ops, m.table.total);
    AdamWHyper hp = {(float)lr, (float)b1, (float)b2, (float)eps, (float)wd, (float)clip};
    double *step_loss = shear_malloc((size_t)steps * sizeof(double)), *gnorm = shear_malloc((size_t)steps * sizeof(double));
    for (int s = 0; s < steps; s++) {
        ops->zero(m.g, m.table.total * sizeof(float));
        step_loss[s] = model_forward_backward(&m, B, tok, tgt, gp, dscale) / scored;
        gnorm[s] = grad_global_norm(ops, &m.table, m.g);
        adamw_step(&opt, &m.table, m.w, m.g, &hp, grad_clip_scale(gnorm[s], hp.grad_clip));
    }
    hsize_t sd[1] = {(hsize_t)steps};
    case_write(out, "out/step_loss", H5T_NATIVE_DOUBLE, step_loss, 1, sd);
    case_write(out, "out/grad_norm", H5T_NATIVE_DOUBLE, gnorm, 1, sd);
    write_tensors(out, "out/final", &m, m.w);
    H5Fclose(out);
    printf("parity_driver: B=%d T=%d loss %.6f, %lld steps, gates %s\n", B, T, loss, (long long)steps,
           have_gates ? "yes" : "no");
    free(step_loss); free(gnorm); free(tok); free(tgt);
    adamw_free(&opt);
    for (int i = 0; i < 6; i++) {
        if (*zs[i]) ops->free((void *)*zs[i]);
        if (*dzs[i]) ops->free(*dzs[i]);
    }
    model_free(&m);
    return 0;
}
