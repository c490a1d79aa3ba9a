//! Extension settings (`PlugHost.Extensions`): where extension manifests are searched, the local
//! store packages are installed into, the publishers whose signatures are trusted, and the limits
//! a package must keep. The same object is the `options` of `plughost_package_validate`.

use super::reader::Reader;
use crate::error::Result;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::time::Duration;

/// The keys of `PlugHost.Extensions`.
const KEYS: &[&str] = &[
    "SearchPaths",
    "StoreDirectory",
    "TrustedKeys",
    "AllowUnsigned",
    "Watch",
    "DebounceMs",
    "MaxPackageBytes",
    "MaxPackageFiles",
];

/// A publisher whose package signatures are trusted (`PlugHost.Extensions.TrustedKeys[i]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedKey {
    /// The publisher's key name, as written in a package's signature.
    pub name: String,
    /// The ed25519 public key, 32 bytes (base64 in the configuration).
    pub public_key: [u8; 32],
}

/// `PlugHost.Extensions`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionsConfig {
    /// Folders whose subfolders hold `extension.toml` manifests, in priority order.
    pub search_paths: Vec<PathBuf>,
    /// Where packages are installed (one subfolder per extension); scanned after the search paths.
    /// `None`: installing is not possible.
    pub store_directory: Option<PathBuf>,
    /// Publishers whose signatures are accepted.
    pub trusted_keys: Vec<TrustedKey>,
    /// Whether a package without a trusted signature may be installed (a warning, not a problem).
    pub allow_unsigned: bool,
    /// Whether the search paths and the store are watched and rescanned on change.
    pub watch: bool,
    /// How long the folders must stay quiet after a change before they are rescanned.
    pub debounce: Duration,
    /// The largest total of uncompressed bytes a package may hold.
    pub max_package_bytes: u64,
    /// The most entries a package may hold.
    pub max_package_files: usize,
}

impl Default for ExtensionsConfig {
    fn default() -> Self {
        let mut r = Reader::default();
        read(&mut r, &Value::Object(Map::new()), "$")
    }
}

impl ExtensionsConfig {
    /// Read the settings from the JSON text of a `PlugHost.Extensions` object (empty = defaults),
    /// reporting every problem at once as `PLUGHOST_ERR_INVALID_CONFIG`.
    pub fn from_json(text: &str) -> Result<Self> {
        super::section_from_json(text, read)
    }
}

/// Read `PlugHost.Extensions` at `path`.
pub(super) fn read(r: &mut Reader, value: &Value, path: &str) -> ExtensionsConfig {
    let empty = Map::new();
    let o = r.object(value, path, KEYS).unwrap_or(&empty);
    ExtensionsConfig {
        search_paths: r.paths(o, path, "SearchPaths"),
        store_directory: r.path(o, path, "StoreDirectory"),
        trusted_keys: read_keys(r, o.get("TrustedKeys"), &format!("{path}.TrustedKeys")),
        allow_unsigned: r.boolean(o, path, "AllowUnsigned", true),
        watch: r.boolean(o, path, "Watch", false),
        debounce: Duration::from_millis(r.integer(o, path, "DebounceMs", 500, 0, 3_600_000)),
        max_package_bytes: r.integer(o, path, "MaxPackageBytes", 256 << 20, 1, 1 << 40),
        max_package_files: r.integer(o, path, "MaxPackageFiles", 10_000, 1, 1_000_000) as usize,
    }
}

fn read_keys(r: &mut Reader, value: Option<&Value>, path: &str) -> Vec<TrustedKey> {
    let Some(value) = value else { return Vec::new() };
    let Some(items) = value.as_array() else {
        r.problem(path.to_owned(), "expected an array of {\"Name\", \"PublicKey\"} objects".into());
        return Vec::new();
    };
    let mut keys: Vec<TrustedKey> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let Some(o) = r.object(item, &at, &["Name", "PublicKey"]) else { continue };
        let name = o.get("Name").and_then(Value::as_str).filter(|n| crate::config::valid_plugin_name(n));
        if name.is_none() {
            r.problem(format!("{at}.Name"), "needs a key name of 1 to 64 letters, digits, '.', '_' or '-'".into());
        }
        let key = o.get("PublicKey").and_then(Value::as_str).and_then(crate::extensions::package::decode_public_key);
        if key.is_none() {
            r.problem(format!("{at}.PublicKey"), "needs an ed25519 public key: 32 bytes in base64".into());
        }
        if let (Some(name), Some(public_key)) = (name, key) {
            if keys.iter().any(|k| k.name == name) {
                r.problem(format!("{at}.Name"), format!("the key \"{name}\" is listed twice"));
            }
            keys.push(TrustedKey { name: name.to_owned(), public_key });
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn defaults_and_every_setting() {
        let d = ExtensionsConfig::default();
        assert!(d.allow_unsigned && !d.watch && d.store_directory.is_none() && d.trusted_keys.is_empty());
        let secret = crate::extensions::package::generate_key("acme").unwrap();
        let key = secret.public_key_text();
        let c = ExtensionsConfig::from_json(&format!(
            r#"{{"SearchPaths": ["/a"], "StoreDirectory": "/s", "TrustedKeys": [{{"Name": "acme", "PublicKey": "{key}"}}],
                "AllowUnsigned": false, "Watch": true, "DebounceMs": 20, "MaxPackageBytes": 100, "MaxPackageFiles": 3}}"#
        ))
        .unwrap();
        assert_eq!(c.search_paths, [PathBuf::from("/a")]);
        assert_eq!(c.store_directory, Some(PathBuf::from("/s")));
        assert_eq!(c.trusted_keys, [TrustedKey { name: "acme".into(), public_key: secret.public_key() }]);
        assert!(!c.allow_unsigned && c.watch);
        assert_eq!((c.debounce, c.max_package_bytes, c.max_package_files), (Duration::from_millis(20), 100, 3));
    }

    #[test]
    fn every_problem_is_reported() {
        let e = ExtensionsConfig::from_json(
            r#"{"SearchPath": [], "TrustedKeys": [{"Name": "a b", "PublicKey": "AAAA"}, {"Name": "k"}], "Watch": 1}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        for expected in [
            "$.SearchPath: unknown key; did you mean \"SearchPaths\"?",
            "$.TrustedKeys[0].Name: needs a key name",
            "$.TrustedKeys[0].PublicKey: needs an ed25519 public key",
            "$.TrustedKeys[1].PublicKey: needs",
            "$.Watch: expected true or false",
        ] {
            assert!(e.message().contains(expected), "{expected:?} missing from:\n{}", e.message());
        }
    }
}
