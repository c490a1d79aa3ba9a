//! Discovery: the subfolders of each search path that hold a manifest, read in a stable order
//! (search paths in the order given, subfolders by name).

use super::manifest::{self, Manifest};
use std::path::{Path, PathBuf};

/// What a scan found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Manifests read without problems whose entry exists, in scan order.
    pub manifests: Vec<Manifest>,
    /// Every problem: unreadable search paths, manifests that could not be used.
    pub problems: Vec<String>,
}

/// A folder to scan.
pub struct Root<'a> {
    /// The folder whose subfolders hold manifests.
    pub path: &'a Path,
    /// Whether a missing folder is a problem (a search path) or just empty (the store before its
    /// first install).
    pub required: bool,
}

/// Scan `roots` for `<root>/<folder>/<file_name>` manifests.
pub fn scan(roots: &[Root<'_>], file_name: &str) -> Scan {
    let mut found = Scan::default();
    for root in roots {
        let entries = match std::fs::read_dir(root.path) {
            Ok(entries) => entries,
            Err(e) if !root.required && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                found.problems.push(format!("search path {}: {e}", root.path.display()));
                continue;
            }
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| e.path().join(file_name))
            .filter(|m| m.is_file())
            .collect();
        files.sort();
        for file in files {
            match manifest::read(&file) {
                Ok(m) if !m.entry_path().exists() => {
                    found.problems.push(format!("{}: entry {:?} does not exist", file.display(), m.entry))
                }
                Ok(m) => found.manifests.push(m),
                Err(problems) => found.problems.extend(problems),
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, folder: &str, name: &str, text: &str) {
        std::fs::create_dir_all(root.join(folder)).unwrap();
        std::fs::write(root.join(folder).join(name), text).unwrap();
    }

    #[test]
    fn scans_in_order_and_reports_every_problem() {
        let dir = tempfile::tempdir().unwrap();
        let m = |name: &str, entry: &str| {
            format!("[extension]\nname = \"{name}\"\nversion = \"1.0.0\"\nkind = \"python\"\nentry = \"{entry}\"\n")
        };
        write(dir.path(), "b", "extension.toml", &m("b", "b.py"));
        write(dir.path(), "b", "b.py", "");
        write(dir.path(), "a", "extension.toml", &m("a", "a.py"));
        write(dir.path(), "a", "a.py", "");
        write(dir.path(), "noentry", "extension.toml", &m("n", "gone.py"));
        write(dir.path(), "broken", "extension.toml", "[extension]\nname = 1\n");
        write(dir.path(), ".tmp-x", "extension.toml", &m("hidden", "h.py"));
        write(dir.path(), "other", "readme.txt", "not an extension");
        let missing = dir.path().join("missing");
        let store = dir.path().join("store");
        let roots = [
            Root { path: dir.path(), required: true },
            Root { path: &missing, required: true },
            Root { path: &store, required: false },
        ];
        let found = scan(&roots, manifest::MANIFEST_FILE);
        let names: Vec<&str> = found.manifests.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        let problems = found.problems.join("\n");
        for expected in [
            "noentry/extension.toml: entry \"gone.py\" does not exist",
            "broken/extension.toml: [extension] name",
            "missing: ",
        ] {
            assert!(problems.contains(expected), "{expected:?} missing from:\n{problems}");
        }
        assert!(!problems.contains(".tmp-x") && !problems.contains("other"), "{problems}");
    }
}
