//! The shape of what a store holds per image: the heads, the embedding, the token effects and
//! the ablation rows.

use serde::{Deserialize, Serialize};

/// Shape of the data every chunk of a store holds per image.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    /// Stored layers.
    pub layers: usize,
    /// Heads per layer.
    pub heads: usize,
    /// Embedding dimension.
    pub dim: usize,
    /// Tokens per image.
    pub tokens: usize,
    /// Rows of E values kept per image for ablations (format 2): every layer's attention
    /// total, every layer's class-token term, the pre term and every MLP, `3·depth + 1`; 0 in
    /// format-1 stores.
    #[serde(default)]
    pub ablation_rows: usize,
}

impl Shape {
    /// f16 values of heads per image.
    pub fn head_values(&self) -> usize {
        self.layers * self.heads * self.dim
    }

    /// f16 values of the ablation rows per image.
    pub fn ablation_values(&self) -> usize {
        self.ablation_rows * self.dim
    }

    /// f16 values of token effects per image.
    pub fn token_values(&self) -> usize {
        self.layers * self.tokens * self.heads * self.dim
    }

    /// Bytes of the finished store's numbers for `images` images, the first `tokens_for` with
    /// token effects (the heads, embeddings, ablation rows and token effects; the image table
    /// adds a few hundred bytes an image).
    pub fn store_bytes(&self, images: usize, tokens_for: usize) -> u64 {
        let per = (self.head_values() + self.dim + self.ablation_values()) as u64 * 2 + 300;
        per * images as u64 + self.token_values() as u64 * 2 * tokens_for.min(images) as u64
    }
}
