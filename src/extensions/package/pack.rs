//! Packing a folder into a package, and (re)signing a package.

use super::format::{self, Limits, PackedFile, SIGNATURE_FILE};
use super::sign::{self, SecretKey};
use crate::config::ExtensionsConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::extensions::manifest::{self, MANIFEST_FILE};
use std::collections::BTreeMap;
use std::path::Path;

/// Pack the extension in `folder` (its `extension.toml` at the top) into the package `out`, signed
/// with `key` when given. Every file below the folder is packed except a `SIGNATURE.json` and
/// hidden entries (names starting with `.`); a symbolic link is an error. `progress` hears of each
/// step. Returns the number of files packed.
pub fn pack(folder: &Path, out: &Path, key: Option<&SecretKey>, progress: &mut dyn FnMut(&str)) -> Result<usize> {
    let manifest = manifest::read(&folder.join(MANIFEST_FILE))
        .map_err(|problems| Error::new(ErrorKind::InvalidArgument, problems.join("\n")))?;
    if !manifest.entry_path().exists() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{}: entry {:?} does not exist", manifest.origin.display(), manifest.entry),
        ));
    }
    progress(&format!("packing {} {} ({})", manifest.name, manifest.version, manifest.kind.name()));
    let mut files = BTreeMap::new();
    collect(folder, "", &mut files)?;
    progress(&format!("{} file(s), {} bytes", files.len(), files.values().map(|f| f.bytes.len()).sum::<usize>()));
    let signature = key.map(|key| {
        progress(&format!("signing with key \"{}\"", key.name));
        sign::sign(&files, key)
    });
    format::write(out, &files, signature.as_deref())?;
    progress(&format!("wrote {}", out.display()));
    Ok(files.len())
}

/// Sign the package at `path` with `key` (replacing a signature it has), rewriting it in place.
/// The package is read with `config`'s limits; its problems other than the signature's are not
/// checked here (run `validate`).
pub fn sign_package(path: &Path, key: &SecretKey, config: &ExtensionsConfig) -> Result<()> {
    let mut problems = Vec::new();
    let limits = Limits { max_bytes: config.max_package_bytes, max_files: config.max_package_files };
    let contents = format::read(path, limits, &mut problems);
    match contents {
        Some(contents) if problems.is_empty() => {
            format::write(path, &contents.files, Some(&sign::sign(&contents.files, key)))
        }
        _ => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{}: cannot be signed:\n{}", path.display(), problems.join("\n")),
        )),
    }
}

fn collect(dir: &Path, prefix: &str, files: &mut BTreeMap<String, PackedFile>) -> Result<()> {
    let io = |path: &Path, e: std::io::Error| Error::new(ErrorKind::Io, format!("{}: {e}", path.display()));
    let mut entries: Vec<_> = std::fs::read_dir(dir).map_err(|e| io(dir, e))?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let relative = format!("{prefix}{name}");
        if name.starts_with('.') || relative == SIGNATURE_FILE {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| io(&path, e))?;
        if kind.is_symlink() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("{}: symbolic links cannot be packed", path.display()),
            ));
        } else if kind.is_dir() {
            collect(&path, &format!("{relative}/"), files)?;
        } else {
            let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
            files.insert(relative, PackedFile { bytes, mode: mode_of(&entry) });
        }
    }
    Ok(())
}

#[cfg(unix)]
fn mode_of(entry: &std::fs::DirEntry) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    entry.metadata().map_or(0o644, |m| m.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn mode_of(_entry: &std::fs::DirEntry) -> u32 {
    0o644
}
