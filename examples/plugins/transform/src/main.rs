//! Example out-of-process plugin: text transformations.
//!
//! A program the plughost host starts as a plugin (it attaches to the IPC session the host hands
//! over; run by hand it exits with code 2). Built as a workspace member:
//! `cargo build -p transform` gives `target/debug/transform`.
//!
//! Commands (input and answers are UTF-8 text):
//! - `upper`, `reverse`: the input in upper case, reversed;
//! - `words`: how often each word occurs, as a JSON object;
//! - `publish-done`: publish the input on the host's bus under `transform.done`; answers how
//!   many subscribers it reached;
//! - `call-service`: input `<service> [input]`: call that host service, answer its result;
//! - `pid`: the process id; `crash`: exit at once with code 3.

use plughost::plugin::{Plugin, PluginError, PluginHost};
use std::collections::BTreeMap;

struct Transform;

fn text(input: &[u8]) -> Result<&str, PluginError> {
    std::str::from_utf8(input).map_err(|_| PluginError::new("the input is not UTF-8"))
}

impl Plugin for Transform {
    fn process(&self, host: &PluginHost, command: &str, input: &[u8]) -> Result<Vec<u8>, PluginError> {
        let answer = match command {
            "upper" => text(input)?.to_uppercase(),
            "reverse" => text(input)?.chars().rev().collect(),
            "words" => {
                let mut counts = BTreeMap::new();
                for word in text(input)?.split_whitespace() {
                    *counts.entry(word).or_insert(0u64) += 1;
                }
                serde_json::to_string(&counts).map_err(|e| PluginError::new(e.to_string()))?
            }
            "publish-done" => host.publish("transform.done", input)?.to_string(),
            "call-service" => {
                let (service, argument) = text(input)?.split_once(' ').unwrap_or((text(input)?, ""));
                return host.call_service(service, argument.as_bytes());
            }
            "pid" => std::process::id().to_string(),
            "crash" => std::process::exit(3),
            other => return Err(PluginError::new(format!("transform has no command \"{other}\""))),
        };
        Ok(answer.into_bytes())
    }
}

plughost::plugin_main!(Transform);
