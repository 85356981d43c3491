//! Ticker symbols as users type them and as vendors want them.

/// Why a symbol was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ticker {input:?}: {reason}")]
pub struct SymbolError {
    /// What was given.
    pub input: String,
    /// Why it is refused.
    pub reason: &'static str,
}

/// Normalises a user-typed symbol: trims, upper-cases, accepts `BRK.B` / `BRK-B` / `brk/b` (all
/// become `BRK.B`). 1–10 characters of `A–Z`, `0–9` and at most one class separator.
///
/// # Errors
/// [`SymbolError`] naming the input and the reason.
pub fn normalize_symbol(input: &str) -> Result<String, SymbolError> {
    let err = |reason| SymbolError {
        input: input.to_string(),
        reason,
    };
    let s: String = input
        .trim()
        .chars()
        .map(|c| match c {
            '-' | '/' => '.',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    if s.is_empty() {
        return Err(err("empty"));
    }
    if s.len() > 10 {
        return Err(err("longer than 10 characters"));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '.')
    {
        return Err(err(
            "only letters, digits and one '.' class separator are allowed",
        ));
    }
    if s.matches('.').count() > 1 || s.starts_with('.') || s.ends_with('.') {
        return Err(err("a '.' may only separate a share class (e.g. BRK.B)"));
    }
    Ok(s)
}

/// Parses a comma-separated list, normalising each symbol and dropping duplicates (order kept).
///
/// # Errors
/// The first [`SymbolError`].
pub fn parse_symbol_list(list: &str) -> Result<Vec<String>, SymbolError> {
    let mut out: Vec<String> = Vec::new();
    for part in list.split(',').filter(|p| !p.trim().is_empty()) {
        let s = normalize_symbol(part)?;
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercase_and_class_separators_are_normalised() {
        assert_eq!(normalize_symbol(" brk-b ").as_deref(), Ok("BRK.B"));
        assert_eq!(normalize_symbol("aapl").as_deref(), Ok("AAPL"));
        assert!(normalize_symbol("AA$").is_err());
        assert!(normalize_symbol("../etc").is_err());
        assert!(normalize_symbol("").is_err());
    }

    #[test]
    fn lists_drop_duplicates_in_order() {
        assert_eq!(
            parse_symbol_list("b,a, B").expect("valid"),
            vec!["B".to_string(), "A".to_string()]
        );
    }
}
