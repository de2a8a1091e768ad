// shear import / shear export (see hf.h): Hugging Face safetensors checkpoints <-> Shear model files,
// streamed one tensor at a time (safetensors memory-mapped, one tensor's floats in memory).
#include "shear/hf.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "shear/common.h"
#include "shear/hf_config.h"
#include "shear/modelfile.h"
#include "shear/safetensors.h"
#include "shear/tokenizer.h"

#define PATH_LEN 4096

// ---- small file helpers ----


static void write_text(const char *path, const char *text) {
    char tmp[PATH_LEN + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) SHEAR_DIE("cannot create '%s': %s", tmp, strerror(errno));
    size_t n = strlen(text);
    if (fwrite(text, 1, n, f) != n || fclose(f) != 0) SHEAR_DIE("cannot write '%s' (disk full?)", tmp);
    if (rename(tmp, path) != 0) SHEAR_DIE("cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
}


static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static size_t max_numel(const ParamTable *t) {
    size_t m = 0;
    for (int i = 0; i < t->n; i++)
        if (t->p[i].numel > m) m = t->p[i].numel;
    return m;
}

// ---- import ----

typedef struct {
    StFile *files; // [n_files] mapped shards
    int n_files;
    int *file_of;  // [table n] shard of each parameter
    int *tensor_of; // [table n] its tensor in that shard
    int head_file, head_tensor; // a tied model's stored lm_head.weight (must equal the embedding), or -1
} Checkpoint;

// Old checkpoints carry RoPE's inverse frequencies as buffers; they must agree with rope_theta and
// rope_scaling, or the checkpoint was made with a RoPE variant Shear would not reproduce.
static void check_inv_freq(const StFile *f, const StTensor *t, const ModelConfig *c) {
    int half = c->head_dim / 2;
    if (t->ndim != 1 || t->shape[0] != (uint64_t)half || !(t->dtype == ST_F32 || t->dtype == ST_F16 || t->dtype == ST_BF16))
        SHEAR_DIE("'%s': tensor '%s' is not a [%d] float vector of RoPE frequencies", f->path, t->name, half);
    float *v = shear_malloc((size_t)half * sizeof(float)); // [hd/2]
    st_to_f32(t->dtype, st_file_data(f, t), (size_t)half, v);
    for (int i = 0; i < half; i++) {
        double want = rope_inv_freq(&c->rope, i, c->head_dim);
        if (fabs(v[i] - want) > 1e-2 * want)
            SHEAR_DIE("'%s': tensor '%s' element %d is %g but rope_theta %g with rope_type %s gives %g", f->path,
                      t->name, i, (double)v[i], (double)c->rope.theta, rope_type_name(c->rope.type), want);
    }
    free(v);
}

// Places every tensor of every shard: each must be a parameter of the table (or a RoPE buffer), once.
static void place_tensors(Checkpoint *ck, const ParamTable *tab, const ModelConfig *c) {
    ck->file_of = shear_malloc((size_t)tab->n * sizeof(int));
    ck->tensor_of = shear_malloc((size_t)tab->n * sizeof(int));
    for (int i = 0; i < tab->n; i++) ck->file_of[i] = -1;
    ck->head_file = ck->head_tensor = -1;
    for (int f = 0; f < ck->n_files; f++) {
        const StFile *sf = &ck->files[f];
        for (int k = 0; k < sf->h.n; k++) {
            const StTensor *t = &sf->h.t[k];
            int i = param_table_find(tab, t->name);
            if (i < 0 && c->tie_embeddings && strcmp(t->name, "lm_head.weight") == 0) {
                // some tied checkpoints store the shared tensor twice: accepted when it is the embedding
                ck->head_file = f;
                ck->head_tensor = k;
                continue;
            }
            if (i < 0) {
                size_t n = strlen(t->name);
                const char *rope = "self_attn.rotary_emb.inv_freq";
                if (n > strlen(rope) && strcmp(t->name + n - strlen(rope), rope) == 0) {
                    check_inv_freq(sf, t, c);
                    continue;
                }
                SHEAR_DIE("'%s': tensor '%s' is not a weight of the %s model that config.json describes (%d layers%s%s%s)",
                          sf->path, t->name, family_name(c->family), c->n_layers,
                          c->qkv_bias ? ", q/k/v biases" : ", no biases", c->qk_norm ? ", q/k norms" : "",
                          c->tie_embeddings ? ", tied embedding" : "");
            }
            if (ck->file_of[i] >= 0)
                SHEAR_DIE("tensor '%s' is in both '%s' and '%s'", t->name, ck->files[ck->file_of[i]].path, sf->path);
            const ParamInfo *p = &tab->p[i];
            int shape_ok = t->ndim == p->ndim && t->shape[0] == (uint64_t)p->shape[0] &&
                           (p->ndim == 1 || t->shape[1] == (uint64_t)p->shape[1]);
            if (!shape_ok) {
                char got[96] = "[", want[64];
                for (int d = 0; d < t->ndim; d++)
                    snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", d ? ", " : "", (unsigned long long)t->shape[d]);
                strncat(got, "]", sizeof got - strlen(got) - 1);
                if (p->ndim == 2) snprintf(want, sizeof want, "[%d, %d]", p->shape[0], p->shape[1]);
                else snprintf(want, sizeof want, "[%d]", p->shape[0]);
                SHEAR_DIE("'%s': tensor '%s' has shape %s, but config.json gives %s", sf->path, t->name, got, want);
            }
            if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16)
                SHEAR_DIE("'%s': tensor '%s' has dtype %s; expected F32, F16 or BF16 weights", sf->path, t->name,
                          st_dtype_name(t->dtype));
            ck->file_of[i] = f;
            ck->tensor_of[i] = k;
        }
    }
    for (int i = 0; i < tab->n; i++)
        if (ck->file_of[i] < 0)
            SHEAR_DIE("tensor '%s' is missing from the checkpoint (config.json describes %d layers, vocab %d)",
                      tab->p[i].name, c->n_layers, c->vocab);
}

// model.safetensors, or the shards that model.safetensors.index.json names (all of them, each listing
// exactly the tensors the index gives it).
static void open_checkpoint(Checkpoint *ck, const char *dir) {
    char single[PATH_LEN], index[PATH_LEN];
    snprintf(single, sizeof single, "%s/model.safetensors", dir);
    snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir);
    if (shear_file_exists(single)) {
        ck->n_files = 1;
        ck->files = shear_calloc(1, sizeof(StFile));
        st_file_open(&ck->files[0], single);
        return;
    }
    if (!shear_file_exists(index))
        SHEAR_DIE("'%s' has neither model.safetensors nor model.safetensors.index.json (pytorch_model.bin "
                  "checkpoints are not supported: save with safe_serialization=True)", dir);
    size_t len;
    char *text = shear_read_file(index, &len), err[512];
    StIndex ix;
    if (st_index_parse(text, len, &ix, err, sizeof err)) SHEAR_DIE("'%s': %s", index, err);
    free(text);
    ck->n_files = ix.n_files;
    ck->files = shear_calloc((size_t)ix.n_files, sizeof(StFile));
    for (int s = 0; s < ix.n_files; s++) {
        char p[PATH_LEN];
        snprintf(p, sizeof p, "%s/%s", dir, ix.files[s]);
        if (!shear_file_exists(p)) SHEAR_DIE("shard '%s' named in '%s' is missing", p, index);
        st_file_open(&ck->files[s], p);
    }
    for (int i = 0; i < ix.n; i++)
        if (st_header_find(&ck->files[ix.shard[i]].h, ix.names[i]) < 0)
            SHEAR_DIE("'%s' puts tensor '%s' in '%s', which does not hold it", index, ix.names[i], ix.files[ix.shard[i]]);
    for (int s = 0; s < ix.n_files; s++)
        for (int k = 0; k < ck->files[s].h.n; k++) {
            const char *nm = ck->files[s].h.t[k].name;
            int listed = -1;
            for (int i = 0; i < ix.n && listed < 0; i++)
                if (strcmp(ix.names[i], nm) == 0) listed = i;
            if (listed < 0 || ix.shard[listed] != s)
                SHEAR_DIE("shard '%s' holds tensor '%s' but '%s' %s", ck->files[s].path, nm, index,
                          listed < 0 ? "does not list it" : "puts it in another shard");
        }
    st_index_free(&ix);
}

// A tied model's stored lm_head.weight, against the embedding emb [V*d] as converted.
static void check_tied_head(const Checkpoint *ck, const ParamInfo *embed, const float *emb) {
    const StFile *f = &ck->files[ck->head_file];
    const StTensor *t = &f->h.t[ck->head_tensor];
    if (t->ndim != 2 || t->shape[0] != (uint64_t)embed->shape[0] || t->shape[1] != (uint64_t)embed->shape[1] ||
        (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16))
        SHEAR_DIE("'%s': tensor 'lm_head.weight' of a tied model (tie_word_embeddings: true) is not a [%d, %d] weight "
                  "like model.embed_tokens.weight", f->path, embed->shape[0], embed->shape[1]);
    float *head = shear_malloc(embed->numel * sizeof(float)); // [V*d]
    st_to_f32(t->dtype, st_file_data(f, t), embed->numel, head);
    if (memcmp(head, emb, embed->numel * sizeof(float)) != 0)
        SHEAR_DIE("'%s': config.json says tie_word_embeddings: true, but tensor 'lm_head.weight' differs from "
                  "model.embed_tokens.weight (expected one shared tensor; set tie_word_embeddings: false for an "
                  "untied model)", f->path);
    st_file_release(f, t);
    free(head);
}

void hf_import(const char *dir, const char *out_path) {
    double t0 = shear_now();
    char cfg_path[PATH_LEN];
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);
    if (!shear_file_exists(cfg_path)) SHEAR_DIE("'%s' has no config.json: not a Hugging Face model folder", dir);
    char *cfg_text = shear_read_file(cfg_path, NULL);
    HfConfig hc;
    hf_config_parse(cfg_path, cfg_text, &hc);
    free(cfg_text);
    const ModelConfig *c = &hc.cfg;
    // a tokenizer with ids the embedding has no row for belongs to another model (a smaller vocabulary is
    // common: Qwen pads its embedding to 151,936 rows for 151,669 tokens)
    char tok_json[PATH_LEN], tok_err[512];
    snprintf(tok_json, sizeof tok_json, "%s/tokenizer.json", dir);
    if (shear_file_exists(tok_json)) {
        Tokenizer *tk = tokenizer_load(tok_json, tok_err, sizeof tok_err);
        if (!tk) SHEAR_DIE("%s", tok_err);
        int tv = tokenizer_vocab_size(tk);
        tokenizer_free(tk);
        if (tv > c->vocab)
            SHEAR_DIE("'%s' has %d tokens but config.json's vocab_size is %d: the tokenizer does not belong to this "
                      "model (expected at most vocab_size tokens)", tok_json, tv, c->vocab);
    }
    ParamTable tab;
    param_table_build(&tab, c);
    Checkpoint ck = {0};
    open_checkpoint(&ck, dir);
    place_tensors(&ck, &tab, c);

    // generation_config.json, when there is one, says how the model generates (what transformers' generate()
    // reads): its bos/eos ids win over config.json's (Llama 3.x Instruct lists three eos ids there)
    char gen_path[PATH_LEN];
    snprintf(gen_path, sizeof gen_path, "%s/generation_config.json", dir);
    if (shear_file_exists(gen_path)) {
        char *gen_text = shear_read_file(gen_path, NULL);
        cJSON *g = cJSON_Parse(gen_text);
        if (!g || !cJSON_IsObject(g)) SHEAR_DIE("'%s' is not a JSON object (corrupt generation_config.json?)", gen_path);
        hf_special_ids(gen_path, g, &hc.bos_token_id, hc.eos_token_ids, sizeof hc.eos_token_ids);
        cJSON_Delete(g);
        free(gen_text);
    }
    ModelFileWriter *w = modelfile_begin(out_path, c, NULL);
    if (hc.max_position_embeddings > 0) modelfile_write_attr_int(w, "max_position_embeddings", hc.max_position_embeddings);
    if (hc.bos_token_id >= 0) modelfile_write_attr_int(w, "bos_token_id", hc.bos_token_id);
    if (hc.eos_token_ids[0]) modelfile_write_attr_string(w, "eos_token_ids", hc.eos_token_ids);
    float *buf = shear_malloc(max_numel(&tab) * sizeof(float)); // [numel] one tensor
    size_t bytes_in = 0;
    for (int i = 0; i < tab.n; i++) {
        const ParamInfo *p = &tab.p[i];
        const StFile *f = &ck.files[ck.file_of[i]];
        const StTensor *t = &f->h.t[ck.tensor_of[i]];
        st_to_f32(t->dtype, st_file_data(f, t), p->numel, buf);
        for (size_t j = 0; j < p->numel; j++)
            if (!isfinite(buf[j])) SHEAR_DIE("'%s': tensor '%s' holds a non-finite value at element %zu", f->path, p->name, j);
        if (i == 0 && ck.head_file >= 0) check_tied_head(&ck, p, buf);
        modelfile_write_tensor(w, p, buf, st_dtype_name(t->dtype));
        st_file_release(f, t);
        bytes_in += (size_t)(t->end - t->begin);
    }
    free(buf);
    char tok_src[PATH_LEN], tok_dst[PATH_LEN], hash[32];
    snprintf(tok_src, sizeof tok_src, "%s/tokenizer.json", dir);
    if (shear_file_exists(tok_src)) {
        modelfile_tokenizer_path(out_path, tok_dst, sizeof tok_dst);
        modelfile_copy_file(tok_src, tok_dst, hash);
        modelfile_write_attr_string(w, "tokenizer", base_name(tok_dst));
        modelfile_write_attr_string(w, "tokenizer_hash", hash);
    }
    modelfile_end(w);
    shear_log("import: %s -> %s: %d tensors, %zu parameters, %.1f MB read from %d file%s%s%s (%.1f s)\n", dir,
              out_path, tab.n, model_param_count(c), bytes_in / 1e6, ck.n_files, ck.n_files > 1 ? "s" : "",
              shear_file_exists(tok_src) ? ", tokenizer copied to " : "", shear_file_exists(tok_src) ? tok_dst : "",
              shear_now() - t0);
    for (int f = 0; f < ck.n_files; f++) st_file_close(&ck.files[f]);
    free(ck.files);
    free(ck.file_of);
    free(ck.tensor_of);
    param_table_free(&tab);
}

// ---- export ----

static const char *torch_dtype_name(StDtype d) {
    return d == ST_BF16 ? "bfloat16" : d == ST_F16 ? "float16" : "float32";
}

// Earlier exports into the same folder: a stale model.safetensors would shadow new shards in loaders.
static void remove_stale(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) SHEAR_DIE("cannot list '%s': %s", dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned a, b;
        char tail[32] = "";
        int shard = sscanf(e->d_name, "model-%5u-of-%5u%31s", &a, &b, tail) == 3 && strcmp(tail, ".safetensors") == 0;
        if (shard || strcmp(e->d_name, "model.safetensors") == 0 || strcmp(e->d_name, "model.safetensors.index.json") == 0) {
            char p[PATH_LEN];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (remove(p) != 0) SHEAR_DIE("cannot remove the earlier export '%s': %s", p, strerror(errno));
            shear_log("export: removed earlier %s\n", p);
        }
    }
    closedir(d);
}

int hf_recorded_tokenizer(const char *model_path, ModelFileReader *r, char *path, size_t len) {
    char name[PATH_LEN], hash[32], want[64] = "";
    if (modelfile_read_attr_string(r, "tokenizer", name, sizeof name)) return -1;
    modelfile_tokenizer_path(model_path, path, len);
    if (!shear_file_exists(path))
        SHEAR_DIE("'%s' was imported with tokenizer '%s', but '%s' is missing (give one with --tokenizer FILE)",
                  model_path, name, path);
    modelfile_read_attr_string(r, "tokenizer_hash", want, sizeof want);
    modelfile_file_hash(path, hash);
    if (strcmp(hash, want) != 0)
        SHEAR_DIE("'%s' has hash %s, but '%s' recorded %s at import: not the model's tokenizer (give one with "
                  "--tokenizer FILE)", path, hash, model_path, want);
    return 0;
}

static void export_tokenizer(const char *model_path, ModelFileReader *r, const HfExportOptions *o, const char *dir) {
    char src[PATH_LEN], dst[PATH_LEN], hash[32];
    if (o->tokenizer) {
        snprintf(src, sizeof src, "%s", o->tokenizer);
        if (!shear_file_exists(src)) SHEAR_DIE("--tokenizer '%s' does not exist", src);
    } else if (hf_recorded_tokenizer(model_path, r, src, sizeof src)) {
        shear_log("export: '%s' records no tokenizer; none exported (use --tokenizer FILE)\n", model_path);
        return;
    }
    snprintf(dst, sizeof dst, "%s/tokenizer.json", dir);
    modelfile_copy_file(src, dst, hash);
    // tokenizer_config.json tells transformers how to use it; only claimed for the LLaMA-2 kind (a byte-level
    // tokenizer.json's own post-processor says what transformers needs)
    char err[256];
    Tokenizer *tk = tokenizer_load(src, err, sizeof err);
    if (tk && tokenizer_kind(tk) == TOKENIZER_SENTENCEPIECE) {
        snprintf(dst, sizeof dst, "%s/tokenizer_config.json", dir);
        write_text(dst, "{\n  \"tokenizer_class\": \"LlamaTokenizerFast\",\n  \"bos_token\": \"<s>\",\n"
                        "  \"eos_token\": \"</s>\",\n  \"unk_token\": \"<unk>\",\n  \"add_bos_token\": true,\n"
                        "  \"add_eos_token\": false,\n  \"clean_up_tokenization_spaces\": false\n}\n");
        tokenizer_free(tk);
    }
}

void hf_export(const char *model_path, const char *dir, const HfExportOptions *o) {
    double t0 = shear_now();
    ModelConfig c;
    ModelFileReader *r = modelfile_open(model_path, &c);
    ParamTable tab;
    param_table_build(&tab, &c);
    StSpec *spec = shear_calloc((size_t)tab.n, sizeof *spec);       // [n] in table order
    int *shard = shear_malloc((size_t)tab.n * sizeof(int));         // [n] shard of each tensor
    int forced = -1;
    if (o->dtype) {
        forced = strcmp(o->dtype, "bf16") == 0 ? ST_BF16 : strcmp(o->dtype, "f16") == 0 ? ST_F16
                 : strcmp(o->dtype, "f32") == 0 ? ST_F32 : -1;
        SHEAR_CHECK(forced >= 0, "--dtype '%s' is not one of bf16, f16, f32", o->dtype);
    } else {
        char prec[16];
        // trained with run.precision: bf16: the dtype it was trained in
        if (modelfile_read_attr_string(r, "precision", prec, sizeof prec) == 0 && strcmp(prec, "bf16") == 0)
            forced = ST_BF16;
    }
    uint64_t in_shard = 0, total = 0;
    int n_shards = 1;
    for (int i = 0; i < tab.n; i++) {
        const ParamInfo *p = &tab.p[i];
        char src[16];
        modelfile_read_tensor(r, p, NULL, src, sizeof src);
        int d = forced >= 0 ? forced : st_dtype_parse(src);
        if (d != ST_F32 && d != ST_F16 && d != ST_BF16) d = ST_F32; // trained, not imported: keep every bit
        spec[i] = (StSpec){.name = p->name, .dtype = (StDtype)d, .ndim = p->ndim,
                           .shape = {(uint64_t)p->shape[0], (uint64_t)p->shape[1]}};
        uint64_t bytes = (uint64_t)p->numel * st_dtype_size(spec[i].dtype);
        if (in_shard > 0 && in_shard + bytes > o->max_shard_bytes) { // as transformers: a big tensor gets its own
            n_shards++;
            in_shard = 0;
        }
        in_shard += bytes;
        total += bytes;
        shard[i] = n_shards - 1;
    }
    int made = !shear_file_exists(dir);
    shear_mkdirs(dir);
    if (made) shear_tmp_dir_begin(dir);
    remove_stale(dir);
    float *buf = shear_malloc(max_numel(&tab) * sizeof(float)); // [numel] one tensor
    char path[PATH_LEN], name[64];
    size_t idx_cap = 256 + (size_t)tab.n * (PARAM_NAME_LEN + 48);
    char *idx = shear_malloc(idx_cap);
    size_t il = (size_t)snprintf(idx, idx_cap, "{\n  \"metadata\": {\n    \"total_size\": %llu\n  },\n  \"weight_map\": {\n",
                                 (unsigned long long)total);
    for (int s = 0, i = 0; s < n_shards; s++) {
        if (n_shards == 1) snprintf(name, sizeof name, "model.safetensors");
        else snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", s + 1, n_shards);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        int first = i;
        while (i < tab.n && shard[i] == s) i++;
        StWriter *w = st_writer_open(path, spec + first, i - first);
        for (int k = first; k < i; k++) {
            modelfile_read_tensor(r, &tab.p[k], buf, NULL, 0);
            st_writer_put(w, buf);
            il += (size_t)snprintf(idx + il, idx_cap - il, "    \"%s\": \"%s\"%s\n", tab.p[k].name, name,
                                   k + 1 < tab.n ? "," : "");
        }
        st_writer_close(w);
    }
    snprintf(idx + il, idx_cap - il, "  }\n}\n");
    if (n_shards > 1) {
        snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
        write_text(path, idx);
    }
    free(idx);
    free(buf);

    int64_t max_pos = 0, bos = 1; // LLaMA-2's ids for a model that records none
    char eos[256] = "2";
    if (modelfile_read_attr_int(r, "max_position_embeddings", &max_pos)) max_pos = 0;
    if (modelfile_read_attr_int(r, "bos_token_id", &bos)) bos = 1;
    if (modelfile_read_attr_string(r, "eos_token_ids", eos, sizeof eos)) snprintf(eos, sizeof eos, "2");
    char *cfg = hf_config_json(&c, torch_dtype_name(spec[0].dtype), (int)max_pos, (int)bos, eos);
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_text(path, cfg);
    free(cfg);
    snprintf(path, sizeof path, "%s/generation_config.json", dir);
    char *eos_json = hf_eos_json(eos), gen[512];
    snprintf(gen, sizeof gen, "{\n  \"_from_model_config\": true,\n  \"bos_token_id\": %d,\n  \"eos_token_id\": %s\n}\n",
             (int)bos, eos_json);
    free(eos_json);
    write_text(path, gen);
    export_tokenizer(model_path, r, o, dir);
    if (made) shear_tmp_dir_done();
    shear_log("export: %s -> %s: %d tensors, %.1f MB of %s in %d shard%s (%.1f s)\n", model_path, dir, tab.n,
              total / 1e6, forced >= 0 ? st_dtype_name((StDtype)forced) : "source dtypes", n_shards,
              n_shards > 1 ? "s" : "", shear_now() - t0);
    modelfile_close(r);
    free(spec);
    free(shard);
    param_table_free(&tab);
}
