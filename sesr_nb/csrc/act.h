// The fused activation: every kernel reads its input through v -> prelu(v, slope[c]) + skip, and the input gradient
// applies the matching epilogue, so SESR's PReLUs and long residual never need a pass over memory of their own.
#pragma once
#include "simd.h"

namespace sesr {

// The input transform applied while a window is copied: v -> prelu(v, slope[c]) + skip (each optional).
struct InputAct { const float* slope = nullptr; const float* skip = nullptr; };

// The epilogue of an input-gradient convolution (see conv_fwd.h). `z` is the forward input (pre-activation).
struct GradAct { const float* z = nullptr; const float* slope = nullptr; float* draw = nullptr; vf* dslope = nullptr; };

}  // namespace sesr
