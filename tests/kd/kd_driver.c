// The C side of the distillation oracle (tests/kd/kd_torch.py): kd_driver case.h5 out.h5 [cpu|cuda] runs
// ShearOps.classifier_kd on the case's inputs and writes what it returns.
//   case.h5: /x [N,d], /w [V,d], /tx [N,td], /tw [V,td] float32, /targets [N] int32; root attributes alpha,
//            temperature, dscale (double), topk (int)
//   out.h5:  /lm, /kd (double scalars), /dx [N,d], /dw [V,d] float32 (the gradients of
//            dscale ((1 - alpha) LM + alpha KD), accumulated into zeros)
#include <stdlib.h>
#include <string.h>

#include "../parity/case_io.h"
#include "shear/ops.h"

static double attr_double(hid_t f, const char *name) {
    double v = 0;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0) SHEAR_DIE("case file: root attribute '%s' is missing", name);
    H5_CHECK(H5Aread(a, H5T_NATIVE_DOUBLE, &v), "reading attribute '%s'", name);
    H5Aclose(a);
    return v;
}

static size_t dims_of(hid_t f, const char *name, int want_nd, hsize_t *dims) {
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds < 0) SHEAR_DIE("case file: dataset '%s' is missing", name);
    hid_t sp = H5Dget_space(ds);
    int nd = H5Sget_simple_extent_ndims(sp);
    SHEAR_CHECK(nd == want_nd, "case file: '%s' has %d dimensions, expected %d", name, nd, want_nd);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    H5Dclose(ds);
    return want_nd == 2 ? (size_t)(dims[0] * dims[1]) : (size_t)dims[0];
}

// A host buffer copied to backend memory.
static void *to_backend(const ShearOps *o, const void *host, size_t bytes) {
    void *p = o->alloc(bytes);
    o->upload(p, host, bytes);
    return p;
}

int main(int argc, char **argv) {
    if (argc < 3) SHEAR_DIE("usage: kd_driver case.h5 out.h5 [cpu|cuda]");
    const ShearOps *o = argc > 3 && strcmp(argv[3], "cuda") == 0 ? ops_cuda() : ops_cpu();
    if (!o) SHEAR_DIE("kd_driver: this build has no CUDA backend");
    if (o->is_device) o->select_device(0);
    hid_t f = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) SHEAR_DIE("cannot open case file '%s'", argv[1]);
    hsize_t xd[2], wd[2], txd[2], twd[2], nt[1];
    size_t nx = dims_of(f, "x", 2, xd), nw = dims_of(f, "w", 2, wd), ntx = dims_of(f, "tx", 2, txd),
           ntw = dims_of(f, "tw", 2, twd), N = dims_of(f, "targets", 1, nt);
    const int d = (int)xd[1], V = (int)wd[0], td = (int)txd[1];
    SHEAR_CHECK(xd[0] == N && txd[0] == N && wd[1] == xd[1] && twd[0] == wd[0] && twd[1] == txd[1],
                "case file: inconsistent shapes");
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *tx = malloc(ntx * 4), *tw = malloc(ntw * 4); // as named
    int32_t *tgt = malloc(N * 4);                                                                    // [N]
    case_read(f, "x", H5T_NATIVE_FLOAT, x, nx);
    case_read(f, "w", H5T_NATIVE_FLOAT, w, nw);
    case_read(f, "tx", H5T_NATIVE_FLOAT, tx, ntx);
    case_read(f, "tw", H5T_NATIVE_FLOAT, tw, ntw);
    case_read(f, "targets", H5T_NATIVE_INT32, tgt, N);
    ShearKD kd = {.td = td, .alpha = (float)attr_double(f, "alpha"), .temperature = (float)attr_double(f, "temperature"),
                  .topk = (int)attr_double(f, "topk")};
    const float dscale = (float)attr_double(f, "dscale");
    H5Fclose(f);

    float *bx = to_backend(o, x, nx * 4), *bw = to_backend(o, w, nw * 4);
    kd.tx = to_backend(o, tx, ntx * 4);
    kd.tw = to_backend(o, tw, ntw * 4);
    int32_t *bt = to_backend(o, tgt, N * 4);
    float *dx = o->alloc(nx * 4), *dw = o->alloc(nw * 4); // [N, d], [V, d] zeroed
    double kd_sum = 0;
    double lm = o->classifier_kd(dx, dw, &kd_sum, bx, bw, bt, N, d, V, dscale, &kd);
    o->download(x, dx, nx * 4);
    o->download(w, dw, nw * 4);

    hid_t out = H5Fcreate(argv[2], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (out < 0) SHEAR_DIE("cannot write '%s'", argv[2]);
    case_write(out, "lm", H5T_NATIVE_DOUBLE, &lm, 0, NULL);
    case_write(out, "kd", H5T_NATIVE_DOUBLE, &kd_sum, 0, NULL);
    case_write(out, "dx", H5T_NATIVE_FLOAT, x, 2, xd);
    case_write(out, "dw", H5T_NATIVE_FLOAT, w, 2, wd);
    H5Fclose(out);
    o->free(bx), o->free(bw), o->free((void *)kd.tx), o->free((void *)kd.tw), o->free(bt), o->free(dx), o->free(dw);
    free(x), free(w), free(tx), free(tw), free(tgt);
    return 0;
}
