//! Repeated measurements and their summary (min, median, percentiles, max).

use std::time::Duration;

/// Samples of one measurement, in the unit the caller chose (ms, echoes/s, bytes).
#[derive(Debug, Clone, PartialEq)]
pub struct Samples {
    sorted: Vec<f64>,
}

impl Samples {
    /// `None` when there is nothing to summarize (or a sample is not a number).
    pub fn new(mut values: Vec<f64>) -> Option<Samples> {
        if values.is_empty() || values.iter().any(|v| v.is_nan()) {
            return None;
        }
        values.sort_by(f64::total_cmp);
        Some(Samples { sorted: values })
    }

    pub fn from_durations(durations: &[Duration]) -> Option<Samples> {
        Samples::new(durations.iter().map(|d| millis(*d)).collect())
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn min(&self) -> f64 {
        self.sorted[0]
    }

    pub fn max(&self) -> f64 {
        self.sorted[self.sorted.len() - 1]
    }

    pub fn median(&self) -> f64 {
        self.percentile(50.0)
    }

    /// Nearest-rank percentile: the smallest sample with at least `q` % of the samples at or
    /// below it. Always one of the samples, never an interpolation.
    pub fn percentile(&self, q: f64) -> f64 {
        let n = self.sorted.len();
        let rank = (q.clamp(0.0, 100.0) / 100.0 * n as f64).ceil() as usize;
        self.sorted[rank.clamp(1, n) - 1]
    }
}

pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_to(n: u32) -> Samples {
        // Shuffled on purpose: the summary must not depend on the input order.
        let mut v: Vec<f64> = (1..=n).map(f64::from).collect();
        v.reverse();
        v.swap(0, (n / 2) as usize);
        Samples::new(v).unwrap()
    }

    #[test]
    fn nearest_rank_percentiles() {
        let s = one_to(100);
        assert_eq!(s.percentile(50.0), 50.0);
        assert_eq!(s.percentile(99.0), 99.0);
        assert_eq!(s.percentile(99.5), 100.0);
        assert_eq!(s.percentile(100.0), 100.0);
        assert_eq!(s.percentile(0.0), 1.0);
        assert_eq!((s.min(), s.max(), s.len()), (1.0, 100.0, 100));
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(one_to(5).median(), 3.0);
        // Nearest rank takes the lower middle sample rather than averaging.
        assert_eq!(one_to(4).median(), 2.0);
        assert_eq!(Samples::new(vec![7.5]).unwrap().percentile(99.0), 7.5);
    }

    #[test]
    fn p99_of_a_small_set_is_its_max() {
        assert_eq!(one_to(50).percentile(99.0), 50.0);
    }

    #[test]
    fn nothing_or_nan_is_no_summary() {
        assert_eq!(Samples::new(Vec::new()), None);
        assert_eq!(Samples::new(vec![1.0, f64::NAN]), None);
    }

    #[test]
    fn durations_become_milliseconds() {
        let s = Samples::from_durations(&[Duration::from_micros(1500), Duration::from_millis(3)])
            .unwrap();
        assert_eq!((s.min(), s.max()), (1.5, 3.0));
    }
}
