//! Bounds on a search query, checked before anything parses it: tantivy's query grammar
//! recurses once per nested group (about 750 `(` overflow a worker thread's 2 MiB stack), and
//! every word becomes an exact and a fuzzy term in four fields (each fuzzy term builds a
//! Levenshtein automaton), so a pasted megabyte of words would take gigabytes. Past a bound the
//! query is refused with one line naming the bound; within them a query's memory is a few MiB.

use crate::{Error, Result};

/// The longest query, in bytes (a paragraph; longer text is pasted by accident).
pub const MAX_QUERY_BYTES: usize = 1024;
/// The most words (and `field:value` filters) in one query.
pub const MAX_QUERY_WORDS: usize = 32;
/// The longest word, in characters (a fuzzy term's automaton grows with it).
pub const MAX_WORD_CHARS: usize = 64;
/// The deepest nesting of `(` … `)` groups.
pub const MAX_QUERY_DEPTH: usize = 8;

/// `Ok` when `query` is within every bound, else the one-line reason.
pub fn check(query: &str) -> Result<()> {
    let refuse = |why: String| Err(Error::Invalid(format!("search query refused: {why}")));
    if query.len() > MAX_QUERY_BYTES {
        return refuse(format!(
            "{} bytes, over the limit of {MAX_QUERY_BYTES} (MAX_QUERY_BYTES)",
            query.len()
        ));
    }
    let words = query.split_whitespace().count();
    if words > MAX_QUERY_WORDS {
        return refuse(format!(
            "{words} words, over the limit of {MAX_QUERY_WORDS} (MAX_QUERY_WORDS)"
        ));
    }
    if let Some(w) = query
        .split_whitespace()
        .find(|w| w.chars().count() > MAX_WORD_CHARS)
    {
        return refuse(format!(
            "a word of {} characters, over the limit of {MAX_WORD_CHARS} (MAX_WORD_CHARS)",
            w.chars().count()
        ));
    }
    let depth = nesting(query);
    if depth > MAX_QUERY_DEPTH {
        return refuse(format!(
            "groups nested {depth} deep, over the limit of {MAX_QUERY_DEPTH} (MAX_QUERY_DEPTH)"
        ));
    }
    Ok(())
}

/// The deepest nesting of parentheses outside quoted phrases (unbalanced ones count as open).
fn nesting(query: &str) -> usize {
    let (mut depth, mut deepest, mut quoted) = (0usize, 0usize, false);
    for c in query.chars() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' if !quoted => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_queries_pass() {
        for q in [
            "color",
            "label:texture layer:>=10",
            "(red OR blue) AND (shape OR \"((((((((((\")",
            "",
        ] {
            assert!(check(q).is_ok(), "{q}");
        }
    }

    #[test]
    fn each_bound_refuses_with_its_name() {
        let deep = "(".repeat(3000);
        let long = "word ".repeat(300);
        let many = "a ".repeat(MAX_QUERY_WORDS + 1);
        let wide = "x".repeat(MAX_WORD_CHARS + 1);
        let nested = format!("{}a{}", "(".repeat(9), ")".repeat(9));
        for (q, name) in [
            (&deep, "MAX_QUERY_BYTES"),
            (&long, "MAX_QUERY_BYTES"),
            (&many, "MAX_QUERY_WORDS"),
            (&wide, "MAX_WORD_CHARS"),
            (&nested, "MAX_QUERY_DEPTH"),
        ] {
            let e = check(q).unwrap_err().to_string();
            assert!(e.contains(name) && !e.contains('\n'), "{e}");
        }
        assert!(check(&format!("{}a{}", "(".repeat(8), ")".repeat(8))).is_ok());
    }
}
