//! Runs the selected scenarios of a mode against otc-server and the baselines, then prints the
//! table and decides the exit code (failure to run, or ordering violations; never a speed figure).

use std::process::ExitCode;
use std::time::Instant;

use crate::cli::{Mode, Options};
use crate::goals::goal_for;
use crate::plan::plan;
use crate::results::{markdown_table, medians, plain_table, Figures, Row};
use crate::scenario::c_library::CLibrary;
use crate::scenario::{churn, fanout, idle, join_storm, native_cost, resume, socketio};
use crate::server::ServerKind;
use crate::system::Placement;
use crate::target::Target;

/// Results of one scenario at one size, for each server.
struct Group {
    id: &'static str,
    label: String,
    size: usize,
    within_grace: bool,
    ours: Result<Figures, String>,
    floor: Option<Result<Figures, String>>,
    peer: Option<Result<Figures, String>>,
}

/// Runs `scenario` `runs` times, each on a fresh server of `kind`; medians of the figures.
async fn on_fresh_servers(kind: ServerKind, placement: Placement, runs: usize, scenario: impl AsyncFn(&Target) -> Result<Figures, String>) -> Result<Figures, String> {
    on_fresh_servers_with(kind, &[], placement, runs, scenario).await
}

/// [`on_fresh_servers`] with extra server arguments.
async fn on_fresh_servers_with(kind: ServerKind, args: &[String], placement: Placement, runs: usize, scenario: impl AsyncFn(&Target) -> Result<Figures, String>) -> Result<Figures, String> {
    let mut all = Vec::new();
    for _ in 0..runs {
        let mut target = Target::start(kind, args, placement).await?;
        let outcome = scenario(&target).await;
        let alive = target.process.is_running();
        let log = target.process.log.clone();
        target.process.stop().await;
        if !alive {
            return Err(format!("{} exited during the run (log: {})", kind.label(), log.display()));
        }
        all.push(outcome?);
    }
    Ok(medians(&all))
}

/// Runs `scenario` `runs` times; medians of the figures.
async fn repeated(runs: usize, scenario: impl AsyncFn() -> Result<Figures, String>) -> Result<Figures, String> {
    let mut all = Vec::new();
    for _ in 0..runs {
        all.push(scenario().await?);
    }
    Ok(medians(&all))
}

fn progress(label: &str, who: &str, started: Instant, outcome: &Result<Figures, String>) {
    match outcome {
        Ok(_) => eprintln!("  {label} on {who}: done in {:.1} s", started.elapsed().as_secs_f64()),
        Err(e) => eprintln!("  {label} on {who}: FAILED: {e}"),
    }
}

/// Runs everything `options` selects, prints the table; exit code per the module doc.
pub async fn run(options: Options, placement: Placement) -> ExitCode {
    let started = Instant::now();
    eprintln!(
        "otc-bench {:?}: server core {:?}, load core {:?}, {} run(s) per figure",
        options.mode, placement.server_cpu, placement.load_cpu, options.runs
    );
    let groups = run_groups(&options, placement).await;
    let (rows, failures) = tabulate(&groups);
    let table = plain_table(&rows);
    println!("\n{table}");
    let elapsed = started.elapsed().as_secs_f64();
    println!("total time: {elapsed:.1} s");
    if let Some(path) = &options.out {
        let title = if options.mode == Mode::Full { "full" } else { "quick" };
        let text = format!(
            "# otc-bench results ({title} mode)\n\nServer and load generator pinned to cores {:?} / {:?}; {} run(s) per figure (medians); total {elapsed:.0} s.\n\n{}\n",
            placement.server_cpu,
            placement.load_cpu,
            options.runs,
            markdown_table(&rows)
        );
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("otc-bench: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        for failure in &failures {
            eprintln!("FAILED: {failure}");
        }
        ExitCode::FAILURE
    }
}

async fn run_groups(options: &Options, placement: Placement) -> Vec<Group> {
    let mut plan = plan(options.mode);
    if let Some(seconds) = options.churn_seconds {
        plan.churn.duration = std::time::Duration::from_secs(seconds);
    }
    if let Some(rate) = options.churn_rate {
        plan.churn.rate = rate;
    }
    let runs = options.runs;
    let mut groups = Vec::new();
    let peer = !options.no_peer;
    let floor = !options.no_floor;
    // S6 runs first: it measures the native library inside this process, so it gets the process
    // before the load scenarios have filled and freed its heap. The table still lists it last.
    if options.wants("S6") {
        let library = CLibrary::of(options.mode);
        if let Ok(library) = &library {
            eprintln!("S6 loads {}", library.path.display());
        }
        // The otc-server join goes first: the stream run leaves a 210k-entry session behind, and
        // tearing that down keeps the library's network thread busy for ~100 ms, which would land in
        // the next join (S6 measures the join, not the teardown of an earlier session).
        let n = plan.native_roster;
        let label = format!("S6 C API, otc-server K={n}");
        eprintln!("{label}");
        let t = Instant::now();
        let ours = match &library {
            Ok(library) => on_fresh_servers(ServerKind::Ours, placement, runs, async |t| native_cost::run_server(library, t, n).await).await,
            Err(e) => Err(e.clone()),
        };
        progress(&label, "otc-server", t, &ours);
        groups.push(Group { id: "S6", label, size: n, within_grace: true, ours, floor: None, peer: None });
        let load = plan.native_stream;
        let label = format!("S6 C API, stream player K={} P={} S={}", load.roster, load.joins, load.signals);
        eprintln!("{label}");
        let t = Instant::now();
        // The player takes the server's core (no server runs meanwhile).
        let ours = match &library {
            Ok(library) => repeated(runs, async || native_cost::run_stream(library, load, placement.server_cpu).await).await,
            Err(e) => Err(e.clone()),
        };
        progress(&label, "stream player", t, &ours);
        groups.push(Group { id: "S6", label, size: load.roster, within_grace: true, ours, floor: None, peer: None });
    }
    if options.wants("S1") {
        for &n in &plan.join_storms {
            let label = format!("S1 N={n}");
            eprintln!("{label}");
            let t = Instant::now();
            let ours = on_fresh_servers(ServerKind::Ours, placement, runs, async |t| join_storm::run(t, n).await).await;
            progress(&label, "otc-server", t, &ours);
            let floor = if floor {
                let t = Instant::now();
                let outcome = on_fresh_servers(ServerKind::Floor, placement, runs, async |t| join_storm::run(t, n).await).await;
                progress(&label, "floor", t, &outcome);
                Some(outcome)
            } else {
                None
            };
            let peer = if peer && plan.peer_join_storms.contains(&n) {
                let t = Instant::now();
                let outcome = repeated(runs, async || socketio::join_storm(n, placement).await).await;
                progress(&label, "socket.io", t, &outcome);
                Some(outcome)
            } else {
                None
            };
            groups.push(Group { id: "S1", label, size: n, within_grace: true, ours, floor, peer });
        }
    }
    if options.wants("S2") {
        let load = plan.idle;
        let total = load.sessions * load.members;
        let label = format!("S2 {}x{}", load.sessions, load.members);
        eprintln!("{label}");
        let t = Instant::now();
        let ours = on_fresh_servers(ServerKind::Ours, placement, runs, async |t| idle::run(t, load).await).await;
        progress(&label, "otc-server", t, &ours);
        let floor = if floor {
            let t = Instant::now();
            let outcome = on_fresh_servers(ServerKind::Floor, placement, runs, async |t| idle::run(t, load).await).await;
            progress(&label, "floor", t, &outcome);
            Some(outcome)
        } else {
            None
        };
        groups.push(Group { id: "S2", label, size: total, within_grace: true, ours, floor, peer: None });
    }
    if options.wants("S3") {
        for &load in &plan.fan_outs {
            let label = format!("S3 M={} @{}/s", load.members, load.rate);
            eprintln!("{label}");
            let t = Instant::now();
            let ours = on_fresh_servers(ServerKind::Ours, placement, runs, async |t| fanout::run(t, load).await).await;
            progress(&label, "otc-server", t, &ours);
            let floor = if floor {
                let t = Instant::now();
                let outcome = on_fresh_servers(ServerKind::Floor, placement, runs, async |t| fanout::run(t, load).await).await;
                progress(&label, "floor", t, &outcome);
                Some(outcome)
            } else {
                None
            };
            let peer = if peer && plan.peer_fan_outs.iter().any(|p| p.members == load.members) {
                let t = Instant::now();
                let outcome = repeated(runs, async || socketio::fan_out(load, placement).await).await;
                progress(&label, "socket.io", t, &outcome);
                Some(outcome)
            } else {
                None
            };
            groups.push(Group { id: "S3", label, size: load.members, within_grace: true, ours, floor, peer });
        }
    }
    if options.wants("S4") {
        for &load in &plan.cuts {
            let label = format!("S4 {} clients, {}% cut {} s", load.clients, load.cut_percent, load.outage.as_secs());
            eprintln!("{label}");
            let t = Instant::now();
            // One run per cut length: the long cuts take most of a minute each.
            let ours = resume::run(load, placement).await;
            progress(&label, "otc-server", t, &ours);
            let within_grace = load.outage < std::time::Duration::from_secs(10);
            groups.push(Group { id: "S4", label, size: load.clients, within_grace, ours, floor: None, peer: None });
        }
    }
    if options.wants("S5") {
        let load = plan.churn;
        let label = format!("S5 {}x{} @{}/s, {} s", load.sessions, load.members, load.rate, load.duration.as_secs());
        eprintln!("{label}");
        let t = Instant::now();
        let ours = on_fresh_servers(ServerKind::Ours, placement, runs, async |t| churn::run(t, load).await).await;
        progress(&label, "otc-server", t, &ours);
        let floor = if floor {
            let t = Instant::now();
            let outcome = on_fresh_servers(ServerKind::Floor, placement, runs, async |t| churn::run(t, load).await).await;
            progress(&label, "floor", t, &outcome);
            Some(outcome)
        } else {
            None
        };
        groups.push(Group { id: "S5", label, size: load.sessions * load.members, within_grace: true, ours, floor, peer: None });
    }
    let ran_first = groups.iter().take_while(|g| g.id == "S6").count();
    groups.rotate_left(ran_first);
    groups
}

/// Table rows and the list of failures (a scenario that did not run, or ordering violations).
fn tabulate(groups: &[Group]) -> (Vec<Row>, Vec<String>) {
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for group in groups {
        let ok = |r: &Option<Result<Figures, String>>, who: &str, failures: &mut Vec<String>| -> Option<Figures> {
            match r {
                Some(Ok(f)) => Some(f.clone()),
                Some(Err(e)) => {
                    failures.push(format!("{} on {who}: {e}", group.label));
                    None
                }
                None => None,
            }
        };
        let ours = ok(&Some(group.ours.clone()), "otc-server", &mut failures);
        let floor = ok(&group.floor, "floor", &mut failures);
        let peer = ok(&group.peer, "socket.io", &mut failures);
        // Row names from ours, or from a baseline when ours failed (its cells then show "-").
        let Some(names) = ours.as_ref().or(floor.as_ref()).or(peer.as_ref()) else { continue };
        for f in names {
            let find = |set: &Option<Figures>| set.as_ref().and_then(|s| s.iter().find(|g| g.name == f.name).map(|g| g.value));
            let ours_value = find(&ours);
            if f.name == "ordering violations" && ours_value.is_some_and(|v| v > 0.0) {
                failures.push(format!("{}: {} ordering violations", group.label, f.value));
            }
            rows.push(Row {
                scenario: group.label.clone(),
                figure: f.name.clone(),
                ours: ours_value,
                floor: find(&floor),
                peer: find(&peer),
                goal: goal_for(group.id, group.size, &f.name, group.within_grace),
            });
        }
    }
    (rows, failures)
}
