//! The plughost demo: load a work module, execute it, swap in a second version while other threads
//! keep calling it, watch a broken build roll back, and print health.
//!
//! Run with `bash scripts/demo.sh` (which builds the example modules first) or, once they are
//! built, `cargo run --example demo -- <folder with libcounter.so, libcounter_v2.so, libcounter_broken.so>`.

use plughost::services::ServiceThreading;
use plughost::Host;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn library(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{}{name}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX))
}

/// Put `source` at `target` the way a build does: write a new file, then rename it over the old.
fn deploy(source: &Path, target: &Path) -> std::io::Result<()> {
    let partial = target.with_extension("partial");
    std::fs::copy(source, &partial)?;
    std::fs::rename(&partial, target)
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let built = PathBuf::from(std::env::args().nth(1).ok_or("usage: demo <folder with the built counter modules>")?);
    let work = std::env::temp_dir().join(format!("plughost-demo-{}", std::process::id()));
    let root = work.join("modules");
    std::fs::create_dir_all(root.join("counter"))?;
    let module = library(&root.join("counter"), "counter");
    deploy(&library(&built, "counter"), &module)?;

    println!("== 1. Host from a JSON configuration");
    let config = format!(
        r#"{{"PlugHost": {{"Modules": {{"TrustedRoots": [{:?}], "ShadowDirectory": {:?}, "UnloadTimeoutMs": 2000}},
                          "Logging": {{"Level": "info"}}}}}}"#,
        root.display().to_string(),
        work.join("shadow").display().to_string()
    );
    println!("{config}");
    let host = Host::from_json(&config)?;
    host.set_log_callback(Some(Arc::new(|level, target: &str, message: &str| {
        let name = ["off", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"][level as usize];
        println!("   [log {name:5} {target}] {message}");
    })));
    host.register_service(
        "app.greeting",
        ServiceThreading::AnyThread,
        Arc::new(|input: &[u8]| {
            Ok(format!("hello {} from the application", String::from_utf8_lossy(input)).into_bytes())
        }),
    )?;

    println!("\n== 2. Load and execute (module copied to a shadow folder; the original stays free)");
    let id = host.load_module(&module)?;
    println!("   version   -> {}", text(host.execute(id, "version", b"")?));
    println!("   increment -> {}", text(host.execute(id, "increment", b"10")?));
    println!("   call      -> {}", text(host.execute(id, "call", b"app.greeting")?));
    match host.execute(id, "no-such-command", b"") {
        Err(e) => println!("   unknown   -> {} ({})", e.message(), e.kind().name()),
        Ok(_) => println!("   unknown   -> unexpectedly succeeded"),
    }

    println!("\n== 3. Rebuild to version 2 and reload while 4 threads keep calling");
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (host, stop, calls, failures) = (host.clone(), stop.clone(), calls.clone(), failures.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match host.execute(id, "get", b"") {
                        Ok(_) => calls.fetch_add(1, Ordering::Relaxed),
                        Err(_) => failures.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    deploy(&library(&built, "counter_v2"), &module)?;
    let started = Instant::now();
    let generation = host.reload_module(id, None)?;
    let took = started.elapsed();
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker thread");
    }
    println!("   reloaded to generation {generation} in {:.2} ms", took.as_secs_f64() * 1000.0);
    println!(
        "   {} calls ran across the swap, {} failed",
        calls.load(Ordering::Relaxed),
        failures.load(Ordering::Relaxed)
    );
    println!("   version   -> {}", text(host.execute(id, "version", b"")?));
    println!("   get       -> {} (the value was handed over)", text(host.execute(id, "get", b"")?));
    println!("   increment -> {} (version 2 adds twice)", text(host.execute(id, "increment", b"1")?));

    println!("\n== 4. A broken build rolls back: version 2 keeps serving");
    deploy(&library(&built, "counter_broken"), &module)?;
    match host.reload_module(id, None) {
        Err(e) => println!("   reload refused: {} ({})", e.message(), e.kind().name()),
        Ok(g) => println!("   unexpected: generation {g} loaded"),
    }
    println!("   version   -> {}", text(host.execute(id, "version", b"")?));

    println!("\n== 5. Health");
    println!("{}", host.health_json());

    println!("\n== 6. Unload and stop");
    host.unload_module(id)?;
    host.stop();
    let left = std::fs::read_dir(work.join("shadow")).map(|d| d.count()).unwrap_or(0);
    println!("   shadow folders left: {left}");
    std::fs::remove_dir_all(&work)?;
    Ok(())
}
