// The forward kernel (also the input gradient, with flipped weights and a GradAct epilogue).
#include "conv_fwd.h"
#include "conv_winograd.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "parallel.h"
#include "simd.h"
#include "tiles.h"

namespace sesr {

// Register block: CB output channels x RB output rows x PB pixel vectors. Each loaded input vector feeds every
// output row of the block it reaches (one per kernel row), so an input row is read once for RB output rows.
template <int K, int CB, int RB, int PB>
static void fwd_tile(const float* s, const float* wp, const float* bias, float* y, const Geom& g,
                     int64_t n, int64_t y0, int64_t x0, const GradAct& ga) {
  const int th = (g.TH + RB - 1) / RB * RB, rows = th + K - 1, cols = g.TW + K - 1;
  const int64_t ncb = (g.Cout + CB - 1) / CB;
  for (int64_t cb = 0; cb < ncb; ++cb) {
    const float* wb = wp + cb * g.Cin * K * K * CB;
    const int64_t co0 = cb * CB;
    const int nco = (int)std::min<int64_t>(CB, g.Cout - co0);
    for (int tr = 0; tr < g.TH && y0 + tr < g.H; tr += RB) {
      for (int pc = 0; pc < g.TW; pc += PB * VW) {
        vf acc[CB][RB][PB];
        for (int c = 0; c < CB; ++c) {
          const float bv = (bias && c < nco) ? bias[co0 + c] : 0.f;
          for (int j = 0; j < RB; ++j)
            for (int p = 0; p < PB; ++p) acc[c][j][p] = vsplat(bv);
        }
        const float* sp = s + tr * cols + pc;
        for (int64_t ci = 0; ci < g.Cin; ++ci) {
          const float* sc = sp + ci * rows * cols;
          const float* wc = wb + ci * K * K * CB;
          for (int i = 0; i < RB + K - 1; ++i)
            for (int kx = 0; kx < K; ++kx) {
              vf xin[PB];
              for (int p = 0; p < PB; ++p) xin[p] = vload(sc + i * cols + kx + p * VW);
              for (int j = 0; j < RB; ++j) {
                const int ky = i - j;
                if (ky < 0 || ky >= K) continue;
                const float* wk = wc + (ky * K + kx) * CB;
                for (int c = 0; c < CB; ++c) {
                  const float wv = wk[c];
                  for (int p = 0; p < PB; ++p) acc[c][j][p] += xin[p] * wv;
                }
              }
            }
        }
        for (int j = 0; j < RB; ++j) {
          if (tr + j >= g.TH || y0 + tr + j >= g.H) break;
          for (int c = 0; c < nco; ++c) {
            const int64_t row = ((n * g.Cout + co0 + c) * g.H + y0 + tr + j) * g.W;
            for (int p = 0; p < PB; ++p) {
              const int64_t xx = x0 + pc + p * VW;
              if (xx >= g.W) break;
              const int64_t valid = std::min<int64_t>(VW, g.W - xx);
              vf out = acc[c][j][p];
              if (ga.slope) {
                vf z = vf{};
                if (valid == VW) z = vload(ga.z + row + xx); else std::memcpy(&z, ga.z + row + xx, valid * 4);
                if (ga.draw) {
                  if (valid == VW) vstore(ga.draw + row + xx, out);
                  else { float tmp[VW]; vstore(tmp, out); std::memcpy(ga.draw + row + xx, tmp, valid * 4); }
                }
                const vf neg = z < 0.f ? vsplat(1.f) : vsplat(0.f);
                ga.dslope[co0 + c] += out * z * neg;
                out = out * (z >= 0.f ? vsplat(1.f) : vsplat(ga.slope[co0 + c]));
              }
              if (valid == VW) {
                if (g.stream && !(reinterpret_cast<uintptr_t>(y + row + xx) & (VW * 4 - 1))) vstream(y + row + xx, out);
                else vstore(y + row + xx, out);
              }
              else { float tmp[VW]; vstore(tmp, out); std::memcpy(y + row + xx, tmp, valid * 4); }
            }
          }
        }
      }
    }
  }
}

// y = conv(act(x), w) + b; with `ga.slope` set, y is the gradient masked by prelu'(ga.z) and the slope gradient is
// summed into `dslope_out` (one partial per tile, added in tile order).
template <int K, int CB, int RB, int PB>
static void conv_fwd(ffi::ThreadPool& pool, const float* x, const InputAct& act, const float* w, const float* b,
                     float* y, int64_t N, int64_t Cin, int64_t Cout, int64_t H, int64_t W, GradAct ga,
                     float* dslope_out) {
  Geom g = make_geom(N, Cin, Cout, H, W, K, PB * VW, 128, 96 * 1024, Cin * 4, K - 1);
  // Wide many-channel inputs (a 16->4 5x5 layer on a 1080p frame) would get 7-row tiles: 4 halo rows per 7 and a
  // row block half wasted. At least 4(K-1) rows, in whole row blocks: that layer 68 -> 57 ms (training shapes unchanged).
  g.TH = (int)std::min<int64_t>(H, std::max(g.TH, 4 * (K - 1)));
  if (g.TH > RB && g.TH < H) g.TH = g.TH / RB * RB;
  g.tiles_y = (H + g.TH - 1) / g.TH;
  g.stream = !ga.slope && N * Cout * H * W * 4 > STREAM_BYTES;
  const int64_t ncb = (Cout + CB - 1) / CB, tiles = N * g.tiles_y * g.tiles_x;
  // weights repacked to [cout block][cin][ky][kx][CB], the last block zero-padded
  std::vector<float> wp(ncb * Cin * K * K * CB, 0.f);
  for (int ky = 0; ky < K; ++ky)
    for (int kx = 0; kx < K; ++kx)
      for (int64_t ci = 0; ci < Cin; ++ci)
        for (int64_t co = 0; co < Cout; ++co)
          wp[(((co / CB) * Cin + ci) * K * K + ky * K + kx) * CB + co % CB] = w[((ky * K + kx) * Cin + ci) * Cout + co];
  std::vector<vf> slope_partials(ga.slope ? tiles * Cout : 0, vf{});
  const int th = (g.TH + RB - 1) / RB * RB;  // the window covers whole row blocks (extra rows are zero)
  const size_t scratch = (size_t)Cin * (th + K - 1) * (g.TW + K - 1);
  parallel_for(pool, tiles, [&](int64_t t) {
    thread_local std::vector<float> s;
    if (s.size() < scratch) s.resize(scratch);
    const int64_t n = t / (g.tiles_y * g.tiles_x), rem = t % (g.tiles_y * g.tiles_x);
    const int64_t y0 = (rem / g.tiles_x) * g.TH, x0 = (rem % g.tiles_x) * g.TW;
    GradAct tga = ga;
    if (ga.slope) tga.dslope = slope_partials.data() + t * Cout;
    fill_tile(x, act, s.data(), g, n, y0, x0, th);
    fwd_tile<K, CB, RB, PB>(s.data(), wp.data(), b, y, g, n, y0, x0, tga);
    if (g.stream) stream_fence();
  });
  if (ga.slope) sum_tile_partials(slope_partials.data(), tiles, Cout, dslope_out);
}

template <int K, int CB, int RB, int PB>
static bool fwd(ffi::ThreadPool& pool, const float* x, const InputAct& act, const float* w, const float* b, float* y,
                int64_t N, int64_t Cin, int64_t Cout, int64_t H, int64_t W, const GradAct& ga, float* dslope) {
  conv_fwd<K, CB, RB, PB>(pool, x, act, w, b, y, N, Cin, Cout, H, W, ga, dslope);
  return true;
}

// Register blocks by kernel size and number of output channels (at most 24 accumulators).
bool conv_fwd_dispatch(int64_t K, ffi::ThreadPool& pool, const float* x, const InputAct& act, const float* w,
                       const float* b, float* y, int64_t N, int64_t Cin, int64_t Cout, int64_t H, int64_t W,
                       const GradAct& ga, float* dslope) {
#define ARGS pool, x, act, w, b, y, N, Cin, Cout, H, W, ga, dslope
  // measured on SESR's shapes: row blocks pay off when few output channels give each loaded vector little reuse;
  // a single-channel input (the first layer) does best with two pixel vectors per register block
  switch (K) {
    case 1: return Cout <= 4 ? fwd<1, 4, 1, 4>(ARGS) : fwd<1, 8, 1, 2>(ARGS);
    case 3:
      if (winograd_applies(Cin, Cout)) {
        conv3x3_winograd(pool, x, act, w, b, y, N, Cin, Cout, H, W, ga, dslope);
        return true;
      }
      return Cout <= 4 ? fwd<3, 4, 2, 2>(ARGS) : fwd<3, 8, 1, 2>(ARGS);
    case 5: return Cout <= 4 ? fwd<5, 4, 2, 2>(ARGS) : fwd<5, 8, 1, 2>(ARGS);
    case 7: return Cout <= 4 ? fwd<7, 4, 2, 2>(ARGS) : fwd<7, 8, 2, 1>(ARGS);
  }
#undef ARGS
  return false;
}

}  // namespace sesr
