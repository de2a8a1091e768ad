// Model files (see modelfile.h).
#include "shear/modelfile.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "shear/ckpt_sum.h"
#include "shear/h5util.h"

// The stored checksum of a tensor: the hash of its float32 little-endian bytes (this host's floats).
static uint64_t tensor_sum(const float *data, size_t numel) {
    return ckpt_sum_final(ckpt_sum_bytes(data, numel * sizeof(float)));
}

static uint64_t fnv1a64(uint64_t h, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}
#define FNV_START 0xcbf29ce484222325ull
#define PATH_LEN 4096

// Copies src to dst (through dst.tmp); returns "fnv1a64:<hex>" of the bytes in hash [32].
void modelfile_copy_file(const char *src, const char *dst, char *hash) {
    char tmp[PATH_LEN + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", dst);
    FILE *in = fopen(src, "rb");
    if (!in) SHEAR_DIE("cannot open '%s': %s", src, strerror(errno));
    FILE *out = fopen(tmp, "wb");
    if (!out) SHEAR_DIE("cannot create '%s': %s", tmp, strerror(errno));
    shear_tmp_begin(tmp);
    unsigned char buf[1 << 16];
    uint64_t h = FNV_START;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        h = fnv1a64(h, buf, n);
        if (fwrite(buf, 1, n, out) != n) SHEAR_DIE("cannot write '%s' (disk full?)", tmp);
    }
    if (ferror(in)) SHEAR_DIE("error reading '%s'", src);
    fclose(in);
    if (fclose(out) != 0) SHEAR_DIE("cannot finish writing '%s' (disk full?)", tmp);
    if (rename(tmp, dst) != 0) SHEAR_DIE("cannot rename '%s' to '%s': %s", tmp, dst, strerror(errno));
    shear_tmp_done(tmp);
    snprintf(hash, 32, "fnv1a64:%016llx", (unsigned long long)h);
}

void modelfile_file_hash(const char *path, char *hash) {
    size_t n;
    char *s = shear_read_file(path, &n);
    snprintf(hash, 32, "fnv1a64:%016llx", (unsigned long long)fnv1a64(FNV_START, (unsigned char *)s, n));
    free(s);
}

// <model without .h5>.tokenizer.json, next to the model file
void modelfile_tokenizer_path(const char *model_path, char *out, size_t len) {
    size_t n = strlen(model_path);
    if (n > 3 && strcmp(model_path + n - 3, ".h5") == 0) n -= 3;
    snprintf(out, len, "%.*s.tokenizer.json", (int)n, model_path);
}

void modelfile_write_config(hid_t f, const ModelConfig *c) {
    hid_t g = H5Gcreate2(f, "config", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(g, "group /config");
    h5_attr_write_int(g, "dim", c->dim);
    h5_attr_write_int(g, "n_layers", c->n_layers);
    h5_attr_write_int(g, "n_heads", c->n_heads);
    h5_attr_write_int(g, "n_kv_heads", c->n_kv_heads);
    h5_attr_write_int(g, "head_dim", c->head_dim);
    h5_attr_write_int(g, "intermediate", c->intermediate);
    h5_attr_write_int(g, "vocab", c->vocab);
    h5_attr_write_double(g, "rope_theta", c->rope.theta);
    if (c->rope.type != ROPE_DEFAULT) { // absent: plain RoPE (every file written before rope_scaling)
        h5_attr_write_string(g, "rope_type", rope_type_name(c->rope.type));
        h5_attr_write_double(g, "rope_factor", c->rope.factor);
        h5_attr_write_double(g, "rope_low_freq_factor", c->rope.low_freq_factor);
        h5_attr_write_double(g, "rope_high_freq_factor", c->rope.high_freq_factor);
        h5_attr_write_int(g, "rope_original_max_position_embeddings", c->rope.original_max_pos);
    }
    h5_attr_write_double(g, "norm_eps", c->norm_eps);
    // family options: absent = LLaMA-1/2 (every file written before the families)
    if (c->family != FAMILY_LLAMA) h5_attr_write_string(g, "model_type", family_name(c->family));
    if (c->tie_embeddings) h5_attr_write_int(g, "tie_word_embeddings", 1);
    if (c->qkv_bias) h5_attr_write_int(g, "qkv_bias", 1);
    if (c->qk_norm) h5_attr_write_int(g, "qk_norm", 1);
    if (c->sliding_window) h5_attr_write_int(g, "sliding_window", c->sliding_window);
    H5Gclose(g);
}

struct ModelFileWriter {
    hid_t f, weights;
    char path[2048], tmp[2048 + 8];
};

ModelFileWriter *modelfile_begin(const char *path, const ModelConfig *c, const char *deck_text) {
    h5_quiet();
    ModelFileWriter *w = shear_calloc(1, sizeof *w);
    snprintf(w->path, sizeof w->path, "%s", path);
    snprintf(w->tmp, sizeof w->tmp, "%s.tmp", path);
    w->f = H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (w->f < 0) SHEAR_DIE("cannot create model file '%s' (is the folder writable?)", w->tmp);
    shear_tmp_begin(w->tmp);
    h5_attr_write_string(w->f, "format", MODELFILE_FORMAT);
    h5_attr_write_int(w->f, "format_version", MODELFILE_VERSION);
    h5_attr_write_string(w->f, "checksum_algorithm", CKPT_SUM_NAME); // of every tensor's checksum
    modelfile_write_config(w->f, c);
    w->weights = H5Gcreate2(w->f, "weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(w->weights, "group /weights in '%s'", w->tmp);
    if (deck_text) {
        h5_write_text(w->f, "deck", deck_text);
        hid_t ds = H5Dopen2(w->f, "deck", H5P_DEFAULT);
        H5_CHECK(ds, "dataset /deck in '%s'", w->tmp);
        h5_attr_write_u64(ds, "checksum", ckpt_sum_final(ckpt_sum_bytes(deck_text, strlen(deck_text))));
        H5Dclose(ds);
    }
    return w;
}

void modelfile_write_tensor(ModelFileWriter *w, const ParamInfo *p, const float *data, const char *source_dtype) {
    hsize_t dims[2] = {(hsize_t)p->shape[0], (hsize_t)p->shape[1]};
    hid_t sp = H5Screate_simple(p->ndim, dims, NULL);
    hid_t ds = H5Dcreate2(w->weights, p->name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(ds, "tensor '%s' in '%s'", p->name, w->tmp);
    H5_CHECK(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "tensor '%s' in '%s'", p->name, w->tmp);
    if (source_dtype) h5_attr_write_string(ds, "source_dtype", source_dtype);
    h5_attr_write_u64(ds, "checksum", tensor_sum(data, p->numel));
    H5Dclose(ds);
    H5Sclose(sp);
}

void modelfile_write_attr_string(ModelFileWriter *w, const char *name, const char *value) {
    h5_attr_write_string(w->f, name, value);
}

void modelfile_write_attr_int(ModelFileWriter *w, const char *name, int64_t value) {
    h5_attr_write_int(w->f, name, value);
}

void modelfile_end(ModelFileWriter *w) {
    H5Gclose(w->weights);
    H5_CHECK(H5Fclose(w->f), "finishing model file '%s'", w->tmp);
    if (rename(w->tmp, w->path) != 0) SHEAR_DIE("cannot rename '%s' to '%s': %s", w->tmp, w->path, strerror(errno));
    shear_tmp_done(w->tmp);
    free(w);
}

// ---- what `shear import` recorded, carried to the models made from an imported one ----

static const char *const CARRIED_INT[] = {"max_position_embeddings", "bos_token_id"};

static void carry_import(ModelFileWriter *w, const char *origin) {
    if (!origin || !origin[0]) return;
    ModelConfig oc;
    ModelFileReader *r = modelfile_open(origin, &oc);
    for (size_t i = 0; i < sizeof CARRIED_INT / sizeof CARRIED_INT[0]; i++) {
        int64_t v;
        if (modelfile_read_attr_int(r, CARRIED_INT[i], &v) == 0) modelfile_write_attr_int(w, CARRIED_INT[i], v);
    }
    char eos[256], name[2048], hash[64], src[4096], dst[4096], got[32];
    if (modelfile_read_attr_string(r, "eos_token_ids", eos, sizeof eos) == 0)
        modelfile_write_attr_string(w, "eos_token_ids", eos);
    modelfile_tokenizer_path(origin, src, sizeof src);
    if (modelfile_read_attr_string(r, "tokenizer", name, sizeof name) == 0 && shear_file_exists(src) &&
        modelfile_read_attr_string(r, "tokenizer_hash", hash, sizeof hash) == 0) {
        // the tokenizer sits beside the file this one becomes (prune writes NAME.h5.part, then renames it)
        char final[4096];
        snprintf(final, sizeof final, "%s", w->path);
        size_t n = strlen(final);
        if (n > 5 && strcmp(final + n - 5, ".part") == 0) final[n - 5] = 0;
        modelfile_tokenizer_path(final, dst, sizeof dst);
        modelfile_copy_file(src, dst, got);
        if (strcmp(got, hash) != 0)
            SHEAR_DIE("'%s' has hash %s, but '%s' recorded %s at import: not the model's tokenizer", src, got, origin,
                      hash);
        const char *base = strrchr(dst, '/');
        modelfile_write_attr_string(w, "tokenizer", base ? base + 1 : dst);
        modelfile_write_attr_string(w, "tokenizer_hash", hash);
    }
    modelfile_close(r);
}

void modelfile_save(const char *path, const Model *m, const char *deck_text) {
    modelfile_save_from(path, m, deck_text, NULL, NULL);
}

void modelfile_save_from(const char *path, const Model *m, const char *deck_text, const char *origin,
                         const char *precision) {
    ModelFileWriter *w = modelfile_begin(path, &m->cfg, deck_text);
    carry_import(w, origin);
    char carried[16] = "";
    if (!precision && origin && origin[0]) { // finalize: the precision its input was trained in
        ModelConfig oc;
        ModelFileReader *r = modelfile_open(origin, &oc);
        if (modelfile_read_attr_string(r, "precision", carried, sizeof carried) == 0) precision = carried;
        modelfile_close(r);
    }
    if (precision && strcmp(precision, "bf16") == 0) modelfile_write_attr_string(w, "precision", "bf16");
    size_t maxn = 0;
    for (int i = 0; i < m->table.n; i++)
        if (m->table.p[i].numel > maxn) maxn = m->table.p[i].numel;
    float *h = shear_malloc(maxn * sizeof(float)); // [numel] one tensor on the host
    for (int i = 0; i < m->table.n; i++) {
        const ParamInfo *p = &m->table.p[i];
        m->ops->download(h, m->w + p->offset, p->numel * sizeof(float));
        modelfile_write_tensor(w, p, h, NULL);
    }
    free(h);
    modelfile_end(w);
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
    c->rope = (ShearRope){.theta = (float)theta};
    char rope_type[32];
    if (h5_attr_read_string(g, "rope_type", rope_type, sizeof rope_type) == 0) {
        double factor = 0, low = 0, high = 0;
        int64_t orig = 0;
        if (rope_type_parse(rope_type, &c->rope.type))
            SHEAR_DIE("'%s': /config attribute rope_type is '%s', expected default, linear or llama3", path, rope_type);
        if (h5_attr_read_double(g, "rope_factor", &factor) ||
            (c->rope.type == ROPE_LLAMA3 && (h5_attr_read_double(g, "rope_low_freq_factor", &low) ||
                                             h5_attr_read_double(g, "rope_high_freq_factor", &high) ||
                                             h5_attr_read_int(g, "rope_original_max_position_embeddings", &orig))))
            SHEAR_DIE("'%s': /config has rope_type '%s' without its rope_factor (and, for llama3, rope_low_freq_factor, "
                      "rope_high_freq_factor, rope_original_max_position_embeddings)", path, rope_type);
        c->rope.factor = (float)factor;
        c->rope.low_freq_factor = (float)low;
        c->rope.high_freq_factor = (float)high;
        c->rope.original_max_pos = orig > 0 && orig < 100000000 ? (int)orig : 0;
    }
    c->norm_eps = (float)eps;
    char family[32];
    c->family = FAMILY_LLAMA;
    if (h5_attr_read_string(g, "model_type", family, sizeof family) == 0) {
        int fam = family_parse(family);
        if (fam < 0) SHEAR_DIE("'%s': /config attribute model_type is '%s', expected llama, mistral, qwen2 or qwen3", path,
                               family);
        c->family = (ShearFamily)fam;
    }
    const char *flags[4] = {"tie_word_embeddings", "qkv_bias", "qk_norm", "sliding_window"};
    int *dst[4] = {&c->tie_embeddings, &c->qkv_bias, &c->qk_norm, &c->sliding_window};
    for (int i = 0; i < 4; i++) {
        int64_t x = 0;
        if (h5_attr_read_int(g, flags[i], &x)) x = 0;
        if (x < 0 || x > (i < 3 ? 1 : 100000000))
            SHEAR_DIE("'%s': /config attribute %s is %lld, expected %s", path, flags[i], (long long)x,
                      i < 3 ? "0 or 1" : "a window length >= 0");
        *dst[i] = (int)x;
    }
    char err[256];
    if (model_config_check(c, err, sizeof err)) SHEAR_DIE("'%s': bad model shape in /config: %s", path, err);
    H5Gclose(g);
    H5Fclose(f);
}

struct ModelFileReader {
    hid_t f;
    int warned; // said once that the file's tensors carry no checksum
    char path[2048];
};

ModelFileReader *modelfile_open(const char *path, ModelConfig *c) {
    modelfile_read_config(path, c);
    ModelFileReader *r = shear_calloc(1, sizeof *r);
    r->f = open_model(path);
    snprintf(r->path, sizeof r->path, "%s", path);
    return r;
}

void modelfile_read_tensor(ModelFileReader *r, const ParamInfo *p, float *h, char *source_dtype, size_t len) {
    const char *path = r->path;
    hid_t f = r->f;
    char dsname[PARAM_NAME_LEN + 16];
    snprintf(dsname, sizeof dsname, "weights/%s", p->name);
    if (H5Lexists(f, "weights", H5P_DEFAULT) <= 0 || H5Lexists(f, dsname, H5P_DEFAULT) <= 0)
        SHEAR_DIE("'%s': tensor '%s' is missing", path, p->name);
    hid_t ds = H5Dopen2(f, dsname, H5P_DEFAULT);
    hid_t sp = H5Dget_space(ds);
    hsize_t dims[2] = {0, 0};
    int nd = H5Sget_simple_extent_ndims(sp);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    hid_t ty = H5Dget_type(ds);
    int is_float = H5Tget_class(ty) == H5T_FLOAT;
    H5Tclose(ty);
    if (!is_float) // HDF5 would convert integers silently: a model's weights are floating point
        SHEAR_DIE("'%s': tensor '%s' is stored as integers, expected floating point (float32)", path, p->name);
    if (nd != p->ndim || (int)dims[0] != p->shape[0] || (nd == 2 && (int)dims[1] != p->shape[1])) {
        char got[64], want[64];
        if (nd == 2) snprintf(got, sizeof got, "[%llu, %llu]", (unsigned long long)dims[0], (unsigned long long)dims[1]);
        else snprintf(got, sizeof got, "%d-D", nd);
        if (nd == 1) snprintf(got, sizeof got, "[%llu]", (unsigned long long)dims[0]);
        if (p->ndim == 2) snprintf(want, sizeof want, "[%d, %d]", p->shape[0], p->shape[1]);
        else snprintf(want, sizeof want, "[%d]", p->shape[0]);
        SHEAR_DIE("'%s': tensor '%s' has shape %s, expected %s from /config", path, p->name, got, want);
    }
    if (h && H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, h) < 0)
        SHEAR_DIE("'%s': cannot read tensor '%s' (truncated or corrupt file?)", path, p->name);
    // before the finite check: a flipped exponent bit is a corrupt file, not a diverged model
    uint64_t stored = 0;
    if (h && !ckpt_sum_no_verify()) {
        if (h5_attr_read_u64(ds, "checksum", &stored) == 0) {
            uint64_t got = tensor_sum(h, p->numel);
            if (got != stored)
                SHEAR_DIE("model file '%s': dataset /weights/%s fails its checksum (stored %016llx, computed %016llx): "
                          "the file is corrupt (damaged on disk or in a copy); restore a good copy or write it again",
                          path, p->name, (unsigned long long)stored, (unsigned long long)got);
        } else if (!r->warned) {
            shear_warn("model file '%s': tensor '%s' carries no checksum (written before Shear stored them, or by "
                       "another tool, or edited): the file's tensors are not verified", path, p->name);
            r->warned = 1;
        }
    }
    for (size_t j = 0; h && j < p->numel; j++)
        if (!isfinite(h[j])) SHEAR_DIE("'%s': tensor '%s' holds a non-finite value at element %zu", path, p->name, j);
    if (source_dtype && h5_attr_read_string(ds, "source_dtype", source_dtype, len)) source_dtype[0] = 0;
    H5Sclose(sp);
    H5Dclose(ds);
}

int modelfile_read_attr_string(ModelFileReader *r, const char *name, char *buf, size_t len) {
    return h5_attr_read_string(r->f, name, buf, len);
}

int modelfile_read_attr_int(ModelFileReader *r, const char *name, int64_t *value) {
    return h5_attr_read_int(r->f, name, value);
}

void modelfile_close(ModelFileReader *r) {
    H5Fclose(r->f);
    free(r);
}

void modelfile_load_weights(const char *path, Model *m) {
    ModelFileReader r = {.f = open_model(path)};
    snprintf(r.path, sizeof r.path, "%s", path);
    size_t maxn = 0;
    for (int i = 0; i < m->table.n; i++)
        if (m->table.p[i].numel > maxn) maxn = m->table.p[i].numel;
    float *h = shear_malloc(maxn * sizeof(float)); // [numel]
    for (int i = 0; i < m->table.n; i++) {
        const ParamInfo *p = &m->table.p[i];
        modelfile_read_tensor(&r, p, h, NULL, 0);
        m->ops->upload(m->w + p->offset, h, p->numel * sizeof(float));
    }
    free(h);
    H5Fclose(r.f);
}

