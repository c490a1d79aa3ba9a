//! The trust check: a module path is accepted only if, after resolving `..` and symlinks, it lies
//! inside one of the trusted roots (also resolved).

use crate::error::{Error, ErrorKind, Result};
use std::path::{Path, PathBuf};

/// Trusted roots, resolved once at host start.
#[derive(Clone, Debug)]
pub struct TrustedRoots {
    roots: Vec<PathBuf>,
    restricted: bool,
}

impl TrustedRoots {
    /// Resolve `roots`; roots that do not exist are dropped with a warning. An empty list
    /// disables the restriction.
    pub fn new(roots: &[PathBuf]) -> Self {
        let resolved = roots
            .iter()
            .filter_map(|r| match std::fs::canonicalize(r) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::warn!(root = %r.display(), error = %e, "trusted module root cannot be resolved; ignored");
                    None
                }
            })
            .collect();
        if roots.is_empty() {
            tracing::warn!("no trusted module roots configured: modules load from any path");
        }
        Self { roots: resolved, restricted: !roots.is_empty() }
    }

    /// Whether loads are restricted to the roots.
    pub fn restricted(&self) -> bool {
        self.restricted
    }

    /// The resolved roots.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// Resolve `path` and check that it is a file inside a root.
    pub fn check(&self, path: &Path) -> Result<PathBuf> {
        let resolved = std::fs::canonicalize(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Error::new(ErrorKind::ModuleNotFound, format!("module file {} does not exist", path.display()))
            }
            _ => Error::new(ErrorKind::Io, format!("cannot resolve {}: {e}", path.display())),
        })?;
        if !resolved.is_file() {
            return Err(Error::new(
                ErrorKind::ModuleNotLoadable,
                format!("{} is not a regular file", resolved.display()),
            ));
        }
        if self.restricted && !self.roots.iter().any(|root| resolved.starts_with(root)) {
            return Err(Error::new(
                ErrorKind::ModulePathNotTrusted,
                format!("{} (resolved to {}) is outside the trusted module roots", path.display(), resolved.display()),
            ));
        }
        Ok(resolved)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn refuses_traversal_and_symlinks_out_of_roots() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(root.join("ok.so"), b"x").unwrap();
        std::fs::write(outside.join("evil.so"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.join("evil.so"), root.join("link.so")).unwrap();
        let trust = TrustedRoots::new(std::slice::from_ref(&root));
        assert!(trust.check(&root.join("ok.so")).is_ok());
        let kind = |p: PathBuf| trust.check(&p).unwrap_err().kind();
        assert_eq!(kind(root.join("../outside/evil.so")), ErrorKind::ModulePathNotTrusted);
        assert_eq!(kind(root.join("link.so")), ErrorKind::ModulePathNotTrusted);
        assert_eq!(kind(root.join("missing.so")), ErrorKind::ModuleNotFound);
        assert_eq!(kind(root.clone()), ErrorKind::ModuleNotLoadable);
        assert!(TrustedRoots::new(&[]).check(&outside.join("evil.so")).is_ok());
    }
}
