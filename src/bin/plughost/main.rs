//! `plughost`: the command-line tool of plughost. Check a configuration, run a work module's
//! command, watch a module and print its reloads, print a host's health.
//!
//! One file per subcommand group; `common.rs` holds what they share (reading the configuration,
//! starting a host, progress lines, errors). Results go to standard output, progress and errors
//! to standard error. Exit status: 0 success, 1 failure (or problems found), 2 wrong usage.

mod common;
mod config;
mod health;
mod package;
mod run;
mod watch;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Command-line tool of plughost, the embeddable plugin host.
#[derive(Parser)]
#[command(
    name = "plughost",
    version,
    about = "Command-line tool of plughost: check configurations, run and watch work modules, print health, make and install extension packages.",
    long_about = None,
    after_help = "\
Examples:
  plughost config validate appsettings.json
  plughost run --config appsettings.json ./libcounter.so increment --input 5
  plughost watch ./target/debug/libcounter.so
  plughost health --config appsettings.json --history
  plughost package keygen publisher
  plughost package pack ./my-extension --key publisher.key

Run `plughost <command> --help` for the options of a command."
)]
struct Cli {
    /// Print only results and errors, no progress lines.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Print the host's log on standard error (debug level and above).
    #[arg(long, short, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with configuration files.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Load a work module into a host, run one of its commands and print the output.
    Run(run::RunArgs),
    /// Load a work module, watch its file and print each reload until stopped (Ctrl-C).
    Watch(watch::WatchArgs),
    /// Start a host, run a health check and print the health report as JSON.
    Health(health::HealthArgs),
    /// Make publisher keys; pack, sign, validate and install extension packages (.plpkg).
    #[command(subcommand)]
    Package(package::PackageCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = common::Output::new(cli.quiet, cli.verbose);
    let result = match cli.command {
        Command::Config(command) => config::main(command, &out),
        Command::Run(args) => run::main(args, &out),
        Command::Watch(args) => watch::main(args, &out),
        Command::Health(args) => health::main(args, &out),
        Command::Package(command) => Ok(package::run(command, &out)),
    };
    match result {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("error: {failure}");
            ExitCode::FAILURE
        }
    }
}
