// Hugging Face LLaMA checkpoints <-> Shear model files: `shear import` and `shear export`.
// A Hugging Face folder holds config.json (LlamaForCausalLM), model.safetensors or model-0000k-of-0000n
// shards with model.safetensors.index.json, and tokenizer.json. Both directions stream tensor by tensor.
#ifndef SHEAR_HF_H
#define SHEAR_HF_H

#include <stdint.h>

#include "shear/model.h"

typedef struct {
    ModelConfig cfg;
    int max_position_embeddings; // 0 when config.json has none
} HfConfig;

// Parses config.json text; path names the file in messages. Dies naming the key for anything Shear cannot
// load exactly (rope_scaling, attention_bias, mlp_bias, tie_word_embeddings, other architectures, ...).
void hf_config_parse(const char *path, const char *text, HfConfig *hc);
// config.json for a model (malloc'd): every shape field, head_dim always written, torch_dtype as given.
char *hf_config_json(const ModelConfig *c, const char *torch_dtype, int max_position_embeddings);
// "5GB", "100MB", "64KiB", "12345": decimal (KB, MB, GB) and binary (KiB, MiB, GiB) units. 0 or -1.
int hf_parse_size(const char *s, uint64_t *bytes);

// Imports HF_DIR into a Shear model file at out_path (written as out_path.tmp, then renamed); copies
// HF_DIR/tokenizer.json next to it as <out_path without .h5>.tokenizer.json.
void hf_import(const char *hf_dir, const char *out_path);

typedef struct {
    const char *dtype;        // "bf16", "f16", "f32" or NULL: each tensor's source dtype, f32 when unknown
    uint64_t max_shard_bytes; // tensor bytes per shard before a new one starts
    const char *tokenizer;    // tokenizer.json to export, or NULL: the one recorded at import
} HfExportOptions;
void hf_export(const char *model_path, const char *out_dir, const HfExportOptions *o);

#endif
