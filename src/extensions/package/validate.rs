//! Validation: every problem of a package at once (the zip, its paths and sizes, the manifest, the
//! signature and the publisher's trust), and the warnings that do not block an install.

use super::format::{self, Contents, Limits};
use super::sign;
use crate::config::ExtensionsConfig;
use crate::extensions::manifest::{self, Manifest, MANIFEST_FILE};
use std::path::Path;

/// The outcome of a validation (serialised as the JSON of `plughost_package_validate`).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Report {
    /// No problems: the package may be installed.
    pub valid: bool,
    /// The extension's name, when the manifest could be read.
    pub name: Option<String>,
    /// Its version.
    pub version: Option<String>,
    /// Its kind.
    pub kind: Option<&'static str>,
    /// The trusted key it is signed with, if any.
    pub signer: Option<String>,
    /// What makes it invalid.
    pub problems: Vec<String>,
    /// What is worth knowing but allowed (an unsigned package while `AllowUnsigned` is true).
    pub warnings: Vec<String>,
}

/// A validated package's manifest and files.
pub(super) struct Checked {
    pub manifest: Manifest,
    pub contents: Contents,
}

/// Validate the package at `path` against `config` (trusted keys, `AllowUnsigned`, limits).
pub fn validate(path: &Path, config: &ExtensionsConfig) -> Report {
    check(path, config).0
}

/// Validate, and keep what was read when the package is valid.
pub(super) fn check(path: &Path, config: &ExtensionsConfig) -> (Report, Option<Checked>) {
    let mut report = Report::default();
    let limits = Limits { max_bytes: config.max_package_bytes, max_files: config.max_package_files };
    let mut problems = Vec::new();
    let Some(contents) = format::read(path, limits, &mut problems) else {
        report.problems = problems;
        return (report, None);
    };
    let manifest = match contents.files.get(MANIFEST_FILE) {
        None => {
            problems.push(format!("no {MANIFEST_FILE} at the package's root"));
            None
        }
        Some(file) => match std::str::from_utf8(&file.bytes) {
            Err(_) => {
                problems.push(format!("{MANIFEST_FILE}: not UTF-8 text"));
                None
            }
            Ok(text) => match manifest::parse(text, Path::new(MANIFEST_FILE)) {
                Err(manifest_problems) => {
                    problems.extend(manifest_problems);
                    None
                }
                Ok(m) => {
                    let prefix = format!("{}/", m.entry.trim_start_matches("./").trim_end_matches('/'));
                    let entry = m.entry.trim_start_matches("./");
                    if !contents.files.contains_key(entry) && !contents.files.keys().any(|p| p.starts_with(&prefix)) {
                        problems.push(format!("{MANIFEST_FILE}: entry {:?} is not in the package", m.entry));
                    }
                    Some(m)
                }
            },
        },
    };
    if let Some(m) = &manifest {
        report.name = Some(m.name.clone());
        report.version = Some(m.version.to_string());
        report.kind = Some(m.kind.name());
    }
    check_signature(&contents, config, &mut problems, &mut report);
    report.problems = problems;
    report.valid = report.problems.is_empty();
    let checked = match manifest {
        Some(manifest) if report.valid => Some(Checked { manifest, contents }),
        _ => None,
    };
    (report, checked)
}

/// The signature and the trust in its key.
fn check_signature(contents: &Contents, config: &ExtensionsConfig, problems: &mut Vec<String>, report: &mut Report) {
    let untrusted = |text: String, problems: &mut Vec<String>, report: &mut Report| {
        if config.allow_unsigned {
            report.warnings.push(format!("{text}; accepted because AllowUnsigned is true"));
        } else {
            problems.push(format!("{text} (AllowUnsigned is false)"));
        }
    };
    let Some(signature) = &contents.signature else {
        untrusted("the package is not signed".into(), problems, report);
        return;
    };
    let Some((document, public)) = sign::verify(signature, &contents.files, problems) else { return };
    match config.trusted_keys.iter().find(|k| k.name == document.key) {
        Some(trusted) if trusted.public_key == public => report.signer = Some(document.key),
        Some(_) => problems.push(format!(
            "signed as \"{}\" but with another public key than the trusted key of that name",
            document.key
        )),
        None => untrusted(format!("signed by \"{}\", which is not a trusted key", document.key), problems, report),
    }
}
