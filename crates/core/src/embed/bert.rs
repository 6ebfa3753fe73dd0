//! The BERT encoder of all-MiniLM-L6-v2 on candle's CPU backend, written out rather than taken
//! from `candle-transformers` (which would compile a hundred other models): embeddings, six
//! post-norm layers of self-attention and GELU feed-forward, then the mean pooling and L2
//! normalisation sentence-transformers applies.
//!
//! Linear layers run as one 2-D matrix product over every token of the batch, with weights
//! transposed once at load, which is what keeps candle's per-operation overhead small.

use candle_core::{D, DType, Device, Tensor};
use std::collections::HashMap;

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
    /// Transposed: `[in, out]`, contiguous.
    weight_t: Tensor,
    bias: Tensor,
}

impl Linear {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.weight_t)?.broadcast_add(&self.bias)
    }
}

#[derive(Debug)]
struct Norm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl Norm {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        candle_nn::ops::layer_norm(x, &self.weight, &self.bias, self.eps)
    }
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
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    embedding_norm: Norm,
    layers: Vec<Layer>,
}

impl Bert {
    /// Builds the encoder from the safetensors' tensors (with or without a `bert.` prefix).
    pub fn new(
        config: BertConfig,
        mut tensors: HashMap<String, Tensor>,
    ) -> candle_core::Result<Self> {
        let mut take = |name: &str| -> candle_core::Result<Tensor> {
            tensors
                .remove(name)
                .or_else(|| tensors.remove(&format!("bert.{name}")))
                .ok_or_else(|| candle_core::Error::Msg(format!("the model has no tensor {name}")))?
                .to_dtype(DType::F32)
        };
        let eps = config.layer_norm_eps as f32;
        let mut norm = |prefix: &str| -> candle_core::Result<Norm> {
            Ok(Norm {
                weight: take(&format!("{prefix}.weight"))?,
                bias: take(&format!("{prefix}.bias"))?,
                eps,
            })
        };
        let embedding_norm = norm("embeddings.LayerNorm")?;
        let word = take("embeddings.word_embeddings.weight")?;
        let position = take("embeddings.position_embeddings.weight")?;
        let token_type = take("embeddings.token_type_embeddings.weight")?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            let mut linear = |names: &[&str]| -> candle_core::Result<Linear> {
                let mut weights = Vec::new();
                let mut biases = Vec::new();
                for name in names {
                    weights.push(take(&format!("{p}.{name}.weight"))?);
                    biases.push(take(&format!("{p}.{name}.bias"))?);
                }
                Ok(Linear {
                    weight_t: Tensor::cat(&weights, 0)?.t()?.contiguous()?,
                    bias: Tensor::cat(&biases, 0)?,
                })
            };
            let qkv = linear(&[
                "attention.self.query",
                "attention.self.key",
                "attention.self.value",
            ])?;
            let attention_out = linear(&["attention.output.dense"])?;
            let intermediate = linear(&["intermediate.dense"])?;
            let output = linear(&["output.dense"])?;
            let mut norm = |name: &str| -> candle_core::Result<Norm> {
                Ok(Norm {
                    weight: take(&format!("{p}.{name}.weight"))?,
                    bias: take(&format!("{p}.{name}.bias"))?,
                    eps,
                })
            };
            layers.push(Layer {
                qkv,
                attention_out,
                attention_norm: norm("attention.output.LayerNorm")?,
                intermediate,
                output,
                output_norm: norm("output.LayerNorm")?,
            });
        }
        Ok(Bert {
            config,
            word,
            position,
            token_type,
            embedding_norm,
            layers,
        })
    }

    /// The longest input, in tokens, special tokens included.
    pub fn max_positions(&self) -> usize {
        self.config.max_position_embeddings
    }

    /// Embeds a batch of token-id rows of equal length `len` (padded with 0, `mask` 1 for real
    /// tokens): mean-pooled over real tokens, L2-normalised. Answers `[batch, hidden]`.
    pub fn embed(
        &self,
        ids: &[u32],
        mask: &[f32],
        batch: usize,
        len: usize,
    ) -> candle_core::Result<Tensor> {
        let device = Device::Cpu;
        let hidden = self.config.hidden_size;
        let heads = self.config.num_attention_heads;
        let head = hidden / heads;
        let ids = Tensor::from_slice(ids, (batch * len,), &device)?;
        let mask_rows = Tensor::from_slice(mask, (batch, len), &device)?;
        let positions = self.position.narrow(0, 0, len)?;
        let mut x = self
            .word
            .index_select(&ids, 0)?
            .reshape((batch, len, hidden))?
            .broadcast_add(&positions)?
            .broadcast_add(&self.token_type.narrow(0, 0, 1)?)?;
        x = self
            .embedding_norm
            .forward(&x)?
            .reshape((batch * len, hidden))?;
        // 0 where a token is real, a large negative where it is padding.
        let additive = ((mask_rows.clone() - 1.0)? * 1e9)?.reshape((batch, 1, 1, len))?;
        let scale = 1.0 / (head as f64).sqrt();
        for layer in &self.layers {
            let qkv = layer
                .qkv
                .forward(&x)?
                .reshape((batch, len, 3, heads, head))?;
            let part = |i: usize| -> candle_core::Result<Tensor> {
                qkv.narrow(2, i, 1)?
                    .squeeze(2)?
                    .transpose(1, 2)?
                    .contiguous()
            };
            let q = (part(0)? * scale)?;
            let k = part(1)?;
            let v = part(2)?;
            let scores = q.matmul(&k.t()?)?.broadcast_add(&additive)?;
            let probs = candle_nn::ops::softmax_last_dim(&scores)?;
            let context = probs
                .matmul(&v)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((batch * len, hidden))?;
            let attended = layer
                .attention_norm
                .forward(&(layer.attention_out.forward(&context)? + &x)?)?;
            let expanded = layer.intermediate.forward(&attended)?.gelu_erf()?;
            x = layer
                .output_norm
                .forward(&(layer.output.forward(&expanded)? + &attended)?)?;
        }
        let x = x.reshape((batch, len, hidden))?;
        let weights = mask_rows.unsqueeze(2)?;
        let summed = x.broadcast_mul(&weights)?.sum(1)?;
        let counts = weights.sum(1)?.clamp(1e-9, f64::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean
            .sqr()?
            .sum_keepdim(D::Minus1)?
            .sqrt()?
            .clamp(1e-12, f64::MAX)?;
        mean.broadcast_div(&norms)
    }
}
