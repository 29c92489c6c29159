// The 3x3 forward convolution by Winograd's minimal filtering F(4x4, 3x3) (Lavin & Gray, "Fast Algorithms for
// Convolutional Neural Networks", CVPR 2016): every 4x4 output block of every output channel is
//   Y = A^T [ sum_c (G g_c G^T) . (B^T d_c B) ] A
// for the 6x6 input window d_c of each input channel c and the 3x3 kernel g_c, with . the element-wise product:
// 36 multiplies per (input, output) channel pair and block instead of the direct form's 144, at the price of the
// input and output transforms (a few operations per value, shared by all output or input channels) and a rounding
// that differs from the direct sum's (float32: about 4e-6 of the output's scale on SESR's 16-channel layers, against
// 7e-7 for the direct kernel; nbs/00_conv).
#pragma once
#include <cstdint>

#include "act.h"
#include "xla/ffi/api/ffi.h"

namespace sesr {

namespace ffi = xla::ffi;

// Whether the Winograd kernel takes a 3x3 convolution of these channel counts: enough channels that the transforms
// are paid back (SESR's 16->16 layers), on by default with 16-float vectors (AVX-512, where it was measured), and
// SESR_NB_WINOGRAD=0 or 1 decides otherwise (read at each call, so one process can time both forms).
bool winograd_applies(int64_t Cin, int64_t Cout);

// y (N, Cout, H, W) = conv3x3(act(x), w) + b for NCHW x and a (3, 3, Cin, Cout) kernel w; b may be null. With
// `ga.slope` set, y is the input gradient masked by prelu'(ga.z) and the slope gradient is written to `dslope`
// (as conv_fwd_dispatch does).
void conv3x3_winograd(ffi::ThreadPool& pool, const float* x, const InputAct& act, const float* w, const float* b,
                      float* y, int64_t N, int64_t Cin, int64_t Cout, int64_t H, int64_t W, const GradAct& ga,
                      float* dslope);

// Whether the Winograd weight gradient takes a 3x3 convolution of these channel counts (output channels in whole
// vectors), and not switched off by SESR_NB_WINOGRAD=0.
bool winograd_wgrad_applies(int64_t Cin, int64_t Cout);

// dw (3, 3, Cin, Cout) and db (Cout,) of y = conv3x3(act(x), w) + b for the output cotangent gy (N, Cout, H, W).
void conv3x3_winograd_wgrad(ffi::ThreadPool& pool, const float* x, const InputAct& act, const float* gy, float* dw,
                            float* db, int64_t N, int64_t Cin, int64_t Cout, int64_t H, int64_t W);

}  // namespace sesr
