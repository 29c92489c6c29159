// The forward convolution, y = conv(act(x), w) + b, which is also the input gradient: run on the output cotangent
// with the spatially flipped, channel-swapped kernel and a GradAct epilogue, it gives
//   r = conv(g, flipped w);  dx = r * prelu'(z);  dslope = sum r * z * [z < 0];  dskip = r.
#pragma once
#include <cstdint>

#include "act.h"
#include "xla/ffi/api/ffi.h"

namespace sesr {

namespace ffi = xla::ffi;

// Forward outputs larger than this (about a last-level cache) are written with streaming (non-temporal) stores:
// they cannot stay in cache until the next layer reads them, and plain stores would first read every line they
// write. Measured on a 1080p frame (2 cores): the 1->16 first layer 20 -> 14 ms, each 16->16 layer 63 -> 58 ms.
constexpr int64_t STREAM_BYTES = 32ll << 20;

// y (N, Cout, H, W) = conv(act(x), w) + b for NCHW x and a (K, K, Cin, Cout) kernel w; b may be null. With
// `ga.slope` set, y is the input gradient masked by prelu'(ga.z) and the slope gradient is written to `dslope`.
// Returns false (and computes nothing) for a kernel size other than 1, 3, 5 or 7.
bool conv_fwd_dispatch(int64_t K, ffi::ThreadPool& pool, const float* x, const InputAct& act, const float* w,
                       const float* b, float* y, int64_t N, int64_t Cin, int64_t Cout, int64_t H, int64_t W,
                       const GradAct& ga, float* dslope);

}  // namespace sesr
