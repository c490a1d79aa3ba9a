//! `plughost watch`: load a work module with watching on and print each reload of it (reloading,
//! reloaded, rolled back) as a line, until stopped.

use crate::common::{load_module, read_config, Failure, Output};
use clap::Args;
use plughost::modules::{RELOADED_TOPIC, RELOADING_TOPIC, ROLLED_BACK_TOPIC};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Arguments of `watch`.
#[derive(Args)]
#[command(after_help = "\
Examples:
  plughost watch ./target/debug/libcounter.so
  plughost watch --config appsettings.json --debounce-ms 200 ./target/debug/libcounter.so
  plughost watch --exit-after 1 ./libcounter.so     (ends after the first reload's outcome)

Rebuild the module (e.g. `cargo build`) in another terminal: each change prints
  reloading counter from /path/to/libcounter.so
  reloaded counter: generation 2, serving 512.3 ms after the last change
or, when the new build cannot be loaded (the previous generation keeps serving),
  rolled back counter: <reason>
Stop with Ctrl-C.")]
pub struct WatchArgs {
    /// The host's configuration file (JSON); the defaults when absent. Watching is switched on
    /// whatever it says.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// The work module's library file.
    module: PathBuf,
    /// How long the file must stay quiet after a change before the reload (default: the
    /// configuration's Modules.Watch.DebounceMs, 500).
    #[arg(long, value_name = "MS")]
    debounce_ms: Option<u64>,
    /// End after this many reload outcomes (reloaded or rolled back) instead of running until
    /// stopped.
    #[arg(long, value_name = "N")]
    exit_after: Option<u64>,
}

/// One watcher event as a line.
fn line(topic: &str, payload: &serde_json::Value) -> Option<String> {
    let module = payload["module"].as_str().unwrap_or("?");
    match topic {
        RELOADING_TOPIC => Some(format!("reloading {module} from {}", payload["path"].as_str().unwrap_or("?"))),
        RELOADED_TOPIC => Some(format!(
            "reloaded {module}: generation {}, serving {:.1} ms after the last change",
            payload["generation"],
            payload["ms"].as_f64().unwrap_or(0.0)
        )),
        ROLLED_BACK_TOPIC => Some(format!("rolled back {module}: {}", payload["reason"].as_str().unwrap_or("?"))),
        _ => None,
    }
}

/// Run `plughost watch`.
pub fn main(args: WatchArgs, out: &Output) -> Result<ExitCode, Failure> {
    let mut config = read_config(args.config.as_deref())?;
    config.modules.watch.enabled = true;
    if let Some(ms) = args.debounce_ms {
        config.modules.watch.debounce = Duration::from_millis(ms);
    }
    let debounce = config.modules.watch.debounce;
    let host = out.start_host(config)?;
    let (sender, events) = mpsc::channel();
    let sender = Mutex::new(sender);
    host.subscribe(
        "*",
        Arc::new(move |event: &plughost::events::Event| {
            if let Ok(payload) = serde_json::from_slice::<serde_json::Value>(&event.payload) {
                let _ = sender.lock().map(|s| s.send((event.topic.clone(), payload)));
            }
        }),
    )
    .map_err(|e| e.to_string())?;
    load_module(out, &host, &args.module)?;
    out.note(format!(
        "watching {} (debounce {} ms); rebuild it to see reloads, Ctrl-C to stop",
        args.module.display(),
        debounce.as_millis()
    ));
    let mut outcomes = 0;
    while args.exit_after.is_none_or(|n| outcomes < n) {
        let Ok((topic, payload)) = events.recv() else { break };
        if let Some(text) = line(&topic, &payload) {
            println!("{text}");
            if topic != RELOADING_TOPIC {
                outcomes += 1;
            }
        }
    }
    host.stop();
    Ok(ExitCode::SUCCESS)
}
