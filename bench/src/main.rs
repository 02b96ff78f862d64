//! otc-bench: the benchmark harness of spec/benchmarks.md. Starts each server under test as its own
//! process (pinned to its own core), drives it with real WebSocket clients from this process (and
//! worker processes for big connection counts), measures the floor and Socket.IO baselines in the
//! same run and prints one table (also written as Markdown with `--out`).

mod cli;
mod client;
mod clock;
mod frames;
mod goals;
mod json_scan;
mod latency;
mod opening_handshake;
mod plan;
mod procstat;
mod report;
mod rest;
mod results;
mod scenario;
mod server;
mod system;
mod target;
mod token_client;
mod wire;
mod worker;

use std::process::ExitCode;

use cli::Invocation;

/// jemalloc, as the servers under test use, for the load generator's own code. With glibc's malloc,
/// allocation was ~20% of the load generator's core in S5's churn (2026-12-06, `perf`). The C library
/// S6 loads (`scenario::c_library`) is a cdylib with its own Rust runtime, so it still allocates with
/// the C malloc, as in a C app's process, and S6's heap figure (glibc's `mallinfo2`) sees its
/// allocations and no longer the bench's. (While S6 called the crate linked into the bench, jemalloc
/// here made that figure read 0.)
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let invocation = match cli::parse(&args) {
        Ok(invocation) => invocation,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    // Before the runtime's threads exist, as otc-server does: the workers open 10,000 sockets a
    // second, and each doubling of a threaded process's descriptor table blocks them for 8-20 ms.
    if let Err(e) = otc_server::process::prepare_descriptors() {
        eprintln!("otc-bench: open-file limit or descriptor table: {e}");
    }
    // Pin before the runtime starts its threads (they and the worker processes inherit it).
    let placement = system::Placement::choose();
    if let (Invocation::Bench(_), Some(cpu)) = (&invocation, placement.load_cpu) {
        if let Err(e) = system::pin_self_to(cpu) {
            eprintln!("otc-bench: not pinned: {e}");
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("otc-bench: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match invocation {
        Invocation::Worker(args) => match runtime.block_on(worker::run(args)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("otc-bench worker: {message}");
                ExitCode::FAILURE
            }
        },
        Invocation::Bench(options) => runtime.block_on(report::run(options, placement)),
    }
}
