// Model files (HDF5): what import, finalize and train write and every command reads.
//   /                   attrs: format = "shear-model", format_version = 1
//   /config             attrs: dim, n_layers, n_heads, n_kv_heads, head_dim, intermediate, vocab (int),
//                              rope_theta, norm_eps (double); with rope_scaling (absent = plain RoPE):
//                              rope_type = "linear" | "llama3", rope_factor, rope_low_freq_factor,
//                              rope_high_freq_factor (double), rope_original_max_position_embeddings (int)
//   /                   attr checksum_algorithm (CKPT_SUM_NAME, ckpt_sum.h)
//   /weights/<HF name>  float32, the Hugging Face shape ([out, in] for linear weights); attr checksum (uint64):
//                       ckpt_sum_final (ckpt_sum.h) of its little-endian bytes in row-major order (as checkpoints)
//   /deck               uint8 text: the input deck that produced the file (when there is one); attr checksum
// Files written before checksums (or by other tools) have none: they load with one warning per file.
// Written by `shear import` (all optional, src/hf.c):
//   /weights/<HF name>  attr source_dtype = "F32" | "F16" | "BF16": the tensor's dtype in the Hugging Face
//                       checkpoint; `shear export` writes that dtype back by default (bf16 -> f32 -> bf16 is exact)
//   /                   attrs tokenizer (file name of the tokenizer.json copied next to the model file),
//                       tokenizer_hash ("fnv1a64:<16 hex>" of its bytes), max_position_embeddings (int),
//                       bos_token_id (int), eos_token_ids ("2" or "128001,128008,128009")
// Written by `shear train` / `shear prune` with run.precision: bf16 (and carried by `shear finalize`):
//   /                   attr precision = "bf16": `shear export` writes every tensor in bf16 unless --dtype says
// Checkpoints (issue "checkpoints") use the same layout plus the training state.
#ifndef SHEAR_MODELFILE_H
#define SHEAR_MODELFILE_H

#include "shear/model.h"

#define MODELFILE_FORMAT "shear-model"
#define MODELFILE_VERSION 1

// Writes PATH.tmp then renames it to PATH, so a failure never leaves a half-written model. Serial: call it on
// one rank. deck_text may be NULL.
void modelfile_save(const char *path, const Model *m, const char *deck_text);
// modelfile_save, carrying what `shear import` recorded in the model file `origin` (NULL or "": nothing): its
// bos/eos ids, max_position_embeddings and tokenizer (ORIGIN.tokenizer.json copied beside PATH, hash checked),
// so a model pruned, finalized or trained from an imported one exports with the source's text interface.
// precision: the run.precision the weights were trained in ("fp32", "bf16"); NULL: origin's (finalize). A bf16
// one is recorded as the root attr precision = "bf16", and `shear export` then writes bf16 by default.
void modelfile_save_from(const char *path, const Model *m, const char *deck_text, const char *origin,
                         const char *precision);
// <model without .h5>.tokenizer.json: where import puts a model's tokenizer, next to the model file
void modelfile_tokenizer_path(const char *model_path, char *out, size_t len);
// Copies src to dst (through dst.tmp); hash [32] gets "fnv1a64:<hex>" of the bytes. modelfile_file_hash: the same
// hash of a file.
void modelfile_copy_file(const char *src, const char *dst, char *hash);
void modelfile_file_hash(const char *path, char *hash);
// Reads the shape; dies naming the file and the attribute when it is not a Shear model file.
void modelfile_read_config(const char *path, ModelConfig *c);
// Loads every tensor of the table into m (created with the file's config); dies naming a missing tensor, a
// shape mismatch or a tensor that fails its checksum (unless SHEAR_NO_VERIFY=1, ckpt_sum.h), and rejects
// non-finite weights.
void modelfile_load_weights(const char *path, Model *m);

// Streaming access, one tensor at a time, so that import and export never hold a whole model in memory
// (LLaMA-2 7B in fp32 is 27 GB). The writer has modelfile_save's guarantees (PATH.tmp, then rename).
typedef struct ModelFileWriter ModelFileWriter;
ModelFileWriter *modelfile_begin(const char *path, const ModelConfig *c, const char *deck_text);
// data [p->numel] host floats; source_dtype may be NULL (no attribute)
void modelfile_write_tensor(ModelFileWriter *w, const ParamInfo *p, const float *data, const char *source_dtype);
void modelfile_write_attr_string(ModelFileWriter *w, const char *name, const char *value); // root attribute
void modelfile_write_attr_int(ModelFileWriter *w, const char *name, int64_t value);        // root attribute
void modelfile_end(ModelFileWriter *w);

typedef struct ModelFileReader ModelFileReader;
// Opens a model file and reads its shape (dies like modelfile_read_config).
ModelFileReader *modelfile_open(const char *path, ModelConfig *c);
// Reads tensor p into data [p->numel] with the checks of modelfile_load_weights (data NULL: checks the shape
// only); source_dtype (may be NULL) gets the tensor's source_dtype attribute or "" when it has none.
void modelfile_read_tensor(ModelFileReader *r, const ParamInfo *p, float *data, char *source_dtype, size_t len);
// Root attributes: 0, or -1 when absent.
int modelfile_read_attr_string(ModelFileReader *r, const char *name, char *buf, size_t len);
int modelfile_read_attr_int(ModelFileReader *r, const char *name, int64_t *value);
void modelfile_close(ModelFileReader *r);

// Writes the /config group of a model shape into an open HDF5 file (model files and checkpoints).
#include <hdf5.h>
void modelfile_write_config(hid_t f, const ModelConfig *c);

#endif
