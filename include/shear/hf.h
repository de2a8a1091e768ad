// Hugging Face LLaMA checkpoints <-> Shear model files: `shear import` and `shear export`.
// A Hugging Face folder holds config.json (LlamaForCausalLM), model.safetensors or model-0000k-of-0000n
// shards with model.safetensors.index.json, and tokenizer.json. Both directions stream tensor by tensor.
// config.json itself is read and written by hf_config.h.
#ifndef SHEAR_HF_H
#define SHEAR_HF_H

#include <stdint.h>

#include "shear/modelfile.h"

// Imports HF_DIR into a Shear model file at out_path (written as out_path.tmp, then renamed); copies
// HF_DIR/tokenizer.json next to it as <out_path without .h5>.tokenizer.json.
void hf_import(const char *hf_dir, const char *out_path);

typedef struct {
    const char *dtype;        // "bf16", "f16", "f32" or NULL: each tensor's source dtype, f32 when unknown
    uint64_t max_shard_bytes; // tensor bytes per shard before a new one starts
    const char *tokenizer;    // tokenizer.json to export, or NULL: the one recorded at import
} HfExportOptions;
void hf_export(const char *model_path, const char *out_dir, const HfExportOptions *o);

// The tokenizer.json `shear import` copied next to model_path (its path into path[len]): 0, or -1 when the
// model records none. Dies when the recorded file is missing or its hash differs from the one recorded.
int hf_recorded_tokenizer(const char *model_path, ModelFileReader *r, char *path, size_t len);

#endif
