//! Configuration profiles: named presets (`PlugHost.Profile`) merged under the user's document
//! before it is validated, so every setting the document states explicitly wins over the preset.
//!
//! A preset is a list of (dotted path below `PlugHost`, JSON value) rows in [`PRESETS`]; a
//! subsystem adds its keys as one row each. A row whose path runs into a non-object value of
//! the document is skipped (validation reports that value anyway).

use super::reader::{expected_one_of, Reader};
use serde_json::{Map, Value};

/// The profiles and what each presets: `(profile, [(path below PlugHost, JSON value)])`.
pub const PRESETS: &[(&str, &[(&str, &str)])] = &[
    (
        "development",
        &[
            ("Modules.Watch.Enabled", "true"),
            ("Logging.Level", r#""debug""#),
            ("Health.IntervalMs", "10000"),
            ("Health.Recovery", "true"),
            ("Python.Sandbox.Enabled", "false"),
            ("Extensions.AllowUnsigned", "true"),
        ],
    ),
    (
        "production",
        &[
            ("Modules.Watch.Enabled", "false"),
            ("Logging.Level", r#""info""#),
            ("Health.IntervalMs", "30000"),
            ("Health.Recovery", "true"),
            ("Python.Sandbox.Enabled", "true"),
            ("Extensions.AllowUnsigned", "false"),
        ],
    ),
];

/// The names of the profiles.
pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|(name, _)| *name).collect()
}

/// Read `PlugHost.Profile` from `root` and merge its preset under the document. Returns the
/// profile's name (`None` when absent or invalid; an invalid one is a problem in `r`).
pub(super) fn apply(r: &mut Reader, root: &mut Value) -> Option<&'static str> {
    let host = root.get_mut("PlugHost")?.as_object_mut()?;
    let choices = names();
    let value = host.get("Profile")?;
    let profile = match value.as_str().and_then(|s| choices.iter().find(|c| c.eq_ignore_ascii_case(s))) {
        Some(name) => *name,
        None => {
            r.problem("$.PlugHost.Profile".into(), expected_one_of(&choices, value));
            return None;
        }
    };
    let rows = PRESETS.iter().find(|(name, _)| *name == profile).map_or(&[][..], |(_, rows)| *rows);
    for (path, json) in rows {
        let preset: Value = serde_json::from_str(json).expect("preset values are valid JSON (checked by a test)");
        merge_under(host, path, preset);
    }
    Some(profile)
}

/// Set `path` (dotted, below `host`) to `value` unless the document has a value there already.
fn merge_under(host: &mut Map<String, Value>, path: &str, value: Value) {
    let mut object = host;
    let mut keys = path.split('.').peekable();
    while let Some(key) = keys.next() {
        if keys.peek().is_none() {
            object.entry(key).or_insert(value);
            return;
        }
        let next = object.entry(key).or_insert_with(|| Value::Object(Map::new()));
        match next.as_object_mut() {
            Some(inner) => object = inner,
            // The document has something else here; its validation reports it.
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_value_is_json_and_every_profile_is_unique() {
        for (name, rows) in PRESETS {
            assert_eq!(PRESETS.iter().filter(|(n, _)| n == name).count(), 1, "{name}");
            for (path, json) in *rows {
                assert!(serde_json::from_str::<Value>(json).is_ok(), "{name}: {path} = {json}");
            }
        }
    }

    #[test]
    fn merge_keeps_explicit_values_and_skips_non_objects() {
        let mut host = serde_json::json!({"Modules": {"Watch": {"Enabled": false}}, "Health": 5});
        let map = host.as_object_mut().unwrap();
        merge_under(map, "Modules.Watch.Enabled", Value::Bool(true));
        merge_under(map, "Modules.Watch.DebounceMs", Value::from(9));
        merge_under(map, "Health.IntervalMs", Value::from(1));
        merge_under(map, "Logging.Level", Value::from("debug"));
        assert_eq!(
            host,
            serde_json::json!({"Modules": {"Watch": {"Enabled": false, "DebounceMs": 9}}, "Health": 5,
                "Logging": {"Level": "debug"}})
        );
    }
}
