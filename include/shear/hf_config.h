// Hugging Face config.json for LlamaForCausalLM (src/hf_config.c): read with every unsupported option refused by
// name, written with the model's real shape; and the size strings of `shear export --max-shard-size`.
#ifndef SHEAR_HF_CONFIG_H
#define SHEAR_HF_CONFIG_H

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

#endif
