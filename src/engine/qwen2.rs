//! Qwen2 decoder-only transformer over quantized GGUF weights.
//!
//! The same network as candle-transformers' `quantized_qwen2`, arranged for
//! CPU inference of briefs:
//! - the token-embedding table stays quantized; only the rows of the tokens
//!   fed in are dequantized (the f32 table would be 933 MB for the 1.5B);
//! - keys and values go into a preallocated cache that grows by doubling,
//!   instead of being concatenated at every step, and attention reads them
//!   there: each query head is multiplied with its group's key/value head by
//!   the `gemm` call candle would make, without copying the head for every
//!   query head of its group;
//! - Q5_0 weights (most of the 0.5B model), Q4_K and Q6_K weights (the
//!   1.5B model) go through our own kernels in [`super::kernels`], which
//!   give candle's results faster;
//! - the key/value cache is a value of its own ([`KvCache`]), so several
//!   sequences can be decoded in one step ([`Qwen2::forward_batch`]): decode
//!   is bound by reading the weights, and one read then serves every
//!   sequence. Each sequence's logits are bit for bit those of decoding it
//!   alone; the same step feeds several drafted tokens of one sequence at
//!   once to verify them (speculative decoding, [`super::draft`]).

use std::sync::Arc;

use candle_core::quantized::{gguf_file, GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Module, Result, Tensor};
use candle_transformers::quantized_nn::RmsNorm;

use super::kernels::{Q4KMatrix, Q5_0Matrix, Q6KMatrix, Q8_0Matrix};

/// Shape of the network, from the GGUF metadata.
#[derive(Debug, Clone)]
pub struct Config {
    pub n_layer: usize,
    pub n_head: usize,
    pub n_kv_head: usize,
    pub hidden: usize,
    pub head_dim: usize,
    pub context_length: usize,
    pub rms_norm_eps: f64,
    pub rope_freq_base: f32,
}

impl Config {
    pub fn from_gguf(ct: &gguf_file::Content) -> Result<Config> {
        let get = |k: &str| ct.metadata.get(k).ok_or_else(|| candle_core::Error::Msg(format!("GGUF has no `{k}`")));
        let n_head = get("qwen2.attention.head_count")?.to_u32()? as usize;
        let hidden = get("qwen2.embedding_length")?.to_u32()? as usize;
        Ok(Config {
            n_layer: get("qwen2.block_count")?.to_u32()? as usize,
            n_head,
            n_kv_head: get("qwen2.attention.head_count_kv")?.to_u32()? as usize,
            hidden,
            head_dim: hidden / n_head,
            context_length: get("qwen2.context_length")?.to_u32()? as usize,
            rms_norm_eps: get("qwen2.attention.layer_norm_rms_epsilon")?.to_f32()? as f64,
            rope_freq_base: get("qwen2.rope.freq_base").and_then(|v| v.to_f32()).unwrap_or(10_000.),
        })
    }
}

/// Keys or values of one layer: `(1, n_kv_head, capacity, head_dim)`, of
/// which the first `len` positions are filled.
#[derive(Debug, Clone)]
struct CacheBuffer {
    data: Option<Tensor>,
    len: usize,
}

impl CacheBuffer {
    fn new() -> Self {
        CacheBuffer { data: None, len: 0 }
    }

    /// Appends `x` (`(1, heads, seq, head_dim)`) and returns all positions.
    fn append(&mut self, x: &Tensor) -> Result<Tensor> {
        let (b, heads, seq, dim) = x.dims4()?;
        let needed = self.len + seq;
        let capacity = self.data.as_ref().map_or(0, |d| d.dim(2).unwrap_or(0));
        if needed > capacity {
            let new_capacity = needed.next_power_of_two().max(256);
            let grown = Tensor::zeros((b, heads, new_capacity, dim), x.dtype(), x.device())?;
            if let (Some(old), true) = (&self.data, self.len > 0) {
                grown.slice_set(&old.narrow(2, 0, self.len)?.contiguous()?, 2, 0)?;
            }
            self.data = Some(grown);
        }
        let data = self.data.as_ref().expect("allocated above");
        data.slice_set(&x.contiguous()?, 2, self.len)?;
        self.len = needed;
        data.narrow(2, 0, self.len)
    }
}

/// The keys and values of one sequence, layer by layer.
#[derive(Debug, Clone)]
pub struct KvCache {
    layers: Vec<(CacheBuffer, CacheBuffer)>,
    /// Positions held.
    position: usize,
}

impl KvCache {
    pub fn new(config: &Config) -> KvCache {
        KvCache { layers: vec![(CacheBuffer::new(), CacheBuffer::new()); config.n_layer], position: 0 }
    }

    /// Positions held in the cache.
    pub fn position(&self) -> usize {
        self.position
    }

    /// A copy holding the same positions in memory of its own: appending to
    /// either never changes the other.
    pub fn deep_copy(&self) -> Result<KvCache> {
        let copy = |b: &CacheBuffer| -> Result<CacheBuffer> {
            let data = match &b.data {
                Some(d) if b.len > 0 => Some(d.narrow(2, 0, b.len)?.copy()?),
                _ => None,
            };
            Ok(CacheBuffer { data, len: b.len })
        };
        let layers = self.layers.iter().map(|(k, v)| Ok((copy(k)?, copy(v)?))).collect::<Result<_>>()?;
        Ok(KvCache { layers, position: self.position })
    }

    /// Makes this cache hold what `other` holds, in its own memory, reusing
    /// the memory it has where that is large enough. The caller knows that
    /// the positions before `same_before` already hold the same keys and
    /// values in both (copies of one prompt's cache whose replies begin
    /// alike, in a beam search): only the positions after are copied. A
    /// beam copies some hypothesis's cache at most steps; copying the whole
    /// prompt each time made a brief's peak memory 12% higher.
    pub fn copy_from(&mut self, other: &KvCache, same_before: usize) -> Result<()> {
        let keep = same_before.min(self.position).min(other.position);
        let copy = |to: &mut CacheBuffer, from: &CacheBuffer| -> Result<()> {
            to.len = keep;
            if let Some(d) = &from.data {
                if from.len > keep {
                    to.append(&d.narrow(2, keep, from.len - keep)?)?;
                }
            }
            Ok(())
        };
        for ((k, v), (ok, ov)) in self.layers.iter_mut().zip(&other.layers) {
            copy(k, ok)?;
            copy(v, ov)?;
        }
        self.position = other.position;
        Ok(())
    }

    /// Each layer's keys and values, `(1, heads, positions, head_dim)`.
    pub fn layers(&self) -> Result<Vec<(Tensor, Tensor)>> {
        let held = |b: &CacheBuffer| match &b.data {
            Some(d) => d.narrow(2, 0, b.len),
            None => candle_core::bail!("an empty cache has no layers to give"),
        };
        self.layers.iter().map(|(k, v)| Ok((held(k)?, held(v)?))).collect()
    }

    /// A cache holding `position` positions given layer by layer, as
    /// [`KvCache::layers`] gives them.
    pub fn from_layers(layers: Vec<(Tensor, Tensor)>, position: usize) -> Result<KvCache> {
        let buffer = |t: Tensor| -> Result<CacheBuffer> {
            if t.rank() != 4 || t.dim(2)? != position {
                candle_core::bail!("a saved layer holds {:?}, not {position} positions", t.dims());
            }
            Ok(CacheBuffer { data: Some(t), len: position })
        };
        let layers = layers.into_iter().map(|(k, v)| Ok((buffer(k)?, buffer(v)?))).collect::<Result<_>>()?;
        Ok(KvCache { layers, position })
    }

    /// Forgets every position from `position` on: the tokens of a rejected
    /// draft. Their memory is overwritten by the next tokens fed.
    pub fn truncate(&mut self, position: usize) {
        assert!(position <= self.position, "cannot truncate to a later position");
        for (keys, values) in &mut self.layers {
            keys.len = position;
            values.len = position;
        }
        self.position = position;
    }

    /// Forgets everything: a new sequence (the memory is kept for reuse).
    pub fn clear(&mut self) {
        for (keys, values) in &mut self.layers {
            keys.len = 0;
            values.len = 0;
        }
        self.position = 0;
    }
}

/// A weight matrix and the kernel that multiplies by it.
pub enum Linear {
    Candle(QMatMul),
    Q5_0(Q5_0Matrix),
    Q4K(Q4KMatrix),
    Q6K(Q6KMatrix),
    Q8_0(Q8_0Matrix),
}

impl Linear {
    /// Our kernel for `weights` where there is one, candle's otherwise.
    pub fn new(weights: Arc<QTensor>) -> Result<Linear> {
        if let Some(m) = Q5_0Matrix::new(weights.clone()) {
            return Ok(Linear::Q5_0(m));
        }
        // Our tiled copy replaces the weights, which are freed unless shared.
        if let Some(m) = Q4KMatrix::new(&weights) {
            return Ok(Linear::Q4K(m));
        }
        if let Some(m) = Q6KMatrix::new(weights.clone()) {
            return Ok(Linear::Q6K(m));
        }
        if let Some(m) = Q8_0Matrix::new(weights.clone()) {
            return Ok(Linear::Q8_0(m));
        }
        Ok(Linear::Candle(QMatMul::from_arc(weights)?))
    }

    /// Whose kernel multiplies: `candle`, or ours for the named type.
    pub fn kernel(&self) -> &'static str {
        match self {
            Linear::Candle(_) => "candle",
            Linear::Q5_0(_) => "Q5_0",
            Linear::Q4K(_) => "Q4_K",
            Linear::Q6K(_) => "Q6_K",
            Linear::Q8_0(_) => "Q8_0",
        }
    }

    /// `x` (`(1, rows, in)`) times the weights, each row computed exactly as
    /// if it were multiplied alone: rows of a batched decode step must give
    /// the bits of one-sequence decoding.
    ///
    /// candle multiplies a Q6_K matrix by one row with its compact kernel but
    /// by several rows with repacked tiles, whose sums round differently;
    /// those products take each row as one ([`Q6KMatrix::forward_rows`]).
    /// Every other kernel computes each row the same way whatever the number
    /// of rows (`tests/engine_identity.rs`).
    fn forward_rows(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Linear::Q6K(m) if x.dim(1)? > 1 => m.forward_rows(x),
            Linear::Candle(QMatMul::QTensor(w)) if w.dtype() == GgmlDType::Q6K && x.dim(1)? > 1 => {
                let rows = (0..x.dim(1)?).map(|i| self.forward(&x.narrow(1, i, 1)?)).collect::<Result<Vec<_>>>()?;
                Tensor::cat(&rows, 1)
            }
            _ => self.forward(x),
        }
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Linear::Candle(m) => m.forward(x),
            Linear::Q5_0(m) => m.forward(x),
            Linear::Q4K(m) => m.forward(x),
            Linear::Q6K(m) => m.forward(x),
            Linear::Q8_0(m) => m.forward(x),
        }
    }
}

struct Attention {
    wq: Linear,
    wk: Linear,
    wv: Linear,
    bq: Tensor,
    bk: Tensor,
    bv: Tensor,
    wo: Linear,
}

struct Mlp {
    gate: Linear,
    up: Linear,
    down: Linear,
}

impl Mlp {
    /// `rows`: each row as if alone ([`Linear::forward_rows`]).
    fn forward(&self, x: &Tensor, rows: bool) -> Result<Tensor> {
        let product = |w: &Linear, x: &Tensor| if rows { w.forward_rows(x) } else { w.forward(x) };
        let gate = candle_nn::ops::silu(&product(&self.gate, x)?)?;
        product(&self.down, &(gate * product(&self.up, x)?)?)
    }
}

struct Block {
    attention_norm: RmsNorm,
    attention: Attention,
    mlp_norm: RmsNorm,
    mlp: Mlp,
}

/// A loaded Qwen2 model.
pub struct Qwen2 {
    config: Config,
    embeddings: Arc<QTensor>,
    blocks: Vec<Block>,
    norm: RmsNorm,
    output: Linear,
    cos: Tensor,
    sin: Tensor,
}

impl Qwen2 {
    pub fn from_gguf<R: std::io::Read + std::io::Seek>(
        ct: gguf_file::Content,
        reader: &mut R,
        device: &Device,
    ) -> Result<Qwen2> {
        let config = Config::from_gguf(&ct)?;
        let mut tensor = |name: &str| ct.tensor(reader, name, device);
        let embeddings = Arc::new(tensor("token_embd.weight")?);
        let output = match tensor("output.weight") {
            Ok(w) => Linear::new(Arc::new(w))?,
            // Tied embeddings: the output projection is the embedding table.
            Err(_) => Linear::new(embeddings.clone())?,
        };
        let norm = RmsNorm::from_qtensor(tensor("output_norm.weight")?, config.rms_norm_eps)?;
        let mut blocks = Vec::with_capacity(config.n_layer);
        for i in 0..config.n_layer {
            let mut t = |part: &str| tensor(&format!("blk.{i}.{part}"));
            let attention = Attention {
                wq: Linear::new(Arc::new(t("attn_q.weight")?))?,
                wk: Linear::new(Arc::new(t("attn_k.weight")?))?,
                wv: Linear::new(Arc::new(t("attn_v.weight")?))?,
                bq: t("attn_q.bias")?.dequantize(device)?,
                bk: t("attn_k.bias")?.dequantize(device)?,
                bv: t("attn_v.bias")?.dequantize(device)?,
                wo: Linear::new(Arc::new(t("attn_output.weight")?))?,
            };
            let mlp = Mlp {
                gate: Linear::new(Arc::new(t("ffn_gate.weight")?))?,
                up: Linear::new(Arc::new(t("ffn_up.weight")?))?,
                down: Linear::new(Arc::new(t("ffn_down.weight")?))?,
            };
            blocks.push(Block {
                attention_norm: RmsNorm::from_qtensor(t("attn_norm.weight")?, config.rms_norm_eps)?,
                attention,
                mlp_norm: RmsNorm::from_qtensor(t("ffn_norm.weight")?, config.rms_norm_eps)?,
                mlp,
            });
        }
        let (cos, sin) = rotary_tables(&config, device)?;
        Ok(Qwen2 { config, embeddings, blocks, norm, output, cos, sin })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A cache for one sequence of this model.
    pub fn new_cache(&self) -> KvCache {
        KvCache::new(&self.config)
    }

    /// Feeds `tokens` after the positions in `cache`; returns the logits of
    /// the last one, `(vocab,)`.
    pub fn forward(&self, cache: &mut KvCache, tokens: &[u32]) -> Result<Tensor> {
        let device = self.cos.device().clone();
        let seq = tokens.len();
        let start = cache.position;
        let ids = Tensor::new(tokens, &device)?;
        let mut x = self.embeddings.embedding(&ids)?.unsqueeze(0)?;
        let cos = self.cos.narrow(0, start, seq)?;
        let sin = self.sin.narrow(0, start, seq)?;
        let mask = (seq > 1).then(|| causal_mask(seq, start, &device)).transpose()?;
        for (block, layer) in self.blocks.iter().zip(&mut cache.layers) {
            let h = block.attention_norm.forward(&x)?;
            let (q, k, v) = block.attention.project(&h, &cos, &sin, &self.config)?;
            let y = block.attention.attend(&q, &k, &v, layer, mask.as_ref(), &self.config)?;
            x = (x + block.attention.wo.forward(&y)?)?;
            let h = block.mlp.forward(&block.mlp_norm.forward(&x)?, false)?;
            x = (x + h)?;
        }
        cache.position += seq;
        let last = self.norm.forward(&x.narrow(1, seq - 1, 1)?)?;
        self.output.forward(&last)?.flatten_all()
    }

    /// One decode step of several sequences, each feeding one or more
    /// tokens: `tokens[i]` goes after the positions in `caches[i]`. Returns
    /// the logits after every token fed, `(rows, vocab)`, sequence after
    /// sequence. Each row is bit for bit the logits of feeding its token
    /// alone after the ones before it ([`Qwen2::forward`] with one token):
    /// the weights are read once for all rows, every row is multiplied as if
    /// alone, and every row attends over the cache as a one-token step would.
    /// That makes it the verification step of speculative decoding as well
    /// as a batched decode step.
    pub fn forward_batch(&self, caches: &mut [&mut KvCache], tokens: &[&[u32]]) -> Result<Tensor> {
        assert_eq!(caches.len(), tokens.len(), "tokens for each sequence");
        assert!(tokens.iter().all(|t| !t.is_empty()), "at least one token per sequence");
        let device = self.cos.device().clone();
        let flat: Vec<u32> = tokens.concat();
        let ids = Tensor::new(flat.as_slice(), &device)?;
        let mut x = self.embeddings.embedding(&ids)?.unsqueeze(0)?; // (1, rows, hidden)
                                                                    // (sequence, position) of each row.
        let rows: Vec<(usize, usize)> = tokens
            .iter()
            .zip(caches.iter())
            .enumerate()
            .flat_map(|(i, (t, c))| (0..t.len()).map(move |j| (i, c.position + j)))
            .collect();
        let rotary: Vec<(Tensor, Tensor)> = rows
            .iter()
            .map(|&(_, p)| Ok((self.cos.narrow(0, p, 1)?, self.sin.narrow(0, p, 1)?)))
            .collect::<Result<_>>()?;
        for (l, block) in self.blocks.iter().enumerate() {
            let h = block.attention_norm.forward(&x)?;
            let (q, k, v) = block.attention.project_rows(&h)?;
            let mut ys = Vec::with_capacity(rows.len());
            for (r, &(i, _)) in rows.iter().enumerate() {
                let row = |t: &Tensor| t.narrow(1, r, 1);
                let (cos, sin) = &rotary[r];
                let (q, k, v) = block.attention.split_heads(&row(&q)?, &row(&k)?, &row(&v)?, cos, sin, &self.config)?;
                // Rows of one sequence come in order: each appends its key
                // and value, then attends over the positions up to its own.
                ys.push(block.attention.attend(&q, &k, &v, &mut caches[i].layers[l], None, &self.config)?);
            }
            x = (x + block.attention.wo.forward_rows(&Tensor::cat(&ys, 1)?)?)?;
            let h = block.mlp.forward(&block.mlp_norm.forward(&x)?, true)?;
            x = (x + h)?;
        }
        for (cache, t) in caches.iter_mut().zip(tokens) {
            cache.position += t.len();
        }
        let x = self.norm.forward(&x)?;
        self.output.forward_rows(&x)?.squeeze(0)
    }
}

impl Attention {
    /// Queries, keys and values of `x` (`(1, seq, hidden)`), as heads
    /// `(1, heads, seq, head_dim)` with rotary positions applied.
    fn project(&self, x: &Tensor, cos: &Tensor, sin: &Tensor, c: &Config) -> Result<(Tensor, Tensor, Tensor)> {
        let (q, k, v) = (self.wq.forward(x)?, self.wk.forward(x)?, self.wv.forward(x)?);
        self.split_heads(&q, &k, &v, cos, sin, c)
    }

    /// The query, key and value projections of rows that belong to
    /// different sequences, each row as if alone.
    fn project_rows(&self, x: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        Ok((self.wq.forward_rows(x)?, self.wk.forward_rows(x)?, self.wv.forward_rows(x)?))
    }

    /// Adds the biases to projections `(1, seq, width)`, splits them into
    /// heads and rotates queries and keys.
    fn split_heads(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        c: &Config,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let (b, seq, _) = q.dims3()?;
        let heads = |x: &Tensor, bias: &Tensor, n: usize| -> Result<Tensor> {
            x.broadcast_add(bias)?.reshape((b, seq, n, c.head_dim))?.transpose(1, 2)?.contiguous()
        };
        let q = candle_nn::rotary_emb::rope(&heads(q, &self.bq, c.n_head)?, cos, sin)?;
        let k = candle_nn::rotary_emb::rope(&heads(k, &self.bk, c.n_kv_head)?, cos, sin)?;
        let v = heads(v, &self.bv, c.n_kv_head)?;
        Ok((q, k, v))
    }

    /// Appends `k` and `v` to the layer's cache and attends `q` over all of
    /// it; returns `(1, seq, heads * head_dim)`, before the output projection.
    fn attend(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        (keys, values): &mut (CacheBuffer, CacheBuffer),
        mask: Option<&Tensor>,
        c: &Config,
    ) -> Result<Tensor> {
        let (b, heads, seq, dim) = q.dims4()?;
        assert_eq!(b, 1, "one sequence per cache");
        let keys = keys.append(k)?;
        let values = values.append(v)?;
        let len = keys.dim(2)?;
        let group = c.n_head / c.n_kv_head;

        // Each query head against its group's key/value head, head by head:
        // the products of candle-transformers' quantized_qwen2, which copies
        // each key/value head for every query head of its group
        // (`repeat_kv`) and multiplies all heads in one batched `matmul`.
        // candle multiplies a batch one element at a time, calling `gemm`
        // with the same shapes, strides and threads as here, so the bits are
        // the same; here `gemm` reads the cache where it lies, without the
        // copies (which grew with the prompt) or a tensor per head. Folding a
        // group's query heads into one product is cheaper still, but changed
        // the last bits and tipped greedy choices on the 1.5B model; briefs
        // must not change with an optimisation.
        let device = q.device().clone();
        let q = q.flatten_all()?.to_vec1::<f32>()?;
        let mut scores = vec![0f32; heads * seq * len];
        with_heads(&keys, |keys| {
            for (h, scores) in scores.chunks_mut(seq * len).enumerate() {
                // (seq, len) = q[h] (seq, dim) x keys[h / group]^T (dim, len)
                let q = &q[h * seq * dim..(h + 1) * seq * dim];
                gemm_f32(scores, (seq, len, dim), q, (1, dim), keys[h / group], (dim, 1));
            }
        })?;
        let scores = (Tensor::from_vec(scores, (b, heads, seq, len), &device)? / (c.head_dim as f64).sqrt())?;
        let scores = match mask {
            Some(mask) => scores.broadcast_add(mask)?,
            None => scores,
        };
        let weights = candle_nn::ops::softmax_last_dim(&scores)?.flatten_all()?.to_vec1::<f32>()?;
        let mut y = vec![0f32; heads * seq * dim];
        with_heads(&values, |values| {
            for (h, y) in y.chunks_mut(seq * dim).enumerate() {
                // (seq, dim) = weights[h] (seq, len) x values[h / group] (len, dim)
                let w = &weights[h * seq * len..(h + 1) * seq * len];
                gemm_f32(y, (seq, dim, len), w, (1, len), values[h / group], (1, dim));
            }
        })?;
        Tensor::from_vec(y, (b, heads, seq, dim), &device)?.transpose(1, 2)?.reshape((b, seq, heads * dim))
    }
}

/// Calls `f` with the positions of each head of `x` (`(1, heads, len, dim)`
/// with rows of `dim` values one after the other, as the cache holds them),
/// each as one slice.
fn with_heads<R>(x: &Tensor, f: impl FnOnce(&[&[f32]]) -> R) -> Result<R> {
    let (_, heads, len, dim) = x.dims4()?;
    let (storage, layout) = x.storage_and_layout();
    let candle_core::Storage::Cpu(cpu) = &*storage else {
        candle_core::bail!("the key/value cache is not in CPU memory")
    };
    let data = cpu.as_slice::<f32>()?;
    let stride = layout.stride();
    if stride[3] != 1 || stride[2] != dim {
        candle_core::bail!("the key/value cache is laid out as {stride:?}, not in rows of {dim}");
    }
    let heads: Vec<&[f32]> = (0..heads)
        .map(|h| {
            let start = layout.start_offset() + h * stride[1];
            &data[start..start + len * dim]
        })
        .collect();
    Ok(f(&heads))
}

/// `dst (m, n) = lhs (m, k) x rhs (k, n)`, strides given as (between
/// columns, between rows): `gemm` called as candle's CPU `matmul` calls it
/// for each element of a batch, threads included, so the sums are added in
/// the same order and the bits are the same.
fn gemm_f32(
    dst: &mut [f32],
    (m, n, k): (usize, usize, usize),
    lhs: &[f32],
    (lhs_cs, lhs_rs): (usize, usize),
    rhs: &[f32],
    (rhs_cs, rhs_rs): (usize, usize),
) {
    assert!(m > 0 && n > 0 && k > 0, "empty product");
    assert!(dst.len() >= m * n, "product does not fit");
    assert!(lhs.len() > (m - 1) * lhs_rs + (k - 1) * lhs_cs, "lhs out of bounds");
    assert!(rhs.len() > (k - 1) * rhs_rs + (n - 1) * rhs_cs, "rhs out of bounds");
    // candle reads the thread count at every product (without
    // RAYON_NUM_THREADS, from /proc/cpuinfo); it does not change in a run.
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let threads = *THREADS.get_or_init(candle_core::utils::get_num_threads);
    let parallelism = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    // SAFETY: every index gemm reads or writes is within the slices
    // (asserted above).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            false,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}

/// Additive mask `(seq, start + seq)`: 0 where a query may look, -inf after it.
fn causal_mask(seq: usize, start: usize, device: &Device) -> Result<Tensor> {
    let kv = start + seq;
    let mask: Vec<f32> =
        (0..seq).flat_map(|i| (0..kv).map(move |j| if j > start + i { f32::NEG_INFINITY } else { 0.0 })).collect();
    Tensor::from_vec(mask, (seq, kv), device)
}

/// Rotary position tables `(context, head_dim / 2)`.
fn rotary_tables(c: &Config, device: &Device) -> Result<(Tensor, Tensor)> {
    let inv_freq: Vec<f32> =
        (0..c.head_dim).step_by(2).map(|i| 1.0 / c.rope_freq_base.powf(i as f32 / c.head_dim as f32)).collect();
    let inv_freq = Tensor::new(inv_freq.as_slice(), device)?;
    let positions =
        Tensor::arange(0u32, c.context_length as u32, device)?.to_dtype(DType::F32)?.reshape((c.context_length, 1))?;
    let angles = positions.broadcast_mul(&inv_freq.unsqueeze(0)?)?;
    Ok((angles.cos()?, angles.sin()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cache of two layers holding `n` positions of 2 heads of 4 values;
    /// a value tells its layer, head, position and place, counting from
    /// `first`.
    fn cache(n: usize, first: f32) -> KvCache {
        let layer = |offset: f32| {
            let value = |i: usize| (i / (n * 4) * 1000 + i % (n * 4)) as f32;
            let values: Vec<f32> = (0..2 * n * 4).map(|i| first + offset + value(i)).collect();
            Tensor::from_vec(values, (1, 2, n, 4), &Device::Cpu).unwrap()
        };
        KvCache::from_layers(vec![(layer(0.), layer(1e4)), (layer(2e4), layer(3e4))], n).unwrap()
    }

    fn held(c: &KvCache) -> Vec<Vec<f32>> {
        let flat = |t: Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        c.layers().unwrap().into_iter().flat_map(|(k, v)| [flat(k), flat(v)]).collect()
    }

    #[test]
    fn a_copy_holds_what_its_source_holds_whatever_it_held_before() {
        let from = cache(6, 0.);
        // Empty, shorter, longer, and told that more positions are the same
        // than it holds: each ends up holding `from`'s six positions.
        for (mut to, same_before) in [
            (KvCache { layers: vec![(CacheBuffer::new(), CacheBuffer::new()); 2], position: 0 }, 0),
            (cache(3, 0.), 0),
            (cache(9, 500.), 0),
            (cache(2, 0.), 5),
        ] {
            to.copy_from(&from, same_before).unwrap();
            assert_eq!((to.position(), held(&to)), (6, held(&from)));
        }
        // Positions said to be the same are not copied again.
        let mut to = cache(4, 0.);
        to.layers[0]
            .0
            .data
            .as_ref()
            .unwrap()
            .slice_set(&Tensor::full(-1f32, (1, 2, 1, 4), &Device::Cpu).unwrap(), 2, 0)
            .unwrap();
        to.copy_from(&from, 3).unwrap();
        let keys = to.layers().unwrap()[0].0.narrow(2, 0, 1).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!(keys.iter().all(|&v| v == -1.), "{keys:?}");
        // Appending to the copy leaves its source alone.
        let before = held(&from);
        to.layers[0].0.append(&Tensor::zeros((1, 2, 1, 4), DType::F32, &Device::Cpu).unwrap()).unwrap();
        assert_eq!(held(&from), before);
    }
}
