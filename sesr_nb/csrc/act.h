// The fused activation: every kernel reads its input through v -> prelu(v, slope[c]) + skip, and the input gradient
// applies the matching epilogue, so SESR's PReLUs and long residual never need a pass over memory of their own.
#pragma once
#include "simd.h"

namespace sesr {

// The input transform applied while a window is copied: v -> prelu(v, slope[c]) + skip (each optional).
struct InputAct { const float* slope = nullptr; const float* skip = nullptr; };

// The epilogue of an input-gradient convolution (see conv_fwd.h). `z` is the forward input (pre-activation).
struct GradAct { const float* z = nullptr; const float* slope = nullptr; float* draw = nullptr; vf* dslope = nullptr; };

// The slope gradient from per-tile partials [tiles][channels], added in tile order (so independent of thread timing).
static inline void sum_tile_partials(const vf* partials, int64_t tiles, int64_t channels, float* out) {
  for (int64_t c = 0; c < channels; ++c) {
    vf acc = vf{};
    for (int64_t t = 0; t < tiles; ++t) acc += partials[t * channels + c];
    out[c] = hsum(acc);
  }
}

}  // namespace sesr
