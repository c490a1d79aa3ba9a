//! The plughost demo: load a work module, execute it, swap in a second version while other threads
//! keep calling it, watch a broken build roll back, and print health; then call a second process
//! over the shared-memory IPC layer, with a nested call and a crash, and a peer written in C
//! (`examples/c/ipc_peer.c`) on two data channels; then the example plugins under supervision.
//!
//! Run with `bash scripts/demo.sh` (which builds the example modules and the C peer first) or, once
//! they are built, `cargo run --example demo -- <folder with libcounter.so, libcounter_v2.so,
//! libcounter_broken.so> [<the built C peer>]`.

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
    #[cfg(unix)]
    if std::env::var_os(ipc::PEER_ENV).is_some() {
        return ipc::peer();
    }
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

    #[cfg(unix)]
    {
        ipc::demo()?;
        if let Some(c_peer) = std::env::args().nth(2) {
            ipc::c_peer(Path::new(&c_peer))?;
        }
        plugins::demo(&built)?;
        python::demo(&built)?;
    }
    Ok(())
}

/// Part 10: pooled Python in worker processes.
#[cfg(unix)]
mod python {
    use plughost::python::{PythonRun, PythonValue};
    use plughost::services::ServiceThreading;
    use plughost::Host;
    use std::path::Path;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn show(host: &Host, what: &str, run: PythonRun) {
        match host.run_python(&run) {
            Ok(output) => {
                let value = match &output.result {
                    Ok(PythonValue::Json(v)) => v.to_string(),
                    Ok(PythonValue::Bytes(b)) => format!("{} bytes", b.len()),
                    Err(e) => format!("raised {}: {}", e.kind, e.message),
                };
                let printed = output.stdout.trim_end().replace('\n', " | ");
                println!("   {what}: {value} (stdout: {printed:?}; worker {}, {:?})", output.worker, output.duration);
            }
            Err(e) => println!("   {what}: {} ({})", e.message().lines().next().unwrap_or(""), e.kind().name()),
        }
    }

    /// Scripts, sessions, host services, a timeout and a sandboxed escape, in worker processes.
    pub fn demo(built: &Path) -> Result<(), Box<dyn std::error::Error>> {
        println!("\n== 10. Pooled Python (worker processes embedding CPython)");
        let worker = built.join("plughost-python-worker");
        let writable = std::env::temp_dir().join(format!("plughost-demo-python-{}", std::process::id()));
        std::fs::create_dir_all(&writable)?;
        let config = serde_json::json!({"PlugHost": {"Python": {"WorkerPath": worker, "Workers": 2,
            "Sandbox": {"Enabled": true, "WritableRoots": [writable]}}}});
        let started = Instant::now();
        let host = Host::from_json(&config.to_string())?;
        host.register_service(
            "app.units",
            ServiceThreading::AnyThread,
            Arc::new(|input: &[u8]| Ok(format!("{} mm", String::from_utf8_lossy(input)).into_bytes())),
        )?;
        show(
            &host,
            "first run (starts 2 workers)",
            PythonRun::code("import sys\nprint('hello from', sys.version.split()[0])\n6 * 7"),
        );
        println!("   pool started and answered in {:?}", started.elapsed());
        show(
            &host,
            "a function with arguments",
            PythonRun::function("statistics", "mean").with_args(serde_json::json!([[1, 2, 3, 4]])),
        );
        show(&host, "session run 1", PythonRun::code("total = 40").in_session("demo"));
        show(&host, "session run 2", PythonRun::code("total += 2\ntotal").in_session("demo"));
        show(&host, "an exception", PythonRun::code("{}['missing']"));
        show(
            &host,
            "host services from Python",
            PythonRun::code("import plughost_host as h\nh.storage_set('py.key', 'stored')\nh.call_service('app.units', '12').decode()"),
        );
        let before = Instant::now();
        show(
            &host,
            "an endless loop, timeout 300 ms",
            PythonRun::code("while True: pass").with_timeout(Duration::from_millis(300)),
        );
        println!("   ended after {:?}; the worker was killed and started again", before.elapsed());
        show(&host, "the next run", PythonRun::code("'still serving'"));
        let escape = "open('/etc/plughost-demo-escape', 'w')";
        show(&host, "sandbox: a write outside the allowed root", PythonRun::code(escape));
        show(&host, "sandbox: a socket", PythonRun::code("import socket\nsocket.socket()"));
        let status = host.python_status();
        println!(
            "   health: {} runs, {} raised, {} timeouts; sandbox layers: landlock {} / seccomp {}",
            status.runs,
            status.raised,
            status.timeouts,
            status.sandbox["landlock_filesystem"]["state"],
            status.sandbox["seccomp"]["state"]
        );
        host.stop();
        std::fs::remove_dir_all(&writable)?;
        Ok(())
    }
}

/// Part 9: out-of-process plugins under supervision.
#[cfg(unix)]
mod plugins {
    use plughost::plugins::PluginState;
    use plughost::Host;
    use std::path::Path;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The seed's analytics and transform plugins: calls, host services, events between them, a
    /// crash and the restart, health, and a host stop that leaves no process.
    pub fn demo(built: &Path) -> Result<(), Box<dyn std::error::Error>> {
        println!("\n== 9. Out-of-process plugins (examples/plugins: analytics and transform)");
        let declared = |name: &str| {
            serde_json::json!({"Name": name, "Path": built.join(name), "Restart": "on-failure", "BackoffMs": 10,
                               "Config": {"owner": "demo"}})
        };
        let config = serde_json::json!({"PlugHost": {"Logging": {"Level": "warn"},
            "Plugins": {"Declared": [declared("analytics"), declared("transform")]}}});
        let host = Host::from_json(&config.to_string())?;
        host.subscribe_plugin_states(Arc::new(|plugin, from, to, reason| {
            if to == PluginState::Restarting || from == PluginState::Restarting {
                println!("   [state] {plugin}: {from} -> {to} ({reason})");
            }
        }))?;
        for name in ["analytics", "transform"] {
            println!(
                "   {name}: {} (pid {})",
                host.plugin_state(name)?,
                text(host.call_plugin(name, "pid", b"", None)?)
            );
        }
        for n in ["3", "5", "10"] {
            host.call_plugin("analytics", "record", n.as_bytes(), None)?;
        }
        println!(
            "   analytics.store (a host-storage call inside the call) -> {}",
            text(host.call_plugin("analytics", "store", b"", None)?)
        );
        println!(
            "   host storage analytics.summary                       = {}",
            text(host.storage_get("analytics.summary")?)
        );
        println!(
            "   transform.words(\"to be or not to be\") -> {}",
            text(host.call_plugin("transform", "words", b"to be or not to be", None)?)
        );
        host.call_plugin("analytics", "subscribe", b"", None)?;
        host.call_plugin("transform", "publish-done", b"done", None)?;
        std::thread::sleep(Duration::from_millis(50));
        println!(
            "   transform published transform.done; analytics counted {} event(s)",
            text(host.call_plugin("analytics", "events", b"", None)?)
        );

        let crashed = Instant::now();
        match host.call_plugin("analytics", "abort", b"", None) {
            Err(e) => println!("   analytics aborted in the middle of a call: {} ({})", e.message(), e.kind().name()),
            Ok(_) => println!("   unexpected: the abort call succeeded"),
        }
        let pid = text(host.call_plugin("analytics", "pid", b"", None)?);
        println!(
            "   serving again as pid {pid} {:.1} ms after the crash; transform untouched: {}",
            crashed.elapsed().as_secs_f64() * 1000.0,
            text(host.call_plugin("transform", "upper", b"still here", None)?)
        );
        for p in host.plugins() {
            println!(
                "   health: {} {} restarts={} crashes={} calls={} cpu_ms={:?} rss={:?}",
                p.name, p.state, p.restarts, p.crashes, p.calls, p.usage.cpu_ms, p.usage.rss_bytes
            );
        }
        let pids: Vec<u32> = host.plugins().iter().filter_map(|p| p.pid).collect();
        host.stop();
        let left = pids.iter().filter(|pid| Path::new(&format!("/proc/{pid}")).exists()).count();
        println!("   host stopped: {left} plugin process(es) left");
        Ok(())
    }
}

/// Part 7: a second process over the shared-memory IPC layer.
#[cfg(unix)]
mod ipc {
    use plughost::ipc::layout::Geometry;
    use plughost::ipc::session::{IpcError, Session};
    use std::process::Command;
    use std::time::{Duration, Instant};

    /// Set in the environment of the demo's peer process.
    pub const PEER_ENV: &str = "PLUGHOST_DEMO_PEER";
    const TIMEOUT: Duration = Duration::from_secs(10);

    fn failure(e: IpcError) -> (i32, String) {
        (e.kind().code(), e.to_string())
    }

    /// The host side: start the peer, call it, let it call back, then kill it mid-call.
    pub fn demo() -> Result<(), Box<dyn std::error::Error>> {
        println!("\n== 7. A second process over shared memory (IPC layer)");
        let (session, handoff) = Session::create(&Geometry::default())?;
        session.register("host", |method, payload| match method {
            "greeting" => Ok(format!("the host greets {}", String::from_utf8_lossy(payload)).into_bytes()),
            other => Err((200, format!("the host has no method {other}"))),
        });
        let mut command = Command::new(std::env::current_exe()?);
        command.env(PEER_ENV, "1");
        let mut child = handoff.die_with_parent(true).spawn(&mut command)?;
        println!("   peer process {} attached to a sealed memfd segment", child.id());

        let reply = session.call("peer", "echo", b"ping", TIMEOUT)?;
        println!("   call peer.echo(\"ping\")      -> {}", String::from_utf8_lossy(&reply));
        let reply = session.call("peer", "ask_host", b"the plugin", TIMEOUT)?;
        println!("   call peer.ask_host (nested)  -> {}", String::from_utf8_lossy(&reply));
        let rounds = 10_000;
        let started = Instant::now();
        for _ in 0..rounds {
            session.call("peer", "echo", &[0u8; 32], TIMEOUT)?;
        }
        let per_call = started.elapsed() / rounds;
        println!("   {rounds} calls of 32 bytes: {per_call:?} per round trip (debug build; see BENCHMARKS.md)");

        let caller = {
            let handle = session.handle();
            std::thread::spawn(move || {
                let result = handle.call("peer", "sleep", b"", TIMEOUT);
                (result, Instant::now())
            })
        };
        std::thread::sleep(Duration::from_millis(200));
        let killed = Instant::now();
        child.kill()?;
        let (result, failed_at) = caller.join().map_err(|_| "caller thread panicked")?;
        match result {
            Err(e) => println!(
                "   peer killed with SIGKILL mid-call: the call failed after {:?} with {}",
                failed_at.duration_since(killed),
                e.kind().name()
            ),
            Ok(_) => println!("   unexpected: the call succeeded"),
        }
        child.wait()?;
        Ok(())
    }

    /// Part 8: a peer written in C against the C ABI, on two data channels.
    pub fn c_peer(program: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
        println!("\n== 8. A peer process written in C (examples/c/ipc_peer.c, C ABI only)");
        let (session, handoff) = Session::create(&Geometry::default())?;
        session.register("host", |_, payload| Ok([b"hello ", payload].concat()));
        let mut child = handoff.spawn(&mut Command::new(program))?;
        for (channel, method, input) in [(1, "upper", "shout"), (1, "ask-host", "C"), (2, "channel", "")] {
            let reply = session.call_on(channel, "peer", method, input.as_bytes(), TIMEOUT)?;
            println!("   channel {channel}: peer.{method}({input:?}) -> {}", String::from_utf8_lossy(&reply));
        }
        match session.call("peer", "fail", b"on purpose", TIMEOUT) {
            Err(e) => println!("   peer.fail -> {} ({})", e, e.kind().name()),
            Ok(_) => println!("   unexpected: peer.fail succeeded"),
        }
        let services: Vec<String> =
            session.peer_registry(TIMEOUT)?.services.iter().map(|s| format!("{}@{}", s.name, s.channel)).collect();
        println!("   the peer's registry: {}", services.join(", "));
        session.close();
        println!("   goodbye sent; the C peer exited with {}", child.wait()?);
        Ok(())
    }

    /// The peer process: serve until the host goes away.
    pub fn peer() -> Result<(), Box<dyn std::error::Error>> {
        let session = Session::attach_from_env(&Geometry::default())?;
        let handle = session.handle();
        session.register("peer", move |method, payload| match method {
            "echo" => Ok(payload.to_vec()),
            "ask_host" => handle.call("host", "greeting", payload, TIMEOUT).map_err(failure),
            "sleep" => {
                std::thread::sleep(Duration::from_secs(30));
                Ok(Vec::new())
            }
            other => Err((200, format!("the peer has no method {other}"))),
        });
        loop {
            match session.serve(Instant::now() + Duration::from_secs(1)) {
                Ok(()) => {}
                Err(IpcError::Closed) | Err(IpcError::PeerDead(_)) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    }
}
