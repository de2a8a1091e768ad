// /masks of a prune output: the deterministic gate values finalize folds (layout in finalize.h).
#include <math.h>
#include <string.h>

#include "shear/finalize.h"
#include "shear/h5util.h"
#include "shear/modelfile.h"

#define MASKFILE_VERSION 1

// Expected shape of each type for the source shape c, in FINALIZE_GATE_NAMES order.
static void gate_dims(const ModelConfig *c, int nd[FINALIZE_N_TYPES], hsize_t dims[FINALIZE_N_TYPES][2]) {
    for (int t = 0; t < FINALIZE_N_TYPES; t++) {
        nd[t] = 1;
        dims[t][0] = (hsize_t)c->n_layers;
        dims[t][1] = 1;
    }
    nd[3] = 2; dims[3][1] = (hsize_t)c->n_kv_heads;   // head [L, G]
    nd[4] = 2; dims[4][1] = (hsize_t)c->intermediate; // intermediate [L, I]
    dims[5][0] = (hsize_t)c->dim;                      // hidden [d]
}

static void fmt_dims(char *buf, size_t len, int nd, const hsize_t *dims) {
    if (nd == 2) snprintf(buf, len, "[%llu, %llu]", (unsigned long long)dims[0], (unsigned long long)dims[1]);
    else if (nd == 1) snprintf(buf, len, "[%llu]", (unsigned long long)dims[0]);
    else snprintf(buf, len, "%d-D", nd);
}

void maskfile_write(const char *path, const FinalizeGates *g, const ModelConfig *src) {
    const float *z[FINALIZE_N_TYPES] = {g->layer, g->head_layer, g->mlp, g->head, g->intermediate, g->hidden};
    if (g->layer && (g->head_layer || g->mlp))
        SHEAR_DIE("writing masks to '%s': gates 'head_layer'/'mlp' are used in place of 'layer', not with it", path);
    ModelConfig fc;
    modelfile_read_config(path, &fc); // dies unless PATH is a Shear model file
    if (fc.dim != src->dim || fc.n_layers != src->n_layers || fc.n_kv_heads != src->n_kv_heads ||
        fc.intermediate != src->intermediate)
        SHEAR_DIE("writing masks to '%s': the file's model (d=%d L=%d kv=%d I=%d) is not the masks' source shape "
                  "(d=%d L=%d kv=%d I=%d)", path, fc.dim, fc.n_layers, fc.n_kv_heads, fc.intermediate, src->dim,
                  src->n_layers, src->n_kv_heads, src->intermediate);
    h5_quiet();
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) SHEAR_DIE("cannot open '%s' for writing its /masks (read-only file or folder?)", path);
    if (H5Lexists(f, "masks", H5P_DEFAULT) > 0) H5_CHECK(H5Ldelete(f, "masks", H5P_DEFAULT), "/masks in '%s'", path);
    hid_t grp = H5Gcreate2(f, "masks", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(grp, "group /masks in '%s'", path);
    h5_attr_write_int(grp, "format_version", MASKFILE_VERSION);
    int nd[FINALIZE_N_TYPES];
    hsize_t dims[FINALIZE_N_TYPES][2];
    gate_dims(src, nd, dims);
    for (int t = 0; t < FINALIZE_N_TYPES; t++) {
        if (!z[t]) continue;
        hid_t sp = H5Screate_simple(nd[t], dims[t], NULL);
        hid_t ds = H5Dcreate2(grp, FINALIZE_GATE_NAMES[t], H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5_CHECK(ds, "/masks/%s in '%s'", FINALIZE_GATE_NAMES[t], path);
        H5_CHECK(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, z[t]), "/masks/%s in '%s'",
                 FINALIZE_GATE_NAMES[t], path);
        H5Dclose(ds);
        H5Sclose(sp);
    }
    H5Gclose(grp);
    if (H5Fclose(f) < 0) SHEAR_DIE("cannot finish writing /masks to '%s' (disk full?)", path);
}

float *maskfile_read(const char *path, const ModelConfig *src, FinalizeGates *g) {
    memset(g, 0, sizeof *g);
    h5_quiet();
    if (!shear_file_exists(path)) SHEAR_DIE("prune output '%s' does not exist", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) SHEAR_DIE("'%s' is not a readable HDF5 file; expected a prune output (model file plus /masks)", path);
    if (H5Lexists(f, "masks", H5P_DEFAULT) <= 0)
        SHEAR_DIE("'%s' has no /masks group: expected a prune output (the source model plus /masks/<type> gate "
                  "values, written by shear prune); a model file without masks is already dense", path);
    hid_t grp = H5Gopen2(f, "masks", H5P_DEFAULT);
    if (grp < 0) SHEAR_DIE("'%s': /masks is not a group", path);
    int64_t ver = 0;
    if (h5_attr_read_int(grp, "format_version", &ver) || ver != MASKFILE_VERSION)
        SHEAR_DIE("'%s': /masks attribute format_version is missing or %lld (expected %d)", path, (long long)ver,
                  MASKFILE_VERSION);

    int nd[FINALIZE_N_TYPES];
    hsize_t dims[FINALIZE_N_TYPES][2];
    gate_dims(src, nd, dims);
    size_t off[FINALIZE_N_TYPES + 1] = {0};
    for (int t = 0; t < FINALIZE_N_TYPES; t++) off[t + 1] = off[t] + (size_t)(dims[t][0] * dims[t][1]);
    float *block = shear_malloc(off[FINALIZE_N_TYPES] * sizeof(float)); // every type, in name order
    const float **field[FINALIZE_N_TYPES] = {&g->layer, &g->head_layer, &g->mlp, &g->head, &g->intermediate,
                                             &g->hidden};

    H5G_info_t info;
    H5_CHECK(H5Gget_info(grp, &info), "/masks in '%s'", path);
    int found = 0;
    for (hsize_t k = 0; k < info.nlinks; k++) {
        char name[128] = "";
        H5Lget_name_by_idx(grp, ".", H5_INDEX_NAME, H5_ITER_INC, k, name, sizeof name, H5P_DEFAULT);
        int t = 0;
        while (t < FINALIZE_N_TYPES && strcmp(name, FINALIZE_GATE_NAMES[t]) != 0) t++;
        if (t == FINALIZE_N_TYPES)
            SHEAR_DIE("'%s': unknown dataset /masks/%s (expected layer, head_layer, mlp, head, intermediate or "
                      "hidden)", path, name);
        hid_t ds = H5Dopen2(grp, name, H5P_DEFAULT);
        if (ds < 0) SHEAR_DIE("'%s': /masks/%s is not a dataset", path, name);
        hid_t ft = H5Dget_type(ds);
        if (H5Tget_class(ft) != H5T_FLOAT)
            SHEAR_DIE("'%s': /masks/%s is not a floating-point dataset (expected float32 gate values)", path, name);
        H5Tclose(ft);
        hid_t sp = H5Dget_space(ds);
        hsize_t got[H5S_MAX_RANK];
        int gnd = H5Sget_simple_extent_ndims(sp);
        if (gnd > 0 && gnd <= H5S_MAX_RANK) H5Sget_simple_extent_dims(sp, got, NULL);
        if (gnd != nd[t] || got[0] != dims[t][0] || (nd[t] == 2 && got[1] != dims[t][1])) {
            char gs[64], ws[64];
            fmt_dims(gs, sizeof gs, gnd, got);
            fmt_dims(ws, sizeof ws, nd[t], dims[t]);
            SHEAR_DIE("'%s': /masks/%s has shape %s, expected %s for the source model in /config", path, name, gs, ws);
        }
        float *v = block + off[t];
        if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
            SHEAR_DIE("'%s': cannot read /masks/%s (truncated or corrupt file?)", path, name);
        for (size_t i = 0; i < off[t + 1] - off[t]; i++)
            if (!isfinite(v[i]) || v[i] < 0.0f || v[i] > 1.0f)
                SHEAR_DIE("'%s': /masks/%s element %zu is %g, expected a gate value in [0, 1]", path, name, i,
                          (double)v[i]);
        *field[t] = v;
        found++;
        H5Sclose(sp);
        H5Dclose(ds);
    }
    H5Gclose(grp);
    H5Fclose(f);
    if (!found) SHEAR_DIE("'%s': /masks holds no gate dataset (expected /masks/<type> for each learned type)", path);
    if (g->layer && (g->head_layer || g->mlp))
        SHEAR_DIE("'%s': /masks has 'layer' and the CoFi pair 'head_layer'/'mlp'; they are alternatives", path);
    return block;
}
