//! `plughost`: the command-line tool of the plughost host library.
//!
//! This file holds the top-level command only; each group of subcommands is a file of its own
//! (`package.rs`: keys and packages).

mod package;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// plughost: load, watch and package extensions of an embeddable plugin host.
#[derive(Parser)]
#[command(name = "plughost", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make publisher keys; pack, sign, validate and install extension packages (.plpkg).
    #[command(subcommand)]
    Package(package::PackageCommand),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Package(cmd) => package::run(cmd),
    }
}
