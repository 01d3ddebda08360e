//! Whether a head matters: zero-shot classification over a labelled store, the mean-ablation
//! table of clip_text_span's `compute_ablations.py`, ablations of chosen heads, layers or a
//! property (`compute_use_specific_heads.py`), and each head's importance.
//!
//! Everything works on the stored direct effects, in cosine units: an image's vector is the sum
//! of its components (Σ layer attention totals + Σ MLP terms = the unit embedding), the logits
//! are that vector times the zero-shot classifier, and mean-ablating a component replaces it by
//! its mean over the evaluated images. Logits are linear in the components, so no model runs.

pub mod ablation;
pub mod classifier;
pub mod eval;
pub mod heads;
pub mod pruning;
pub mod view;

pub use ablation::{Ablated, AblationTable, Replace, Selection, ablate, table};
pub use classifier::Classifier;
pub use eval::{Accuracy, Rows, Scorer, StoreRows, Targets};
pub use heads::{HeadImportance, Importance, importance};
