//! Streaming nested JSON arrays straight from flat tensor data.

use serde::ser::{Serialize, SerializeSeq, Serializer};

/// A row-major buffer serialised as nested arrays of the given shape.
pub struct Nested<'a> {
    /// The values, row-major.
    pub data: &'a [f32],
    /// The shape; its product equals `data.len()`.
    pub shape: &'a [usize],
}

impl Serialize for Nested<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some((&n, rest)) = self.shape.split_first() else {
            return s.serialize_f32(self.data.first().copied().unwrap_or_default());
        };
        let mut seq = s.serialize_seq(Some(n))?;
        if rest.is_empty() {
            for v in self.data {
                seq.serialize_element(v)?;
            }
        } else {
            let step: usize = rest.iter().product();
            for chunk in self.data.chunks(step.max(1)).take(n) {
                seq.serialize_element(&Nested {
                    data: chunk,
                    shape: rest,
                })?;
            }
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nests_row_major() {
        let data = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let s = serde_json::to_string(&Nested {
            data: &data,
            shape: &[2, 3],
        })
        .unwrap();
        assert_eq!(s, "[[1.0,2.0,3.0],[4.0,5.0,6.0]]");
        let s = serde_json::to_string(&Nested {
            data: &data,
            shape: &[3, 1, 2],
        })
        .unwrap();
        assert_eq!(s, "[[[1.0,2.0]],[[3.0,4.0]],[[5.0,6.0]]]");
    }
}
