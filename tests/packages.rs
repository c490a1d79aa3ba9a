//! Packages: pack and sign, every problem `validate` reports (the zip, its paths and sizes, the
//! manifest, the signature, the publisher's trust), tampering after signing, and install into the
//! store followed by discovery.

use plughost::config::ExtensionsConfig;
use plughost::extensions::package::{self, generate_key, SecretKey};
use plughost::{ErrorKind, Host};
use std::io::Write;
use std::path::{Path, PathBuf};
use zip::write::SimpleFileOptions;

/// An extension folder with a manifest of `kind` and a few files.
fn source(dir: &Path, name: &str, kind: &str) -> PathBuf {
    let folder = dir.join(format!("src-{name}"));
    std::fs::create_dir_all(folder.join("lib")).unwrap();
    std::fs::write(
        folder.join("extension.toml"),
        format!("[extension]\nname = \"{name}\"\nversion = \"1.2.3\"\nkind = \"{kind}\"\nentry = \"lib/main.py\"\n"),
    )
    .unwrap();
    std::fs::write(folder.join("lib/main.py"), "print('hello')\n").unwrap();
    std::fs::write(folder.join("README.md"), "docs\n").unwrap();
    folder
}

fn config(keys: &[&SecretKey], allow_unsigned: bool, store: Option<&Path>) -> ExtensionsConfig {
    let keys: Vec<serde_json::Value> =
        keys.iter().map(|k| serde_json::json!({"Name": k.name, "PublicKey": k.public_key_text()})).collect();
    let mut json = serde_json::json!({"TrustedKeys": keys, "AllowUnsigned": allow_unsigned});
    if let Some(store) = store {
        json["StoreDirectory"] = serde_json::json!(store);
    }
    ExtensionsConfig::from_json(&json.to_string()).unwrap()
}

fn packed(dir: &Path, key: Option<&SecretKey>) -> PathBuf {
    let out = dir.join("geo.plpkg");
    let mut steps = Vec::new();
    let files = package::pack(&source(dir, "geo", "python"), &out, key, &mut |s| steps.push(s.to_owned())).unwrap();
    assert_eq!(files, 3);
    assert!(steps.iter().any(|s| s.contains("packing geo 1.2.3")), "{steps:?}");
    out
}

/// A package's entries by name, in order.
type Entries = Vec<(String, Vec<u8>)>;

/// The entries of a package, to rewrite it with changes.
fn entries(path: &Path) -> Entries {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).unwrap();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
            (entry.name().to_owned(), bytes)
        })
        .collect()
}

fn write_zip(path: &Path, entries: &[(String, Vec<u8>)]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in entries {
        zip.start_file(name.as_str(), SimpleFileOptions::default()).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

fn problems(path: &Path, config: &ExtensionsConfig) -> String {
    let report = package::validate(path, config);
    assert!(!report.valid, "expected problems: {report:?}");
    assert!(!report.problems.is_empty());
    report.problems.join("\n")
}

fn assert_has(all: &str, expected: &[&str]) {
    for e in expected {
        assert!(all.contains(e), "{e:?} missing from:\n{all}");
    }
}

#[test]
fn a_signed_package_validates_and_its_signer_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let key = generate_key("acme").unwrap();
    let path = packed(dir.path(), Some(&key));
    let report = package::validate(&path, &config(&[&key], false, None));
    assert!(report.valid, "{report:?}");
    assert_eq!(
        (report.name.as_deref(), report.version.as_deref(), report.kind, report.signer.as_deref()),
        (Some("geo"), Some("1.2.3"), Some("python"), Some("acme"))
    );
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    // A key survives its file.
    let again = SecretKey::from_text(&key.to_text()).unwrap();
    assert_eq!((again.name.as_str(), again.public_key()), ("acme", key.public_key()));
    assert_eq!(SecretKey::from_text("{}").err().map(|e| e.kind()), Some(ErrorKind::InvalidArgument));
    assert_eq!(generate_key("bad name").err().map(|e| e.kind()), Some(ErrorKind::InvalidArgument));
}

#[test]
fn unsigned_and_untrusted_packages_are_warnings_or_problems_by_allow_unsigned() {
    let dir = tempfile::tempdir().unwrap();
    let unsigned = packed(dir.path(), None);
    let report = package::validate(&unsigned, &config(&[], true, None));
    assert!(report.valid && report.signer.is_none(), "{report:?}");
    assert!(report.warnings[0].contains("not signed; accepted because AllowUnsigned is true"), "{report:?}");
    assert_has(
        &problems(&unsigned, &config(&[], false, None)),
        &["the package is not signed (AllowUnsigned is false)"],
    );

    let stranger = generate_key("stranger").unwrap();
    let trusted = generate_key("acme").unwrap();
    let signed = packed(dir.path(), Some(&stranger));
    assert_has(
        &problems(&signed, &config(&[&trusted], false, None)),
        &["signed by \"stranger\", which is not a trusted key (AllowUnsigned is false)"],
    );
    assert!(package::validate(&signed, &config(&[&trusted], true, None)).warnings[0].contains("not a trusted key"));
    // A key that takes a trusted key's name is refused even when unsigned packages are allowed.
    let impostor = generate_key("acme").unwrap();
    package::sign_package(&signed, &impostor, &config(&[], true, None)).unwrap();
    assert_has(
        &problems(&signed, &config(&[&trusted], true, None)),
        &["signed as \"acme\" but with another public key than the trusted key of that name"],
    );
}

#[test]
fn a_package_tampered_after_signing_is_invalid_with_every_change_named() {
    let dir = tempfile::tempdir().unwrap();
    let key = generate_key("acme").unwrap();
    let trusting = config(&[&key], true, None);
    let path = packed(dir.path(), Some(&key));
    let original = entries(&path);
    let rewrite = |change: &dyn Fn(&mut Entries)| {
        let mut e = original.clone();
        change(&mut e);
        let out = dir.path().join("tampered.plpkg");
        write_zip(&out, &e);
        problems(&out, &trusting)
    };
    let changed = rewrite(&|e| e.iter_mut().find(|(n, _)| n == "lib/main.py").unwrap().1 = b"evil()".to_vec());
    assert_has(&changed, &["lib/main.py: changed after signing"]);
    let added = rewrite(&|e| e.push(("lib/extra.py".into(), b"x".to_vec())));
    assert_has(&added, &["lib/extra.py: not covered by the signature (added after signing)"]);
    let removed = rewrite(&|e| e.retain(|(n, _)| n != "README.md"));
    assert_has(&removed, &["README.md: signed but missing from the package (removed after signing)"]);
    // The listing rewritten to match the change: the signature no longer verifies.
    let relisted = rewrite(&|e| {
        e.iter_mut().find(|(n, _)| n == "README.md").unwrap().1 = b"changed".to_vec();
        let sig = e.iter_mut().find(|(n, _)| n == "SIGNATURE.json").unwrap();
        let mut doc: serde_json::Value = serde_json::from_slice(&sig.1).unwrap();
        doc["files"]["README.md"] = serde_json::json!(package_sha256(b"changed"));
        sig.1 = serde_json::to_vec(&doc).unwrap();
    });
    assert_has(&relisted, &["the signature of key \"acme\" does not verify"]);
    // A signature replaced by the valid signature of another package.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let other_package = other.join("units.plpkg");
    package::pack(&source(&other, "units", "python"), &other_package, Some(&key), &mut |_| {}).unwrap();
    let foreign = entries(&other_package).into_iter().find(|(n, _)| n == "SIGNATURE.json").unwrap();
    let with_foreign = rewrite(&|e| {
        e.retain(|(n, _)| n != "SIGNATURE.json");
        e.push(foreign.clone());
    });
    assert_has(&with_foreign, &["extension.toml: changed after signing"]);
    let garbage = rewrite(&|e| e.iter_mut().find(|(n, _)| n == "SIGNATURE.json").unwrap().1 = b"{".to_vec());
    assert_has(&garbage, &["SIGNATURE.json: not a valid signature file"]);
    let signature_field = |key: &'static str, value: serde_json::Value| {
        rewrite(&|e| {
            let sig = e.iter_mut().find(|(n, _)| n == "SIGNATURE.json").unwrap();
            let mut doc: serde_json::Value = serde_json::from_slice(&sig.1).unwrap();
            doc[key] = value.clone();
            sig.1 = serde_json::to_vec(&doc).unwrap();
        })
    };
    assert_has(&signature_field("format", 2.into()), &["SIGNATURE.json: format 2 is not supported"]);
    assert_has(
        &signature_field("public_key", "not a key".into()),
        &["SIGNATURE.json: public_key is not an ed25519 key in base64"],
    );
    let bad_signature = rewrite(&|e| {
        let sig = e.iter_mut().find(|(n, _)| n == "SIGNATURE.json").unwrap();
        let mut doc: serde_json::Value = serde_json::from_slice(&sig.1).unwrap();
        doc["signature"] = serde_json::json!("AAAA");
        sig.1 = serde_json::to_vec(&doc).unwrap();
    });
    assert_has(&bad_signature, &["does not verify"]);
    // Every problem at once: a change and an addition together.
    let both = rewrite(&|e| {
        e.iter_mut().find(|(n, _)| n == "README.md").unwrap().1 = b"x".to_vec();
        e.push(("new.txt".into(), Vec::new()));
    });
    assert_has(&both, &["README.md: changed after signing", "new.txt: not covered"]);
}

/// SHA-256 in hex, computed here independently of the library.
fn package_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn every_problem_of_the_zip_and_the_manifest_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let lenient = config(&[], true, None);
    let not_zip = dir.path().join("not.plpkg");
    std::fs::write(&not_zip, b"hello").unwrap();
    assert_has(&problems(&not_zip, &lenient), &["not a valid zip file"]);
    assert_has(&problems(&dir.path().join("absent.plpkg"), &lenient), &["cannot open the package"]);

    let manifest = b"[extension]\nname = \"x\"\nversion = \"1.0.0\"\nkind = \"python\"\nentry = \"x.py\"\n".to_vec();
    let evil = dir.path().join("evil.plpkg");
    {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&evil).unwrap());
        for name in ["../outside.py", "/etc/absolute.py", "a/../../up.py", "./x.py", "a//b.py", "line\nbreak.py"] {
            zip.start_file(name, SimpleFileOptions::default()).unwrap();
            zip.write_all(b"x").unwrap();
        }
        zip.add_symlink("link", "/etc/passwd", SimpleFileOptions::default()).unwrap();
        zip.start_file("extension.toml", SimpleFileOptions::default()).unwrap();
        zip.write_all(&manifest).unwrap();
        zip.finish().unwrap();
    }
    assert_has(
        &problems(&evil, &lenient),
        &[
            "\"../outside.py\": an absolute path or one that leaves the package",
            "\"/etc/absolute.py\": an absolute path",
            "\"a/../../up.py\": an absolute path",
            "link: symbolic links are not allowed",
            "\"./x.py\": not a plain relative path",
            "\"a//b.py\": not a plain relative path",
            "\"line\\nbreak.py\": not a plain relative path",
            "extension.toml: entry \"x.py\" is not in the package",
        ],
    );

    let no_manifest = dir.path().join("nomanifest.plpkg");
    write_zip(&no_manifest, &[("x.py".into(), b"".to_vec())]);
    assert_has(&problems(&no_manifest, &lenient), &["no extension.toml at the package's root"]);
    let bad_manifest = dir.path().join("badmanifest.plpkg");
    write_zip(&bad_manifest, &[("extension.toml".into(), b"[extension]\nname = \"x\"\nkind = \"exe\"\n".to_vec())]);
    assert_has(&problems(&bad_manifest, &lenient), &["extension.toml: [extension] needs a version", "kind must be"]);

    // A bomb: a small file that expands past the limit (the header's size is not trusted either).
    let bomb = dir.path().join("bomb.plpkg");
    {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&bomb).unwrap());
        let deflated = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("extension.toml", deflated).unwrap();
        zip.write_all(&manifest).unwrap();
        zip.start_file("x.py", deflated).unwrap();
        zip.write_all(&vec![0u8; 4 << 20]).unwrap();
        zip.finish().unwrap();
    }
    assert!(std::fs::metadata(&bomb).unwrap().len() < 64 << 10);
    let small = ExtensionsConfig::from_json(r#"{"MaxPackageBytes": 1048576}"#).unwrap();
    assert_has(&problems(&bomb, &small), &["x.py: 4194304 bytes would exceed the package limit of 1048576 bytes"]);
    assert!(package::validate(&bomb, &lenient).valid);
    let few = ExtensionsConfig::from_json(r#"{"MaxPackageFiles": 1}"#).unwrap();
    assert_has(&problems(&bomb, &few), &["holds 2 entries; at most 1 are allowed"]);

    // A header that claims 10 bytes for what expands to 4 MiB: caught while reading.
    let liar = dir.path().join("liar.plpkg");
    std::fs::write(&liar, patch_entry(&std::fs::read(&bomb).unwrap(), "x.py", 22, 24, &10u32.to_le_bytes())).unwrap();
    assert_has(&problems(&liar, &small), &["x.py: expands beyond the package limit of 1048576 bytes"]);
    // A compression method other than stored or deflated (12 = bzip2).
    let bzip = dir.path().join("bzip.plpkg");
    std::fs::write(&bzip, patch_entry(&std::fs::read(&bomb).unwrap(), "x.py", 8, 10, &12u16.to_le_bytes())).unwrap();
    let all = problems(&bzip, &lenient);
    assert_has(&all, &["entry 1 cannot be read: unsupported Zip archive: Compression method not supported"]);
    // A manifest that is not UTF-8.
    let latin = dir.path().join("latin.plpkg");
    write_zip(&latin, &[("extension.toml".into(), b"[extension]\nname = \"caf\xe9\"\n".to_vec())]);
    assert_has(&problems(&latin, &lenient), &["extension.toml: not UTF-8 text"]);
    // Two entries of the same name.
    let twice = dir.path().join("twice.plpkg");
    write_zip(
        &twice,
        &[("extension.toml".into(), manifest.clone()), ("x.py".into(), b"1".to_vec()), ("y.py".into(), b"2".to_vec())],
    );
    let renamed = patch_entry(&std::fs::read(&twice).unwrap(), "y.py", 30, 46, b"x.py");
    std::fs::write(&twice, renamed).unwrap();
    let all = problems(&twice, &lenient);
    assert_has(&all, &["the zip directory lists 3 entries but only 2 distinct names"]);
}

/// `zip` with `bytes` written at `local` bytes into the local header and `central` bytes into the
/// central directory header of the entry `name` (offsets from each header's signature).
fn patch_entry(zip: &[u8], name: &str, local: usize, central: usize, bytes: &[u8]) -> Vec<u8> {
    let mut out = zip.to_vec();
    let mut patched = 0;
    for at in 0..zip.len().saturating_sub(46) {
        let (offset, name_at) = match &zip[at..at + 4] {
            [0x50, 0x4b, 0x03, 0x04] => (local, at + 30),
            [0x50, 0x4b, 0x01, 0x02] => (central, at + 46),
            _ => continue,
        };
        if zip.get(name_at..name_at + name.len()) == Some(name.as_bytes()) {
            out[at + offset..at + offset + bytes.len()].copy_from_slice(bytes);
            patched += 1;
        }
    }
    assert_eq!(patched, 2, "the local and the central header of {name}");
    out
}

#[test]
fn install_validates_then_extracts_into_the_store_which_discovery_scans() {
    let dir = tempfile::tempdir().unwrap();
    let key = generate_key("acme").unwrap();
    let store = dir.path().join("store");
    let path = packed(dir.path(), Some(&key));
    let strict = config(&[&key], false, Some(&store));
    let installed = package::install(&path, &strict).unwrap();
    assert_eq!(installed.directory, store.join("geo"));
    assert_eq!(std::fs::read_to_string(store.join("geo/lib/main.py")).unwrap(), "print('hello')\n");
    assert!(store.join("geo/SIGNATURE.json").is_file());
    // Nothing is left behind but the extension.
    let names: Vec<String> =
        std::fs::read_dir(&store).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["geo"]);
    // Installing again replaces it.
    package::install(&path, &strict).unwrap();
    assert_eq!(std::fs::read_dir(&store).unwrap().count(), 1);

    // Invalid packages and a missing store are refused with every problem.
    let unsigned = dir.path().join("unsigned");
    std::fs::create_dir(&unsigned).unwrap();
    let unsigned = packed(&unsigned, None);
    let e = package::install(&unsigned, &strict).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("not signed"), "{}", e.message());
    let e = package::install(&path, &config(&[&key], false, None)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidConfig);

    // A host with the store discovers what is installed, and an install through the host rescans.
    let json = serde_json::json!({"PlugHost": {"Extensions": {"StoreDirectory": store,
        "TrustedKeys": [{"Name": "acme", "PublicKey": key.public_key_text()}], "AllowUnsigned": false}}});
    let host = Host::from_json(&json.to_string()).unwrap();
    let report = host.extensions();
    assert_eq!(report.order, ["geo"]);
    assert_eq!(report.extensions[0].state, "ready");
    assert_eq!(report.extensions[0].entry, store.join("geo/lib/main.py").display().to_string());
    let second = dir.path().join("second");
    std::fs::create_dir(&second).unwrap();
    let folder = source(&second, "units", "python");
    let units = second.join("units.plpkg");
    package::pack(&folder, &units, Some(&key), &mut |_| {}).unwrap();
    host.install_package(&units).unwrap();
    assert_eq!(host.extensions().order, ["geo", "units"]);
    assert_eq!(host.install_package(&unsigned).unwrap_err().kind(), ErrorKind::InvalidArgument);
}
