// Output tiles and their input windows: every kernel copies the zero-padded, activated input window of a tile into
// a per-thread buffer, so its inner loops never test borders and always read unit-stride memory.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "act.h"
#include "simd.h"

namespace sesr {

struct Geom { int64_t N, Cin, Cout, H, W; int K, TH, TW; int64_t tiles_y, tiles_x; bool stream = false; };

// Tile width: a multiple of the pixel block `pbw`, at most `max_tw`; tile height: the largest that keeps about
// `budget` bytes per tile (`bytes_per_row` per column of a row, plus `halo_rows`), at most 32 rows.
static inline Geom make_geom(int64_t N, int64_t Cin, int64_t Cout, int64_t H, int64_t W, int K, int pbw,
                      int64_t max_tw, int64_t budget, int64_t bytes_per_row, int64_t halo_rows) {
  Geom g{N, Cin, Cout, H, W, K, 0, 0, 0, 0};
  const int64_t wr = (W + pbw - 1) / pbw * pbw;
  g.TW = (int)std::min<int64_t>(wr, std::max<int64_t>(pbw, max_tw / pbw * pbw));
  const int64_t th = budget / std::max<int64_t>(bytes_per_row * (g.TW + K - 1), 1) - halo_rows;
  g.TH = (int)std::max<int64_t>(1, std::min<int64_t>({th, 32, H}));
  g.tiles_y = (H + g.TH - 1) / g.TH;
  g.tiles_x = (W + g.TW - 1) / g.TW;
  return g;
}

// Write `cols` values of input row `yy` of channel `c` of image `n`, from column `xs` on, activated and zero-padded
// (columns and rows outside the image are zeros), to `dst`.
static inline void fill_row(const float* x, const InputAct& act, float* dst, const Geom& g, int64_t n, int64_t c,
                            int64_t yy, int64_t xs, int cols) {
  if (yy < 0 || yy >= g.H) { std::memset(dst, 0, cols * 4); return; }
  const int64_t plane = (n * g.Cin + c) * g.H * g.W;
  const float a = act.slope ? act.slope[c] : 1.f;
  const int64_t lo = std::min<int64_t>(cols, std::max<int64_t>(0, -xs));
  const int64_t hi = std::max<int64_t>(lo, std::min<int64_t>(cols, g.W - xs));
  if (lo > 0) std::memset(dst, 0, lo * 4);
  const float* src = x + plane + yy * g.W + xs;
  if (act.slope && act.skip) {
    const float* sk = act.skip + plane + yy * g.W + xs;
    for (int64_t j = lo; j < hi; ++j) dst[j] = (src[j] >= 0.f ? src[j] : a * src[j]) + sk[j];
  } else if (act.slope) {
    for (int64_t j = lo; j < hi; ++j) dst[j] = src[j] >= 0.f ? src[j] : a * src[j];
  } else if (act.skip) {
    const float* sk = act.skip + plane + yy * g.W + xs;
    for (int64_t j = lo; j < hi; ++j) dst[j] = src[j] + sk[j];
  } else if (hi > lo) {
    std::memcpy(dst + lo, src + lo, (hi - lo) * 4);
  }
  if (hi < cols) std::memset(dst + hi, 0, (cols - hi) * 4);
}

// Copy the zero-padded, activated input window [Cin][th+K-1][TW+K-1] (th: TH or more) of the tile whose first
// output is (y0, x0).
static inline void fill_tile(const float* x, const InputAct& act, float* s, const Geom& g, int64_t n, int64_t y0, int64_t x0,
                      int th = 0) {
  const int r = g.K / 2, rows = (th ? th : g.TH) + g.K - 1, cols = g.TW + g.K - 1;
  for (int64_t c = 0; c < g.Cin; ++c)
    for (int i = 0; i < rows; ++i) fill_row(x, act, s + (c * rows + i) * cols, g, n, c, y0 + i - r, x0 - r, cols);
}

}  // namespace sesr
