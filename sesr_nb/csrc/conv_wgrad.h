// The weight and bias gradients of y = conv(act(x), w) + b: dw = sum over pixels of act(x)_shifted * g, db = sum g.
// Reductions over tiles are added in a fixed order, so results do not depend on the number or timing of threads.
#pragma once
#include <cstdint>

#include "act.h"
#include "xla/ffi/api/ffi.h"

namespace sesr {

namespace ffi = xla::ffi;

// dw (K, K, Cin, Cout) and db (Cout,) for NCHW x and the output cotangent gy (N, Cout, H, W).
// Returns false (and computes nothing) for a kernel size other than 1, 3, 5 or 7.
bool conv_wgrad_dispatch(int64_t K, ffi::ThreadPool& pool, const float* x, const InputAct& act, const float* gy,
                         float* dw, float* db, int64_t N, int64_t Cin, int64_t Cout, int64_t H, int64_t W);

}  // namespace sesr
