// Hugging Face config.json of the LLaMA family (src/hf_config.c): read with every unsupported option refused by
// name, written with the model's real shape; and the size strings of `shear export --max-shard-size`.
#ifndef SHEAR_HF_CONFIG_H
#define SHEAR_HF_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "shear/model.h"

typedef struct {
    ModelConfig cfg;
    int max_position_embeddings; // 0 when config.json has none
    int bos_token_id;            // -1 when config.json has none
    char eos_token_ids[256];     // "2" or "128001,128008,128009": every id that ends a text; "" when none
} HfConfig;

// The special-token ids of a JSON object (config.json or generation_config.json): bos_token_id (an integer) and
// eos_token_id (an integer or a list of them) into *bos and eos[len] when present (left as they are otherwise);
// dies naming the file and the key when one is not an integer id >= 0.
void hf_special_ids(const char *path, const void *cjson_root, int *bos, char *eos, size_t len);

// Parses config.json text; path names the file in messages. model_type llama, mistral, qwen2 (q/k/v biases) and
// qwen3 (q/k norms), tied or untied embeddings. Dies naming the key for anything Shear cannot load exactly
// (rope_scaling other than default / linear / llama3, attention_bias (o_proj biases), mlp_bias, MoE keys,
// per-layer attention kinds, other model types or architectures, ...).
void hf_config_parse(const char *path, const char *text, HfConfig *hc);
// config.json for a model (malloc'd): its family's architectures / model_type and keys, every shape field,
// head_dim always written, torch_dtype as given.
// bos_token_id / eos_token_ids as HfConfig holds them (eos: one id is written as a number, several as a list).
char *hf_config_json(const ModelConfig *c, const char *torch_dtype, int max_position_embeddings, int bos_token_id,
                     const char *eos_token_ids);
// "[128001,128009]" or "2": eos_token_ids as JSON (malloc'd).
char *hf_eos_json(const char *eos_token_ids);
// "5GB", "100MB", "64KiB", "12345": decimal (KB, MB, GB) and binary (KiB, MiB, GiB) units. 0 or -1.
int hf_parse_size(const char *s, uint64_t *bytes);

#endif
