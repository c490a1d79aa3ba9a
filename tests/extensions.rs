//! Extensions in a host: module extensions load in dependency order at start and serve; problems
//! of discovery and resolution block only the extensions concerned and degrade health; a watched
//! search path loads new module extensions and unloads removed ones, with events on the bus.

mod support;

use plughost::extensions::{ADDED_TOPIC, FAILED_TOPIC, REMOVED_TOPIC};
use plughost::{ErrorKind, Host};
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{fixtures, Sandbox};

const PATIENCE: Duration = Duration::from_secs(20);

/// Write `<root>/<folder>/extension.toml` (and, for a module, copy the counter module beside it).
fn extension(root: &Path, folder: &str, manifest: &str, module: bool) {
    let dir = root.join(folder);
    std::fs::create_dir_all(&dir).unwrap();
    if module {
        std::fs::copy(&fixtures().counter, dir.join("counter.so")).unwrap();
    } else {
        std::fs::write(dir.join("main.py"), "print('x')\n").unwrap();
    }
    std::fs::write(dir.join("extension.toml"), manifest).unwrap();
}

fn manifest(name: &str, kind: &str, deps: &str) -> String {
    let entry = if kind == "module" { "counter.so" } else { "main.py" };
    format!("[extension]\nname = \"{name}\"\nversion = \"1.0.0\"\nkind = \"{kind}\"\nentry = \"{entry}\"\n[dependencies]\n{deps}")
}

fn host(sb: &Sandbox, search: &Path, extra: &str) -> Arc<Host> {
    let config = format!(
        r#"{{"PlugHost": {{"Modules": {{"TrustedRoots": [{:?}], "ShadowDirectory": {:?}}},
            "Extensions": {{"SearchPaths": [{:?}]{extra}}}}}}}"#,
        sb.root().display().to_string(),
        sb.shadow().display().to_string(),
        search.display().to_string()
    );
    Host::from_json(&config).unwrap()
}

#[test]
fn module_extensions_load_in_order_and_problems_block_only_their_extensions() {
    let sb = Sandbox::new();
    let search = sb.root().join("extensions");
    extension(&search, "base", &manifest("base", "module", ""), true);
    extension(&search, "app", &manifest("app", "python", "base = \"^1\"\n"), false);
    extension(&search, "a", &manifest("a", "python", "b = \"*\"\n"), false);
    extension(&search, "b", &manifest("b", "python", "a = \"*\"\n"), false);
    extension(&search, "needy", &manifest("needy", "module", "ghost = \"^1\"\n"), true);
    extension(&search, "picky", &manifest("picky", "python", "base = \"^2\"\n"), false);
    extension(&search, "future", &format!("{}[host]\nplughost = \">=99\"\n", manifest("future", "python", "")), false);
    extension(&search, "broken", "[extension]\nname = \"broken\"\n", false);
    extension(&search, "untrusted", &manifest("untrusted", "python", ""), false);
    let h = host(&sb, &search, "");
    let report = h.extensions();
    assert_eq!(report.order, ["base", "app", "untrusted"], "{report:#?}");
    let state = |name: &str| report.extensions.iter().find(|e| e.name == name).unwrap().state;
    assert_eq!((state("base"), state("app"), state("a"), state("needy")), ("loaded", "ready", "blocked", "blocked"));

    // The module extension serves under its extension name.
    let id = h.extension_module("base").unwrap();
    assert_eq!(h.execute(id, "increment", b"2").unwrap(), b"2");
    assert_eq!(report.extensions.iter().find(|e| e.name == "base").unwrap().module_id, Some(id.0));
    assert_eq!(h.extension_module("app").unwrap_err().kind(), ErrorKind::ModuleNotFound);
    let python: Vec<&str> = report.usable(plughost::extensions::Kind::Python).iter().map(|e| e.name.as_str()).collect();
    assert_eq!(python, ["app", "untrusted"]);
    assert_eq!(
        report.usable(plughost::extensions::Kind::Module)[0].entry,
        search.join("base/counter.so").display().to_string()
    );

    let problems = report.problems.join("\n");
    for expected in [
        "dependency cycle: a -> b -> a",
        "needy/extension.toml: depends on \"ghost\" ^1, which is not installed",
        "picky/extension.toml: depends on \"base\" ^2, but 1.0.0 is installed",
        "future/extension.toml: needs plughost >=99, but this host is",
        "broken/extension.toml: [extension] needs a version",
    ] {
        assert!(problems.contains(expected), "{expected:?} missing from:\n{problems}");
    }
    let health: serde_json::Value = serde_json::from_str(&h.health_json()).unwrap();
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["extension_problems"].as_array().unwrap().len(), report.problems.len());
    let json: serde_json::Value = serde_json::from_str(&h.extensions_json()).unwrap();
    assert_eq!(json["extensions"][0]["kind"], "python");
}

#[test]
fn a_module_extension_that_does_not_load_blocks_its_dependents() {
    let sb = Sandbox::new();
    // Outside the trusted root: the module manager refuses it.
    let search = sb.outside().join("extensions");
    extension(&search, "base", &manifest("base", "module", ""), true);
    extension(&search, "app", &manifest("app", "python", "base = \"^1\"\n"), false);
    let h = host(&sb, &search, "");
    let report = h.extensions();
    assert!(report.order.is_empty(), "{report:#?}");
    let base = &report.extensions.iter().find(|e| e.name == "base").unwrap();
    assert_eq!(base.state, "failed");
    assert!(base.problems[0].contains("the module did not load"), "{:?}", base.problems);
    let app = &report.extensions.iter().find(|e| e.name == "app").unwrap();
    assert!(app.problems[0].contains("depends on \"base\", which failed to load"), "{:?}", app.problems);
}

#[test]
fn a_watched_search_path_loads_and_unloads_module_extensions_and_publishes() {
    let sb = Sandbox::new();
    let search = sb.root().join("extensions");
    std::fs::create_dir_all(&search).unwrap();
    let h = host(&sb, &search, r#", "Watch": true, "DebounceMs": 50"#);
    let (sender, events) = mpsc::channel();
    let sender = Mutex::new(sender);
    h.subscribe(
        "*",
        Arc::new(move |event: &plughost::events::Event| {
            if event.topic.starts_with("plughost.extension.") {
                let payload: serde_json::Value = serde_json::from_slice(&event.payload).unwrap();
                let _ = sender.lock().unwrap().send((event.topic.clone(), payload));
            }
        }),
    )
    .unwrap();
    assert!(h.extensions().extensions.is_empty());

    // Written into a hidden folder, then renamed into place, as an install does.
    extension(&search, ".incoming", &manifest("geo", "module", ""), true);
    std::fs::rename(search.join(".incoming"), search.join("geo")).unwrap();
    let (topic, payload) = events.recv_timeout(PATIENCE).expect("an added event");
    assert_eq!((topic.as_str(), &payload["name"], &payload["kind"]), (ADDED_TOPIC, &"geo".into(), &"module".into()));
    let id = h.extension_module("geo").unwrap();
    assert_eq!(payload["module_id"], id.0);
    assert_eq!(h.execute(id, "increment", b"5").unwrap(), b"5");

    // A manifest that breaks is reported; the loaded module is unloaded.
    std::fs::write(search.join("geo/extension.toml"), "[extension]\nname = \"geo\"\n").unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        seen.push(events.recv_timeout(PATIENCE).expect("removed and failed events"));
    }
    let topics: Vec<&str> = seen.iter().map(|(t, _)| t.as_str()).collect();
    assert!(topics.contains(&REMOVED_TOPIC) && topics.contains(&FAILED_TOPIC), "{seen:?}");
    assert_eq!(h.execute(id, "get", b"").unwrap_err().kind(), ErrorKind::InvalidHandle);
    assert!(h.extensions().problems[0].contains("geo/extension.toml: [extension] needs a version"));

    // Fixed again: loaded again; then removed entirely.
    std::fs::write(search.join("geo/extension.toml"), manifest("geo", "module", "")).unwrap();
    assert_eq!(events.recv_timeout(PATIENCE).unwrap().0, ADDED_TOPIC);
    std::fs::remove_dir_all(search.join("geo")).unwrap();
    assert_eq!(events.recv_timeout(PATIENCE).unwrap().0, REMOVED_TOPIC);
    assert!(h.extensions().extensions.is_empty() && h.extensions().problems.is_empty());
    assert_eq!(h.extension_module("geo").unwrap_err().kind(), ErrorKind::ModuleNotFound);
}

#[test]
fn a_plugin_extension_becomes_a_plugin() {
    let sb = Sandbox::new();
    let search = sb.root().join("extensions");
    let dir = search.join("analytics");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("extension.toml"),
        "[extension]\nname = \"analytics\"\nversion = \"1.0.0\"\nkind = \"plugin\"\nentry = \"prog\"\n[plugin]\nOnDemand = true\n",
    )
    .unwrap();
    std::fs::write(dir.join("prog"), "").unwrap();
    let h = host(&sb, &search, "");
    assert_eq!(h.extensions().extensions[0].state, "plugin");
    let plugins = h.plugins();
    assert_eq!(plugins.len(), 1);
    assert_eq!(plugins[0].name, "analytics");
    assert!(plugins[0].origin.ends_with("analytics/extension.toml"), "{}", plugins[0].origin);
}

#[test]
fn a_dependency_that_stops_loading_unloads_its_dependents_on_rescan() {
    let sb = Sandbox::new();
    let search = sb.root().join("extensions");
    extension(&search, "base", &manifest("base", "module", ""), true);
    extension(&search, "app", &manifest("app", "module", "base = \"^1\"\n"), true);
    let h = host(&sb, &search, "");
    assert_eq!(h.extensions().order, ["base", "app"]);
    let app = h.extension_module("app").unwrap();

    // A new version of base that is not a library: base fails, app is unloaded with the reason.
    std::fs::write(search.join("base/counter.so"), b"not a library").unwrap();
    std::fs::write(search.join("base/extension.toml"), manifest("base", "module", "").replace("1.0.0", "1.1.0"))
        .unwrap();
    let report = h.rescan_extensions().unwrap();
    assert!(report.order.is_empty(), "{report:#?}");
    let state = |name: &str| report.extensions.iter().find(|e| e.name == name).unwrap().clone();
    assert_eq!(state("base").state, "failed");
    assert!(state("app").problems[0].contains("depends on \"base\", which failed to load"), "{report:#?}");
    assert_eq!(h.execute(app, "get", b"").unwrap_err().kind(), ErrorKind::InvalidHandle);
    assert_eq!(h.extension_module("app").unwrap_err().kind(), ErrorKind::ModuleNotFound);
}

#[test]
fn a_rescan_publishes_python_extensions_added_and_removed_once() {
    let sb = Sandbox::new();
    let search = sb.root().join("extensions");
    std::fs::create_dir_all(&search).unwrap();
    let h = host(&sb, &search, "");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    h.subscribe(
        "*",
        Arc::new(move |event: &plughost::events::Event| {
            if event.topic.starts_with("plughost.extension.") {
                let payload: serde_json::Value = serde_json::from_slice(&event.payload).unwrap();
                sink.lock().unwrap().push((event.topic.clone(), payload));
            }
        }),
    )
    .unwrap();
    let take = || std::mem::take(&mut *seen.lock().unwrap());
    extension(&search, "py", &manifest("py", "python", ""), false);
    extension(&search, "orphan", &manifest("orphan", "python", "ghost = \"*\"\n"), false);
    h.rescan_extensions().unwrap();
    let events = take();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(
        (events[0].0.as_str(), &events[0].1["name"], &events[0].1["kind"]),
        (ADDED_TOPIC, &"py".into(), &"python".into())
    );
    assert_eq!((events[1].0.as_str(), &events[1].1["name"]), (FAILED_TOPIC, &"orphan".into()));
    // Nothing changed: nothing is published again.
    h.rescan_extensions().unwrap();
    assert!(take().is_empty());
    std::fs::remove_dir_all(search.join("py")).unwrap();
    h.rescan_extensions().unwrap();
    let events = take();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!((events[0].0.as_str(), &events[0].1["name"]), (REMOVED_TOPIC, &"py".into()));
}
