//! The six analysis views by kind: titles, number keys, and the inputs each takes.

/// An analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// 1: images nearest to an image by the heads of a property.
    PropertyNn,
    /// 2: where a head writes a text in an image.
    Segment,
    /// 3: where a head writes text A rather than text B.
    Contrast,
    /// 4: images nearest to an image through a head.
    HeadNn,
    /// 5: images nearest to a text through a head.
    TextNn,
    /// 6: zero-shot accuracy with the head (or a property's heads) mean-ablated.
    Ablate,
}

impl Kind {
    /// In number-key order.
    pub const ALL: [Kind; 6] = [
        Self::PropertyNn,
        Self::Segment,
        Self::Contrast,
        Self::HeadNn,
        Self::TextNn,
        Self::Ablate,
    ];

    /// Its title.
    pub fn title(self) -> &'static str {
        match self {
            Self::PropertyNn => "property NN",
            Self::Segment => "topic segmentation",
            Self::Contrast => "contrastive segmentation",
            Self::HeadNn => "head NN of an image",
            Self::TextNn => "head NN of a text",
            Self::Ablate => "mean-ablation",
        }
    }

    /// Its short name (tabs).
    pub fn short(self) -> &'static str {
        match self {
            Self::PropertyNn => "property-nn",
            Self::Segment => "segment",
            Self::Contrast => "contrast",
            Self::HeadNn => "head-nn",
            Self::TextNn => "text-nn",
            Self::Ablate => "ablate",
        }
    }

    /// Its number key.
    pub fn number(self) -> usize {
        Self::ALL.iter().position(|&k| k == self).unwrap_or(0) + 1
    }

    /// Whether it takes a query image.
    pub fn needs_image(self) -> bool {
        !matches!(self, Self::TextNn | Self::Ablate)
    }

    /// How many texts it takes.
    pub fn texts(self) -> usize {
        match self {
            Self::Segment | Self::TextNn | Self::Ablate => 1,
            Self::Contrast => 2,
            Self::PropertyNn | Self::HeadNn => 0,
        }
    }
}
