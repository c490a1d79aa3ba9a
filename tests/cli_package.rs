//! The `plughost package` subcommands: keygen, pack (signed and not), sign, validate (text and
//! JSON, exit status), install, and their errors and help.

use std::path::Path;
use std::process::{Command, Output};

fn plughost(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plughost")).args(args).current_dir(dir).output().expect("plughost runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn ok(output: &Output) -> String {
    assert!(output.status.success(), "failed: {}\n{}", text(&output.stdout), text(&output.stderr));
    text(&output.stdout)
}

#[track_caller]
fn fails(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(1), "{}\n{}", text(&output.stdout), text(&output.stderr));
    format!("{}{}", text(&output.stdout), text(&output.stderr))
}

#[test]
fn keygen_pack_validate_sign_and_install() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("geo");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(
        src.join("extension.toml"),
        "[extension]\nname = \"geo\"\nversion = \"2.0.0\"\nkind = \"python\"\nentry = \"main.py\"\n",
    )
    .unwrap();
    std::fs::write(src.join("main.py"), "print(1)\n").unwrap();

    let keygen = plughost(&["package", "keygen", "acme"], d);
    let trusted: serde_json::Value = serde_json::from_str(ok(&keygen).trim()).unwrap();
    assert_eq!(trusted["Name"], "acme");
    assert!(text(&keygen.stderr).contains("keep it secret"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(d.join("acme.key")).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(fails(&plughost(&["package", "keygen", "acme"], d)).contains("cannot create acme.key"));

    // Packed unsigned with the default name, then signed.
    let pack = plughost(&["package", "pack", "geo"], d);
    assert_eq!(ok(&pack).trim(), "geo-2.0.0.plpkg");
    let progress = text(&pack.stderr);
    assert!(progress.contains("packing geo 2.0.0 (python)") && progress.contains("not signed"), "{progress}");
    let config = d.join("host.json");
    let json = serde_json::json!({"PlugHost": {"Extensions": {"StoreDirectory": d.join("store"),
        "TrustedKeys": [trusted], "AllowUnsigned": false}}});
    std::fs::write(&config, json.to_string()).unwrap();
    let config = config.to_str().unwrap();
    let invalid = fails(&plughost(&["package", "validate", "geo-2.0.0.plpkg", "--config", config], d));
    assert!(invalid.contains("problem: the package is not signed") && invalid.contains("INVALID"), "{invalid}");
    assert!(fails(&plughost(&["package", "install", "geo-2.0.0.plpkg", "--config", config], d)).contains("not signed"));
    ok(&plughost(&["package", "sign", "geo-2.0.0.plpkg", "--key", "acme.key"], d));
    let valid = ok(&plughost(&["package", "validate", "geo-2.0.0.plpkg", "--config", config], d));
    assert!(valid.contains("geo 2.0.0 (python), signed by \"acme\"") && valid.ends_with("valid\n"), "{valid}");
    let report: serde_json::Value = serde_json::from_str(&ok(&plughost(
        &["package", "validate", "geo-2.0.0.plpkg", "--config", config, "--json"],
        d,
    )))
    .unwrap();
    assert_eq!((report["valid"].as_bool(), report["signer"].as_str()), (Some(true), Some("acme")));
    let installed = ok(&plughost(&["package", "install", "geo-2.0.0.plpkg", "--config", config], d));
    assert!(installed.contains(&format!("installed into {}", d.join("store/geo").display())), "{installed}");
    assert!(d.join("store/geo/main.py").is_file());

    // Packed and signed in one step, to a given file.
    ok(&plughost(&["package", "pack", "geo", "--out", "signed.plpkg", "--key", "acme.key"], d));
    ok(&plughost(&["package", "validate", "signed.plpkg", "--config", config], d));
}

#[test]
fn errors_are_clear_and_help_explains() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(fails(&plughost(&["package", "pack", "nowhere"], d)).contains("nowhere/extension.toml"));
    std::fs::write(d.join("bad.key"), "{}").unwrap();
    assert!(
        fails(&plughost(&["package", "sign", "x.plpkg", "--key", "bad.key"], d)).contains("not a plughost key file")
    );
    assert!(
        fails(&plughost(&["package", "validate", "x.plpkg", "--config", "missing.json"], d)).contains("cannot read")
    );
    std::fs::write(d.join("typo.json"), r#"{"PlugHost": {"Extensions": {"AllowUnsigned": "no"}}}"#).unwrap();
    assert!(fails(&plughost(&["package", "validate", "x.plpkg", "--config", "typo.json"], d))
        .contains("$.PlugHost.Extensions.AllowUnsigned: expected true or false"));
    std::fs::write(d.join("nostore.json"), "{}").unwrap();
    assert!(
        fails(&plughost(&["package", "install", "x.plpkg", "--config", "nostore.json"], d)).contains("StoreDirectory")
    );
    let help = ok(&plughost(&["package", "--help"], d));
    for word in ["keygen", "pack", "sign", "validate", "install"] {
        assert!(help.contains(word), "{help}");
    }
    assert!(ok(&plughost(&["package", "keygen", "--help"], d)).contains("TrustedKeys"));
}
