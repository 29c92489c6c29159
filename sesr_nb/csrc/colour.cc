// The colour merge of the upscaler (sesr_nb.infer, "Colour at network speed"): for a band of HR rows, the
// MATLAB-bicubic Cb/Cr (rows pass, then columns pass, as sesr_nb.color.resize_axis does them) and the BT.601
// conversion back to 8-bit RGB, fused in one pass per row. Called through ctypes (not XLA): plain C symbols.
//
// Every value is computed with the same IEEE double operations, in the same order, as the numpy reference
// (sesr_nb.color.model_y_to_y255, resize_axis, ycbcr_to_rgb, quantize_uint8), so the bytes are identical.
// That needs multiply-adds NOT to be fused into FMAs: contraction is switched off for this file.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>


// The columns pass of one row, on the interleaved (Cb, Cr) line: both planes at once, two lanes doing the reference's
// operations (acc = acc + value * weight, taps in order, from 0). Not auto-vectorised across outputs: that makes
// gathers, slower than these loads on the CPUs measured.
#if defined(__GNUC__) && !defined(__clang__)
#define SESR_NO_VECTORIZE __attribute__((optimize("no-tree-vectorize")))
#else
#define SESR_NO_VECTORIZE
#endif
typedef double vd2 __attribute__((vector_size(16)));
template <int T> SESR_NO_VECTORIZE
static void columns2(const double* line, const double* w, const int64_t* idx, int64_t n, int64_t taps, double* cb, double* cr) {
  const int64_t k = T > 0 ? T : taps;
  for (int64_t o = 0; o < n; ++o) {
    vd2 acc = {0.0, 0.0};
    for (int64_t t = 0; t < k; ++t) {
      vd2 p;
      std::memcpy(&p, line + 2 * idx[o * k + t], sizeof(p));
      acc = acc + p * w[o * k + t];
    }
    cb[o] = acc[0];
    cr[o] = acc[1];
  }
}

// Branch-free MATLAB uint8(v): round half away from zero, saturate (the same values as round_half_away + saturate).
static inline double quantized(double v) {
  const double r = std::copysign(std::floor(std::fabs(v) + 0.5), v);
  return std::fmin(std::fmax(r, 0.0), 255.0);
}

// The same value as quantized(v), as an integer, in a form that vectorises: for v + 0.5 in [0, 255] (the double sum,
// rounded exactly as the reference rounds fabs(v) + 0.5 for v >= 0), truncation is floor; below, the reference gives a
// value <= 0 that saturates to 0 (NaN gives 0, as fmax(NaN, 0) = 0 does in quantized); above, it saturates to 255.
// (Comparisons rather than std::fmax/fmin, which GCC calls in libm instead of vectorising; NaN fails `x > 0`.)
static inline int quantized_int(double v) {
  double x = v + 0.5;
  x = x > 0.0 ? x : 0.0;
  x = x < 255.0 ? x : 255.0;
  return static_cast<int>(x);
}

// quantized_int on QW doubles at once, as bytes (each lane: the same operations as quantized_int).
constexpr int QW = 8;  // pixels per step
typedef double vdq __attribute__((vector_size(8 * QW)));
typedef float vfq __attribute__((vector_size(4 * QW)));
typedef int32_t viq __attribute__((vector_size(4 * QW)));
typedef uint8_t vbq __attribute__((vector_size(QW)));
static inline vbq quantized_q(vdq v) {
  const vdq zero = vdq{} + 0.0, top = vdq{} + 255.0;
  vdq x = v + 0.5;
  x = x > zero ? x : zero;
  x = x < top ? x : top;
  return __builtin_convertvector(__builtin_convertvector(x, viq), vbq);
}

// The 8-bit level of a network output y in [0, 1]: model_y_to_y255 = clip(round_half_away(y * 255), 0, 255), as an
// integer (y * 255 is formed in double, as numpy does after its cast to float64).
static inline int y_level(float y) { return quantized_int(static_cast<double>(y) * 255.0); }

// RGB rows [0, rows) of a band: y (rows x width_hr floats, row stride y_stride elements) is the network output;
// chroma holds LR Cb/Cr rows (n x width_lr x 2 doubles, C order: those the band needs); row_w/row_i (rows x row_taps)
// are the bicubic weights of these HR rows and the rows of `chroma` they read, col_w/col_i (width_hr x col_taps) those
// of the columns; m is RGB_FROM_YCBCR (3x3, C order). Writes out[r * out_stride + o * out_pixel + k], k = 0..2.
extern "C" void sesr_colour_rows(int64_t rows, int64_t width_hr, int64_t width_lr, const float* y, int64_t y_stride,
                                 const double* chroma, const double* row_w, const int64_t* row_i, int64_t row_taps,
                                 const double* col_w, const int64_t* col_i, int64_t col_taps, const double* m,
                                 uint8_t* out, int64_t out_stride, int64_t out_pixel) {
  std::vector<double> line(2 * width_lr), cb(width_hr), cr(width_hr);
  std::vector<uint8_t> rgb(3 * width_hr);
  for (int64_t r = 0; r < rows; ++r) {
    // rows pass: line = sum_t plane[row_i[r, t]] * row_w[r, t], accumulated from 0 in tap order
    for (int64_t x = 0; x < 2 * width_lr; ++x) line[x] = 0.0;
    for (int64_t t = 0; t < row_taps; ++t) {
      const double w = row_w[r * row_taps + t];
      const double* src = chroma + row_i[r * row_taps + t] * 2 * width_lr;
      for (int64_t x = 0; x < 2 * width_lr; ++x) line[x] = line[x] + src[x] * w;
    }
    // columns pass, on the interleaved (Cb, Cr) line: both planes at once
    switch (col_taps) {
      case 4: columns2<4>(line.data(), col_w, col_i, width_hr, col_taps, cb.data(), cr.data()); break;
      case 5: columns2<5>(line.data(), col_w, col_i, width_hr, col_taps, cb.data(), cr.data()); break;
      case 6: columns2<6>(line.data(), col_w, col_i, width_hr, col_taps, cb.data(), cr.data()); break;
      default: columns2<0>(line.data(), col_w, col_i, width_hr, col_taps, cb.data(), cr.data());
    }
    // ycbcr_to_rgb of (y255, cb, cr), then quantize_uint8(rgb * 255): QW pixels per step (the same operations in
    // every lane; GCC/Clang vector extensions, as the compiler does not vectorise this loop by itself), then the rest.
    const float* yr = y + r * y_stride;
    const double m0 = m[0], m1 = m[1], m2 = m[2], m3 = m[3], m4 = m[4], m5 = m[5], m6 = m[6], m7 = m[7], m8 = m[8];
    int64_t o = 0;
    for (; o + QW <= width_hr; o += QW) {
      vfq yf; vdq cbq, crq;
      std::memcpy(&yf, yr + o, sizeof(yf)); std::memcpy(&cbq, cb.data() + o, sizeof(cbq)); std::memcpy(&crq, cr.data() + o, sizeof(crq));
      const vdq y255 = __builtin_convertvector(quantized_q(__builtin_convertvector(yf, vdq) * 255.0), vdq);
      const vdq x0 = y255 - 16.0, x1 = cbq - 128.0, x2 = crq - 128.0;
      const vbq q0 = quantized_q((x0 * m0 + x1 * m1 + x2 * m2) * 255.0);
      const vbq q1 = quantized_q((x0 * m3 + x1 * m4 + x2 * m5) * 255.0);
      const vbq q2 = quantized_q((x0 * m6 + x1 * m7 + x2 * m8) * 255.0);
      std::memcpy(rgb.data() + o, &q0, QW); std::memcpy(rgb.data() + width_hr + o, &q1, QW);
      std::memcpy(rgb.data() + 2 * width_hr + o, &q2, QW);
    }
    for (; o < width_hr; ++o) {
      const double y255 = static_cast<double>(y_level(yr[o]));
      const double x0 = y255 - 16.0, x1 = cb[o] - 128.0, x2 = cr[o] - 128.0;
      rgb[o] = static_cast<uint8_t>(quantized_int((x0 * m0 + x1 * m1 + x2 * m2) * 255.0));
      rgb[width_hr + o] = static_cast<uint8_t>(quantized_int((x0 * m3 + x1 * m4 + x2 * m5) * 255.0));
      rgb[2 * width_hr + o] = static_cast<uint8_t>(quantized_int((x0 * m6 + x1 * m7 + x2 * m8) * 255.0));
    }
    uint8_t* dst = out + r * out_stride;
    const uint8_t *pr = rgb.data(), *pg = pr + width_hr, *pb = pg + width_hr;
    if (out_pixel == 3) {
      for (int64_t o = 0; o < width_hr; ++o) { dst[3 * o] = pr[o]; dst[3 * o + 1] = pg[o]; dst[3 * o + 2] = pb[o]; }
    } else {
      for (int64_t o = 0; o < width_hr; ++o) {
        dst[o * out_pixel] = pr[o]; dst[o * out_pixel + 1] = pg[o]; dst[o * out_pixel + 2] = pb[o];
      }
    }
  }
}

// Gray rows: out = quantize_uint8((y255 - 16) * gain) with gain = 255 / 219 (sesr_nb.infer's gray path). y255 takes
// only the 256 levels 0..255, so the double expression is evaluated once per level (the same operations as the
// reference) into a table, and each pixel is one exact integer rounding and a table look-up.
extern "C" void sesr_gray_rows(int64_t rows, int64_t width, const float* y, int64_t y_stride, double gain,
                               uint8_t* out, int64_t out_stride, int64_t out_pixel) {
  uint8_t table[256];
  for (int k = 0; k < 256; ++k) table[k] = static_cast<uint8_t>(quantized((static_cast<double>(k) - 16.0) * gain));
  for (int64_t r = 0; r < rows; ++r) {
    const float* yr = y + r * y_stride;
    uint8_t* dst = out + r * out_stride;
    if (out_pixel == 1) {
      for (int64_t o = 0; o < width; ++o) dst[o] = table[y_level(yr[o])];
    } else {
      for (int64_t o = 0; o < width; ++o) dst[o * out_pixel] = table[y_level(yr[o])];
    }
  }
}
