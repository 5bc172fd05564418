//! The `omnify` binary: parse the command line, set up logging, run, map errors to exit codes.

use std::io::IsTerminal;

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of the system allocator: the service and the jobs allocate and free many
/// short-lived buffers (request bodies, columns, score rows) across threads, where glibc's
/// allocator spent about a tenth of the server's time (consolidating and unlinking chunks).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = omnify::cli::Cli::parse();
    let default_level = if cli.quiet {
        "error"
    } else {
        match cli.verbose {
            0 => "info",
            1 => "debug",
            _ => "trace",
        }
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
    let result = omnify::cli::run(cli);
    if let Some(peak) = peak_rss_bytes() {
        tracing::debug!(peak_rss_bytes = peak, "finished");
    }
    if let Err(e) = result {
        eprintln!("error: {}", e.message);
        std::process::exit(e.code);
    }
}

/// The process's peak resident memory (Linux `VmHWM`), for `-v` logs and the memory benches.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
