//! The BERT encoder of all-MiniLM-L6-v2 written out on `ndarray`, with the matrix products in
//! a statically linked, single-threaded, reentrant BLIS (`cblas_sgemm`, through ndarray's safe
//! `general_mat_mul`): embeddings, six post-norm layers of self-attention and exact-GELU
//! feed-forward, then the mean pooling and L2 normalisation sentence-transformers applies.
//!
//! Why not candle: on this project's 2-core machines candle's `gemm` kernels reach about 40
//! GFLOP/s where OpenBLAS reaches 165 on the same products, and candle embedded 11.7 passages/s
//! against PyTorch's 38.4 (see `benches/docs.rs`); this encoder embeds as fast on BLIS as on
//! OpenBLAS (54 passages/s, release build). Why BLIS: see `build.rs`. Why single-threaded
//! BLAS: the caller runs one batch per core (see `Embedder::embed`), so every step of a batch,
//! products and element-wise alike, stays on one thread and no core ever spins waiting for
//! another. The element-wise steps (GELU, softmax, LayerNorm) run through `pulp`, compiled for
//! AVX2 and FMA beside the baseline and chosen at start by the CPU: on real passages this took
//! them from a third of the time to a tenth (profiled with `perf`, 1,247 passages of the
//! Flask and Starlette docs), leaving BLIS's kernels about 85 % of it. Intermediates are
//! allocated once per batch, not per layer (fresh ones cost 4 % in page clearing).

use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, Axis, Slice};
use pulp::Arch;
use safetensors::SafeTensors;
use std::ops::Range;

/// The model's shape, from its `config.json`.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
pub struct BertConfig {
    /// Width of every token vector.
    pub hidden_size: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// Layers.
    pub num_hidden_layers: usize,
    /// Longest input the position table covers.
    pub max_position_embeddings: usize,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
}

#[derive(Debug)]
struct Linear {
    /// Transposed: `[in, out]`.
    weight_t: Array2<f32>,
    bias: Array1<f32>,
}

impl Linear {
    /// `out = x · Wᵀ + b`, the bias broadcast into `out` (whatever it held, of the right shape)
    /// before the product accumulates on it.
    fn forward_into(&self, x: &ArrayView2<'_, f32>, out: &mut Array2<f32>) {
        for mut row in out.rows_mut() {
            row.assign(&self.bias);
        }
        general_mat_mul(1.0, x, &self.weight_t, 1.0, out);
    }

    /// Columns of the output.
    fn width(&self) -> usize {
        self.bias.len()
    }
}

#[derive(Debug)]
struct Norm {
    weight: Array1<f32>,
    bias: Array1<f32>,
    eps: f32,
}

impl Norm {
    /// LayerNorm of every row, in place.
    fn apply(&self, arch: Arch, x: &mut Array2<f32>) {
        if let Some(values) = x.as_slice_mut() {
            arch.dispatch(LayerNorm { norm: self, values });
        }
    }
}

// The element-wise steps, each a `pulp::WithSimd` whose body is inlined into the function pulp
// compiles per instruction set, so that its loops are vectorised for the CPU found (a closure
// would be compiled once, for the baseline, when the compiler declines to inline it).

/// LayerNorm of rows laid end to end in `values`.
struct LayerNorm<'a> {
    norm: &'a Norm,
    values: &'a mut [f32],
}

impl pulp::WithSimd for LayerNorm<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let (Some(weight), Some(bias)) = (self.norm.weight.as_slice(), self.norm.bias.as_slice())
        else {
            return;
        };
        for row in self.values.chunks_exact_mut(weight.len()) {
            let n = row.len() as f32;
            let mean = sum(row) / n;
            let var = sum_of_squares_about(row, mean) / n;
            let scale = 1.0 / (var + self.norm.eps).sqrt();
            for ((v, w), b) in row.iter_mut().zip(weight).zip(bias) {
                *v = (*v - mean) * scale * w + b;
            }
        }
    }
}

/// GELU of every value.
struct Gelu<'a>(&'a mut [f32]);

impl pulp::WithSimd for Gelu<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        for v in self.0 {
            *v = gelu(*v);
        }
    }
}

/// Softmax of each row of a matrix of attention scores.
struct Softmax<'a, 'b>(&'a mut ArrayViewMut2<'b, f32>);

impl pulp::WithSimd for Softmax<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        for mut row in self.0.rows_mut() {
            let Some(row) = row.as_slice_mut() else {
                continue;
            };
            let max = max(row);
            for v in row.iter_mut() {
                *v = exp(*v - max);
            }
            let inverse = 1.0 / sum(row).max(f32::MIN_POSITIVE);
            for v in row.iter_mut() {
                *v *= inverse;
            }
        }
    }
}

/// Lanes of the partial sums below: that many independent accumulators let the compiler keep
/// them in one vector register (a single running sum would have to be added in order).
const LANES: usize = 16;

/// The sum of `values`, in [`LANES`] partial sums.
#[inline(always)]
fn sum(values: &[f32]) -> f32 {
    let mut partial = [0.0f32; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (p, v) in partial.iter_mut().zip(chunk) {
            *p += v;
        }
    }
    partial.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

/// The sum of `(v - mean)²` over `values`, in [`LANES`] partial sums.
#[inline(always)]
fn sum_of_squares_about(values: &[f32], mean: f32) -> f32 {
    let mut partial = [0.0f32; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (p, v) in partial.iter_mut().zip(chunk) {
            *p += (v - mean) * (v - mean);
        }
    }
    let rest: f32 = chunks
        .remainder()
        .iter()
        .map(|v| (v - mean) * (v - mean))
        .sum();
    partial.iter().sum::<f32>() + rest
}

/// The largest of `values`, in [`LANES`] partial maxima. Compared with `>` rather than
/// `f32::max`, whose care for NaN keeps the loop scalar: scores are never NaN.
#[inline(always)]
fn max(values: &[f32]) -> f32 {
    let larger = |m: f32, v: f32| if v > m { v } else { m };
    let mut partial = [f32::NEG_INFINITY; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (p, v) in partial.iter_mut().zip(chunk) {
            *p = larger(*p, *v);
        }
    }
    let rest = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |m, v| larger(m, *v));
    partial.iter().fold(rest, |m, v| larger(m, *v))
}

#[derive(Debug)]
struct Layer {
    qkv: Linear,
    attention_out: Linear,
    attention_norm: Norm,
    intermediate: Linear,
    output: Linear,
    output_norm: Norm,
}

/// The loaded encoder.
#[derive(Debug)]
pub struct Bert {
    config: BertConfig,
    word: Array2<f32>,
    position: Array2<f32>,
    token_type: Array2<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
    /// The instruction set the element-wise steps run on, detected once.
    arch: Arch,
}

/// A failure to read the weights.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WeightsError(pub String);

/// Reads one f32 tensor (with or without a `bert.` prefix) as a flat vector and its shape.
fn tensor(st: &SafeTensors<'_>, name: &str) -> Result<(Vec<f32>, Vec<usize>), WeightsError> {
    let view = st
        .tensor(name)
        .or_else(|_| st.tensor(&format!("bert.{name}")))
        .map_err(|_| WeightsError(format!("the model has no tensor {name}")))?;
    if view.dtype() != safetensors::Dtype::F32 {
        return Err(WeightsError(format!(
            "{name} is {:?}, not f32",
            view.dtype()
        )));
    }
    let values = view
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok((values, view.shape().to_vec()))
}

fn matrix(st: &SafeTensors<'_>, name: &str) -> Result<Array2<f32>, WeightsError> {
    let (values, shape) = tensor(st, name)?;
    let [rows, cols] = shape[..] else {
        return Err(WeightsError(format!("{name} is not a matrix")));
    };
    Array2::from_shape_vec((rows, cols), values).map_err(|e| WeightsError(format!("{name}: {e}")))
}

fn vector(st: &SafeTensors<'_>, name: &str) -> Result<Array1<f32>, WeightsError> {
    Ok(Array1::from_vec(tensor(st, name)?.0))
}

impl Bert {
    /// Builds the encoder from the bytes of `model.safetensors`.
    pub fn new(config: BertConfig, weights: &[u8]) -> Result<Self, WeightsError> {
        let st = SafeTensors::deserialize(weights).map_err(|e| WeightsError(e.to_string()))?;
        let eps = config.layer_norm_eps as f32;
        let norm = |prefix: &str| -> Result<Norm, WeightsError> {
            Ok(Norm {
                weight: vector(&st, &format!("{prefix}.weight"))?,
                bias: vector(&st, &format!("{prefix}.bias"))?,
                eps,
            })
        };
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            // Several projections side by side: one product computes them all.
            let linear = |names: &[&str]| -> Result<Linear, WeightsError> {
                let mut weights = Vec::new();
                let mut biases = Vec::new();
                for name in names {
                    weights.push(matrix(&st, &format!("{p}.{name}.weight"))?);
                    biases.push(vector(&st, &format!("{p}.{name}.bias"))?);
                }
                let views: Vec<_> = weights.iter().map(|w| w.t()).collect();
                let weight_t = ndarray::concatenate(Axis(1), &views)
                    .map_err(|e| WeightsError(e.to_string()))?
                    .as_standard_layout()
                    .into_owned();
                let bias_views: Vec<_> = biases.iter().map(|b| b.view()).collect();
                let bias = ndarray::concatenate(Axis(0), &bias_views)
                    .map_err(|e| WeightsError(e.to_string()))?;
                Ok(Linear { weight_t, bias })
            };
            layers.push(Layer {
                qkv: linear(&[
                    "attention.self.query",
                    "attention.self.key",
                    "attention.self.value",
                ])?,
                attention_out: linear(&["attention.output.dense"])?,
                attention_norm: norm(&format!("{p}.attention.output.LayerNorm"))?,
                intermediate: linear(&["intermediate.dense"])?,
                output: linear(&["output.dense"])?,
                output_norm: norm(&format!("{p}.output.LayerNorm"))?,
            });
        }
        Ok(Bert {
            config,
            word: matrix(&st, "embeddings.word_embeddings.weight")?,
            position: matrix(&st, "embeddings.position_embeddings.weight")?,
            token_type: matrix(&st, "embeddings.token_type_embeddings.weight")?,
            embedding_norm: norm("embeddings.LayerNorm")?,
            layers,
            arch: Arch::new(),
        })
    }

    /// The longest input, in tokens, special tokens included.
    pub fn max_positions(&self) -> usize {
        self.config.max_position_embeddings
    }

    /// Embeds a batch of token-id sequences: mean-pooled, L2-normalised, one vector each.
    ///
    /// The sequences are packed end to end, without padding: the linear layers run over real
    /// tokens only, and attention runs per sequence over its own rows, so no work is spent on
    /// positions that would be masked away.
    pub fn embed(&self, sequences: &[&[u32]]) -> Vec<Vec<f32>> {
        let hidden = self.config.hidden_size;
        let heads = self.config.num_attention_heads;
        let head = hidden / heads;
        let vocab = self.word.nrows();
        let mut spans = Vec::with_capacity(sequences.len());
        let mut total = 0;
        for sequence in sequences {
            let len = sequence.len().clamp(1, self.config.max_position_embeddings);
            spans.push(total..total + len);
            total += len;
        }
        let mut x = Array2::<f32>::zeros((total, hidden));
        for (sequence, span) in sequences.iter().zip(&spans) {
            for (position, row) in span.clone().enumerate() {
                let id = sequence
                    .get(position)
                    .map_or(0, |id| (*id as usize).min(vocab - 1));
                let mut out = x.row_mut(row);
                out.assign(&self.word.row(id));
                out += &self.position.row(position);
                out += &self.token_type.row(0);
            }
        }
        let arch = self.arch;
        self.embedding_norm.apply(arch, &mut x);
        let scale = 1.0 / (head as f32).sqrt();
        let longest = spans.iter().map(|s| s.len()).max().unwrap_or(1);
        let mut scores_buffer = Array2::<f32>::zeros((longest, longest));
        // Every intermediate is allocated once per batch and overwritten layer after layer:
        // fresh buffers per layer cost as much in page clearing as the LayerNorms.
        let width = |linear: &Linear| Array2::<f32>::zeros((total, linear.width()));
        let Some(first) = self.layers.first() else {
            return Vec::new();
        };
        let mut qkv = width(&first.qkv);
        let mut context = Array2::<f32>::zeros((total, hidden));
        let mut attended = width(&first.attention_out);
        let mut expanded = width(&first.intermediate);
        let mut output = width(&first.output);
        for layer in &self.layers {
            layer.qkv.forward_into(&x.view(), &mut qkv);
            for rows in &spans {
                let len = rows.len();
                let mut scores = scores_buffer
                    .slice_axis_mut(Axis(0), Slice::from(0..len))
                    .slice_axis_move(Axis(1), Slice::from(0..len));
                for h in 0..heads {
                    let q = block(&qkv, rows, h * head..(h + 1) * head);
                    let k = block(&qkv, rows, hidden + h * head..hidden + (h + 1) * head);
                    let v = block(
                        &qkv,
                        rows,
                        2 * hidden + h * head..2 * hidden + (h + 1) * head,
                    );
                    general_mat_mul(scale, &q, &k.t(), 0.0, &mut scores);
                    softmax_rows(arch, &mut scores);
                    let mut out = block_mut(&mut context, rows, h * head..(h + 1) * head);
                    general_mat_mul(1.0, &scores, &v, 0.0, &mut out);
                }
            }
            layer
                .attention_out
                .forward_into(&context.view(), &mut attended);
            attended += &x;
            layer.attention_norm.apply(arch, &mut attended);
            layer
                .intermediate
                .forward_into(&attended.view(), &mut expanded);
            if let Some(values) = expanded.as_slice_mut() {
                arch.dispatch(Gelu(values));
            }
            layer.output.forward_into(&expanded.view(), &mut output);
            output += &attended;
            layer.output_norm.apply(arch, &mut output);
            std::mem::swap(&mut x, &mut output);
        }
        spans
            .iter()
            .map(|rows| {
                let mean = x
                    .slice_axis(Axis(0), Slice::from(rows.clone()))
                    .mean_axis(Axis(0))
                    .unwrap_or_else(|| Array1::zeros(hidden));
                let norm = mean.dot(&mean).sqrt().max(1e-12);
                mean.iter().map(|v| v / norm).collect()
            })
            .collect()
    }
}

// Sub-blocks by `slice_axis` rather than ndarray's `s!` macro, whose expansion allows
// `unsafe_code`, which the workspace forbids.

/// Rows `rows` and columns `cols` of `a`.
fn block<'a>(a: &'a Array2<f32>, rows: &Range<usize>, cols: Range<usize>) -> ArrayView2<'a, f32> {
    a.slice_axis(Axis(0), Slice::from(rows.clone()))
        .slice_axis_move(Axis(1), Slice::from(cols))
}

/// Rows `rows` and columns `cols` of `a`, writable.
fn block_mut<'a>(
    a: &'a mut Array2<f32>,
    rows: &Range<usize>,
    cols: Range<usize>,
) -> ArrayViewMut2<'a, f32> {
    a.slice_axis_mut(Axis(0), Slice::from(rows.clone()))
        .slice_axis_move(Axis(1), Slice::from(cols))
}

/// Softmax of each row, in place.
fn softmax_rows(arch: Arch, scores: &mut ArrayViewMut2<'_, f32>) {
    arch.dispatch(Softmax(scores));
}

// The two transcendental functions below are written as straight-line arithmetic, without
// calls or branches, so that the compiler vectorises the loops over them: through libm they
// took a quarter of the encoder's time.

/// e^x to within 2e-7 relative error over f32's range: x = n·ln 2 + r with |r| ≤ ln 2 / 2,
/// a degree-6 polynomial for e^r, and 2^n written into the exponent bits.
#[inline(always)]
fn exp(x: f32) -> f32 {
    const SHIFTER: f32 = 12_582_912.0; // 1.5 · 2^23: adding it rounds to an integer.
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + SHIFTER) - SHIFTER;
    // ln 2 in two parts, so that n · ln 2 is subtracted without losing r's low bits.
    let r = (x - n * 0.693_145_75) - n * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    p * scale
}

/// The exact GELU BERT uses, `x · Φ(x) = x/2 · (1 + erf(x/√2))`.
#[inline(always)]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// erf as a rational function of x² on [-4, 4] (beyond which erf is ±1 in f32): absolute
/// error about 1e-7, the approximation Eigen and PyTorch use for float.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
    let p = x2 * p - 2.101_024e-6;
    let p = x2 * p - 5.692_506_4e-5;
    let p = x2 * p - 7.349_906_3e-4;
    let p = x2 * p - 2.954_600_1e-3;
    let p = x2 * p - 1.609_603_3e-2;
    let q = x2 * -1.456_607_2e-5 - 2.133_740_6e-4;
    let q = x2 * q - 1.682_827e-3;
    let q = x2 * q - 7.373_329_3e-3;
    let q = x2 * q - 1.426_474e-2;
    x * p / q
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> impl Iterator<Item = f32> {
        (-12_000..=12_000).map(|i| i as f32 / 1000.0)
    }

    #[test]
    fn erf_stays_within_a_millionth_of_libm() {
        let worst = samples()
            .map(|x| (erf(x) - libm::erff(x)).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-6, "worst absolute error {worst}");
    }

    #[test]
    fn exp_stays_within_a_millionth_relative_of_libm() {
        let worst = samples()
            .chain((-870..=870).map(|i| i as f32 / 10.0))
            .map(|x| ((exp(x) - libm::expf(x)) / libm::expf(x)).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-6, "worst relative error {worst}");
    }
}
