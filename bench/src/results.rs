//! Figures measured by scenarios, the spec's targets, and the final table (text and Markdown).

use std::fmt::Write;

/// One measured number of a run, named like its table row.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// Row name, unit included (`p99 join-to-notify (ms)`).
    pub name: String,
    /// The value.
    pub value: f64,
}

/// Figures of one scenario run, in table order.
pub type Figures = Vec<Figure>;

/// Shorthand for building figures.
pub fn figure(name: &str, value: f64) -> Figure {
    Figure { name: name.to_string(), value }
}

/// Per-figure medians of several runs of the same scenario (figures present in every run).
pub fn medians(runs: &[Figures]) -> Figures {
    let Some(first) = runs.first() else { return Vec::new() };
    first
        .iter()
        .filter_map(|f| {
            let mut values: Vec<f64> = runs.iter().filter_map(|r| r.iter().find(|g| g.name == f.name).map(|g| g.value)).collect();
            if values.len() != runs.len() {
                return None;
            }
            values.sort_by(|a, b| a.total_cmp(b));
            let mid = values.len() / 2;
            let median = if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 };
            Some(figure(&f.name, median))
        })
        .collect()
}

/// A bound from spec/benchmarks.md.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bound {
    /// The value must not exceed this.
    AtMost(f64),
    /// The value must reach this.
    AtLeast(f64),
}

impl Bound {
    /// True when `value` satisfies the bound.
    pub fn holds(self, value: f64) -> bool {
        match self {
            Bound::AtMost(limit) => value <= limit,
            Bound::AtLeast(limit) => value >= limit,
        }
    }

    fn text(self) -> String {
        match self {
            Bound::AtMost(limit) => format!("<= {}", number(limit)),
            Bound::AtLeast(limit) => format!(">= {}", number(limit)),
        }
    }
}

/// Target and optional stretch of one figure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Goal {
    /// Target column.
    pub target: Bound,
    /// Stretch column.
    pub stretch: Option<Bound>,
}

/// One row of the table.
#[derive(Clone, Debug)]
pub struct Row {
    /// Scenario and size (`S1 N=1000`).
    pub scenario: String,
    /// Figure name.
    pub figure: String,
    /// otc-server.
    pub ours: Option<f64>,
    /// Floor baseline.
    pub floor: Option<f64>,
    /// Socket.IO peer.
    pub peer: Option<f64>,
    /// Spec goal, when the spec sets one at this size.
    pub goal: Option<Goal>,
}

impl Row {
    /// Verdict against the goal.
    pub fn verdict(&self) -> &'static str {
        match (self.goal, self.ours) {
            (Some(goal), Some(value)) => {
                if goal.stretch.is_some_and(|s| s.holds(value)) {
                    "met (stretch too)"
                } else if goal.target.holds(value) {
                    "met"
                } else {
                    "NOT met"
                }
            }
            (Some(_), None) => "not measured",
            (None, _) => "-",
        }
    }
}

/// Formats a number with a precision that suits its size.
pub fn number(value: f64) -> String {
    let magnitude = value.abs();
    if (value == value.trunc() && magnitude < 1e15) || magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.4}")
    }
}

/// `value` as [`number`] shows it, with more decimals when that text would fall on the other side
/// of a bound of `goal` than the value does (2.004 against "<= 2" shows as 2.004, not 2.00).
pub fn judged_number(value: f64, goal: Option<Goal>) -> String {
    let text = number(value);
    let Some(goal) = goal else { return text };
    let bounds = std::iter::once(goal.target).chain(goal.stretch);
    let agrees = |text: &str| text.parse::<f64>().map_or(true, |shown| bounds.clone().all(|b| b.holds(shown) == b.holds(value)));
    if agrees(&text) {
        return text;
    }
    (1..=9).map(|decimals| format!("{value:.decimals$}")).find(|t| agrees(t)).unwrap_or(text)
}

fn cell(value: Option<f64>) -> String {
    value.map(number).unwrap_or_else(|| "-".into())
}

fn ratio(ours: Option<f64>, other: Option<f64>) -> String {
    match (ours, other) {
        (Some(a), Some(b)) if b != 0.0 => format!("{:.2}", a / b),
        _ => "-".into(),
    }
}

const HEADER: [&str; 10] = ["scenario", "figure", "ours", "floor", "ours/floor", "socket.io", "ours/socket.io", "target", "stretch", "met"];

fn cells(row: &Row) -> [String; 10] {
    [
        row.scenario.clone(),
        row.figure.clone(),
        row.ours.map(|v| judged_number(v, row.goal)).unwrap_or_else(|| "-".into()),
        cell(row.floor),
        ratio(row.ours, row.floor),
        cell(row.peer),
        ratio(row.ours, row.peer),
        row.goal.map(|g| g.target.text()).unwrap_or_else(|| "-".into()),
        row.goal.and_then(|g| g.stretch).map(Bound::text).unwrap_or_else(|| "-".into()),
        row.verdict().into(),
    ]
}

/// The table as aligned plain text.
pub fn plain_table(rows: &[Row]) -> String {
    let all: Vec<[String; 10]> = std::iter::once(HEADER.map(String::from)).chain(rows.iter().map(cells)).collect();
    let widths: Vec<usize> = (0..10).map(|c| all.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for (i, row) in all.iter().enumerate() {
        let line: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        let _ = writeln!(out, "{}", line.join(" | ").trim_end());
        if i == 0 {
            let _ = writeln!(out, "{}", widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("-+-"));
        }
    }
    out
}

/// The table as Markdown.
pub fn markdown_table(rows: &[Row]) -> String {
    let mut out = format!("| {} |\n|{}\n", HEADER.join(" | "), "---|".repeat(10));
    for row in rows {
        let _ = writeln!(out, "| {} |", cells(row).join(" | "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_take_the_middle_run() {
        let runs = vec![vec![figure("a", 3.0), figure("b", 1.0)], vec![figure("a", 1.0)], vec![figure("a", 2.0), figure("b", 9.0)]];
        assert_eq!(medians(&runs), vec![figure("a", 2.0)]);
        assert!(medians(&[]).is_empty());
    }

    #[test]
    fn verdicts_follow_target_and_stretch() {
        let goal = Goal { target: Bound::AtMost(100.0), stretch: Some(Bound::AtMost(25.0)) };
        let row = |v| Row { scenario: "S1".into(), figure: "p99".into(), ours: Some(v), floor: None, peer: None, goal: Some(goal) };
        assert_eq!(row(10.0).verdict(), "met (stretch too)");
        assert_eq!(row(50.0).verdict(), "met");
        assert_eq!(row(150.0).verdict(), "NOT met");
        let no_goal = Row { goal: None, ..row(1.0) };
        assert_eq!(no_goal.verdict(), "-");
    }

    #[test]
    fn a_value_just_past_a_bound_shows_enough_decimals_to_be_seen_past_it() {
        let at_most_2 = Some(Goal { target: Bound::AtMost(2.0), stretch: None });
        assert_eq!(judged_number(2.004, at_most_2), "2.004", "not 2.00 next to NOT met");
        assert_eq!(judged_number(2.7, at_most_2), "2.70");
        assert_eq!(judged_number(1.999, at_most_2), "2.00", "2.00 is within the bound, as the value");
        let at_least_5000 = Some(Goal { target: Bound::AtLeast(5000.0), stretch: Some(Bound::AtLeast(10000.0)) });
        assert_eq!(judged_number(4999.6, at_least_5000), "4999.6", "not 5000 next to NOT met");
        assert_eq!(judged_number(9999.96, at_least_5000), "9999.96");
        assert_eq!(judged_number(5238.0, at_least_5000), "5238");
        assert_eq!(judged_number(2.004, None), "2.00", "no goal: the usual precision");
    }

    #[test]
    fn tables_have_one_line_per_row_and_ratios() {
        let rows = vec![Row { scenario: "S3 M=100".into(), figure: "deliveries/s".into(), ours: Some(200.0), floor: Some(100.0), peer: Some(400.0), goal: None }];
        let md = markdown_table(&rows);
        assert_eq!(md.lines().count(), 3);
        assert!(md.contains("| 2.00 |") && md.contains("| 0.50 |"), "{md}");
        assert_eq!(plain_table(&rows).lines().count(), 3);
    }
}
