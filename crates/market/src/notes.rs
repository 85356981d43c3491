//! What a vendor call went through, told to the analysis it serves: a 429 that had to be
//! waited out, a premium-only answer replaced by a fallback. The data is complete either way;
//! the record says so in its data-quality notes.
//!
//! Collected through a Tokio task-local: the calls of one analysis run as futures of one task
//! (joined, not spawned), so [`collect`] around the analysis sees exactly its own calls, even
//! when a scan runs many analyses concurrently in the same task. Outside [`collect`], recording
//! is a no-op.

use std::cell::RefCell;
use std::future::Future;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VendorNoteKind {
    /// The vendor answered 429 (or its rate-limit message) and the call waited.
    RateLimited,
    /// The vendor refused a premium-only request; a smaller fallback was used.
    PremiumGated,
}

/// One note: the vendor, what happened and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorNote {
    /// What happened.
    pub kind: VendorNoteKind,
    /// Which vendor.
    pub vendor: &'static str,
    /// Endpoint and detail, for a person.
    pub detail: String,
}

tokio::task_local! {
    static NOTES: RefCell<Vec<VendorNote>>;
}

/// Runs `f`, returning its output and the notes its vendor calls left.
pub async fn collect<F: Future>(f: F) -> (F::Output, Vec<VendorNote>) {
    NOTES
        .scope(RefCell::new(Vec::new()), async move {
            let out = f.await;
            let notes = NOTES.with(|n| std::mem::take(&mut *n.borrow_mut()));
            (out, notes)
        })
        .await
}

/// Records a note for the enclosing [`collect`], if any (duplicates are kept once).
pub(crate) fn record(kind: VendorNoteKind, vendor: &'static str, detail: String) {
    let _ = NOTES.try_with(|n| {
        let mut n = n.borrow_mut();
        let note = VendorNote {
            kind,
            vendor,
            detail,
        };
        if !n.contains(&note) {
            n.push(note);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn notes_reach_their_own_scope_only() {
        let (a, b) = tokio::join!(
            collect(async { record(VendorNoteKind::RateLimited, "tradier", "quotes".into()) }),
            collect(async {
                record(VendorNoteKind::PremiumGated, "alphavantage", "bars".into());
                record(VendorNoteKind::PremiumGated, "alphavantage", "bars".into());
            })
        );
        assert_eq!(a.1.len(), 1);
        assert_eq!(a.1[0].kind, VendorNoteKind::RateLimited);
        assert_eq!(b.1.len(), 1, "duplicates kept once");
        // Outside a scope: nothing happens.
        record(VendorNoteKind::RateLimited, "tradier", "x".into());
    }
}
