//! Small descriptive statistics over slices (no allocation except where a sort needs a copy).

/// Arithmetic mean; `None` for an empty slice.
pub fn mean(x: &[f64]) -> Option<f64> {
    (!x.is_empty()).then(|| x.iter().sum::<f64>() / x.len() as f64)
}

/// Median (average of the two middle values for an even count); `None` for an empty slice.
///
/// # Example
/// ```
/// use ivcrush_core::stats::{mad, mean, median};
/// assert_eq!(mean(&[1.0, 2.0, 6.0]), Some(3.0));
/// assert_eq!(median(&[5.0, 1.0, 3.0, 2.0]), Some(2.5));
/// // The median absolute deviation shrugs off the outlier that moves the mean.
/// assert_eq!(mad(&[1.0, 2.0, 3.0, 4.0, 100.0]), Some(1.0));
/// assert_eq!(median(&[]), None);
/// ```
pub fn median(x: &[f64]) -> Option<f64> {
    if x.is_empty() {
        return None;
    }
    let mut v = x.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    })
}

/// Raw median absolute deviation about the median: `median(|x − median(x)|)`.
pub fn mad(x: &[f64]) -> Option<f64> {
    let m = median(x)?;
    let dev: Vec<f64> = x.iter().map(|v| (v - m).abs()).collect();
    median(&dev)
}

/// Scale that makes the MAD a consistent estimate of σ under normality: `1/Φ⁻¹(3/4)` ≈ 1.4826
/// (the exact value, as scipy's `scale='normal'`).
pub const MAD_NORMAL_SCALE: f64 = 1.482_602_218_505_602;

/// Sample standard deviation (ddof = 1); `None` below two values.
///
/// # Example
/// ```
/// use ivcrush_core::stats::{rms, std_dev};
/// assert_eq!(std_dev(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]), Some((32.0f64 / 7.0).sqrt()));
/// assert_eq!(std_dev(&[1.0]), None);
/// assert_eq!(rms(&[3.0, -4.0]), Some((12.5f64).sqrt()));
/// ```
pub fn std_dev(x: &[f64]) -> Option<f64> {
    if x.len() < 2 {
        return None;
    }
    let m = mean(x)?;
    let ss: f64 = x.iter().map(|v| (v - m).powi(2)).sum();
    Some((ss / (x.len() - 1) as f64).sqrt())
}

/// Root mean square about zero (what a straddle prices).
pub fn rms(x: &[f64]) -> Option<f64> {
    (!x.is_empty()).then(|| (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt())
}

/// Exponentially weighted mean of a series ordered oldest → newest: weight `0.5^(age/half_life)`
/// with age 0 for the newest value, normalised (pandas `ewm(halflife, adjust=True)`).
///
/// # Example
/// ```
/// use ivcrush_core::stats::ewma;
/// // With a half-life of one observation the newest weighs twice the one before it.
/// let e = ewma(&[3.0, 6.0], 1.0).unwrap();
/// assert!((e - (3.0 * 1.0 + 6.0 * 2.0) / 3.0).abs() < 1e-12);
/// assert_eq!(ewma(&[5.0, 5.0, 5.0], 4.0), Some(5.0));
/// assert_eq!(ewma(&[1.0], 0.0), None);
/// ```
pub fn ewma(x_oldest_first: &[f64], half_life: f64) -> Option<f64> {
    if x_oldest_first.is_empty() || !(half_life > 0.0) {
        return None;
    }
    let n = x_oldest_first.len();
    let (mut num, mut den) = (0.0, 0.0);
    for (i, v) in x_oldest_first.iter().enumerate() {
        let age = (n - 1 - i) as f64;
        let w = 0.5f64.powf(age / half_life);
        num += w * v;
        den += w;
    }
    Some(num / den)
}

/// Linear interpolation of `y` at `x` between `(x0, y0)` and `(x1, y1)`.
pub fn lerp(x0: f64, y0: f64, x1: f64, y1: f64, x: f64) -> f64 {
    if x1 == x0 {
        return 0.5 * (y0 + y1);
    }
    let w = (x - x0) / (x1 - x0);
    y0 + w * (y1 - y0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_even_count_averages_the_middle() {
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn ewma_weights_the_newest_most() {
        let v = ewma(&[0.0, 1.0], 1.0).expect("non-empty");
        assert!((v - 1.0 / 1.5).abs() < 1e-15);
    }
}
