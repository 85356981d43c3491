//! Stable hashing for deterministic per-item randomness.
//!
//! Written by hand on purpose: `std`'s `DefaultHasher` may change between Rust releases, and the
//! simulated market must give byte-identical data for the same seed on every build.

/// FNV-1a over the parts (with a separator) followed by the SplitMix64 finaliser.
pub fn hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.iter().chain(std::iter::once(&0xffu8)) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    splitmix(h)
}

/// SplitMix64 finaliser.
pub fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform number in [0, 1) from the parts.
pub fn unit(parts: &[&[u8]]) -> f64 {
    (hash(parts) >> 11) as f64 / (1u64 << 53) as f64
}
