// The LLaMA model over the ops interface: a parameter table (Hugging Face names, shapes, offsets into one
// buffer per role), activations for a (B, T) micro-batch, forward and backward with optional gates.
// Any shape: MHA or GQA, head_dim independent of dim / n_heads; the family options of ModelConfig (tied
// embedding, q/k/v biases, q/k norms) add or share tensors in the table.
#ifndef SHEAR_MODEL_H
#define SHEAR_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "shear/ops.h"

typedef enum { FAMILY_LLAMA, FAMILY_MISTRAL, FAMILY_QWEN2, FAMILY_QWEN3 } ShearFamily;

typedef struct {
    int dim;          // d
    int n_layers;     // L
    int n_heads;      // H
    int n_kv_heads;   // Hkv (== H for MHA)
    int head_dim;     // hd
    int intermediate; // I
    int vocab;        // V
    ShearRope rope;   // rope_theta and rope_scaling (shear/rope.h)
    float norm_eps;
    // ---- family options (config.json model_type; all 0 = LLaMA-1/2) ----
    ShearFamily family;  // what shear export writes as model_type / architectures
    int tie_embeddings;  // 1: lm_head is model.embed_tokens.weight (one tensor, both uses' gradients summed)
    int qkv_bias;        // 1: q/k/v projections have biases (Qwen2)
    int qk_norm;         // 1: RMSNorm over head_dim on every q and k head before RoPE (Qwen3)
    int sliding_window;  // 0: none; else attention is plain causal only for sequences up to this length (Mistral)
} ModelConfig;

// The model_type of a config.json, as written back by shear export.
const char *family_name(ShearFamily f);
// FAMILY_* of a model_type string, or -1.
int family_parse(const char *s);

// What a parameter is, so code that must treat kinds differently (weight decay, finalize slicing) can ask.
typedef enum {
    P_EMBED, P_Q, P_K, P_V, P_O, P_GATE, P_UP, P_DOWN, P_NORM_ATTN, P_NORM_MLP,
    P_Q_BIAS, P_K_BIAS, P_V_BIAS, P_Q_NORM, P_K_NORM, // per layer, only with qkv_bias / qk_norm
    P_NORM_FINAL, P_HEAD,
    P_N_KINDS
} ParamKind;

#define PARAM_NAME_LEN 96

typedef struct {
    char name[PARAM_NAME_LEN]; // Hugging Face name, e.g. "model.layers.3.self_attn.q_proj.weight"
    ParamKind kind;
    int layer;                 // block index, -1 for embedding, final norm and head
    int ndim;                  // 1 or 2
    int shape[2];              // [out, in] for linear weights; [d] for norms
    size_t numel;
    size_t offset;             // in floats, into every role buffer (weights, grads, Adam m, Adam v)
} ParamInfo;

typedef struct {
    int n;            // number of tensors: 1 + per_layer L + 1 (+ 1 for an untied lm_head)
    ParamInfo *p;     // [n]
    size_t total;     // floats in one role buffer
    int per_layer;    // tensors per block: 9, + 3 with qkv_bias, + 2 with qk_norm
    int slot[P_N_KINDS]; // position of a per-layer kind inside its block (-1: absent)
    int norm_final;   // index of model.norm.weight
    int head;         // index of the classifier weight: lm_head.weight, or 0 (the embedding) when tied
} ParamTable;

// Gates of one micro-batch (device buffers; NULL = not gated). Gradients are accumulated (+=) where non-NULL.
typedef struct {
    const float *layer;        // [L]    multiplies attention and MLP branch outputs
    const float *head_layer;   // [L]    attention branch only (CoFi pair, instead of layer)
    const float *mlp;          // [L]    MLP branch only
    const float *head;         // [L,G]  per KV group (G = Hkv; == H for MHA) on the attention context
    const float *intermediate; // [L,I]  on the up projection
    const float *hidden;       // [d]    on both branch outputs and the three norms
    float *d_layer, *d_head_layer, *d_mlp, *d_head, *d_intermediate, *d_hidden;
} ModelGates;

typedef struct {
    ModelConfig cfg;
    const ShearOps *ops;
    ParamTable table;
    float *w;     // [total] weights (backend memory)
    float *g;     // [total] gradients

    // activations, sized for B x T = N rows (backend memory); l = layer
    int B, T;
    // Activation recomputation (model_set_recompute): 0 = every per-layer buffer below holds L layers;
    // 1 = only x keeps all L + 1 layers and the per-layer buffers hold one block ("[L," reads "[1,"),
    // which model_forward_backward refills for block l from x[l] just before block l's backward.
    int recompute;
    int acts_layers;   // layers the per-layer buffers hold: L, or 1 with recompute
    int32_t *tokens;   // [N]
    int32_t *targets;  // [N]  next token or -1 (not scored)
    float *x;          // [L+1, N, d] residual stream entering each block, and the final one
    float *xn1;        // [L, N, d] input_layernorm output
    float *rstd1;      // [L, N]
    float *q;          // [L, N, H*hd] after RoPE
    float *k;          // [L, N, Hkv*hd] after RoPE
    float *v;          // [L, N, Hkv*hd]
    float *qraw, *kraw;   // [L, N, H*hd], [L, N, Hkv*hd] q and k before q_norm / k_norm (qk_norm only, else NULL)
    float *rstdq, *rstdk; // [L, N*H], [L, N*Hkv] their per-head RMSNorm statistics (qk_norm only)
    float *att;        // [L, N, H*hd] attention context before head gates
    float *lse;        // [L, B, H, T]
    float *attg;       // [L, N, H*hd] context after head gates (input of o_proj)
    float *ao;         // [L, N, d] o_proj output before branch gates
    float *x_mid;      // [L, N, d] residual after attention
    float *xn2;        // [L, N, d] post_attention_layernorm output
    float *rstd2;      // [L, N]
    float *mg;         // [L, N, I] gate_proj output
    float *mu;         // [L, N, I] up_proj output before intermediate gates
    float *mug;        // [L, N, I] up after intermediate gates
    float *mh;         // [L, N, I] silu(gate) * up
    float *mo;         // [L, N, d] down_proj output before branch gates
    float *xnf;        // [N, d] final norm output
    float *rstdf;      // [N]
    // scratch and gradients of activations
    float *s1, *s2;    // [N, max(d, H*hd, I)] gate temporaries
    float *dx;         // [N, d] gradient of the residual stream
    float *dxn;        // [N, d] gradient of a norm output
    float *dbr;        // [N, d] gradient of a branch output before its gates
    float *dbig;       // [N, max(H*hd, I)] gradient of o_proj / down_proj inputs
    float *dq, *dk, *dv; // [N, H*hd], [N, Hkv*hd], [N, Hkv*hd]
    float *dmg, *dmu;  // [N, I]
} Model;

// Checks a shape; returns 0 or writes why it is not a LLaMA shape into err.
int model_config_check(const ModelConfig *c, char *err, size_t errlen);
// Parameter table: embed, per layer (q k v o gate up down, two norms, then q/k/v biases and q/k norms when the
// family has them, in ParamKind order), norm, lm_head (absent when tied).
void param_table_build(ParamTable *t, const ModelConfig *c);
void param_table_free(ParamTable *t);
// Table index of layer l's tensor of kind k (P_Q .. P_K_NORM; the kind must be present in this family).
static inline int param_index(const ParamTable *t, int l, ParamKind k) {
    return 1 + t->per_layer * l + t->slot[k];
}
// Index of a tensor by Hugging Face name, or -1.
int param_table_find(const ParamTable *t, const char *name);
size_t model_param_count(const ModelConfig *c);

// Allocates weights and grads (zeroed) on the backend.
void model_create(Model *m, const ShearOps *ops, const ModelConfig *c);
// Weights only (g = NULL): a model that only runs forward (the distillation teacher).
void model_create_frozen(Model *m, const ShearOps *ops, const ModelConfig *c);
// Normal(0, std) for 2-D weights, 1 for norms, 0 for biases; a function of (seed, tensor, element) only.
void model_init_weights(Model *m, uint64_t seed, float std);
// (Re)allocates activations for micro-batches of B sequences of T tokens (one block's worth of per-layer
// buffers when recompute is on).
void model_alloc_acts(Model *m, int B, int T);
// 1 = recompute each block's activations in the backward pass from the kept block inputs: loss and gradients
// are bitwise those of 0 (the same ops on the same inputs, the gates of the micro-batch included), the kept
// activations fall from O(L x block) to O(L x N d + block). Call before model_alloc_acts (or call that again).
void model_set_recompute(Model *m, int on);
void model_free(Model *m);

// Forward of B <= m->B sequences of m->T tokens: host tokens/targets [B*T] (targets -1 = not scored).
// Returns the sum of token losses. row_loss [B*T] (host, optional) receives per-position losses;
// logits [B*T, V] (host, optional) the logits.
double model_forward(Model *m, int B, const int32_t *tokens, const int32_t *targets, const ModelGates *gates,
                     float *row_loss, float *logits);
// Forward and backward of one micro-batch: grads += d(dscale * sum of token losses)/dw (and gate grads).
// Returns the loss sum.
double model_forward_backward(Model *m, int B, const int32_t *tokens, const int32_t *targets,
                              const ModelGates *gates, float dscale);

// q, k, v of block l (before RoPE) from its input norm's output xn [N,d]: q [N,H*hd], k, v [N,Hkv*hd]; the
// projections, + biases (qkv_bias), then the per-head q/k norms (qk_norm: qraw / kraw keep the values before
// them, rstdq [N*H] / rstdk [N*Hkv] their statistics; unused otherwise). Training and generation share it.
void model_qkv_fwd(const Model *m, int l, const float *xn, float *q, float *k, float *v, float *qraw, float *kraw,
                   float *rstdq, float *rstdk, size_t N);

// ---- distillation (shear/distill.h) ----
// The teacher's half: forward of B sequences (no gates) up to the final RMSNorm. Returns m->xnf [B*T, d]
// (backend memory, valid until the model's next forward).
const float *model_forward_hidden(Model *m, int B, const int32_t *tokens, const int32_t *targets);
// The student's half: model_forward / model_forward_backward with the classifier's KD twin (ops.h
// classifier_kd; kd->tx is the teacher's model_forward_hidden of the same rows). Grads of
// dscale ((1 - alpha) LM + alpha KD). Return the LM sum; *kd_sum gets the KD sum.
double model_forward_kd(Model *m, int B, const int32_t *tokens, const int32_t *targets, const ModelGates *gates,
                        const ShearKD *kd, double *kd_sum);
double model_forward_backward_kd(Model *m, int B, const int32_t *tokens, const int32_t *targets,
                                 const ModelGates *gates, float dscale, const ShearKD *kd, double *kd_sum);

#endif
