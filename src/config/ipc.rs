//! IPC session settings (`PlugHost.Ipc`, and the options of `plughost_session_create` and
//! `plughost_session_attach`): the segment's geometry and the session's timing.

use super::reader::Reader;
use crate::error::Result;
use crate::ipc::layout::{Geometry, SlotClass};
use crate::ipc::session::SessionConfig;
use serde_json::{Map, Value};
use std::time::Duration;

/// The keys of an IPC settings object.
const KEYS: &[&str] = &[
    "RingCapacity",
    "InlineMax",
    "SlotClasses",
    "HeartbeatIntervalMs",
    "HeartbeatTimeoutMs",
    "ConnectTimeoutMs",
    "ReplyTimeoutMs",
    "SpinCount",
];

/// A session's geometry and settings. Both peers of a session must use the same geometry: the
/// attaching side checks it against the segment's header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpcSettings {
    /// Ring and slot sizes.
    pub geometry: Geometry,
    /// Heartbeats, timeouts, spinning.
    pub session: SessionConfig,
}

impl IpcSettings {
    /// Parse and validate a JSON object of IPC settings (empty text = defaults), reporting every
    /// problem at once as `PLUGHOST_ERR_INVALID_CONFIG`.
    pub fn from_json(text: &str) -> Result<IpcSettings> {
        super::section_from_json(text, read)
    }
}

impl IpcSettings {
    /// The settings as the JSON object [`IpcSettings::from_json`] reads (handed to plugin processes
    /// so that they attach with the same geometry).
    pub fn to_json(&self) -> String {
        let g = &self.geometry;
        let s = &self.session;
        let classes: Vec<serde_json::Value> =
            g.classes.iter().map(|c| serde_json::json!({"Size": c.slot_size, "Count": c.slot_count})).collect();
        serde_json::json!({
            "RingCapacity": g.ring_capacity,
            "InlineMax": g.inline_max,
            "SlotClasses": classes,
            "HeartbeatIntervalMs": s.heartbeat_interval.as_millis() as u64,
            "HeartbeatTimeoutMs": s.heartbeat_timeout.as_millis() as u64,
            "ConnectTimeoutMs": s.connect_timeout.as_millis() as u64,
            "ReplyTimeoutMs": s.reply_timeout.as_millis() as u64,
            "SpinCount": s.spin,
        })
        .to_string()
    }
}

/// Read the settings object at `path`; problems go to `r`, defaults fill their place.
pub(super) fn read(r: &mut Reader, value: &Value, path: &str) -> IpcSettings {
    let empty = Map::new();
    let o = r.object(value, path, KEYS).unwrap_or(&empty);
    let defaults = IpcSettings::default();
    let ms = |r: &mut Reader, key: &str, default: Duration, min: u64| {
        Duration::from_millis(r.integer(o, path, key, default.as_millis() as u64, min, 3_600_000))
    };
    let session = SessionConfig {
        heartbeat_interval: ms(r, "HeartbeatIntervalMs", defaults.session.heartbeat_interval, 1),
        heartbeat_timeout: ms(r, "HeartbeatTimeoutMs", defaults.session.heartbeat_timeout, 10),
        connect_timeout: ms(r, "ConnectTimeoutMs", defaults.session.connect_timeout, 1),
        reply_timeout: ms(r, "ReplyTimeoutMs", defaults.session.reply_timeout, 1),
        spin: r.integer(o, path, "SpinCount", u64::from(defaults.session.spin), 0, 10_000_000) as u32,
    };
    if session.heartbeat_timeout <= session.heartbeat_interval {
        r.problem(
            format!("{path}.HeartbeatTimeoutMs"),
            "must be longer than HeartbeatIntervalMs (a peer is dead after missing beats)".into(),
        );
    }
    let geometry = Geometry {
        ring_capacity: r.integer(o, path, "RingCapacity", defaults.geometry.ring_capacity as u64, 0, 1 << 30) as usize,
        inline_max: r.integer(o, path, "InlineMax", defaults.geometry.inline_max as u64, 0, 4096) as usize,
        classes: match o.get("SlotClasses") {
            None => defaults.geometry.classes,
            Some(classes) => slot_classes(r, classes, &format!("{path}.SlotClasses")),
        },
    };
    if let Err(e) = geometry.validate() {
        r.problem(path.to_owned(), format!("the geometry is refused: {}", e.0));
    }
    IpcSettings { geometry, session }
}

fn slot_classes(r: &mut Reader, value: &Value, path: &str) -> Vec<SlotClass> {
    let Some(items) = value.as_array() else {
        r.problem(path.to_owned(), "expected an array of {\"Size\": bytes, \"Count\": slots} objects".into());
        return Vec::new();
    };
    let empty = Map::new();
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let at = format!("{path}[{i}]");
            let o = r.object(item, &at, &["Size", "Count"]).unwrap_or(&empty);
            if !o.contains_key("Size") || !o.contains_key("Count") {
                r.problem(at.clone(), "needs both \"Size\" and \"Count\"".into());
            }
            SlotClass {
                slot_size: r.integer(o, &at, "Size", 0, 64, 1 << 30) as usize,
                slot_count: r.integer(o, &at, "Count", 0, 1, 1 << 20) as usize,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_text_gives_the_defaults() {
        assert_eq!(IpcSettings::from_json("").unwrap(), IpcSettings::default());
        assert_eq!(IpcSettings::from_json("{}").unwrap(), IpcSettings::default());
    }

    #[test]
    fn settings_survive_their_json() {
        let s = IpcSettings::from_json(
            r#"{"RingCapacity": 65536, "SlotClasses": [{"Size": 4096, "Count": 8}], "SpinCount": 3}"#,
        )
        .unwrap();
        assert_eq!(IpcSettings::from_json(&s.to_json()).unwrap(), s);
        assert_eq!(IpcSettings::from_json(&IpcSettings::default().to_json()).unwrap(), IpcSettings::default());
    }

    #[test]
    fn every_key_is_read() {
        let s = IpcSettings::from_json(
            r#"{"RingCapacity": 65536, "InlineMax": 128, "SlotClasses": [{"Size": 4096, "Count": 8}],
                "HeartbeatIntervalMs": 50, "HeartbeatTimeoutMs": 1000, "ConnectTimeoutMs": 2000,
                "ReplyTimeoutMs": 3000, "SpinCount": 10}"#,
        )
        .unwrap();
        assert_eq!(s.geometry.ring_capacity, 65536);
        assert_eq!(s.geometry.inline_max, 128);
        assert_eq!(s.geometry.classes, [SlotClass { slot_size: 4096, slot_count: 8 }]);
        assert_eq!(s.session.heartbeat_interval, Duration::from_millis(50));
        assert_eq!(s.session.heartbeat_timeout, Duration::from_secs(1));
        assert_eq!(s.session.connect_timeout, Duration::from_secs(2));
        assert_eq!(s.session.reply_timeout, Duration::from_secs(3));
        assert_eq!(s.session.spin, 10);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let e = IpcSettings::from_json(
            r#"{"RingCapacty": 1, "RingCapacity": 5000, "SlotClasses": [{"Size": 64}, 3],
                "HeartbeatIntervalMs": 500, "HeartbeatTimeoutMs": 100}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidConfig);
        let m = e.message();
        for expected in [
            "$.RingCapacty: unknown key; did you mean \"RingCapacity\"?",
            "$.SlotClasses[0]: needs both \"Size\" and \"Count\"",
            "$.SlotClasses[1]: expected an object",
            "$.HeartbeatTimeoutMs: must be longer than HeartbeatIntervalMs",
            "$: the geometry is refused: ring capacity 5000 must be a power of two",
        ] {
            assert!(m.contains(expected), "{expected:?} missing from:\n{m}");
        }
        assert!(IpcSettings::from_json("[").unwrap_err().message().contains("not valid JSON"));
        assert!(IpcSettings::from_json("[]").unwrap_err().message().contains("$: expected an object"));
    }
}
