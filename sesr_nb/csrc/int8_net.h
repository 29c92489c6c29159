// Native int8 inference of the deployed (collapsed) SESR network, bit-exact to sesr_nb.quant.integer_forward.
//
// The network: first (k x k, 1 -> f), block0 .. block{m-1} (k x k, f -> f), last (k x k, f -> s^2), every conv on uint8
// activation codes with per-output-channel int8 weight codes, int32 accumulation and the requantisation of
// integer_forward: code = clip(round_half_even(double(acc) * double(M_c)) + z_out, 0, 255), M_c the float32 multiplier
// s_in * s_w[c] / s_out. The element-wise stages between convolutions are the reference's float32 arithmetic on
// dequantised values, reproduced operation by operation (IEEE float32 is deterministic; no FMA contraction here):
//   * the one-input stages (dequantise, PReLU, quantise for the next conv) are a per-channel table of 256 codes,
//     computed in Python with the reference's own numpy arithmetic;
//   * the long residual before the last conv, quant(prelu(deq(z)) + deq(h0)), and the network input and output
//     (x - 1/2 quantised; deq(last) + x, depth-to-space, clip) are float32 operations per element.
//
// Layout: every activation buffer is [group][H + 2 PAD][WP][4] uint8, four channels interleaved per pixel so that one
// 32-bit lane holds the four products that vpdpbusd sums; its border holds the consuming conv's input zero point (a
// real 0). The 1-channel input is stored with four horizontally adjacent pixels per lane instead (taps packed).
// A conv is a list of taps (row offset, column offset, group) with one 4-byte weight word per tap and output channel.
#pragma once
#include <cstdint>
#include <string>

#include "xla/ffi/api/ffi.h"

namespace sesr {
namespace int8 {

namespace ffi = xla::ffi;

constexpr int PAD = 2;         // border rows/columns of every activation buffer (the largest kernel radius)
constexpr int32_t MAGIC = 0x53453801;

// Kernel paths: the inner products with AVX-512 VNNI (vpdpbusd), with AVX2 (vpmaddwd), or portable C++.
enum Path : int32_t { kBest = 0, kScalar = 1, kAvx2 = 2, kVnni = 3 };

// Bit p set: path p is compiled in and this CPU runs it.
int32_t available_paths();

struct Layer {
  int k = 0, cin = 0, cout = 0, groups = 0, ntaps = 0, z_in = 0, z_out = 0;
  const int32_t* taps = nullptr;  // ntaps x (row offset, column offset, group), buffer coordinates
  const int8_t* w = nullptr;      // [ntaps][cout][4] weight words
  const int32_t* bias = nullptr;  // [cout] bias codes minus z_in * (sum of the channel's weight codes)
  const float* mult = nullptr;    // [cout] float32 requantisation multipliers
};

struct Net {
  int m = 0, f = 0, scale = 0, io = 0;
  Layer layers[64];                           // first, block0 .. block{m-1}, last
  const uint8_t* luts = nullptr;              // m tables [f][256]: first.out -> block0.in, block{j}.out -> block{j+1}.in
  float s_first_in = 1.f; int z_first_in = 0; // quantiser of x - 1/2
  float s_input = 1.f; int z_input = 0;       // io: the network input's quantiser
  float s_res = 1.f; int z_res = 0;           // io: the residual sum's quantiser
  float s_h = 1.f; int z_h = 0;               // first.out (h0, the long residual)
  float s_z = 1.f; int z_z = 0;               // block{m-1}.out
  const float* slope = nullptr;               // prelu{m-1} slopes [f]
  float s_last_in = 1.f; int z_last_in = 0;   // last.in
  float s_out = 1.f; int z_out = 0;           // last.out
  const int32_t* d2s = nullptr;               // [s^2][2]: (row, column) offset in the s x s output cell per channel
};

// Parse the packed network (see sesr_nb.int8.pack_network); an error message, or "" and `net` filled in.
std::string parse_net(const int32_t* ip, int64_t n_ip, const float* fp, int64_t n_fp, const int8_t* w, int64_t n_w,
                      const int32_t* bias, int64_t n_bias, const uint8_t* luts, int64_t n_luts, Net& net);

// y (N, sH, sW) = the network on x (N, H, W) float32 Y in [0, 1]; `codes` (N, s^2, H, W) the last conv's output codes
// (may be null). `path` is one of Path and must be available.
void forward(ffi::ThreadPool& pool, const Net& net, int path, const float* x, int64_t N, int64_t H, int64_t W,
             float* y, uint8_t* codes);

}  // namespace int8
}  // namespace sesr
