//! Installing a package into the local store: validate, extract into a hidden temporary folder of
//! the store, then rename it to `<store>/<name>` (an installed version is moved aside first and
//! removed after), so discovery never sees a half-extracted extension.

use super::format::SIGNATURE_FILE;
use super::validate::{check, Report};
use crate::config::ExtensionsConfig;
use crate::error::{Error, ErrorKind, Result};
use std::path::{Path, PathBuf};

/// An installed package.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Installed {
    /// The extension's folder in the store.
    pub directory: PathBuf,
    /// The validation report (with its warnings).
    pub report: Report,
}

/// Validate the package at `package` against `config` and install it into `StoreDirectory`.
///
/// Errors: `INVALID_CONFIG` when no store is configured, `INVALID_ARGUMENT` with every problem
/// when the package is invalid, `IO` when the store cannot be written.
pub fn install(package: &Path, config: &ExtensionsConfig) -> Result<Installed> {
    let store = config.store_directory.as_deref().ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidConfig,
            "PlugHost.Extensions.StoreDirectory is not set: there is no store to install into",
        )
    })?;
    let (report, checked) = check(package, config);
    let Some(checked) = checked else {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{}: {} problem(s):\n{}", package.display(), report.problems.len(), report.problems.join("\n")),
        ));
    };
    let io = |what: String, e: std::io::Error| Error::new(ErrorKind::Io, format!("{what}: {e}"));
    std::fs::create_dir_all(store).map_err(|e| io(format!("cannot create the store {}", store.display()), e))?;
    let unique = format!("{}-{}-{}", checked.manifest.name, std::process::id(), nanos());
    let temp = store.join(format!(".tmp-{unique}"));
    let result = extract(&temp, &checked.contents).and_then(|()| {
        let target = store.join(&checked.manifest.name);
        let aside = store.join(format!(".old-{unique}"));
        let had_one = target.exists();
        if had_one {
            std::fs::rename(&target, &aside).map_err(|e| io(format!("cannot move {} aside", target.display()), e))?;
        }
        if let Err(e) = std::fs::rename(&temp, &target) {
            if had_one {
                let _ = std::fs::rename(&aside, &target);
            }
            return Err(io(format!("cannot move the extension into {}", target.display()), e));
        }
        if had_one {
            let _ = std::fs::remove_dir_all(&aside);
        }
        Ok(target)
    });
    match result {
        Ok(directory) => Ok(Installed { directory, report }),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&temp);
            Err(e)
        }
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// Write every file (and the signature) below `dir`.
fn extract(dir: &Path, contents: &super::format::Contents) -> Result<()> {
    let io =
        |path: &Path, e: std::io::Error| Error::new(ErrorKind::Io, format!("cannot write {}: {e}", path.display()));
    std::fs::create_dir(dir).map_err(|e| io(dir, e))?;
    let signature = contents.signature.as_ref().map(|s| (SIGNATURE_FILE.to_owned(), s.clone(), 0o644));
    let files = contents.files.iter().map(|(p, f)| (p.clone(), f.bytes.clone(), f.mode)).chain(signature);
    for (relative, bytes, mode) in files {
        // Paths were checked by validation (relative, inside, no symlinks).
        let path = dir.join(&relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| io(&path, e))?;
        set_mode(&path, mode).map_err(|e| io(&path, e))?;
    }
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // Owner read and write always; execute as packed; nothing writable by others.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode((mode & 0o755) | 0o600))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}
