//! `plughost config validate <file>`: check a configuration file and list every problem with its
//! JSON path.

use crate::common::{read_text, Failure, Output};
use clap::{Args, Subcommand};
use plughost::config::{profiles, Config};
use std::path::PathBuf;
use std::process::ExitCode;

/// The `config` subcommands.
#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration file: print every problem with its JSON path (exit status 1), or
    /// confirm it is valid.
    #[command(after_help = "\
Examples:
  plughost config validate appsettings.json
  plughost config validate --quiet appsettings.json && echo valid

A configuration is a JSON document with a \"PlugHost\" object; see README.md, section
Configuration. Unknown keys are problems too, with the nearest known key suggested.")]
    Validate(ValidateArgs),
}

/// Arguments of `config validate`.
#[derive(Args)]
pub struct ValidateArgs {
    /// The configuration file (JSON).
    file: PathBuf,
}

/// Run a `config` subcommand.
pub fn main(command: ConfigCommand, out: &Output) -> Result<ExitCode, Failure> {
    match command {
        ConfigCommand::Validate(args) => validate(&args, out),
    }
}

fn validate(args: &ValidateArgs, out: &Output) -> Result<ExitCode, Failure> {
    let text = read_text(&args.file)?;
    match Config::validate(&text) {
        Ok(config) => {
            let profile = config.profile.map_or_else(
                || format!("no profile (profiles: {})", profiles::names().join(", ")),
                |p| format!("profile {p}"),
            );
            println!("{}: valid ({profile})", args.file.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => {
            for problem in &problems {
                println!("{problem}");
            }
            out.note(format!("{}: {} problem(s)", args.file.display(), problems.len()));
            Ok(ExitCode::FAILURE)
        }
    }
}
