//! Command-line options of the S4 measurement.

use std::time::Duration;

/// What to measure.
#[derive(Clone, Debug)]
pub struct Options {
    /// Clients in the session.
    pub clients: usize,
    /// Percentage of them cut by the blackhole.
    pub cut_percent: usize,
    /// Outage lengths, one run each.
    pub cuts: Vec<Duration>,
    /// Client keepalive: ping interval and ping timeout.
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    /// Server resume grace.
    pub grace: Duration,
    /// Client connect timeout (also bounds each redial); `None` = the library default.
    pub connect_timeout: Option<Duration>,
}

pub const USAGE: &str = "usage: s4 [--clients N=100] [--cut-percent P=10] [--cut-secs 2,8,20] \
[--ping-ms 1000] [--ping-timeout-ms 1000] [--grace-secs 10] [--connect-timeout-ms MS]";

impl Default for Options {
    fn default() -> Self {
        Options {
            clients: 100,
            cut_percent: 10,
            cuts: vec![Duration::from_secs(2)],
            ping_interval: Duration::from_millis(1000),
            ping_timeout: Duration::from_millis(1000),
            grace: Duration::from_secs(10),
            connect_timeout: None,
        }
    }
}

/// Parses `--name value` pairs; the error explains what is wrong.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut options = Options::default();
    let mut args = args.into_iter();
    while let Some(name) = args.next() {
        let value = args.next().ok_or_else(|| format!("{name} needs a value\n{USAGE}"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|_| format!("{name}: {v:?} is not a whole number\n{USAGE}"));
        match name.as_str() {
            "--clients" => options.clients = number(&value)? as usize,
            "--cut-percent" => options.cut_percent = number(&value)? as usize,
            "--cut-secs" => {
                options.cuts = value.split(',').map(|v| number(v).map(Duration::from_secs)).collect::<Result<_, _>>()?
            }
            "--ping-ms" => options.ping_interval = Duration::from_millis(number(&value)?),
            "--ping-timeout-ms" => options.ping_timeout = Duration::from_millis(number(&value)?),
            "--grace-secs" => options.grace = Duration::from_secs(number(&value)?),
            "--connect-timeout-ms" => options.connect_timeout = Some(Duration::from_millis(number(&value)?)),
            _ => return Err(format!("unknown option {name}\n{USAGE}")),
        }
    }
    if options.clients < 2 || options.cut_percent == 0 || options.cut_percent >= 100 {
        return Err(format!("need at least 2 clients and a cut percentage from 1 to 99\n{USAGE}"));
    }
    if options.ping_interval.is_zero() || options.ping_timeout.is_zero() || options.cuts.is_empty() {
        return Err(format!("ping times must be positive and at least one cut length given\n{USAGE}"));
    }
    Ok(options)
}

impl Options {
    /// How many clients are cut (at least one).
    pub fn cut_count(&self) -> usize {
        (self.clients * self.cut_percent / 100).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_options() {
        let o = parse(args(&["--clients", "1000", "--cut-secs", "2,8,20", "--ping-ms", "500"])).unwrap();
        assert_eq!(o.clients, 1000);
        assert_eq!(o.cut_count(), 100);
        assert_eq!(o.cuts, vec![Duration::from_secs(2), Duration::from_secs(8), Duration::from_secs(20)]);
        assert_eq!(o.ping_interval, Duration::from_millis(500));
        assert_eq!(o.connect_timeout, None);
        let o = parse(args(&["--connect-timeout-ms", "3000"])).unwrap();
        assert_eq!(o.connect_timeout, Some(Duration::from_secs(3)));
    }

    #[test]
    fn rejects_bad_options() {
        assert!(parse(args(&["--clients"])).unwrap_err().contains("needs a value"));
        assert!(parse(args(&["--clients", "many"])).unwrap_err().contains("not a whole number"));
        assert!(parse(args(&["--cut-percent", "100"])).unwrap_err().contains("cut percentage"));
        assert!(parse(args(&["--bogus", "1"])).unwrap_err().contains("unknown option"));
    }
}
