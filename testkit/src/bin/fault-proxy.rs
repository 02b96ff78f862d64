//! `fault-proxy UPSTREAM [LISTEN]`: a fault-injection proxy for manual testing.
//!
//! Listens on LISTEN (default `127.0.0.1:0`, loopback only), forwards to UPSTREAM, prints the
//! listening address, then reads one command per line on stdin:
//! `pass`, `blackhole`, `reset`, `delay MS`, `refuse`, `restore`, `count`, `quit`.

use std::io::BufRead;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use otc_testkit::FaultProxy;
use tokio::sync::mpsc;

const USAGE: &str = "usage: fault-proxy UPSTREAM_ADDR [LISTEN_ADDR]   (e.g. fault-proxy 127.0.0.1:4443)";
const COMMANDS: &str = "commands: pass | blackhole | reset | delay MS | refuse | restore | count | quit";

/// A parsed stdin command.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Pass,
    Blackhole,
    Reset,
    Delay(Duration),
    Refuse,
    Restore,
    Count,
    Quit,
}

/// Parses one command line; the error says what was wrong.
fn parse_command(line: &str) -> Result<Command, String> {
    let mut words = line.split_whitespace();
    let command = match words.next() {
        Some("pass") => Command::Pass,
        Some("blackhole") => Command::Blackhole,
        Some("reset") => Command::Reset,
        Some("refuse") => Command::Refuse,
        Some("restore") => Command::Restore,
        Some("count") => Command::Count,
        Some("quit") => Command::Quit,
        Some("delay") => {
            let ms = words.next().ok_or_else(|| "delay needs milliseconds, e.g. `delay 200`".to_string())?;
            let ms: u64 = ms.parse().map_err(|_| format!("delay needs milliseconds, got {ms:?}"))?;
            Command::Delay(Duration::from_millis(ms))
        }
        _ => return Err(format!("unknown command {line:?}; {COMMANDS}")),
    };
    if words.next().is_some() {
        return Err(format!("too many words in {line:?}; {COMMANDS}"));
    }
    Ok(command)
}

fn parse_addr(arg: Option<String>, default: Option<&str>) -> Result<SocketAddr, String> {
    let text = arg.or(default.map(str::to_string)).ok_or_else(|| USAGE.to_string())?;
    text.parse().map_err(|_| format!("not a socket address: {text:?}\n{USAGE}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let addrs = parse_addr(args.next(), None).and_then(|up| Ok((up, parse_addr(args.next(), Some("127.0.0.1:0"))?)));
    let (upstream, listen) = match addrs {
        Ok(addrs) => addrs,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let proxy = match FaultProxy::start_on(listen, upstream).await {
        Ok(proxy) => proxy,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {} -> {}", proxy.local_addr(), proxy.upstream());
    println!("{COMMANDS}");

    let (lines_tx, mut lines) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });
    while let Some(line) = lines.recv().await {
        if line.trim().is_empty() {
            continue;
        }
        match parse_command(&line) {
            Ok(Command::Pass) => proxy.pass(),
            Ok(Command::Blackhole) => proxy.blackhole(),
            Ok(Command::Reset) => proxy.reset(),
            Ok(Command::Delay(delay)) => proxy.set_delay(delay),
            Ok(Command::Refuse) => proxy.refuse(),
            Ok(Command::Restore) => proxy.restore(),
            Ok(Command::Count) => println!("{} connections", proxy.connection_count()),
            Ok(Command::Quit) => break,
            Err(message) => eprintln!("{message}"),
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        assert_eq!(parse_command("blackhole"), Ok(Command::Blackhole));
        assert_eq!(parse_command("  delay 250 "), Ok(Command::Delay(Duration::from_millis(250))));
        assert_eq!(parse_command("count"), Ok(Command::Count));
    }

    #[test]
    fn bad_commands_are_explained() {
        assert!(parse_command("delay").unwrap_err().contains("milliseconds"));
        assert!(parse_command("delay soon").unwrap_err().contains("milliseconds"));
        assert!(parse_command("reset now").unwrap_err().contains("too many words"));
        assert!(parse_command("explode").unwrap_err().contains("unknown command"));
    }

    #[test]
    fn addresses_parse_or_explain() {
        assert_eq!(parse_addr(Some("127.0.0.1:80".into()), None), Ok("127.0.0.1:80".parse().unwrap()));
        assert_eq!(parse_addr(None, Some("127.0.0.1:0")), Ok("127.0.0.1:0".parse().unwrap()));
        assert!(parse_addr(None, None).unwrap_err().contains("usage"));
        assert!(parse_addr(Some("localhost".into()), None).unwrap_err().contains("not a socket address"));
    }
}
