//! `plughost package ...`: publisher keys and extension packages.
//!
//! A package (`.plpkg`) is a zip of an extension's folder (its `extension.toml` at the top) with a
//! `SIGNATURE.json` made by a publisher's key. Hosts trust publishers by listing their public keys
//! in `PlugHost.Extensions.TrustedKeys`.

use clap::Subcommand;
use plughost::config::{Config, ExtensionsConfig};
use plughost::extensions::package::{self, SecretKey};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::common::Output;

/// The package subcommands.
#[derive(Subcommand)]
pub enum PackageCommand {
    /// Make a new publisher key: writes the secret key file and prints the public key to trust.
    ///
    /// Keep the key file secret. Put the printed {"Name", "PublicKey"} object into
    /// PlugHost.Extensions.TrustedKeys of the hosts that should accept your packages.
    Keygen {
        /// The key's name, as hosts list it in TrustedKeys (letters, digits, '.', '_', '-').
        name: String,
        /// Where to write the secret key file (default: <NAME>.key); never overwritten.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Pack an extension folder (with extension.toml at its top) into a package.
    Pack {
        /// The extension's folder.
        folder: PathBuf,
        /// The package to write (default: <name>-<version>.plpkg in the current folder).
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Sign with this secret key file (made by `plughost package keygen`).
        #[arg(long, short)]
        key: Option<PathBuf>,
    },
    /// Sign a package (replacing the signature it has).
    Sign {
        /// The package.
        package: PathBuf,
        /// The secret key file.
        #[arg(long, short)]
        key: PathBuf,
    },
    /// Check a package and report every problem at once; exit status 1 if it is invalid.
    Validate {
        /// The package.
        package: PathBuf,
        /// A host configuration (JSON) whose PlugHost.Extensions gives the trusted keys,
        /// AllowUnsigned and the limits (default: no trusted keys, unsigned allowed).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Validate a package, then install it into the store of a host configuration.
    Install {
        /// The package.
        package: PathBuf,
        /// The host configuration (JSON) with PlugHost.Extensions.StoreDirectory and TrustedKeys.
        #[arg(long, short)]
        config: PathBuf,
    },
}

/// Run a package subcommand; errors are printed to stderr.
pub fn run(cmd: PackageCommand, output: &Output) -> ExitCode {
    match execute(cmd, output) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn read_key(path: &Path) -> Result<SecretKey, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read the key file {}: {e}", path.display()))?;
    SecretKey::from_text(&text).map_err(|e| format!("{}: {}", path.display(), e.message()))
}

/// `PlugHost.Extensions` of the configuration file at `path`, or the defaults.
fn extensions_config(path: Option<&Path>) -> Result<ExtensionsConfig, String> {
    let Some(path) = path else { return Ok(ExtensionsConfig::default()) };
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Config::from_json(&text).map(|c| c.extensions).map_err(|e| format!("{}: {}", path.display(), e.message()))
}

fn execute(cmd: PackageCommand, output: &Output) -> Result<ExitCode, String> {
    match cmd {
        PackageCommand::Keygen { name, out } => {
            let key = package::generate_key(&name).map_err(|e| e.message().to_owned())?;
            let out = out.unwrap_or_else(|| PathBuf::from(format!("{name}.key")));
            write_secret(&out, &key.to_text())?;
            eprintln!("wrote the secret key to {} (keep it secret)", out.display());
            eprintln!("add this to PlugHost.Extensions.TrustedKeys of the hosts that trust you:");
            println!("{}", serde_json::json!({"Name": key.name, "PublicKey": key.public_key_text()}));
        }
        PackageCommand::Pack { folder, out, key } => {
            let key = key.as_deref().map(read_key).transpose()?;
            let out = match out {
                Some(out) => out,
                None => {
                    let manifest =
                        plughost::extensions::manifest::read(&folder.join(plughost::extensions::MANIFEST_FILE))
                            .map_err(|p| p.join("\n"))?;
                    PathBuf::from(format!("{}-{}.{}", manifest.name, manifest.version, package::FILE_EXTENSION))
                }
            };
            package::pack(&folder, &out, key.as_ref(), &mut |step: &str| output.note(step))
                .map_err(|e| e.message().to_owned())?;
            if key.is_none() {
                eprintln!("note: the package is not signed; hosts with AllowUnsigned = false refuse it");
            }
            println!("{}", out.display());
        }
        PackageCommand::Sign { package: path, key } => {
            let key = read_key(&key)?;
            output.note(format!("signing {} with key \"{}\"", path.display(), key.name));
            package::sign_package(&path, &key, &ExtensionsConfig::default()).map_err(|e| e.message().to_owned())?;
            eprintln!("signed");
        }
        PackageCommand::Validate { package: path, config, json } => {
            let config = extensions_config(config.as_deref())?;
            let report = package::validate(&path, &config);
            if json {
                println!("{}", serde_json::to_string_pretty(&report).expect("a report serialises"));
            } else {
                print_report(&path, &report);
            }
            return Ok(if report.valid { ExitCode::SUCCESS } else { ExitCode::FAILURE });
        }
        PackageCommand::Install { package: path, config } => {
            let config = extensions_config(Some(&config))?;
            output.note(format!("validating {}", path.display()));
            let installed = package::install(&path, &config).map_err(|e| e.message().to_owned())?;
            for warning in &installed.report.warnings {
                eprintln!("warning: {warning}");
            }
            println!("installed into {}", installed.directory.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(path: &Path, report: &package::Report) {
    let what = match (&report.name, &report.version, report.kind) {
        (Some(n), Some(v), Some(k)) => format!("{n} {v} ({k})"),
        _ => "unknown extension".to_owned(),
    };
    let signer =
        report.signer.as_deref().map_or("not signed by a trusted key".to_owned(), |s| format!("signed by \"{s}\""));
    println!("{}: {what}, {signer}", path.display());
    for warning in &report.warnings {
        println!("warning: {warning}");
    }
    for problem in &report.problems {
        println!("problem: {problem}");
    }
    println!("{}", if report.valid { "valid" } else { "INVALID" });
}

/// Write a new file readable by its owner only; an existing file is not overwritten.
fn write_secret(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
