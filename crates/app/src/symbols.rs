//! Ticker symbols as users type them and as vendors want them: the one rule lives in
//! [`ivcrush_core::symbol`]; these are the list and string conveniences the commands use.

pub use ivcrush_core::symbol::{Symbol, SymbolError};

/// Normalises a user-typed symbol: trims, upper-cases, accepts `BRK.B` / `BRK-B` / `brk/b` (all
/// become `BRK.B`). See [`Symbol::parse`].
///
/// # Errors
/// [`SymbolError`] naming the input and the reason.
pub fn normalize_symbol(input: &str) -> Result<String, SymbolError> {
    Symbol::parse(input).map(Symbol::into_string)
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
