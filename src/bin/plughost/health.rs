//! `plughost health`: start a host as configured (plugins start as their settings say), load the
//! given modules, run a health check and print the health report (or the check history) as JSON.

use crate::common::{load_module, read_config, Failure, Output};
use clap::Args;
use plughost::health::Status;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `health`.
#[derive(Args)]
#[command(after_help = "\
Examples:
  plughost health
  plughost health --config appsettings.json --module ./libcounter.so
  plughost health --config appsettings.json --history

The report's \"status\" is healthy, degraded or unhealthy, with \"reasons\"; \"last_check\" holds
each component probe's status and detail and the recovery attempts. The exit status is 1 when the
host is unhealthy, 0 otherwise.")]
pub struct HealthArgs {
    /// The host's configuration file (JSON); the defaults when absent.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// A work module to load before the check (repeat for more).
    #[arg(long, short, value_name = "PATH")]
    module: Vec<PathBuf>,
    /// Print the history of checks (a JSON array) instead of the report.
    #[arg(long)]
    history: bool,
}

/// Run `plughost health`.
pub fn main(args: HealthArgs, out: &Output) -> Result<ExitCode, Failure> {
    let config = read_config(args.config.as_deref())?;
    let host = out.start_host(config)?;
    for module in &args.module {
        load_module(out, &host, module)?;
    }
    let run = out.step("running a health check", || host.check_health().map_err(|e| e.to_string()))?;
    let text = if args.history { host.health_history_json() } else { host.health_json() };
    host.stop();
    println!("{text}");
    Ok(if run.status == Status::Unhealthy { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
