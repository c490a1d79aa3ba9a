//! Shadow copies: every load copies the module (and its sibling library files) into a fresh,
//! uniquely named folder and loads it from there, so the original file is never locked or mapped
//! and can be rebuilt at once.
//!
//! Folder names are `<pid>-<sequence>-<stem>-<random>`; at start, folders whose pid is no longer
//! alive are removed (stale copies of crashed processes).

use crate::error::{Error, ErrorKind, Result};
use crate::platform;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static SEQUENCE: AtomicU64 = AtomicU64::new(1);

/// A shadow folder with the module copied into it.
#[derive(Debug)]
pub struct ShadowCopy {
    /// The folder (removed once the generation is unmapped).
    pub dir: PathBuf,
    /// The copied module file, the path that is loaded.
    pub file: PathBuf,
    /// Bytes copied in all.
    pub bytes: u64,
}

fn random_suffix() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(SEQUENCE.load(Ordering::Relaxed));
    h.finish()
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("{what} {}: {e}", path.display()))
}

fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// Whether `path` is a library file that should travel with the module.
pub(crate) fn is_sibling_library(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|ext| platform::LIBRARY_EXTENSIONS.iter().any(|l| l.eq_ignore_ascii_case(ext)))
}

/// Copy `module` (already resolved and trusted) into a new folder under `root`; with
/// `copy_dependencies`, sibling library files that `accept` approves are copied too.
pub fn create(
    root: &Path,
    module: &Path,
    copy_dependencies: bool,
    accept: impl Fn(&Path) -> bool,
) -> Result<ShadowCopy> {
    std::fs::create_dir_all(root).map_err(|e| io_error("cannot create shadow directory", root, e))?;
    let stem = module.file_stem().and_then(|s| s.to_str()).unwrap_or("module");
    let stem: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).take(40).collect();
    let dir = loop {
        let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let candidate = root.join(format!("{}-{seq}-{stem}-{:016x}", std::process::id(), random_suffix()));
        match create_private_dir(&candidate) {
            Ok(()) => break candidate,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_error("cannot create shadow folder", &candidate, e)),
        }
    };
    let result = copy_into(&dir, module, copy_dependencies, accept);
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn copy_into(dir: &Path, module: &Path, copy_dependencies: bool, accept: impl Fn(&Path) -> bool) -> Result<ShadowCopy> {
    let file_name =
        module.file_name().ok_or_else(|| Error::new(ErrorKind::InvalidArgument, "module path has no file name"))?;
    let file = dir.join(file_name);
    let mut bytes = std::fs::copy(module, &file).map_err(|e| io_error("cannot copy", module, e))?;
    if copy_dependencies {
        if let Some(source_dir) = module.parent() {
            let entries = std::fs::read_dir(source_dir).map_err(|e| io_error("cannot list", source_dir, e))?;
            for entry in entries.flatten() {
                let path = entry.path();
                if path == module || !is_sibling_library(&path) || !path.is_file() || !accept(&path) {
                    continue;
                }
                let target = dir.join(entry.file_name());
                bytes += std::fs::copy(&path, &target).map_err(|e| io_error("cannot copy dependency", &path, e))?;
            }
        }
    }
    Ok(ShadowCopy { dir: dir.to_owned(), file, bytes })
}

/// Remove a shadow folder; failures are logged, not returned (the sweep at next start retries).
pub fn remove(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot remove shadow folder");
    }
}

/// Remove folders under `root` left by processes that no longer run. Returns how many went.
pub fn sweep_stale(root: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.split('-').next()).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !platform::pid_alive(pid) && std::fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(root = %root.display(), removed, "removed stale shadow folders");
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_module_and_sibling_libraries_into_unique_folders() {
        let src = tempfile::tempdir().unwrap();
        let shadow = tempfile::tempdir().unwrap();
        let module = src.path().join(format!("libm.{}", platform::LIBRARY_EXTENSIONS[0]));
        std::fs::write(&module, b"module").unwrap();
        std::fs::write(src.path().join(format!("libdep.{}", platform::LIBRARY_EXTENSIONS[0])), b"dep").unwrap();
        std::fs::write(src.path().join("notes.txt"), b"no").unwrap();
        let a = create(shadow.path(), &module, true, |_| true).unwrap();
        let b = create(shadow.path(), &module, false, |_| true).unwrap();
        assert_ne!(a.dir, b.dir);
        assert_eq!(std::fs::read(&a.file).unwrap(), b"module");
        assert_eq!(std::fs::read_dir(&a.dir).unwrap().count(), 2, "module + dependency, not the text file");
        assert_eq!(std::fs::read_dir(&b.dir).unwrap().count(), 1);
        assert_eq!(a.bytes, 9);
        remove(&a.dir);
        assert!(!a.dir.exists());
    }

    #[test]
    fn sweep_removes_only_dead_owners() {
        let shadow = tempfile::tempdir().unwrap();
        let dead = shadow.path().join("999999999-1-m-00");
        let mine = shadow.path().join(format!("{}-1-m-00", std::process::id()));
        let other = shadow.path().join("unrelated");
        for d in [&dead, &mine, &other] {
            std::fs::create_dir(d).unwrap();
        }
        assert_eq!(sweep_stale(shadow.path()), 1);
        assert!(!dead.exists() && mine.exists() && other.exists());
    }
}
