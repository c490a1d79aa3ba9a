//! The full reload cycle of the release counter module through `Host::reload_module` (copy to a
//! fresh shadow folder, load, handshake, init, swap, drain, state hand-over, shutdown, unload,
//! check that the old copy is unmapped, remove its folder), against a bare dlopen + dlclose of the
//! same file (RTLD_NOW | RTLD_LOCAL) and a bare copy of it, measured in the same run. The reload
//! runs twice: with the shadow directory in the temporary directory (on disk, as by default) and,
//! where `/dev/shm` exists, on tmpfs, which separates the file system's share from plughost's.
//!
//! Run: `cargo bench --bench reload`. Target: reload <= 2 ms (median); the seed took 400-800 ms.

#[path = "../tests/support/mod.rs"]
mod support;

mod common;

use common::{find, format_ns, Group, Settings};
use plughost::modules::ModuleId;
use plughost::Host;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use support::Sandbox;

const DISK: &str = "Host::reload_module";
const TMPFS: &str = "Host::reload_module, tmpfs shadow";
const DLOPEN: &str = "dlopen + dlclose";

fn config(root: &Path, shadow: &Path) -> String {
    format!(
        r#"{{"PlugHost": {{"Modules": {{"TrustedRoots": [{:?}], "ShadowDirectory": {:?}}}}}}}"#,
        root.display().to_string(),
        shadow.display().to_string()
    )
}

/// A host with the counter loaded and a value in it.
fn host(root: &Path, shadow: &Path, module: &Path) -> (Arc<Host>, ModuleId) {
    let host = Host::from_json(&config(root, shadow)).expect("host");
    let id = host.load_module(module).expect("load");
    host.execute(id, "increment", b"41").expect("increment");
    (host, id)
}

/// Check the module kept its value and every old generation is gone; returns the reload count.
fn check(host: &Host, id: ModuleId, shadow: &Path) -> u64 {
    assert_eq!(host.execute(id, "get", b"").expect("get"), b"41", "the value went across every reload");
    let health: serde_json::Value = serde_json::from_str(&host.health_json()).expect("health");
    let retained = health["retained_generations"].as_array().map_or(0, Vec::len);
    let folders = std::fs::read_dir(shadow).map(|d| d.count()).unwrap_or(0);
    assert_eq!(folders, 1, "every old generation was unmapped and its folder removed");
    assert_eq!(retained, 0, "no old generation is retained");
    health["modules"][0]["reloads"].as_u64().unwrap_or(0)
}

fn main() {
    common::print_machine();
    let modules = support::rust_modules();
    let sandbox = Sandbox::new();
    let module = sandbox.install(&modules.counter, "counter");
    let size = std::fs::metadata(&module).map(|m| m.len()).unwrap_or(0);
    println!("module: {} ({size} bytes)", module.display());
    let copies = sandbox.dir.path().join("copies");
    std::fs::create_dir(&copies).expect("copies folder");
    let shm = Path::new("/dev/shm");
    let tmpfs = shm.is_dir().then(|| tempfile::tempdir_in(shm).expect("folder on /dev/shm"));
    let tmpfs_shadow: Option<PathBuf> = tmpfs.as_ref().map(|d| d.path().join("shadow"));

    let (disk_host, disk_id) = host(&sandbox.root(), &sandbox.shadow(), &module);
    let tmpfs_host = tmpfs_shadow.as_ref().map(|shadow| host(&sandbox.root(), shadow, &module));

    let settings = Settings::new(Duration::from_millis(500), Duration::from_millis(5), 60);
    let summaries = {
        let mut group = Group::new("reload of the release counter module", settings);
        let (module, copies) = (&module, &copies);
        group.case(DISK, Some(DLOPEN), || {
            black_box(disk_host.reload_module(disk_id, None).expect("reload"));
        });
        if let Some((host, id)) = &tmpfs_host {
            group.case(TMPFS, Some(DLOPEN), || {
                black_box(host.reload_module(*id, None).expect("reload"));
            });
        }
        group
            .case(DLOPEN, None, move || {
                // SAFETY: loading the counter example module built by this repository.
                let library =
                    unsafe { libloading::os::unix::Library::open(Some(module), libc::RTLD_NOW | libc::RTLD_LOCAL) }
                        .expect("dlopen");
                library.close().expect("dlclose");
            })
            .case("copy file + remove (disk)", Some(DLOPEN), move || {
                let target = copies.join("copy.so");
                std::fs::copy(module, &target).expect("copy");
                std::fs::remove_file(&target).expect("remove");
            });
        group.run()
    };

    println!();
    let reloads = check(&disk_host, disk_id, &sandbox.shadow());
    println!("{DISK}: {reloads} reloads, 1 shadow folder left (the serving generation), none retained");
    if let (Some((host, id)), Some(shadow)) = (&tmpfs_host, &tmpfs_shadow) {
        let reloads = check(host, *id, shadow);
        println!("{TMPFS}: {reloads} reloads, 1 shadow folder left (the serving generation), none retained");
    }
    let reload = find(&summaries, DISK);
    println!(
        "reload median {}: {:.1}x a bare dlopen + dlclose; {:.0}x to {:.0}x faster than the seed's 400-800 ms",
        format_ns(reload.median),
        reload.ratio.unwrap_or(f64::NAN),
        400e6 / reload.median,
        800e6 / reload.median
    );
    if common::measuring() {
        common::target("reload cycle (disk shadow), p50", reload.median, 2e6);
        if tmpfs_host.is_some() {
            common::target("reload cycle (tmpfs shadow), p50", find(&summaries, TMPFS).median, 2e6);
        }
    }
}
