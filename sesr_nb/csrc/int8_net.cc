// The int8 SESR forward pass: layer by layer, rows split over XLA's thread pool; each row of a conv is computed for
// all output channels into a per-thread row of codes, then finished by its element-wise stage (tables, the long
// residual, or the network output) and written into the next conv's interleaved, zero-point-padded buffer.
// See int8_net.h for the arithmetic and the layout.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")   // the float32 stages must round after every operation, as numpy does
// GCC 12 reports the _mm512_undefined_*() self-initialisations inside its own AVX-512 intrinsics (GCC bug 105593)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "int8_net.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "int8_kernels.h"
#include "parallel.h"

namespace sesr {
namespace int8 {

int32_t available_paths() {
  int32_t paths = 1 << kScalar;
#if defined(__AVX2__)
  if (__builtin_cpu_supports("avx2")) paths |= 1 << kAvx2;
#endif
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni"))
    paths |= 1 << kVnni;
#endif
  return paths;
}

namespace {

// ---------------------------------------------------------------------------------------------------------------
// The element-wise float32 arithmetic of the reference (numpy float32, round half to even).

// clip(round_half_even(t / s) + z, 0, 255): numpy's quant() in float32.
inline uint8_t quant_f32(float t, float s, int z) {
  float q = t / s;
  q = std::min(std::max(q, -1e6f), 1e6f);
  float r = std::floor(q);
  const float d = q - r;
  if (d > 0.5f || (d == 0.5f && std::fmod(r, 2.f) != 0.f)) r += 1.f;
  const int code = static_cast<int>(r) + z;
  return static_cast<uint8_t>(code < 0 ? 0 : code > 255 ? 255 : code);
}
inline float deq_f32(int code, int z, float s) { return static_cast<float>(code - z) * s; }

// ---------------------------------------------------------------------------------------------------------------
// Convolution rows.

struct ConvArgs {
  const uint8_t* in;   // the input buffer
  int64_t plane;       // bytes per group of four channels
  int64_t stride;      // lanes (4 bytes) per buffer row
  const Layer* layer;
  int64_t y;           // output row (image coordinates)
};

// One output row of output channels [oc0, oc0 + OCB), every NB * PX pixels at a time, into rows of codes rb[oc][x].
template <class P, int OCB>
void conv_row(const ConvArgs& a, int oc0, int64_t W, uint8_t* rb, int64_t rbs) {
  constexpr int NB = P::nb(OCB);
  const Layer& L = *a.layer;
  for (int64_t x0 = 0; x0 < W; x0 += NB * P::PX) {
    // Every loop over o and n is unrolled, so that the accumulators are registers, not an array in memory.
    typename P::Acc acc[OCB][NB];
#pragma GCC unroll 16
    for (int o = 0; o < OCB; ++o)
#pragma GCC unroll 4
      for (int n = 0; n < NB; ++n) acc[o][n] = P::init(L.bias[oc0 + o]);
    for (int t = 0; t < L.ntaps; ++t) {
      const int32_t* tap = L.taps + 3 * t;
      const uint8_t* p = a.in + tap[2] * a.plane + ((a.y + tap[0]) * a.stride + x0 + tap[1]) * 4;
      typename P::In xv[NB];
#pragma GCC unroll 4
      for (int n = 0; n < NB; ++n) xv[n] = P::load(p + n * P::PX * 4);
      const int8_t* wt = L.w + (static_cast<int64_t>(t) * L.cout + oc0) * 4;
#pragma GCC unroll 16
      for (int o = 0; o < OCB; ++o) {
        const typename P::Wt w = P::weight(wt + 4 * o);
#pragma GCC unroll 4
        for (int n = 0; n < NB; ++n) acc[o][n] = P::dot(acc[o][n], xv[n], w);
      }
    }
#pragma GCC unroll 16
    for (int o = 0; o < OCB; ++o)
#pragma GCC unroll 4
      for (int n = 0; n < NB; ++n)
        P::requant(acc[o][n], L.mult[oc0 + o], L.z_out, rb + (oc0 + o) * rbs + x0 + n * P::PX);
  }
}

using RowFn = void (*)(const ConvArgs&, int, int64_t, uint8_t*, int64_t);

template <class P, std::size_t... I>
constexpr std::array<RowFn, sizeof...(I)> row_table(std::index_sequence<I...>) {
  return {{&conv_row<P, static_cast<int>(I) + 1>...}};
}

template <class P>
void conv_row_all(const ConvArgs& a, int64_t W, uint8_t* rb, int64_t rbs) {
  static constexpr auto table = row_table<P>(std::make_index_sequence<P::MAX_OC>{});
  for (int oc0 = 0; oc0 < a.layer->cout; oc0 += P::MAX_OC)
    table[std::min(P::MAX_OC, a.layer->cout - oc0) - 1](a, oc0, W, rb, rbs);
}

void conv_row_path(int path, const ConvArgs& a, int64_t W, uint8_t* rb, int64_t rbs) {
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
  if (path == kVnni) return conv_row_all<Vnni>(a, W, rb, rbs);
#endif
#if defined(__AVX2__)
  if (path == kAvx2) return conv_row_all<Avx2>(a, W, rb, rbs);
#endif
  (void)path;
  conv_row_all<Scalar>(a, W, rb, rbs);
}

thread_local std::vector<uint8_t> tl_rows;   // per-thread rows of codes and scratch

uint8_t* sized(std::vector<uint8_t>& v, int64_t bytes) {
  if (static_cast<int64_t>(v.size()) < bytes) v.resize(bytes);
  return v.data();
}

// ---------------------------------------------------------------------------------------------------------------
// Element-wise stages on rows of codes rb[c][x] (x < W; rows are rbs bytes apart).

// out[c][x] = table[c][in[c][x]] (the dequantise-PReLU-quantise stage between two convs).
void table_rows(const uint8_t* in, uint8_t* out, int channels, int64_t W, int64_t rbs, const uint8_t* table, bool simd) {
#if defined(__AVX512VBMI__) && defined(__AVX512BW__)
  if (simd) {
    for (int c = 0; c < channels; ++c) {
      const uint8_t* t = table + 256 * c;
      const __m512i t0 = _mm512_loadu_si512(t), t1 = _mm512_loadu_si512(t + 64);
      const __m512i t2 = _mm512_loadu_si512(t + 128), t3 = _mm512_loadu_si512(t + 192);
      for (int64_t x = 0; x < W; x += 64) {
        const __m512i idx = _mm512_loadu_si512(in + c * rbs + x);
        const __m512i low = _mm512_permutex2var_epi8(t0, idx, t1), high = _mm512_permutex2var_epi8(t2, idx, t3);
        _mm512_storeu_si512(out + c * rbs + x, _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), low, high));
      }
    }
    return;
  }
#endif
  (void)simd;
  for (int c = 0; c < channels; ++c)
    for (int64_t x = 0; x < W; ++x) out[c * rbs + x] = table[256 * c + in[c * rbs + x]];
}

// out[c][x] = quant(prelu(deq(z[c][x])) + deq(h[c][x]), last.in): the long residual entering the last conv.
void residual_rows(const Net& net, const uint8_t* z, const uint8_t* h, int64_t hs, uint8_t* out, int64_t W, int64_t rbs,
                   bool simd) {
#if defined(__AVX512F__) && defined(__AVX512BW__)
  if (simd) {
    const __m512 sz = _mm512_set1_ps(net.s_z), sh = _mm512_set1_ps(net.s_h), sl = _mm512_set1_ps(net.s_last_in);
    const __m512 lim = _mm512_set1_ps(1e6f), nlim = _mm512_set1_ps(-1e6f);
    const __m512i zz = _mm512_set1_epi32(net.z_z), zh = _mm512_set1_epi32(net.z_h), zl = _mm512_set1_epi32(net.z_last_in);
    for (int c = 0; c < net.f; ++c) {
      const __m512 slope = _mm512_set1_ps(net.slope[c]);
      for (int64_t x = 0; x < W; x += 16) {
        const __m512i zc = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(z + c * rbs + x)));
        const __m512i hc = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + c * hs + x)));
        __m512 d = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(zc, zz)), sz);
        d = _mm512_mask_mul_ps(d, _mm512_cmp_ps_mask(d, _mm512_setzero_ps(), _CMP_NGE_UQ), d, slope);
        const __m512 e = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(hc, zh)), sh);
        __m512 q = _mm512_div_ps(_mm512_add_ps(d, e), sl);
        q = _mm512_min_ps(_mm512_max_ps(q, nlim), lim);
        __m512i r = _mm512_cvt_roundps_epi32(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        r = _mm512_max_epi32(_mm512_add_epi32(r, zl), _mm512_setzero_si512());
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + c * rbs + x), _mm512_cvtusepi32_epi8(r));
      }
    }
    return;
  }
#endif
  (void)simd;
  for (int c = 0; c < net.f; ++c) {
    const float slope = net.slope[c];
    for (int64_t x = 0; x < W; ++x) {
      float d = deq_f32(z[c * rbs + x], net.z_z, net.s_z);
      if (!(d >= 0.f)) d = slope * d;
      const float e = deq_f32(h[c * hs + x], net.z_h, net.s_h);
      const float t = d + e;
      out[c * rbs + x] = quant_f32(t, net.s_last_in, net.z_last_in);
    }
  }
}

// Write rows of codes rb[c][x] (c < channels, a multiple of 4) into row y of an interleaved buffer, with its border
// columns set to the zero point z.
void interleave_row(const uint8_t* rb, int channels, int64_t W, int64_t rbs, uint8_t* buf, int64_t plane, int64_t stride,
                    int64_t y, int z, bool simd) {
  const uint32_t zword = 0x01010101u * static_cast<uint8_t>(z);
  for (int g = 0; g < channels / 4; ++g) {
    uint8_t* row = buf + g * plane + (y + PAD) * stride * 4;
    const uint8_t* c0 = rb + 4 * g * rbs;
    for (int j = 0; j < PAD; ++j) std::memcpy(row + 4 * j, &zword, 4);
    for (int64_t j = PAD + W; j < stride; ++j) std::memcpy(row + 4 * j, &zword, 4);
    uint8_t* dst = row + 4 * PAD;
    int64_t x = 0;
#if defined(__AVX512F__) && defined(__AVX512BW__)
    if (simd) {
      for (; x + 64 <= W; x += 64) {
        const __m512i a = _mm512_loadu_si512(c0 + x), b = _mm512_loadu_si512(c0 + rbs + x);
        const __m512i c = _mm512_loadu_si512(c0 + 2 * rbs + x), d = _mm512_loadu_si512(c0 + 3 * rbs + x);
        const __m512i ab_lo = _mm512_unpacklo_epi8(a, b), ab_hi = _mm512_unpackhi_epi8(a, b);
        const __m512i cd_lo = _mm512_unpacklo_epi8(c, d), cd_hi = _mm512_unpackhi_epi8(c, d);
        // q0..q3: in 128-bit lane L, pixels 16L + 0..3, 4..7, 8..11, 12..15
        const __m512i q0 = _mm512_unpacklo_epi16(ab_lo, cd_lo), q1 = _mm512_unpackhi_epi16(ab_lo, cd_lo);
        const __m512i q2 = _mm512_unpacklo_epi16(ab_hi, cd_hi), q3 = _mm512_unpackhi_epi16(ab_hi, cd_hi);
        const __m512i t0 = _mm512_shuffle_i32x4(q0, q1, 0x44), t1 = _mm512_shuffle_i32x4(q2, q3, 0x44);
        const __m512i t2 = _mm512_shuffle_i32x4(q0, q1, 0xEE), t3 = _mm512_shuffle_i32x4(q2, q3, 0xEE);
        _mm512_storeu_si512(dst + 4 * x, _mm512_shuffle_i32x4(t0, t1, 0x88));
        _mm512_storeu_si512(dst + 4 * x + 64, _mm512_shuffle_i32x4(t0, t1, 0xDD));
        _mm512_storeu_si512(dst + 4 * x + 128, _mm512_shuffle_i32x4(t2, t3, 0x88));
        _mm512_storeu_si512(dst + 4 * x + 192, _mm512_shuffle_i32x4(t2, t3, 0xDD));
      }
    }
#endif
    (void)simd;
    for (; x < W; ++x) {
      dst[4 * x] = c0[x];
      dst[4 * x + 1] = c0[rbs + x];
      dst[4 * x + 2] = c0[2 * rbs + x];
      dst[4 * x + 3] = c0[3 * rbs + x];
    }
  }
}

// The input row: codes q = quant(x' - 1/2, first.in) of x' = x (with io: x through the input quantiser), written
// as packed lanes: lane j of the row holds the codes of columns j - PAD - 2 .. j - PAD + 1 (the first conv's taps).
// `line` is scratch of stride + 64 bytes.
void input_row(const Net& net, const float* xr, int64_t W, uint8_t* line, uint8_t* row, int64_t stride, bool simd) {
  std::memset(line, net.z_first_in, stride + 64);
  uint8_t* codes = line + 8;   // codes[j]: column j
  int64_t j = 0;
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VBMI__)
  if (simd) {
    const __m512 half = _mm512_set1_ps(0.5f), s_first = _mm512_set1_ps(net.s_first_in), s_in = _mm512_set1_ps(net.s_input);
    const __m512 lim = _mm512_set1_ps(1e6f), nlim = _mm512_set1_ps(-1e6f);
    const __m512i z_first = _mm512_set1_epi32(net.z_first_in), z_in = _mm512_set1_epi32(net.z_input);
    const __m512i zero = _mm512_setzero_si512(), c255 = _mm512_set1_epi32(255);
    for (; j + 16 <= W; j += 16) {
      __m512 v = _mm512_loadu_ps(xr + j);
      if (net.io) {
        __m512 q = _mm512_min_ps(_mm512_max_ps(_mm512_div_ps(v, s_in), nlim), lim);
        __m512i c = _mm512_add_epi32(_mm512_cvt_roundps_epi32(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), z_in);
        c = _mm512_min_epi32(_mm512_max_epi32(c, zero), c255);
        v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(c, z_in)), s_in);
      }
      __m512 q = _mm512_min_ps(_mm512_max_ps(_mm512_div_ps(_mm512_sub_ps(v, half), s_first), nlim), lim);
      __m512i c = _mm512_add_epi32(_mm512_cvt_roundps_epi32(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), z_first);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(codes + j), _mm512_cvtusepi32_epi8(_mm512_max_epi32(c, zero)));
    }
  }
#endif
  for (; j < W; ++j) {
    float v = xr[j];
    if (net.io) v = deq_f32(quant_f32(v, net.s_input, net.z_input), net.z_input, net.s_input);
    codes[j] = quant_f32(v - 0.5f, net.s_first_in, net.z_first_in);
  }
  const uint8_t* from = line + 8 - PAD - 2;   // lane j: from[j .. j + 3]
  j = 0;
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VBMI__)
  if (simd) {
    const __m512i spread = _mm512_set_epi8(18, 17, 16, 15, 17, 16, 15, 14, 16, 15, 14, 13, 15, 14, 13, 12, 14, 13, 12, 11,
                                           13, 12, 11, 10, 12, 11, 10, 9, 11, 10, 9, 8, 10, 9, 8, 7, 9, 8, 7, 6, 8, 7, 6, 5,
                                           7, 6, 5, 4, 6, 5, 4, 3, 5, 4, 3, 2, 4, 3, 2, 1, 3, 2, 1, 0);
    for (; j + 16 <= stride; j += 16) {
      const __m512i bytes = _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(from + j)));
      _mm512_storeu_si512(row + 4 * j, _mm512_permutexvar_epi8(spread, bytes));
    }
  }
#endif
  for (; j < stride; ++j) std::memcpy(row + 4 * j, from + j, 4);
}

// The output row: v = deq(last) + x (with io: through the residual quantiser), clipped to [0, 1], written to the s
// output rows at `y` (s rows of s * W floats) by depth-to-space. `tmp` holds s^2 rows of rbs floats.
void output_row(const Net& net, const uint8_t* rb, int64_t rbs, const float* xr, int64_t W, float* tmp, float* y,
                bool simd) {
  const int s = net.scale, s2 = s * s;
  int64_t j0 = 0;
#if defined(__AVX512F__) && defined(__AVX512BW__)
  if (simd) {
    const __m512 s_out = _mm512_set1_ps(net.s_out), s_in = _mm512_set1_ps(net.s_input), s_res = _mm512_set1_ps(net.s_res);
    const __m512 lim = _mm512_set1_ps(1e6f), nlim = _mm512_set1_ps(-1e6f), one = _mm512_set1_ps(1.f);
    const __m512i z_out = _mm512_set1_epi32(net.z_out), z_in = _mm512_set1_epi32(net.z_input);
    const __m512i z_res = _mm512_set1_epi32(net.z_res), zero = _mm512_setzero_si512(), c255 = _mm512_set1_epi32(255);
    auto quant_deq = [&](__m512 t, __m512 sc, __m512i z) {
      __m512 q = _mm512_min_ps(_mm512_max_ps(_mm512_div_ps(t, sc), nlim), lim);
      __m512i c = _mm512_add_epi32(_mm512_cvt_roundps_epi32(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), z);
      c = _mm512_min_epi32(_mm512_max_epi32(c, zero), c255);
      return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(c, z)), sc);
    };
    for (; j0 + 16 <= W; j0 += 16) {
      __m512 xv = _mm512_loadu_ps(xr + j0);
      if (net.io) xv = quant_deq(xv, s_in, z_in);
      for (int c = 0; c < s2; ++c) {
        const __m512i code = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rb + c * rbs + j0)));
        __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(code, z_out)), s_out), xv);
        if (net.io) v = quant_deq(v, s_res, z_res);
        _mm512_storeu_ps(tmp + c * rbs + j0, _mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), one));
      }
    }
  }
#endif
  (void)simd;
  for (int64_t j = j0; j < W; ++j) {
    float xq = xr[j];
    if (net.io) xq = deq_f32(quant_f32(xq, net.s_input, net.z_input), net.z_input, net.s_input);
    for (int c = 0; c < s2; ++c) {
      float v = deq_f32(rb[c * rbs + j], net.z_out, net.s_out);
      v = v + xq;
      if (net.io) v = deq_f32(quant_f32(v, net.s_res, net.z_res), net.z_res, net.s_res);
      tmp[c * rbs + j] = std::min(std::max(v, 0.f), 1.f);
    }
  }
  // depth-to-space: output row di, column s * j + dj <- channel c with d2s[c] = (di, dj)
  int chan[16];
  for (int c = 0; c < s2; ++c) chan[net.d2s[2 * c] * s + net.d2s[2 * c + 1]] = c;
  for (int di = 0; di < s; ++di) {
    float* out = y + di * s * W;
    int64_t j = 0;
#if defined(__AVX512F__)
    if (simd && s == 2) {   // two channels interleaved: 16 + 16 values -> 32 consecutive floats
      const float *a = tmp + chan[2 * di] * rbs, *b = tmp + chan[2 * di + 1] * rbs;
      const __m512i first = _mm512_set_epi32(23, 22, 21, 20, 7, 6, 5, 4, 19, 18, 17, 16, 3, 2, 1, 0);
      const __m512i second = _mm512_set_epi32(31, 30, 29, 28, 15, 14, 13, 12, 27, 26, 25, 24, 11, 10, 9, 8);
      for (; j + 16 <= W; j += 16) {
        const __m512 va = _mm512_loadu_ps(a + j), vb = _mm512_loadu_ps(b + j);
        const __m512 lo = _mm512_unpacklo_ps(va, vb), hi = _mm512_unpackhi_ps(va, vb);
        _mm512_storeu_ps(out + 2 * j, _mm512_permutex2var_ps(lo, first, hi));
        _mm512_storeu_ps(out + 2 * j + 16, _mm512_permutex2var_ps(lo, second, hi));
      }
    }
#endif
    for (; j < W; ++j)
      for (int dj = 0; dj < s; ++dj) out[s * j + dj] = tmp[chan[di * s + dj] * rbs + j];
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Buffers: reused across calls (a 1080p frame needs ~60 MB; allocating them per call costs page faults).

struct Workspace {
  std::vector<uint8_t> packed, a, b, h;
};
std::mutex workspace_mutex;
std::vector<std::unique_ptr<Workspace>> idle_workspaces;

struct WorkspaceLease {
  std::unique_ptr<Workspace> ws;
  WorkspaceLease() {
    std::lock_guard<std::mutex> lock(workspace_mutex);
    if (!idle_workspaces.empty()) { ws = std::move(idle_workspaces.back()); idle_workspaces.pop_back(); }
    else ws = std::make_unique<Workspace>();
  }
  ~WorkspaceLease() {
    std::lock_guard<std::mutex> lock(workspace_mutex);
    if (idle_workspaces.size() < 2) idle_workspaces.push_back(std::move(ws));
  }
};

void fill_rows(uint8_t* buf, int groups, int64_t plane, int64_t stride, int64_t first_row, int64_t rows, int z) {
  for (int g = 0; g < groups; ++g) std::memset(buf + g * plane + first_row * stride * 4, z, rows * stride * 4);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------

void forward(ffi::ThreadPool& pool, const Net& net, int path, const float* x, int64_t N, int64_t H, int64_t W,
             float* y, uint8_t* codes) {
  const int s = net.scale, s2 = s * s, f = net.f, nconv = net.m + 2;
  const int64_t stride = (W + 63) / 64 * 64 + 16, HP = H + 2 * PAD, plane = HP * stride * 4;
  const int64_t rbs = (W + 63) / 64 * 64 + 64;   // bytes per row of codes
  const int cmax = std::max(f, s2);
  const bool simd = path == kVnni;
  WorkspaceLease lease;
  Workspace& ws = *lease.ws;
  uint8_t* packed = sized(ws.packed, plane);
  uint8_t* bufs[2] = {sized(ws.a, plane * (f / 4)), sized(ws.b, plane * (f / 4))};
  uint8_t* hres = sized(ws.h, static_cast<int64_t>(f) * H * W + 64);   // + 64: vector reads past the last row
  const int64_t threads = std::max<int64_t>(1, pool.num_threads());
  const int64_t band = std::max<int64_t>(1, std::min<int64_t>(8, H / (4 * threads)));
  const int64_t tasks = (H + band - 1) / band;

  for (int64_t n = 0; n < N; ++n) {
    const float* xn = x + n * H * W;
    // The input: q = quant(x' - 1/2, first.in), x' = x (or, with io, x through the input quantiser); lane j of the
    // packed row holds the codes of columns j - PAD - 2 .. j - PAD + 1.
    fill_rows(packed, 1, plane, stride, 0, PAD, net.z_first_in);
    fill_rows(packed, 1, plane, stride, PAD + H, PAD, net.z_first_in);
    parallel_for(pool, tasks, [&](int64_t task) {
      uint8_t* line = sized(tl_rows, stride + 64);
      for (int64_t r = task * band; r < std::min(H, (task + 1) * band); ++r)
        input_row(net, xn + r * W, W, line, packed + (r + PAD) * stride * 4, stride, simd);
    });

    const uint8_t* in = packed;
    for (int li = 0; li < nconv; ++li) {
      const Layer& layer = net.layers[li];
      const bool last = li == nconv - 1;
      uint8_t* out = last ? nullptr : bufs[li % 2];
      const int z_next = last ? 0 : net.layers[li + 1].z_in;
      if (!last) {
        fill_rows(out, f / 4, plane, stride, 0, PAD, z_next);
        fill_rows(out, f / 4, plane, stride, PAD + H, PAD, z_next);
      }
      parallel_for(pool, tasks, [&](int64_t task) {
        uint8_t* rb = sized(tl_rows, 2 * cmax * rbs + 4 * s2 * rbs);   // codes, codes, and s^2 rows of floats
        uint8_t* rb2 = rb + cmax * rbs;
        for (int64_t r = task * band; r < std::min(H, (task + 1) * band); ++r) {
          conv_row_path(path, ConvArgs{in, plane, stride, &layer, r}, W, rb, rbs);
          if (li == 0) {                         // first: keep h0's codes, then block0's input
            for (int c = 0; c < f; ++c) std::memcpy(hres + (c * H + r) * W, rb + c * rbs, W);
            table_rows(rb, rb2, f, W, rbs, net.luts, simd);
            interleave_row(rb2, f, W, rbs, out, plane, stride, r, z_next, simd);
          } else if (li < net.m) {                // block li-1 -> block li: PReLU between them
            table_rows(rb, rb2, f, W, rbs, net.luts + static_cast<int64_t>(li) * f * 256, simd);
            interleave_row(rb2, f, W, rbs, out, plane, stride, r, z_next, simd);
          } else if (!last) {                    // block m-1 -> last: PReLU plus the long residual
            residual_rows(net, rb, hres + r * W, H * W, rb2, W, rbs, simd);
            interleave_row(rb2, f, W, rbs, out, plane, stride, r, z_next, simd);
          } else {                               // last: + x, depth-to-space, clip
            if (codes)
              for (int c = 0; c < s2; ++c) std::memcpy(codes + ((n * s2 + c) * H + r) * W, rb + c * rbs, W);
            output_row(net, rb, rbs, xn + r * W, W, reinterpret_cast<float*>(rb2), y + (n * H + r) * s * s * W, simd);
          }
        }
      });
      in = out;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The packed network (written by sesr_nb.int8.pack_network):
//   ints   : MAGIC, m, f, scale, io, nconv, then per conv (k, cin, cout, groups, ntaps, z_in, z_out), then the zero
//            points (first.in, input, residual, first.out, block{m-1}.out, last.in, last.out), the depth-to-space
//            offsets [s^2][2], then the taps of every conv [ntaps][3];
//   floats : the scales (first.in, input, residual, first.out, block{m-1}.out, last.in, last.out), prelu{m-1}'s
//            slopes [f], then every conv's multipliers [cout];
//   weights: every conv's [ntaps][cout][4]; bias: every conv's [cout]; tables: [m][f][256].

std::string parse_net(const int32_t* ip, int64_t n_ip, const float* fp, int64_t n_fp, const int8_t* w, int64_t n_w,
                      const int32_t* bias, int64_t n_bias, const uint8_t* luts, int64_t n_luts, Net& net) {
  if (n_ip < 6 || ip[0] != MAGIC) return "the packed network does not start with the int8 SESR header";
  net.m = ip[1]; net.f = ip[2]; net.scale = ip[3]; net.io = ip[4];
  const int nconv = ip[5];
  if (net.m < 1 || nconv != net.m + 2 || nconv > 64) return "the packed network has an unsupported number of convolutions";
  if (net.f < 4 || net.f % 4 || net.f > 1024) return "the feature channels must be a positive multiple of 4";
  if (net.scale < 2 || net.scale > 4) return "the scale must be 2, 3 or 4";
  const int s2 = net.scale * net.scale;
  int64_t pos = 6;
  const int64_t header_end = pos + 7 * nconv + 7 + 2 * s2;
  if (n_ip < header_end) return "the packed network's integer header is truncated";
  int64_t tap_pos = header_end, w_pos = 0, b_pos = 0, f_pos = 7 + net.f;
  for (int i = 0; i < nconv; ++i, pos += 7) {
    Layer& L = net.layers[i];
    L.k = ip[pos]; L.cin = ip[pos + 1]; L.cout = ip[pos + 2]; L.groups = ip[pos + 3]; L.ntaps = ip[pos + 4];
    L.z_in = ip[pos + 5]; L.z_out = ip[pos + 6];
    const int want_in = i == 0 ? 1 : net.f, want_out = i == nconv - 1 ? s2 : net.f;
    if (L.cin != want_in || L.cout != want_out) return "a convolution of the packed network has the wrong channel counts";
    if (L.groups != (i == 0 ? 1 : net.f / 4) || L.ntaps < 1 || L.ntaps > 4096) return "a convolution has bad taps";
    if (L.z_in < 0 || L.z_in > 255 || L.z_out < 0 || L.z_out > 255) return "a zero point is outside 0..255";
    if (tap_pos + 3 * L.ntaps > n_ip) return "the packed network's taps are truncated";
    L.taps = ip + tap_pos;
    for (int t = 0; t < L.ntaps; ++t) {
      const int32_t dy = L.taps[3 * t], dx = L.taps[3 * t + 1], g = L.taps[3 * t + 2];
      if (dy < 0 || dy > 2 * PAD || dx < 0 || dx > 2 * PAD + 4 || g < 0 || g >= L.groups)
        return "a tap of the packed network lies outside the padded input";
    }
    tap_pos += 3 * L.ntaps;
    L.w = w + w_pos; w_pos += static_cast<int64_t>(L.ntaps) * L.cout * 4;
    L.bias = bias + b_pos; b_pos += L.cout;
    L.mult = fp + f_pos; f_pos += L.cout;
  }
  if (tap_pos != n_ip) return "the packed network's integer header has the wrong length";
  if (w_pos != n_w) return "the packed weights have the wrong length";
  if (b_pos != n_bias) return "the packed biases have the wrong length";
  if (f_pos != n_fp) return "the packed float parameters have the wrong length";
  if (n_luts != static_cast<int64_t>(net.m) * net.f * 256) return "the packed tables have the wrong length";
  const int32_t* z = ip + 6 + 7 * nconv;
  for (int i = 0; i < 7; ++i) if (z[i] < 0 || z[i] > 255) return "a zero point is outside 0..255";
  net.z_first_in = z[0]; net.z_input = z[1]; net.z_res = z[2]; net.z_h = z[3]; net.z_z = z[4]; net.z_last_in = z[5];
  net.z_out = z[6];
  if (net.z_first_in != net.layers[0].z_in || net.z_last_in != net.layers[nconv - 1].z_in ||
      net.z_out != net.layers[nconv - 1].z_out)
    return "the packed network's zero points disagree";
  net.d2s = z + 7;
  for (int c = 0; c < s2; ++c)
    if (net.d2s[2 * c] < 0 || net.d2s[2 * c] >= net.scale || net.d2s[2 * c + 1] < 0 || net.d2s[2 * c + 1] >= net.scale)
      return "a depth-to-space offset is outside the output cell";
  net.s_first_in = fp[0]; net.s_input = fp[1]; net.s_res = fp[2]; net.s_h = fp[3]; net.s_z = fp[4];
  net.s_last_in = fp[5]; net.s_out = fp[6];
  net.slope = fp + 7;
  net.luts = luts;
  return "";
}

}  // namespace int8
}  // namespace sesr
