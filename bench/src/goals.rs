//! Targets and stretch goals of spec/benchmarks.md, by scenario, size and figure. A goal applies only
//! at the size the spec names (quick mode runs smaller sizes: those rows are reported, not judged).

use crate::results::{Bound, Goal};

fn goal(target: Bound, stretch: Option<Bound>) -> Option<Goal> {
    Some(Goal { target, stretch })
}

/// The goal for `figure` of scenario `id` ("S1".."S6") run at `size`; `within_grace` is for S4 cuts
/// shorter than the server's resume grace.
pub fn goal_for(id: &str, size: usize, figure: &str, within_grace: bool) -> Option<Goal> {
    use Bound::{AtLeast, AtMost};
    match (id, size, figure) {
        ("S1", 1000, "p99 join-to-notify (ms)") => goal(AtMost(100.0), Some(AtMost(25.0))),
        ("S1", 1000, "rosters complete after last join (s)") => goal(AtMost(0.5), None),
        ("S1", 5000, "p99 join-to-notify (ms)") => goal(AtMost(1000.0), Some(AtMost(150.0))),
        ("S1", 5000, "rosters complete after last join (s)") => goal(AtMost(3.0), None),
        ("S2", 19000, "server RSS per connection (KiB)") => goal(AtMost(16.0), Some(AtMost(8.0))),
        ("S2", 19000, "connect+join rate (/s)") => goal(AtLeast(10_000.0), Some(AtLeast(20_000.0))),
        ("S2", 19000, "p99 connect+join (ms)") => goal(AtMost(50.0), None),
        ("S3", _, "ordering violations") => goal(AtMost(0.0), None),
        ("S3", 1000, "deliveries/s") => goal(AtLeast(600_000.0), Some(AtLeast(2_000_000.0))),
        ("S3", 1000, "p99 publish-to-receive (ms)") => goal(AtMost(20.0), None),
        ("S4", _, "client detection p99 (s)") | ("S4", _, "server detection p99 (s)") => goal(AtMost(5.0), Some(AtMost(2.0))),
        ("S4", _, "resume p99 (ms)") if within_grace => goal(AtMost(1000.0), Some(AtMost(300.0))),
        ("S4", _, "presence flaps seen by others") | ("S4", _, "signals lost by resumed clients") if within_grace => goal(AtMost(0.0), None),
        ("S5", 15_000, "achieved join rate (/s)") | ("S5", 15_000, "achieved leave rate (/s)") => goal(AtLeast(5000.0), Some(AtLeast(10_000.0))),
        ("S5", 15_000, "RSS drift under churn (%)") => goal(AtMost(2.0), None),
        ("S5", _, "ordering violations") => goal(AtMost(0.0), None),
        ("S6", _, "roster entries applied/s (stream, per core)") => goal(AtLeast(1e6), Some(AtLeast(5e6))),
        ("S6", 10_000, "roster snapshot (ms)") => goal(AtMost(20.0), Some(AtMost(5.0))),
        ("S6", _, "stripped release cdylib (MiB)") => goal(AtMost(2.0), Some(AtMost(1.0))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goals_apply_at_the_spec_sizes_only() {
        assert!(goal_for("S1", 1000, "p99 join-to-notify (ms)", true).is_some());
        assert!(goal_for("S1", 200, "p99 join-to-notify (ms)", true).is_none());
        assert!(goal_for("S3", 100, "ordering violations", true).is_some());
        assert!(goal_for("S4", 20, "presence flaps seen by others", false).is_none());
        assert!(goal_for("S5", 15_000, "RSS drift under churn (%)", true).is_some());
        assert!(goal_for("S5", 200, "RSS drift under churn (%)", true).is_none());
        assert!(goal_for("S9", 1, "x", true).is_none());
    }
}
