// Model files (HDF5): what import, finalize and train write and every command reads.
//   /                   attrs: format = "shear-model", format_version = 1
//   /config             attrs: dim, n_layers, n_heads, n_kv_heads, head_dim, intermediate, vocab (int),
//                              rope_theta, norm_eps (double)
//   /weights/<HF name>  float32, the Hugging Face shape ([out, in] for linear weights)
//   /deck               uint8 text: the input deck that produced the file (when there is one)
// Checkpoints (issue "checkpoints") use the same layout plus the training state.
#ifndef SHEAR_MODELFILE_H
#define SHEAR_MODELFILE_H

#include "shear/model.h"

#define MODELFILE_FORMAT "shear-model"
#define MODELFILE_VERSION 1

// Writes PATH.tmp then renames it to PATH, so a failure never leaves a half-written model. Serial: call it on
// one rank. deck_text may be NULL.
void modelfile_save(const char *path, const Model *m, const char *deck_text);
// Reads the shape; dies naming the file and the attribute when it is not a Shear model file.
void modelfile_read_config(const char *path, ModelConfig *c);
// Loads every tensor of the table into m (created with the file's config); dies naming a missing tensor or
// a shape mismatch, and rejects non-finite weights.
void modelfile_load_weights(const char *path, Model *m);

#endif
