// The weight-gradient kernels, vectorised over output channels, input channels or pixels.
#include "conv_wgrad.h"
#include "conv_winograd.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "parallel.h"
#include "simd.h"
#include "tiles.h"

namespace sesr {

// dwv[ky][kx][ci][co] (vector partial sums, reduced once at the end) += act(x) window . g tile.
// One cout block of the gradient tile (CBF x TH x TW) is kept small enough to stay in L1.
template <int K, int CBF>
static void wgrad_tile(const float* s, const float* gt, vf* dwv, const Geom& g, int64_t cout_pad, int64_t gcs) {
  const int rows = g.TH + K - 1, cols = g.TW + K - 1, nv = g.TW / VW;
  for (int64_t co0 = 0; co0 < cout_pad; co0 += CBF)
    for (int64_t ci = 0; ci < g.Cin; ++ci)
      for (int ky = 0; ky < K; ++ky) {
        vf acc[K][CBF];
        for (int kx = 0; kx < K; ++kx)
          for (int c = 0; c < CBF; ++c) acc[kx][c] = vf{};
        for (int tr = 0; tr < g.TH; ++tr) {
          const float* sr = s + (ci * rows + tr + ky) * cols;
          const float* gr = gt + co0 * gcs + tr * g.TW;
          for (int v = 0; v < nv; ++v) {
            vf xin[K];
            for (int kx = 0; kx < K; ++kx) xin[kx] = vload(sr + v * VW + kx);
            for (int c = 0; c < CBF; ++c) {
              const vf gv = vload(gr + c * gcs + v * VW);
              for (int kx = 0; kx < K; ++kx) acc[kx][c] += xin[kx] * gv;
            }
          }
        }
        vf* d = dwv + (ky * K * g.Cin + ci) * cout_pad + co0;
        for (int kx = 0; kx < K; ++kx)
          for (int c = 0; c < CBF; ++c) d[kx * g.Cin * cout_pad + c] += acc[kx][c];
      }
}


// Channel-vectorised weight gradient (Cout a multiple of the vector width): the gradient tile is transposed to
// pixel-major vectors of VW output channels, and each pixel's vector is multiplied by broadcast input values of
// KYB kernel rows x K taps x CIB input channels held in registers: one vector load and KYB*K*CIB broadcast-FMAs per
// pixel, no horizontal sums.
template <int K, int KYB, int CIB>
static void wgrad_tile_cv(const float* s, const vf* gp, vf* dwv, const Geom& g, int64_t ncv) {
  const int rows = g.TH + K - 1, cols = g.TW + K - 1;
  for (int ky0 = 0; ky0 < K; ky0 += KYB)
    for (int64_t ci0 = 0; ci0 < g.Cin; ci0 += CIB)
      for (int64_t v = 0; v < ncv; ++v) {
        vf acc[KYB][K][CIB];
        for (int j = 0; j < KYB; ++j)
          for (int kx = 0; kx < K; ++kx)
            for (int i = 0; i < CIB; ++i) acc[j][kx][i] = vf{};
        for (int tr = 0; tr < g.TH; ++tr) {
          const float* row[KYB][CIB];
          for (int j = 0; j < KYB; ++j)
            for (int i = 0; i < CIB; ++i) row[j][i] = s + ((ci0 + i) * rows + tr + ky0 + j) * cols;
          const vf* gr = gp + (int64_t)tr * g.TW * ncv + v;
          for (int c = 0; c < g.TW; ++c) {
            const vf gv = gr[c * ncv];
            for (int j = 0; j < KYB; ++j)
              for (int kx = 0; kx < K; ++kx)
                for (int i = 0; i < CIB; ++i) acc[j][kx][i] += row[j][i][c + kx] * gv;
          }
        }
        for (int j = 0; j < KYB; ++j)
          for (int kx = 0; kx < K; ++kx)
            for (int i = 0; i < CIB; ++i) dwv[(((ky0 + j) * K + kx) * g.Cin + ci0 + i) * ncv + v] += acc[j][kx][i];
      }
}

template <int K, int KYB, int CIB>
static void conv_wgrad_cv(ffi::ThreadPool& pool, const float* x, const InputAct& act, const float* gy, float* dw,
                          float* db, int64_t N, int64_t Cin, int64_t Cout, int64_t H, int64_t W) {
  const int64_t ncv = Cout / VW;
  // tiles of about 48 KiB of transposed gradient
  const Geom g = make_geom(N, Cin, Cout, H, W, K, VW, 128, 48 * 1024, Cout * 4, 0);
  const int64_t tiles = N * g.tiles_y * g.tiles_x, nw = K * K * Cin * ncv;
  const int64_t group_bytes = (nw + ncv) * (int64_t)sizeof(vf);
  const int64_t groups = std::max<int64_t>(1, std::min<int64_t>({tiles, 16, (32 << 20) / group_bytes}));
  std::vector<std::vector<vf>> partial(groups, std::vector<vf>(nw + ncv, vf{}));
  const size_t scratch = (size_t)Cin * (g.TH + K - 1) * (g.TW + K - 1), gscratch = (size_t)g.TH * g.TW * ncv;
  parallel_for(pool, groups, [&](int64_t group) {
    thread_local std::vector<float> s;
    thread_local std::vector<vf> gp;
    if (s.size() < scratch) s.resize(scratch);
    if (gp.size() < gscratch) gp.resize(gscratch);
    vf* pw = partial[group].data();
    vf* pdb = pw + nw;
    for (int64_t t = group * tiles / groups; t < (group + 1) * tiles / groups; ++t) {
      const int64_t n = t / (g.tiles_y * g.tiles_x), rem = t % (g.tiles_y * g.tiles_x);
      const int64_t y0 = (rem / g.tiles_x) * g.TH, x0 = (rem % g.tiles_x) * g.TW;
      fill_tile(x, act, s.data(), g, n, y0, x0);
      const int64_t valid = std::min<int64_t>(g.TW, W - x0);
      float* gpf = reinterpret_cast<float*>(gp.data());
      for (int tr = 0; tr < g.TH; ++tr) {
        if (y0 + tr >= H) { std::memset(gpf + (int64_t)tr * g.TW * Cout, 0, g.TW * Cout * 4); continue; }
        // transpose VW x VW blocks (VW channels x VW pixels) of the planar gradient into pixel-major vectors
        for (int64_t v = 0; v < ncv; ++v)
          for (int64_t c0 = 0; c0 < g.TW; c0 += VW) {
            vf blk[VW];
            const int64_t cnt = std::max<int64_t>(0, std::min<int64_t>(VW, valid - c0));
            for (int i = 0; i < VW; ++i) {
              const float* src = gy + ((n * Cout + v * VW + i) * H + y0 + tr) * W + x0 + c0;
              if (cnt == VW) blk[i] = vload(src);
              else { blk[i] = vf{}; if (cnt) std::memcpy(&blk[i], src, cnt * 4); }
            }
            transpose_block(blk);
            for (int i = 0; i < VW; ++i) gp[((int64_t)tr * g.TW + c0 + i) * ncv + v] = blk[i];
          }
        const vf* rv = gp.data() + (int64_t)tr * g.TW * ncv;
        for (int64_t c = 0; c < valid; ++c)
          for (int64_t v = 0; v < ncv; ++v) pdb[v] += rv[c * ncv + v];
      }
      wgrad_tile_cv<K, KYB, CIB>(s.data(), gp.data(), pw, g, ncv);
    }
  });
  for (int64_t i = 0; i < K * K * Cin; ++i)
    for (int64_t v = 0; v < ncv; ++v) {
      vf acc = vf{};
      for (int64_t gr = 0; gr < groups; ++gr) acc += partial[gr][i * ncv + v];
      vstore(dw + i * Cout + v * VW, acc);
    }
  for (int64_t v = 0; v < ncv; ++v) {
    vf acc = vf{};
    for (int64_t gr = 0; gr < groups; ++gr) acc += partial[gr][nw + v];
    vstore(db + v * VW, acc);
  }
}

// Input-channel-vectorised weight gradient for few output channels (Cin a multiple of VW, Cout <= 8, e.g. SESR's
// last layer, 16 -> s^2): the activated input window is transposed to pixel-major vectors of VW input channels, and
// for each pixel K shifted input vectors are multiplied by broadcast gradient values of COB output channels.
template <int K, int COB>
static void wgrad_tile_ci(const vf* xs, const float* gt, vf* dwv, const Geom& g, int64_t ncv, int64_t cout_pad, int64_t gcs) {
  const int cols = g.TW + K - 1;
  for (int ky = 0; ky < K; ++ky)
    for (int64_t v = 0; v < ncv; ++v)
      for (int64_t co0 = 0; co0 < cout_pad; co0 += COB) {
        vf acc[K][COB];
        for (int kx = 0; kx < K; ++kx)
          for (int c = 0; c < COB; ++c) acc[kx][c] = vf{};
        for (int tr = 0; tr < g.TH; ++tr) {
          const vf* xr = xs + ((int64_t)(tr + ky) * cols) * ncv + v;
          const float* gr = gt + co0 * gcs + (int64_t)tr * g.TW;
          for (int px = 0; px < g.TW; ++px) {
            vf xv[K];
            for (int kx = 0; kx < K; ++kx) xv[kx] = xr[(px + kx) * ncv];
            for (int c = 0; c < COB; ++c) {
              const float gs = gr[c * gcs + px];
              for (int kx = 0; kx < K; ++kx) acc[kx][c] += xv[kx] * gs;
            }
          }
        }
        for (int kx = 0; kx < K; ++kx)
          for (int c = 0; c < COB; ++c) dwv[(((int64_t)ky * K + kx) * cout_pad + co0 + c) * ncv + v] += acc[kx][c];
      }
}

template <int K, int COB>
static void conv_wgrad_ci(ffi::ThreadPool& pool, const float* x, const InputAct& act, const float* gy, float* dw,
                          float* db, int64_t N, int64_t Cin, int64_t Cout, int64_t H, int64_t W) {
  const int64_t ncv = Cin / VW, cout_pad = (Cout + COB - 1) / COB * COB;
  const Geom g = make_geom(N, Cin, Cout, H, W, K, VW, 128, 64 * 1024, Cin * 4, K - 1);
  const int rows = g.TH + K - 1, cols = g.TW + K - 1;
  const int64_t tiles = N * g.tiles_y * g.tiles_x, nw = K * K * cout_pad * ncv;
  const int64_t group_bytes = (nw + cout_pad) * (int64_t)sizeof(vf);
  const int64_t groups = std::max<int64_t>(1, std::min<int64_t>({tiles, 16, (32 << 20) / group_bytes}));
  std::vector<std::vector<vf>> partial(groups, std::vector<vf>(nw + cout_pad, vf{}));
  const int64_t gcs = (int64_t)g.TH * g.TW + 3 * VW;
  const int64_t cols_pad = (cols + VW - 1) / VW * VW;
  const size_t scratch = (size_t)Cin * rows * cols_pad, xscratch = (size_t)rows * cols_pad * ncv, gscratch = (size_t)cout_pad * gcs;
  parallel_for(pool, groups, [&](int64_t group) {
    thread_local std::vector<float> s, gt;
    thread_local std::vector<vf> xs;
    if (s.size() < scratch) s.resize(scratch);
    if (xs.size() < xscratch) xs.resize(xscratch);
    if (gt.size() < gscratch) gt.resize(gscratch);
    vf* pw = partial[group].data();
    float* pdb = reinterpret_cast<float*>(pw + nw);
    for (int64_t t = group * tiles / groups; t < (group + 1) * tiles / groups; ++t) {
      const int64_t n = t / (g.tiles_y * g.tiles_x), rem = t % (g.tiles_y * g.tiles_x);
      const int64_t y0 = (rem / g.tiles_x) * g.TH, x0 = (rem % g.tiles_x) * g.TW;
      fill_tile(x, act, s.data(), g, n, y0, x0);
      // planar window [Cin][rows][cols] -> pixel-major vectors [rows][cols][Cin/VW]
      for (int r = 0; r < rows; ++r)
        for (int64_t v = 0; v < ncv; ++v)
          for (int c0 = 0; c0 < cols; c0 += VW) {
            vf blk[VW];
            const int cnt = std::min(VW, cols - c0);
            for (int i = 0; i < VW; ++i) {
              const float* src = s.data() + ((v * VW + i) * rows + r) * cols + c0;
              if (cnt == VW) blk[i] = vload(src); else { blk[i] = vf{}; std::memcpy(&blk[i], src, cnt * 4); }
            }
            transpose_block(blk);
            for (int i = 0; i < cnt; ++i) xs[((int64_t)r * cols + c0 + i) * ncv + v] = blk[i];
          }
      const int64_t valid = std::min<int64_t>(g.TW, W - x0);
      for (int64_t co = 0; co < cout_pad; ++co)
        for (int tr = 0; tr < g.TH; ++tr) {
          float* dst = gt.data() + co * gcs + tr * g.TW;
          if (co >= Cout || y0 + tr >= H) { std::memset(dst, 0, g.TW * 4); continue; }
          const float* src = gy + ((n * Cout + co) * H + y0 + tr) * W + x0;
          std::memcpy(dst, src, valid * 4);
          if (valid < g.TW) std::memset(dst + valid, 0, (g.TW - valid) * 4);
          float acc = 0.f;
          for (int64_t i = 0; i < valid; ++i) acc += src[i];
          pdb[co] += acc;
        }
      wgrad_tile_ci<K, COB>(xs.data(), gt.data(), pw, g, ncv, cout_pad, gcs);
    }
  });
  for (int64_t k = 0; k < K * K; ++k)
    for (int64_t co = 0; co < Cout; ++co)
      for (int64_t v = 0; v < ncv; ++v) {
        vf acc = vf{};
        for (int64_t gr = 0; gr < groups; ++gr) acc += partial[gr][(k * cout_pad + co) * ncv + v];
        for (int i = 0; i < VW; ++i) dw[(k * Cin + v * VW + i) * Cout + co] = acc[i];
      }
  for (int64_t co = 0; co < Cout; ++co) {
    float acc = 0.f;
    for (int64_t gr = 0; gr < groups; ++gr) acc += reinterpret_cast<const float*>(partial[gr].data() + nw)[co];
    db[co] = acc;
  }
}

template <int K, int CBF>
static void conv_wgrad(ffi::ThreadPool& pool, const float* x, const InputAct& act, const float* gy, float* dw,
                       float* db, int64_t N, int64_t Cin, int64_t Cout, int64_t H, int64_t W) {
  const int64_t cout_pad = (Cout + CBF - 1) / CBF * CBF;
  // rows per tile: one cout block of the gradient tile fits in ~6 KiB
  const Geom g = make_geom(N, Cin, Cout, H, W, K, VW, 128, 6 * 1024, (int64_t)CBF * 4, 0);
  const int64_t tiles = N * g.tiles_y * g.tiles_x, nw = K * K * Cin * cout_pad;
  // Tiles are summed in a fixed number of contiguous groups, each into its own partial sums, and the partials
  // are added in group order: the result does not depend on thread timing or count (bitwise reproducible).
  const int64_t group_bytes = (nw + cout_pad) * (int64_t)sizeof(vf);
  const int64_t groups = std::max<int64_t>(1, std::min<int64_t>({tiles, 16, (32 << 20) / group_bytes}));
  std::vector<std::vector<vf>> partial(groups, std::vector<vf>(nw + cout_pad, vf{}));
  // channel stride of the gradient tile, padded so channels do not alias in a 4 KiB-way cache set
  const int64_t gcs = (int64_t)g.TH * g.TW + 3 * VW;
  const size_t scratch = (size_t)Cin * (g.TH + K - 1) * (g.TW + K - 1), gscratch = (size_t)cout_pad * gcs;
  parallel_for(pool, groups, [&](int64_t group) {
    thread_local std::vector<float> s, gt;
    if (s.size() < scratch) s.resize(scratch);
    if (gt.size() < gscratch) gt.resize(gscratch);
    vf* pw = partial[group].data();
    vf* pdb = pw + nw;
    for (int64_t t = group * tiles / groups; t < (group + 1) * tiles / groups; ++t) {
      const int64_t n = t / (g.tiles_y * g.tiles_x), rem = t % (g.tiles_y * g.tiles_x);
      const int64_t y0 = (rem / g.tiles_x) * g.TH, x0 = (rem % g.tiles_x) * g.TW;
      fill_tile(x, act, s.data(), g, n, y0, x0);
      const int64_t valid = std::min<int64_t>(g.TW, W - x0);
      for (int64_t co = 0; co < cout_pad; ++co)
        for (int tr = 0; tr < g.TH; ++tr) {
          float* dst = gt.data() + co * gcs + tr * g.TW;
          if (co >= Cout || y0 + tr >= H) { std::memset(dst, 0, g.TW * 4); continue; }
          std::memcpy(dst, gy + ((n * Cout + co) * H + y0 + tr) * W + x0, valid * 4);
          if (valid < g.TW) std::memset(dst + valid, 0, (g.TW - valid) * 4);
          vf acc = vf{};
          for (int v = 0; v < g.TW / VW; ++v) acc += vload(dst + v * VW);
          pdb[co] += acc;
        }
      wgrad_tile<K, CBF>(s.data(), gt.data(), pw, g, cout_pad, gcs);
    }
  });
  for (int64_t i = 0; i < K * K * Cin; ++i)
    for (int64_t co = 0; co < Cout; ++co) {
      vf acc = vf{};
      for (int64_t gr = 0; gr < groups; ++gr) acc += partial[gr][i * cout_pad + co];
      dw[i * Cout + co] = hsum(acc);
    }
  for (int64_t co = 0; co < Cout; ++co) {
    vf acc = vf{};
    for (int64_t gr = 0; gr < groups; ++gr) acc += partial[gr][nw + co];
    db[co] = hsum(acc);
  }
}

// The variant by kernel size and channel counts (measured on SESR's shapes).
bool conv_wgrad_dispatch(int64_t K, ffi::ThreadPool& pool, const float* x, const InputAct& act, const float* gy,
                         float* dw, float* db, int64_t N, int64_t Cin, int64_t Cout, int64_t H, int64_t W) {
#define ARGS pool, x, act, gy, dw, db, N, Cin, Cout, H, W
  const bool cv = Cout % VW == 0;  // channel-vectorised over outputs
  const bool ci = Cin % VW == 0 && Cout <= 8;  // channel-vectorised over inputs (few outputs)
  if (K == 3 && winograd_wgrad_applies(Cin, Cout)) conv3x3_winograd_wgrad(ARGS);
  else if (cv && K == 3 && Cin % 8 == 0) conv_wgrad_cv<3, 1, 8>(ARGS);
  else if (cv && K == 5 && Cin == 1) conv_wgrad_cv<5, 5, 1>(ARGS);
  else if (cv && K == 5 && Cin % 4 == 0) conv_wgrad_cv<5, 1, 4>(ARGS);
  else if (ci && K == 5) conv_wgrad_ci<5, 4>(ARGS);
  else if (ci && K == 3) conv_wgrad_ci<3, 4>(ARGS);
  else if (cv && K == 1 && Cin % 16 == 0) conv_wgrad_cv<1, 1, 16>(ARGS);
  else switch (K) {
    case 1: conv_wgrad<1, 16>(ARGS); break;
    case 3: conv_wgrad<3, 8>(ARGS); break;
    case 5: conv_wgrad<5, 4>(ARGS); break;
    case 7: conv_wgrad<7, 3>(ARGS); break;
    default: return false;
  }
#undef ARGS
  return true;
}

}  // namespace sesr
