//! Example out-of-process plugin: running statistics of the numbers it is given.
//!
//! A program the plughost host starts as a plugin (it attaches to the IPC session the host hands
//! over; run by hand it exits with code 2). Built as a workspace member:
//! `cargo build -p analytics` gives `target/debug/analytics`.
//!
//! Commands (input and answers are UTF-8 text):
//! - `record <number>`: add a number; answers how many were recorded;
//! - `summary`: `{"count", "mean", "min", "max"}` as JSON (`null`s before the first number);
//! - `store`: save the summary in the host's storage under `analytics.summary` (a host call made
//!   while the host's request runs) and answer it;
//! - `subscribe`: count the bus events of topic `transform.done`; answers the subscription id;
//! - `events`: how many such events arrived;
//! - `config`: the configuration `initialize` was given;
//! - `panic`, `abort`: fail the way a buggy plugin does (a panic, `std::process::abort`);
//! - `sleep <ms>`: sleep, then answer `slept`; `pid`: the process id.

use plughost::plugin::{Plugin, PluginError, PluginHost};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The storage key of `store`.
const SUMMARY_KEY: &str = "analytics.summary";
/// The topic `subscribe` counts.
const DONE_TOPIC: &str = "transform.done";

#[derive(Default)]
struct Stats {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Stats {
    fn record(&mut self, x: f64) -> u64 {
        (self.min, self.max) = if self.count == 0 { (x, x) } else { (self.min.min(x), self.max.max(x)) };
        self.count += 1;
        self.sum += x;
        self.count
    }

    fn summary(&self) -> String {
        let known = |v: f64| if self.count == 0 { serde_json::Value::Null } else { v.into() };
        let mean = if self.count == 0 { 0.0 } else { self.sum / self.count as f64 };
        serde_json::json!({"count": self.count, "mean": known(mean), "min": known(self.min), "max": known(self.max)})
            .to_string()
    }
}

#[derive(Default)]
struct Analytics {
    stats: Mutex<Stats>,
    events: Arc<AtomicU64>,
    config: Mutex<String>,
}

fn text(input: &[u8]) -> Result<&str, PluginError> {
    std::str::from_utf8(input).map(str::trim).map_err(|_| PluginError::new("the input is not UTF-8"))
}

fn number<T: std::str::FromStr>(input: &[u8]) -> Result<T, PluginError> {
    let text = text(input)?;
    text.parse().map_err(|_| PluginError::new(format!("\"{text}\" is not a number")))
}

impl Plugin for Analytics {
    fn initialize(&self, host: &PluginHost, config: &str) -> Result<(), PluginError> {
        *self.config.lock().unwrap() = config.to_owned();
        host.info(&format!("analytics {} ready", host.name()));
        Ok(())
    }

    fn process(&self, host: &PluginHost, command: &str, input: &[u8]) -> Result<Vec<u8>, PluginError> {
        let answer = match command {
            "record" => self.stats.lock().unwrap().record(number(input)?).to_string(),
            "summary" => self.stats.lock().unwrap().summary(),
            "store" => {
                let summary = self.stats.lock().unwrap().summary();
                host.storage_set(SUMMARY_KEY, summary.as_bytes())?;
                summary
            }
            "subscribe" => {
                let events = self.events.clone();
                let id = host.subscribe(DONE_TOPIC, move |_| {
                    events.fetch_add(1, Ordering::SeqCst);
                })?;
                id.to_string()
            }
            "events" => self.events.load(Ordering::SeqCst).to_string(),
            "config" => self.config.lock().unwrap().clone(),
            "panic" => panic!("analytics was asked to panic"),
            "abort" => std::process::abort(),
            "sleep" => {
                std::thread::sleep(Duration::from_millis(number(input)?));
                "slept".to_owned()
            }
            "pid" => std::process::id().to_string(),
            other => return Err(PluginError::new(format!("analytics has no command \"{other}\""))),
        };
        Ok(answer.into_bytes())
    }

    fn shutdown(&self, host: &PluginHost) {
        host.info("analytics stops");
    }
}

plughost::plugin_main!(Analytics::default());
