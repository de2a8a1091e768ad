// Hugging Face config.json of the LLaMA family (llama, mistral, qwen2, qwen3): read with every unsupported option
// refused by name,
// written with the model's real shape (see hf_config.h).
#include "shear/hf_config.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shear/common.h"

// HF's own defaults (transformers LlamaConfig) for keys a config.json may leave out.
#define HF_DEFAULT_RMS_EPS 1e-6
#define HF_DEFAULT_ROPE_THETA 10000.0

static const cJSON *key(const cJSON *root, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);
    return cJSON_IsNull(v) ? NULL : v; // "key": null means "not set" in HF configs
}

static int get_int(const char *path, const cJSON *root, const char *name, int required, int dflt) {
    const cJSON *v = key(root, name);
    if (!v) {
        if (required) SHEAR_DIE("'%s': key '%s' is missing; a config.json of a LLaMA-family model needs it", path, name);
        return dflt;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
    if (!(d >= 1 && d <= 100000000 && d == floor(d)))
        SHEAR_DIE("'%s': key '%s' must be a positive integer, got %s", path, name,
                  cJSON_IsNumber(v) ? "a non-integer or out-of-range number" : "a non-number");
    return (int)d;
}

static double get_pos(const char *path, const cJSON *root, const char *name, double dflt) {
    const cJSON *v = key(root, name);
    if (!v) return dflt;
    if (!cJSON_IsNumber(v) || !(v->valuedouble > 0) || !isfinite(v->valuedouble))
        SHEAR_DIE("'%s': key '%s' must be a positive number", path, name);
    return v->valuedouble;
}

// Options that change the math: refusing them is the only way not to load a different model silently.
static void refuse_true(const char *path, const cJSON *root, const char *name, const char *why) {
    const cJSON *v = key(root, name);
    if (v && !cJSON_IsFalse(v)) SHEAR_DIE("'%s': key '%s' is %s: %s", path, name, cJSON_IsTrue(v) ? "true" : "set", why);
}

// One token id: a JSON integer in [0, 2^31).
static int token_id(const char *path, const char *name, const cJSON *v) {
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
    if (!(d >= 0 && d < 2147483648.0 && d == floor(d)))
        SHEAR_DIE("'%s': key '%s' must be a token id (an integer >= 0)%s", path, name,
                  cJSON_IsArray(v) ? ", not a nested list" : "");
    return (int)d;
}

void hf_special_ids(const char *path, const void *cjson_root, int *bos, char *eos, size_t len) {
    const cJSON *root = cjson_root;
    const cJSON *b = key(root, "bos_token_id"), *e = key(root, "eos_token_id");
    if (b) *bos = token_id(path, "bos_token_id", b);
    if (!e) return;
    size_t o = 0;
    eos[0] = 0;
    if (cJSON_IsArray(e)) {
        const cJSON *x;
        cJSON_ArrayForEach(x, e) {
            int n = snprintf(eos + o, len - o, "%s%d", o ? "," : "", token_id(path, "eos_token_id", x));
            if (n < 0 || (size_t)n >= len - o) SHEAR_DIE("'%s': key 'eos_token_id' lists too many ids", path);
            o += (size_t)n;
        }
    } else {
        snprintf(eos, len, "%d", token_id(path, "eos_token_id", e));
    }
}

char *hf_eos_json(const char *eos_token_ids) {
    size_t n = strlen(eos_token_ids);
    char *s = shear_malloc(n + 3);
    if (strchr(eos_token_ids, ',')) snprintf(s, n + 3, "[%s]", eos_token_ids);
    else snprintf(s, n + 3, "%s", eos_token_ids);
    return s;
}

// The shortest decimal that reads back as the same float: 1e-05, not 9.99999975e-06.
static void fmt_float(char *buf, size_t len, float v) {
    if (v == floorf(v) && fabsf(v) < 1e15f) { // 10000.0 as HF writes rope_theta, not 1e+04
        snprintf(buf, len, "%.1f", (double)v);
        return;
    }
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, len, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    if (!strpbrk(buf, ".e")) strncat(buf, ".0", len - strlen(buf) - 1); // a float in JSON, as HF writes it
}

// rope_scaling: null, {"rope_type": "default"}, "linear" {factor} or "llama3" {factor, low_freq_factor,
// high_freq_factor, original_max_position_embeddings} (older configs name the type "type"). Any other type
// (dynamic, yarn, longrope, ...) changes the frequencies in ways Shear does not compute: refused by name. Here
// each field must be there and be a number; their ranges are rope_check's (via model_config_check), the same
// check a model file's /config gets.
static void parse_rope_scaling(const char *path, const cJSON *rs, ShearRope *r) {
    if (!rs) return;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(rs, "rope_type");
    if (!t) t = cJSON_GetObjectItemCaseSensitive(rs, "type");
    if (!cJSON_IsObject(rs) || !cJSON_IsString(t) || rope_type_parse(t->valuestring, &r->type)) {
        char *s = cJSON_PrintUnformatted(rs);
        SHEAR_DIE("'%s': key 'rope_scaling' is %.200s: Shear implements rope_type default, linear and llama3", path,
                  s ? s : "set");
    }
    if (r->type == ROPE_DEFAULT) return;
    const cJSON *f = key(rs, "factor");
    if (!cJSON_IsNumber(f) || !isfinite(f->valuedouble))
        SHEAR_DIE("'%s': key 'rope_scaling.factor' must be a number for rope_type %s", path, t->valuestring);
    r->factor = (float)f->valuedouble;
    if (r->type != ROPE_LLAMA3) return;
    const char *need[3] = {"low_freq_factor", "high_freq_factor", "original_max_position_embeddings"};
    double v[3];
    for (int i = 0; i < 3; i++) {
        const cJSON *x = key(rs, need[i]);
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble))
            SHEAR_DIE("'%s': key 'rope_scaling.%s' must be a number for rope_type llama3", path, need[i]);
        v[i] = x->valuedouble;
    }
    if (v[2] != floor(v[2]) || v[2] < 1 || v[2] > 100000000)
        SHEAR_DIE("'%s': key 'rope_scaling.original_max_position_embeddings' must be a positive integer", path);
    r->low_freq_factor = (float)v[0];
    r->high_freq_factor = (float)v[1];
    r->original_max_pos = (int)v[2];
}

// rope_scaling as config.json writes it: null for plain RoPE.
static void rope_scaling_json(char *buf, size_t len, const ShearRope *r) {
    char factor[32], low[32], high[32];
    fmt_float(factor, sizeof factor, r->factor);
    fmt_float(low, sizeof low, r->low_freq_factor);
    fmt_float(high, sizeof high, r->high_freq_factor);
    if (r->type == ROPE_LINEAR) snprintf(buf, len, "{\"factor\": %s, \"rope_type\": \"linear\"}", factor);
    else if (r->type == ROPE_LLAMA3)
        snprintf(buf, len,
                 "{\"factor\": %s, \"high_freq_factor\": %s, \"low_freq_factor\": %s, "
                 "\"original_max_position_embeddings\": %d, \"rope_type\": \"llama3\"}",
                 factor, high, low, r->original_max_pos);
    else snprintf(buf, len, "null");
}

// model_type and its architectures class; a config with neither is a LLaMA (old conversions wrote neither).
static const char *const ARCH[] = {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"};
static const char *const MOE_KEYS[] = {"num_experts", "num_local_experts", "num_experts_per_tok", "moe_intermediate_size"};

static ShearFamily parse_family(const char *path, const cJSON *root) {
    const cJSON *mt = key(root, "model_type"), *arch = key(root, "architectures");
    int fam = -1;
    if (mt) {
        fam = cJSON_IsString(mt) ? family_parse(mt->valuestring) : -1;
        if (fam < 0)
            SHEAR_DIE("'%s': key 'model_type' is %s%.64s%s; Shear imports llama, mistral, qwen2 and qwen3 (dense "
                      "decoder-only models; no MoE, no multimodal)", path, cJSON_IsString(mt) ? "\"" : "",
                      cJSON_IsString(mt) ? mt->valuestring : "not a string", cJSON_IsString(mt) ? "\"" : "");
    }
    if (arch) {
        int found = -1;
        const cJSON *a;
        if (cJSON_IsArray(arch))
            cJSON_ArrayForEach(a, arch) {
                for (int f = 0; f < 4 && cJSON_IsString(a); f++)
                    if (strcmp(a->valuestring, ARCH[f]) == 0 && (fam < 0 || fam == f)) found = f;
            }
        if (found < 0) {
            char *s = cJSON_PrintUnformatted(arch);
            SHEAR_DIE("'%s': key 'architectures' is %.200s; Shear imports %s", path, s ? s : "?",
                      fam >= 0 ? ARCH[fam] : "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM and "
                                             "Qwen3ForCausalLM");
        }
        fam = found;
    }
    return fam < 0 ? FAMILY_LLAMA : (ShearFamily)fam;
}

// The attention window: 0 when attention is plain causal at every length. Mistral's sliding_window applies
// whenever it is set; Qwen's only with use_sliding_window. Shear computes plain causal attention, which is the
// windowed one for sequences up to the window: runs check their length against it (model_alloc_acts).
static int parse_sliding_window(const char *path, const cJSON *root, ShearFamily fam) {
    if (fam == FAMILY_QWEN2 || fam == FAMILY_QWEN3) {
        const cJSON *use = key(root, "use_sliding_window");
        if (use && !cJSON_IsBool(use)) SHEAR_DIE("'%s': key 'use_sliding_window' must be true or false", path);
        if (!cJSON_IsTrue(use)) return 0;
        // transformers windows the layers from max_window_layers on: none when it covers every layer
        const cJSON *mwl = key(root, "max_window_layers");
        int layers = get_int(path, root, "num_hidden_layers", 1, 0);
        if (mwl && !(cJSON_IsNumber(mwl) && mwl->valuedouble >= 0 && mwl->valuedouble == floor(mwl->valuedouble)))
            SHEAR_DIE("'%s': key 'max_window_layers' must be an integer >= 0", path);
        if (mwl && mwl->valuedouble >= layers) return 0;
    } else if (fam != FAMILY_MISTRAL) {
        return 0;
    }
    const cJSON *lt = key(root, "layer_types"), *x;
    if (lt) cJSON_ArrayForEach(x, lt) {
            if (!cJSON_IsString(x) || strcmp(x->valuestring, "full_attention") != 0)
                SHEAR_DIE("'%s': key 'layer_types' lists a layer that is not \"full_attention\": per-layer "
                          "attention kinds are not supported", path);
        }
    return get_int(path, root, "sliding_window", 0, 0);
}

void hf_config_parse(const char *path, const char *text, HfConfig *hc) {
    memset(hc, 0, sizeof *hc);
    hc->bos_token_id = -1;
    cJSON *root = cJSON_Parse(text);
    if (!root || !cJSON_IsObject(root)) SHEAR_DIE("'%s' is not a JSON object (corrupt config.json?)", path);
    ModelConfig *c = &hc->cfg;
    c->family = parse_family(path, root);
    parse_rope_scaling(path, key(root, "rope_scaling"), &c->rope);
    const cJSON *act = key(root, "hidden_act");
    if (act && !(cJSON_IsString(act) && strcmp(act->valuestring, "silu") == 0))
        SHEAR_DIE("'%s': key 'hidden_act' is %.64s; Shear's MLP is SwiGLU with silu", path,
                  cJSON_IsString(act) ? act->valuestring : "not a string");
    // Llama's and Qwen3's attention_bias puts biases on o_proj too; Qwen2's q/k/v biases come with the family
    refuse_true(path, root, "attention_bias", "biases on q/k/v/o (o_proj included) are not supported; Qwen2's "
                "q/k/v-only biases are (model_type qwen2)");
    refuse_true(path, root, "mlp_bias", "MLP biases are not supported");
    for (size_t i = 0; i < sizeof MOE_KEYS / sizeof MOE_KEYS[0]; i++) {
        const cJSON *v = key(root, MOE_KEYS[i]);
        if (v && !(cJSON_IsNumber(v) && v->valuedouble == 0))
            SHEAR_DIE("'%s': key '%s' is set: mixture-of-experts models are not supported (dense MLPs only)", path,
                      MOE_KEYS[i]);
    }
    const cJSON *tie = key(root, "tie_word_embeddings");
    if (tie && !cJSON_IsBool(tie)) SHEAR_DIE("'%s': key 'tie_word_embeddings' must be true or false", path);
    c->tie_embeddings = cJSON_IsTrue(tie);
    c->qkv_bias = c->family == FAMILY_QWEN2;
    c->qk_norm = c->family == FAMILY_QWEN3;
    c->sliding_window = parse_sliding_window(path, root, c->family);
    if (key(root, "quantization_config"))
        SHEAR_DIE("'%s': key 'quantization_config' is set: quantized checkpoints are not supported", path);

    c->dim = get_int(path, root, "hidden_size", 1, 0);
    c->n_heads = get_int(path, root, "num_attention_heads", 1, 0);
    c->n_layers = get_int(path, root, "num_hidden_layers", 1, 0);
    c->intermediate = get_int(path, root, "intermediate_size", 1, 0);
    c->vocab = get_int(path, root, "vocab_size", 1, 0);
    c->n_kv_heads = get_int(path, root, "num_key_value_heads", 0, c->n_heads);
    if (!key(root, "head_dim") && c->family != FAMILY_QWEN3 && c->dim % c->n_heads != 0)
        SHEAR_DIE("'%s': key 'head_dim' is missing and hidden_size %d is not a multiple of num_attention_heads %d",
                  path, c->dim, c->n_heads);
    // Qwen3Config's head_dim defaults to 128, not hidden / heads
    c->head_dim = get_int(path, root, "head_dim", 0, c->family == FAMILY_QWEN3 ? 128 : c->dim / c->n_heads);
    c->norm_eps = (float)get_pos(path, root, "rms_norm_eps", HF_DEFAULT_RMS_EPS);
    c->rope.theta = (float)get_pos(path, root, "rope_theta", HF_DEFAULT_ROPE_THETA);
    hc->max_position_embeddings = get_int(path, root, "max_position_embeddings", 0, 0);
    hf_special_ids(path, root, &hc->bos_token_id, hc->eos_token_ids, sizeof hc->eos_token_ids);
    char err[256];
    if (model_config_check(c, err, sizeof err)) SHEAR_DIE("'%s': not a shape Shear supports: %s", path, err);
    cJSON_Delete(root);
}

char *hf_config_json(const ModelConfig *c, const char *torch_dtype, int max_position_embeddings, int bos_token_id,
                     const char *eos_token_ids) {
    char eps[32], theta[32], scaling[256], window[32], family_keys[256];
    char *eos = hf_eos_json(eos_token_ids);
    fmt_float(eps, sizeof eps, c->norm_eps);
    fmt_float(theta, sizeof theta, c->rope.theta);
    rope_scaling_json(scaling, sizeof scaling, &c->rope);
    if (c->sliding_window) snprintf(window, sizeof window, "%d", c->sliding_window);
    else snprintf(window, sizeof window, "null");
    // the keys each family's configuration class has (transformers), with the values of this model
    switch (c->family) {
    case FAMILY_MISTRAL:
        snprintf(family_keys, sizeof family_keys, "  \"sliding_window\": %s,\n", window);
        break;
    case FAMILY_QWEN2:
    case FAMILY_QWEN3:
        snprintf(family_keys, sizeof family_keys,
                 "%s  \"use_sliding_window\": %s,\n  \"sliding_window\": %s,\n  \"max_window_layers\": %d,\n",
                 c->family == FAMILY_QWEN3 ? "  \"attention_bias\": false,\n" : "",
                 c->sliding_window ? "true" : "false", window, c->sliding_window ? 0 : c->n_layers);
        break;
    default:
        snprintf(family_keys, sizeof family_keys,
                 "  \"attention_bias\": false,\n  \"mlp_bias\": false,\n  \"pretraining_tp\": 1,\n");
    }
    size_t cap = 2048 + strlen(eos);
    char *s = shear_malloc(cap);
    int n = snprintf(s, cap,
        "{\n"
        "  \"architectures\": [\"%s\"],\n"
        "  \"model_type\": \"%s\",\n"
        "  \"hidden_size\": %d,\n"
        "  \"intermediate_size\": %d,\n"
        "  \"num_attention_heads\": %d,\n"
        "  \"num_key_value_heads\": %d,\n"
        "  \"head_dim\": %d,\n"
        "  \"num_hidden_layers\": %d,\n"
        "  \"vocab_size\": %d,\n"
        "  \"rms_norm_eps\": %s,\n"
        "  \"rope_theta\": %s,\n"
        "  \"rope_scaling\": %s,\n"
        "  \"max_position_embeddings\": %d,\n"
        "  \"hidden_act\": \"silu\",\n"
        "%s"
        "  \"tie_word_embeddings\": %s,\n"
        "  \"bos_token_id\": %d,\n"
        "  \"eos_token_id\": %s,\n"
        "  \"use_cache\": true,\n"
        "  \"torch_dtype\": \"%s\"\n"
        "}\n",
        ARCH[c->family], family_name(c->family), c->dim, c->intermediate, c->n_heads, c->n_kv_heads, c->head_dim,
        c->n_layers, c->vocab, eps, theta, scaling, max_position_embeddings > 0 ? max_position_embeddings : 4096,
        family_keys, c->tie_embeddings ? "true" : "false", bos_token_id, eos, torch_dtype);
    SHEAR_CHECK(n > 0 && (size_t)n < cap, "config.json text does not fit");
    free(eos);
    return s;
}

int hf_parse_size(const char *s, uint64_t *bytes) {
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || !(v > 0)) return -1;
    while (isspace((unsigned char)*end)) end++;
    static const struct { const char *unit; double mult; } U[] = {
        {"", 1}, {"B", 1}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
        {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0}};
    for (size_t i = 0; i < sizeof U / sizeof U[0]; i++)
        if (strcasecmp(end, U[i].unit) == 0 && v * U[i].mult < 1.8e19) {
            *bytes = (uint64_t)(v * U[i].mult);
            return *bytes > 0 ? 0 : -1;
        }
    return -1;
}
