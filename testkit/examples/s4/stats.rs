//! Percentiles of a set of durations, and the printed table.

use std::time::Duration;

/// Summary of a set of durations (nearest-rank percentiles).
#[derive(Clone, Copy, Debug, Default)]
pub struct Summary {
    pub count: usize,
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
    pub max: Option<Duration>,
}

impl Summary {
    /// Summarizes `samples` (any order).
    pub fn of(mut samples: Vec<Duration>) -> Summary {
        samples.sort();
        Summary {
            count: samples.len(),
            p50: percentile(&samples, 50.0),
            p99: percentile(&samples, 99.0),
            max: samples.last().copied(),
        }
    }

    /// `p50 / p99 / max (n)` in milliseconds, `-` when empty.
    pub fn cell(&self) -> String {
        match (self.p50, self.p99, self.max) {
            (Some(p50), Some(p99), Some(max)) => {
                format!("{} / {} / {} (n={})", millis(p50), millis(p99), millis(max), self.count)
            }
            _ => "-".to_string(),
        }
    }
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], pct: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn millis(d: Duration) -> String {
    format!("{}", d.as_millis())
}

/// Prints rows of cells as an aligned Markdown table.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.len());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = widths[i])).collect();
        println!("| {} |", padded.join(" | "));
    };
    line(header.iter().map(|h| h.to_string()).collect());
    line(widths.iter().map(|w| "-".repeat(*w)).collect());
    for row in rows {
        line(row.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let s = Summary::of(samples);
        assert_eq!(s.p50, Some(Duration::from_millis(50)));
        assert_eq!(s.p99, Some(Duration::from_millis(99)));
        assert_eq!(s.max, Some(Duration::from_millis(100)));
        assert_eq!(Summary::of(vec![]).cell(), "-");
        assert_eq!(Summary::of(vec![Duration::from_millis(7)]).p99, Some(Duration::from_millis(7)));
    }
}
