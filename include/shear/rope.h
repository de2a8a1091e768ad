// RoPE's inverse frequencies, with the rope_scaling variants Hugging Face configs carry (Llama 3.x: "llama3";
// "linear"). One inline function so that the CPU and the CUDA backend (whose tables are built on the host),
// shear import's check of stored inv_freq buffers and every test compute the same float values.
#ifndef SHEAR_ROPE_H
#define SHEAR_ROPE_H

#include <math.h>
#include <string.h>

typedef enum { ROPE_DEFAULT = 0, ROPE_LINEAR = 1, ROPE_LLAMA3 = 2 } RopeType;

typedef struct {
    float theta;            // rope_theta: the base frequency
    int type;               // RopeType
    float factor;           // linear, llama3: how many times longer the context is than the original
    float low_freq_factor;  // llama3: wavelengths above original / low_freq_factor are divided by factor
    float high_freq_factor; // llama3: wavelengths below original / high_freq_factor are kept
    int original_max_pos;   // llama3: original_max_position_embeddings
} ShearRope;

// "default", "linear", "llama3": rope_scaling's rope_type in config.json and in a model file's /config.
static inline const char *rope_type_name(int type) {
    return type == ROPE_LINEAR ? "linear" : type == ROPE_LLAMA3 ? "llama3" : "default";
}

// 0 and *type set for a known name, -1 otherwise.
static inline int rope_type_parse(const char *name, int *type) {
    for (int t = ROPE_DEFAULT; t <= ROPE_LLAMA3; t++)
        if (strcmp(name, rope_type_name(t)) == 0) {
            *type = t;
            return 0;
        }
    return -1;
}

// NULL when the scaling parameters suit the type, else what is wrong (for a message naming the file).
static inline const char *rope_check(const ShearRope *r) {
    if (!(r->theta > 0)) return "rope_theta must be > 0";
    if (r->type == ROPE_DEFAULT) return NULL;
    if (!(r->factor >= 1) || !isfinite(r->factor)) return "rope_scaling factor must be a finite number >= 1";
    if (r->type == ROPE_LLAMA3) {
        if (!(r->low_freq_factor > 0) || !(r->high_freq_factor > r->low_freq_factor) || !isfinite(r->high_freq_factor))
            return "rope_scaling needs 0 < low_freq_factor < high_freq_factor (finite)";
        if (r->original_max_pos < 1) return "rope_scaling needs original_max_position_embeddings >= 1";
    }
    return NULL;
}

static inline int rope_same(const ShearRope *a, const ShearRope *b) {
    return a->theta == b->theta && a->type == b->type && a->factor == b->factor &&
           a->low_freq_factor == b->low_freq_factor && a->high_freq_factor == b->high_freq_factor &&
           a->original_max_pos == b->original_max_pos;
}

// inv_freq_i for i < hd/2, in float as transformers computes it (rope_init_fn of the model's rope_type):
// default 1 / theta^(2i/hd); linear divides it by factor; llama3 divides the low frequencies by factor, keeps the
// high ones and blends the band between (smooth = (original / wavelength - low) / (high - low)).
static inline float rope_inv_freq(const ShearRope *r, int i, int hd) {
    float f = 1.0f / powf(r->theta, (float)(2 * i) / (float)hd);
    if (r->type == ROPE_LINEAR) return f / r->factor;
    if (r->type != ROPE_LLAMA3) return f;
    const float two_pi = 6.283185307179586f;
    float orig = (float)r->original_max_pos;
    float wavelen = two_pi / f;
    float low_wavelen = orig / r->low_freq_factor, high_wavelen = orig / r->high_freq_factor;
    if (wavelen > low_wavelen) return f / r->factor;
    if (wavelen < high_wavelen) return f;
    float smooth = (orig / wavelen - r->low_freq_factor) / (r->high_freq_factor - r->low_freq_factor);
    return (1.0f - smooth) * f / r->factor + smooth * f;
}

#endif
