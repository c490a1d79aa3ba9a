//! A reader over a JSON value that collects every problem with its JSON path instead of stopping
//! at the first.

use crate::error::{Error, ErrorKind, Result};
use crate::ffi::module_abi::log_level;
use serde_json::{Map, Value};
use std::path::PathBuf;

/// One problem found in the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// JSON path, e.g. `$.PlugHost.Modules.UnloadTimeoutMs`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Collects problems while fields are read with defaults.
#[derive(Default)]
pub(super) struct Reader {
    problems: Vec<Problem>,
}

const LEVELS: [(&str, u32); 6] = [
    ("off", log_level::OFF),
    ("error", log_level::ERROR),
    ("warn", log_level::WARN),
    ("info", log_level::INFO),
    ("debug", log_level::DEBUG),
    ("trace", log_level::TRACE),
];

fn describe(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 40 {
        format!("{}...", &text[..text.char_indices().nth(37).map_or(text.len(), |(i, _)| i)])
    } else {
        text
    }
}

/// The message for a value that is not one of `choices`.
pub(super) fn expected_one_of(choices: &[&str], value: &Value) -> String {
    format!("expected one of {}, found {}", choices.join(", "), describe(value))
}

/// The known key closest to `key`, if it is close enough to be a likely typo.
fn nearest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = key.to_lowercase();
    known
        .iter()
        .map(|k| (strsim::levenshtein(&lower, &k.to_lowercase()), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

impl Reader {
    /// Record a problem at `path`.
    pub(super) fn problem(&mut self, path: String, message: String) {
        self.problems.push(Problem { path, message });
    }

    /// Check that `value` is an object whose keys are all in `known`.
    pub(super) fn object<'v>(
        &mut self,
        value: &'v Value,
        path: &str,
        known: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Some(map) = value.as_object() else {
            self.problem(path.to_owned(), format!("expected an object, found {}", describe(value)));
            return None;
        };
        if !known.is_empty() {
            for key in map.keys().filter(|k| !known.contains(&k.as_str())) {
                let hint = match nearest(key, known) {
                    Some(k) => format!("; did you mean \"{k}\"?"),
                    None => format!("; known keys: {}", known.join(", ")),
                };
                self.problem(format!("{path}.{key}"), format!("unknown key{hint}"));
            }
        }
        Some(map)
    }

    /// An integer in `min..=max`, or `default` when absent.
    pub(super) fn integer(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        key: &str,
        default: u64,
        min: u64,
        max: u64,
    ) -> u64 {
        match obj.get(key) {
            None => default,
            Some(v) => match v.as_u64().filter(|n| (min..=max).contains(n)) {
                Some(n) => n,
                None => {
                    self.problem(
                        format!("{path}.{key}"),
                        format!("expected an integer from {min} to {max}, found {}", describe(v)),
                    );
                    default
                }
            },
        }
    }

    /// A boolean, or `default` when absent.
    pub(super) fn boolean(&mut self, obj: &Map<String, Value>, path: &str, key: &str, default: bool) -> bool {
        match obj.get(key) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                self.problem(format!("{path}.{key}"), format!("expected true or false, found {}", describe(v)));
                default
            }
        }
    }

    /// One of `choices` (case-insensitive), or `default` when absent.
    pub(super) fn choice<'c>(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        key: &str,
        choices: &[&'c str],
        default: &'c str,
    ) -> &'c str {
        let Some(value) = obj.get(key) else {
            return default;
        };
        match value.as_str().and_then(|s| choices.iter().find(|c| c.eq_ignore_ascii_case(s))) {
            Some(choice) => choice,
            None => {
                self.problem(format!("{path}.{key}"), expected_one_of(choices, value));
                default
            }
        }
    }

    /// An array of strings (absent = empty).
    pub(super) fn strings(&mut self, obj: &Map<String, Value>, path: &str, key: &str) -> Vec<String> {
        match obj.get(key) {
            None => Vec::new(),
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
                items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
            }
            Some(v) => {
                self.problem(format!("{path}.{key}"), format!("expected an array of strings, found {}", describe(v)));
                Vec::new()
            }
        }
    }

    /// A non-empty path string.
    pub(super) fn path(&mut self, obj: &Map<String, Value>, path: &str, key: &str) -> Option<PathBuf> {
        let value = obj.get(key)?;
        self.path_value(value, &format!("{path}.{key}"))
    }

    fn path_value(&mut self, value: &Value, path: &str) -> Option<PathBuf> {
        match value.as_str() {
            Some(s) if !s.trim().is_empty() => Some(PathBuf::from(s)),
            _ => {
                self.problem(path.to_owned(), format!("expected a non-empty path string, found {}", describe(value)));
                None
            }
        }
    }

    /// An array of path strings (absent = empty).
    pub(super) fn paths(&mut self, obj: &Map<String, Value>, path: &str, key: &str) -> Vec<PathBuf> {
        match obj.get(key) {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| self.path_value(v, &format!("{path}.{key}[{i}]")))
                .collect(),
            Some(v) => {
                self.problem(
                    format!("{path}.{key}"),
                    format!("expected an array of path strings, found {}", describe(v)),
                );
                Vec::new()
            }
        }
    }

    /// A log level name (off, error, warn, info, debug, trace), case-insensitive.
    pub(super) fn log_level(&mut self, obj: &Map<String, Value>, path: &str, key: &str, default: u32) -> u32 {
        let Some(value) = obj.get(key) else {
            return default;
        };
        let found = value.as_str().and_then(|s| LEVELS.iter().find(|(name, _)| name.eq_ignore_ascii_case(s)));
        match found {
            Some((_, level)) => *level,
            None => {
                let names: Vec<&str> = LEVELS.iter().map(|(n, _)| *n).collect();
                self.problem(format!("{path}.{key}"), expected_one_of(&names, value));
                default
            }
        }
    }

    /// Every problem as one `InvalidConfig` error, or `Ok` when there is none.
    pub(super) fn finish(self) -> Result<()> {
        problems_error(&self.problems)
    }

    /// Every problem found, in the order found.
    pub(super) fn into_problems(self) -> Vec<Problem> {
        self.problems
    }
}

/// Every problem as one `InvalidConfig` error, or `Ok` when there is none.
pub(super) fn problems_error(problems: &[Problem]) -> Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    Err(Error::new(
        ErrorKind::InvalidConfig,
        format!("{} problem(s) in the configuration:\n{}", lines.len(), lines.join("\n")),
    ))
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}
