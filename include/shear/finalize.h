// Finalization (shearing.md section 4): from a masked source model and deterministic gate values with exact
// target counts to a dense LLaMA of the target shape. Every kept gate value is folded into the weights exactly
// once, then the kept rows/columns are sliced out in ascending index order and surviving layers are renumbered
// 0..L_T-1. The embedding and lm_head are sliced but never scaled (the reference scales them, a known bug).
//
// Where each gate goes (l = source layer, a = layer*head_layer, m = layer*mlp, h = hidden):
//   head[l,g]          rows of v_proj of KV group g (softmax(QK^T)(V z) = z softmax(QK^T)V); kept groups keep
//                      their q/k/v rows and o_proj columns (all n_heads/n_kv_heads query heads of the group)
//   a, m               all of o_proj (a) and down_proj (m) of layer l; layer == 0 drops the whole layer
//   intermediate[l,i]  row i of up_proj; kept channels keep gate/up rows and down_proj columns
//   hidden[j]          the three RMSNorm weights and the output rows of o_proj and down_proj; kept channels keep
//                      q/k/v/gate/up input columns, o/down output rows, embedding and lm_head columns
// The masked RMSNorm averages x^2 over kept channels only, which is the plain RMSNorm of the sliced model.
// Only `layer` removes layers: a zero head_layer (or mlp) keeps the layer, with o_proj (or down_proj) folded to
// all zeros, because the output must be a LLaMA with both branches in every layer.
#ifndef SHEAR_FINALIZE_H
#define SHEAR_FINALIZE_H

#include <stdio.h>

#include "shear/model.h"

// Host gate values of every mask type (NULL = that type not learned = all ones). Exact zeros mark pruned items;
// every nonzero value is folded. Shapes: layer/head_layer/mlp [L], head [L,G] (G = n_kv_heads), intermediate
// [L,I], hidden [d]. `layer` and the CoFi pair head_layer/mlp are alternatives, never both.
typedef struct { const float *layer, *head_layer, *mlp, *head, *intermediate, *hidden; } FinalizeGates;

#define FINALIZE_N_TYPES 6
// Names in the order of the struct fields: /masks/<name> in a prune output, and in messages.
extern const char *const FINALIZE_GATE_NAMES[FINALIZE_N_TYPES];

// Builds dst (created inside with the resulting shape, same backend as src) from src; fills tgt with the shape
// (counts of nonzero gates). Dies with a clear message if rows have inconsistent counts (e.g. layer 0 keeps 3
// heads and layer 1 keeps 2: a non-uniform shape is not a LLaMA) or a whole type is pruned to zero.
void finalize_model(const Model *src, const FinalizeGates *g, Model *dst, ModelConfig *tgt);
// One line per kept structure for the log: kept layers, heads per layer, channels (counts and index ranges).
// Does not die on an inconsistent shape: it prints the reason finalize_model would give.
void finalize_summary(const Model *src, const FinalizeGates *g, FILE *out);

// Prune output (what `shear prune` writes and `shear finalize --in` reads): a Shear model file (modelfile.h) of
// the SOURCE shape and weights, plus
//   /masks              group, attr format_version = 1 (int)
//   /masks/<type>       float32 deterministic gate values with the exact target counts, one dataset per learned
//                       type: layer, head_layer, mlp [L]; head [L, n_kv_heads]; intermediate [L, I]; hidden [d]
// Appends /masks to the existing model file PATH (replacing an earlier /masks); src is the file's shape.
void maskfile_write(const char *path, const FinalizeGates *g, const ModelConfig *src);
// Reads /masks of PATH, checking every dataset against the shape src; the arrays of g point into the returned
// block (free() it when done). Dies naming the file and what is wrong: no /masks, an unknown or mis-shaped
// dataset, values that are not finite or outside [0, 1], layer together with head_layer/mlp.
float *maskfile_read(const char *path, const ModelConfig *src, FinalizeGates *g);

#endif
