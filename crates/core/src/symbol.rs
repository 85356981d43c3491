//! Ticker symbols, normalised once: a [`Symbol`] is always upper case with `.` as the share-class
//! separator (`brk-b`, `BRK/B` and `BRK.B` are all `BRK.B`), so every caller — scan, analyze,
//! the HTTP API, the streaming ticker — means the same instrument by the same text.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Longest accepted symbol, separator included.
pub const MAX_LEN: usize = 10;

/// Why a symbol was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ticker {input:?}: {reason}")]
pub struct SymbolError {
    /// What was given.
    pub input: String,
    /// Why it is refused.
    pub reason: &'static str,
}

/// A normalised ticker symbol: 1–10 characters of `A–Z`, `0–9` and at most one `.` separating a
/// share class (`BRK.B`). Build it with [`Symbol::parse`] (or `str::parse`); it derefs to `str`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Symbol(String);

impl Symbol {
    /// Normalises a user-typed symbol: trims, upper-cases, and turns `-` and `/` into the `.`
    /// class separator.
    ///
    /// # Errors
    /// [`SymbolError`] naming the input and the reason.
    pub fn parse(input: &str) -> Result<Symbol, SymbolError> {
        let err = |reason| SymbolError {
            input: input.to_owned(),
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
        if s.len() > MAX_LEN {
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
        Ok(Symbol(s))
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalised text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl FromStr for Symbol {
    type Err = SymbolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Symbol::parse(s)
    }
}

impl TryFrom<String> for Symbol {
    type Error = SymbolError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Symbol::parse(&s)
    }
}

impl From<Symbol> for String {
    fn from(s: Symbol) -> String {
        s.0
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Deref for Symbol {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Symbol {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Symbol {
    fn borrow(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercase_and_class_separators_are_normalised() {
        for typed in [" brk-b ", "BRK/B", "brk.b"] {
            assert_eq!(
                Symbol::parse(typed).map(Symbol::into_string).as_deref(),
                Ok("BRK.B")
            );
        }
        assert_eq!(
            Symbol::parse("aapl").map(Symbol::into_string).as_deref(),
            Ok("AAPL")
        );
    }

    #[test]
    fn invalid_symbols_are_refused_with_a_reason() {
        for bad in ["", "AA$", "../etc", "BRK.B.C", ".B", "ABCDEFGHIJK"] {
            let e = Symbol::parse(bad).expect_err(bad);
            assert_eq!(e.input, bad);
        }
    }

    #[test]
    fn serde_goes_through_the_same_rule() {
        let s: Symbol = serde_json::from_str("\"brk-b\"").expect("a valid symbol");
        assert_eq!(s.as_str(), "BRK.B");
        assert_eq!(serde_json::to_string(&s).expect("serialises"), "\"BRK.B\"");
        assert!(serde_json::from_str::<Symbol>("\"A$\"").is_err());
    }
}
