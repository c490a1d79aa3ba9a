//! `plughost run`: start a host, load a work module, run one command and print its output.

use crate::common::{describe, load_module, read_config, Failure, Output};
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `run`.
#[derive(Args)]
#[command(after_help = "\
Examples:
  plughost run ./libcounter.so increment --input 5
  plughost run --config appsettings.json ./libcounter.so echo --input '{\"x\": 1}'
  plughost run ./libcounter.so echo --input @request.json

The output is written to standard output as the module returned it; progress goes to standard
error (silence it with --quiet).")]
pub struct RunArgs {
    /// The host's configuration file (JSON); the defaults when absent.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// The work module's library file.
    module: PathBuf,
    /// The command to run.
    command: String,
    /// The command's input: text (often JSON), or @FILE to read it from a file.
    #[arg(long, short, default_value = "")]
    input: String,
}

/// The input bytes: the text, or the contents of the file after `@`.
fn input_bytes(input: &str) -> Result<Vec<u8>, Failure> {
    match input.strip_prefix('@') {
        Some(file) => std::fs::read(file).map_err(|e| format!("cannot read the input file {file}: {e}")),
        None => Ok(input.as_bytes().to_vec()),
    }
}

/// Run `plughost run`.
pub fn main(args: RunArgs, out: &Output) -> Result<ExitCode, Failure> {
    let input = input_bytes(&args.input)?;
    let config = read_config(args.config.as_deref())?;
    let host = out.start_host(config)?;
    let id = load_module(out, &host, &args.module)?;
    let output = out.step(format!("running command {} of {}", args.command, display(&args.module)), || {
        host.execute(id, &args.command, &input).map_err(|e| format!("{} failed: {}", args.command, describe(&e)))
    });
    host.stop();
    let output = output?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&output)
        .and_then(|()| if output.ends_with(b"\n") { Ok(()) } else { stdout.write_all(b"\n") })
        .map_err(|e| format!("cannot write the output: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

fn display(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}
