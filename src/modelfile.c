// Model files (see modelfile.h).
#include "shear/modelfile.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "shear/h5util.h"

static void write_config(hid_t f, const ModelConfig *c) {
    hid_t g = H5Gcreate2(f, "config", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(g, "group /config");
    h5_attr_write_int(g, "dim", c->dim);
    h5_attr_write_int(g, "n_layers", c->n_layers);
    h5_attr_write_int(g, "n_heads", c->n_heads);
    h5_attr_write_int(g, "n_kv_heads", c->n_kv_heads);
    h5_attr_write_int(g, "head_dim", c->head_dim);
    h5_attr_write_int(g, "intermediate", c->intermediate);
    h5_attr_write_int(g, "vocab", c->vocab);
    h5_attr_write_double(g, "rope_theta", c->rope_theta);
    h5_attr_write_double(g, "norm_eps", c->norm_eps);
    H5Gclose(g);
}

void modelfile_save(const char *path, const Model *m, const char *deck_text) {
    h5_quiet();
    char tmp[2048];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) SHEAR_DIE("cannot create model file '%s' (is the folder writable?)", tmp);
    h5_attr_write_string(f, "format", MODELFILE_FORMAT);
    h5_attr_write_int(f, "format_version", MODELFILE_VERSION);
    write_config(f, &m->cfg);
    hid_t g = H5Gcreate2(f, "weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(g, "group /weights in '%s'", tmp);
    size_t maxn = 0;
    for (int i = 0; i < m->table.n; i++)
        if (m->table.p[i].numel > maxn) maxn = m->table.p[i].numel;
    float *h = shear_malloc(maxn * sizeof(float)); // [numel] one tensor on the host
    for (int i = 0; i < m->table.n; i++) {
        const ParamInfo *p = &m->table.p[i];
        m->ops->download(h, m->w + p->offset, p->numel * sizeof(float));
        hsize_t dims[2] = {(hsize_t)p->shape[0], (hsize_t)p->shape[1]};
        hid_t sp = H5Screate_simple(p->ndim, dims, NULL);
        hid_t ds = H5Dcreate2(g, p->name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5_CHECK(ds, "tensor '%s' in '%s'", p->name, tmp);
        H5_CHECK(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, h), "tensor '%s' in '%s'", p->name, tmp);
        H5Dclose(ds);
        H5Sclose(sp);
    }
    free(h);
    H5Gclose(g);
    if (deck_text) h5_write_text(f, "deck", deck_text);
    if (H5Fclose(f) < 0) SHEAR_DIE("cannot finish writing '%s' (disk full?)", tmp);
    if (rename(tmp, path) != 0) SHEAR_DIE("cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
}

static hid_t open_model(const char *path) {
    h5_quiet();
    if (!shear_file_exists(path)) SHEAR_DIE("model file '%s' does not exist", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) SHEAR_DIE("'%s' is not a readable HDF5 file (truncated or corrupt?); expected a Shear model file", path);
    char fmt[64] = "";
    if (h5_attr_read_string(f, "format", fmt, sizeof fmt) || strcmp(fmt, MODELFILE_FORMAT) != 0)
        SHEAR_DIE("'%s' is not a Shear model file: root attribute 'format' is '%s', expected '%s'", path, fmt,
                  MODELFILE_FORMAT);
    int64_t ver = 0;
    if (h5_attr_read_int(f, "format_version", &ver) || ver != MODELFILE_VERSION)
        SHEAR_DIE("'%s': format_version %lld is not supported (expected %d)", path, (long long)ver, MODELFILE_VERSION);
    return f;
}

void modelfile_read_config(const char *path, ModelConfig *c) {
    hid_t f = open_model(path);
    hid_t g = H5Gopen2(f, "config", H5P_DEFAULT);
    if (g < 0) SHEAR_DIE("'%s': group /config is missing", path);
    int64_t v[7];
    const char *names[7] = {"dim", "n_layers", "n_heads", "n_kv_heads", "head_dim", "intermediate", "vocab"};
    for (int i = 0; i < 7; i++)
        if (h5_attr_read_int(g, names[i], &v[i]) || v[i] < 1 || v[i] > 100000000)
            SHEAR_DIE("'%s': /config attribute '%s' is missing or out of range", path, names[i]);
    double theta, eps;
    if (h5_attr_read_double(g, "rope_theta", &theta) || h5_attr_read_double(g, "norm_eps", &eps))
        SHEAR_DIE("'%s': /config attributes rope_theta and norm_eps are required", path);
    c->dim = (int)v[0]; c->n_layers = (int)v[1]; c->n_heads = (int)v[2]; c->n_kv_heads = (int)v[3];
    c->head_dim = (int)v[4]; c->intermediate = (int)v[5]; c->vocab = (int)v[6];
    c->rope_theta = (float)theta;
    c->norm_eps = (float)eps;
    char err[256];
    if (model_config_check(c, err, sizeof err)) SHEAR_DIE("'%s': bad model shape in /config: %s", path, err);
    H5Gclose(g);
    H5Fclose(f);
}

void modelfile_load_weights(const char *path, Model *m) {
    hid_t f = open_model(path);
    size_t maxn = 0;
    for (int i = 0; i < m->table.n; i++)
        if (m->table.p[i].numel > maxn) maxn = m->table.p[i].numel;
    float *h = shear_malloc(maxn * sizeof(float)); // [numel]
    char dsname[PARAM_NAME_LEN + 16];
    for (int i = 0; i < m->table.n; i++) {
        const ParamInfo *p = &m->table.p[i];
        snprintf(dsname, sizeof dsname, "weights/%s", p->name);
        if (H5Lexists(f, "weights", H5P_DEFAULT) <= 0 || H5Lexists(f, dsname, H5P_DEFAULT) <= 0)
            SHEAR_DIE("'%s': tensor '%s' is missing", path, p->name);
        hid_t ds = H5Dopen2(f, dsname, H5P_DEFAULT);
        hid_t sp = H5Dget_space(ds);
        hsize_t dims[2] = {0, 0};
        int nd = H5Sget_simple_extent_ndims(sp);
        H5Sget_simple_extent_dims(sp, dims, NULL);
        if (nd != p->ndim || (int)dims[0] != p->shape[0] || (nd == 2 && (int)dims[1] != p->shape[1])) {
            char got[64], want[64];
            if (nd == 2) snprintf(got, sizeof got, "[%llu, %llu]", (unsigned long long)dims[0], (unsigned long long)dims[1]);
            else snprintf(got, sizeof got, "%d-D", nd);
            if (nd == 1) snprintf(got, sizeof got, "[%llu]", (unsigned long long)dims[0]);
            if (p->ndim == 2) snprintf(want, sizeof want, "[%d, %d]", p->shape[0], p->shape[1]);
            else snprintf(want, sizeof want, "[%d]", p->shape[0]);
            SHEAR_DIE("'%s': tensor '%s' has shape %s, expected %s from /config", path, p->name, got, want);
        }
        if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, h) < 0)
            SHEAR_DIE("'%s': cannot read tensor '%s' (truncated or corrupt file?)", path, p->name);
        for (size_t j = 0; j < p->numel; j++)
            if (!isfinite(h[j])) SHEAR_DIE("'%s': tensor '%s' holds a non-finite value at element %zu", path, p->name, j);
        m->ops->upload(m->w + p->offset, h, p->numel * sizeof(float));
        H5Sclose(sp);
        H5Dclose(ds);
    }
    free(h);
    H5Fclose(f);
}
