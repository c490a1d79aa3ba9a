use super::*;

#[test]
fn empty_text_and_empty_object_give_defaults() {
    let a = Config::from_json("").unwrap();
    let b = Config::from_json("  {} ").unwrap();
    let c = Config::from_json(r#"{"PlugHost": {}}"#).unwrap();
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(a.modules.unload_timeout, Duration::from_secs(5));
    assert!(a.modules.trusted_roots.is_empty());
    assert_eq!(a.log_level, 3);
}

#[test]
fn reads_every_setting() {
    let c = Config::from_json(
        r#"{"PlugHost": {
            "Modules": {"TrustedRoots": ["/opt/mods", "rel"], "ShadowDirectory": "/tmp/sh", "UnloadTimeoutMs": 250,
                        "MaxPinnedGenerations": 2, "MaxModules": 3, "CopyDependencies": false},
            "Logging": {"Level": "DEBUG"}, "Health": {"IntervalMs": 1000},
            "Services": {"MainThreadCallTimeoutMs": 50}, "Storage": {"MaxBytes": 1024},
            "Events": {"HistoryPerTopic": 5}}}"#,
    )
    .unwrap();
    assert_eq!(c.modules.trusted_roots, vec![PathBuf::from("/opt/mods"), PathBuf::from("rel")]);
    assert_eq!(c.modules.shadow_directory, PathBuf::from("/tmp/sh"));
    assert_eq!(c.modules.unload_timeout, Duration::from_millis(250));
    assert_eq!(c.modules.max_pinned_generations, 2);
    assert_eq!(c.modules.max_modules, 3);
    assert!(!c.modules.copy_dependencies);
    assert_eq!(c.log_level, 4);
    assert_eq!(c.health.interval, Duration::from_secs(1));
    assert_eq!(c.main_thread_call_timeout, Duration::from_millis(50));
    assert_eq!(c.storage_max_bytes, 1024);
    assert_eq!(c.event_history_per_topic, 5);
}

#[test]
fn reports_every_problem_with_its_path() {
    let e = Config::from_json(
        r#"{"PlugHost": {"Modules": {"UnloadTimeotMs": 1, "MaxModules": 0, "TrustedRoots": ["", 3]},
            "Logging": {"Level": "loud"}, "Helth": {}}}"#,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidConfig);
    let m = e.message();
    assert!(m.starts_with("6 problem(s)"), "{m}");
    assert!(m.contains("$.PlugHost.Modules.UnloadTimeotMs: unknown key; did you mean \"UnloadTimeoutMs\"?"), "{m}");
    assert!(m.contains("$.PlugHost.Modules.MaxModules: expected an integer from 1 to 65535, found 0"), "{m}");
    assert!(m.contains("$.PlugHost.Modules.TrustedRoots[0]: expected a non-empty path string"), "{m}");
    assert!(m.contains("$.PlugHost.Modules.TrustedRoots[1]: expected a non-empty path string, found 3"), "{m}");
    assert!(
        m.contains("$.PlugHost.Logging.Level: expected one of off, error, warn, info, debug, trace, found \"loud\""),
        "{m}"
    );
    assert!(m.contains("$.PlugHost.Helth: unknown key; did you mean \"Health\"?"), "{m}");
}

#[test]
fn unknown_key_far_from_any_lists_known_keys() {
    let e = Config::from_json(r#"{"Zzzzzzzz": 1}"#).unwrap_err();
    assert!(e.message().contains("$.Zzzzzzzz: unknown key; known keys: PlugHost"), "{}", e.message());
}

#[test]
fn wrong_types_and_bad_json_are_errors() {
    let e = Config::from_json(r#"{"PlugHost": []}"#).unwrap_err();
    assert!(e.message().contains("$.PlugHost: expected an object, found []"));
    let e = Config::from_json(r#"{"PlugHost": {"Modules": {"CopyDependencies": "yes"}}}"#).unwrap_err();
    assert!(e.message().contains("expected true or false"));
    let e = Config::from_json("{not json").unwrap_err();
    assert!(e.message().starts_with("configuration is not valid JSON"));
    let e = Config::from_json(r#"{"PlugHost": {"Python": 5}}"#).unwrap_err();
    assert!(e.message().contains("$.PlugHost.Python: expected an object"));
}

#[test]
fn reads_and_checks_the_watch_settings() {
    let defaults = Config::default().modules.watch;
    assert!(!defaults.enabled);
    assert_eq!(
        (defaults.debounce, defaults.retry, defaults.retry_limit),
        (Duration::from_millis(500), Duration::from_millis(100), Duration::from_secs(10))
    );
    let c = Config::from_json(
        r#"{"PlugHost": {"Modules": {"Watch": {"Enabled": true, "DebounceMs": 50, "RetryMs": 20, "RetryLimitMs": 0}}}}"#,
    )
    .unwrap();
    let w = c.modules.watch;
    assert!(w.enabled);
    assert_eq!(
        (w.debounce, w.retry, w.retry_limit),
        (Duration::from_millis(50), Duration::from_millis(20), Duration::ZERO)
    );
    let e = Config::from_json(r#"{"PlugHost": {"Modules": {"Watch": {"Enabled": 1, "RetryMs": 0, "DebounceMS": 5}}}}"#)
        .unwrap_err();
    let m = e.message();
    assert!(m.starts_with("3 problem(s)"), "{m}");
    assert!(m.contains("$.PlugHost.Modules.Watch.Enabled: expected true or false, found 1"), "{m}");
    assert!(m.contains("$.PlugHost.Modules.Watch.RetryMs: expected an integer from 1 to 3600000, found 0"), "{m}");
    assert!(m.contains("$.PlugHost.Modules.Watch.DebounceMS: unknown key; did you mean \"DebounceMs\"?"), "{m}");
    let e = Config::from_json(r#"{"PlugHost": {"Modules": {"Watch": true}}}"#).unwrap_err();
    assert!(e.message().contains("$.PlugHost.Modules.Watch: expected an object, found true"), "{}", e.message());
}

#[test]
fn reads_and_checks_the_health_settings() {
    let d = Config::default().health;
    assert_eq!((d.interval, d.history_size, d.recovery, d.max_retry_attempts), (Duration::from_secs(30), 64, true, 3));
    let c = Config::from_json(
        r#"{"PlugHost": {"Health": {"IntervalMs": 50, "HistorySize": 2, "Recovery": false, "MaxRetryAttempts": 0}}}"#,
    )
    .unwrap();
    let h = c.health;
    assert_eq!(
        (h.interval, h.history_size, h.recovery, h.max_retry_attempts),
        (Duration::from_millis(50), 2, false, 0)
    );
    let problems = Config::validate(r#"{"PlugHost": {"Health": {"HistorySize": 0, "Recovery": "on"}}}"#).unwrap_err();
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "$.PlugHost.Health.HistorySize: expected an integer from 1 to 10000, found 0",
            "$.PlugHost.Health.Recovery: expected true or false, found \"on\"",
        ]
    );
}

#[test]
fn the_development_profile_watches_and_logs_verbosely() {
    let c = Config::from_json(r#"{"PlugHost": {"Profile": "development"}}"#).unwrap();
    assert_eq!(c.profile, Some("development"));
    assert!(c.modules.watch.enabled);
    assert_eq!(c.log_level, 4);
    assert_eq!(c.health.interval, Duration::from_secs(10));
    assert!(c.health.recovery);
    assert!(!c.python.sandbox.enabled);
    assert!(c.extensions.allow_unsigned);
    assert_eq!(Config::default().profile, None);
    assert!(!Config::default().modules.watch.enabled);
}

#[test]
fn the_production_profile_does_not_watch() {
    let c = Config::from_json(r#"{"PlugHost": {"Profile": "Production"}}"#).unwrap();
    assert_eq!(c.profile, Some("production"));
    assert!(!c.modules.watch.enabled);
    assert_eq!(c.log_level, 3);
    assert_eq!(c.health.interval, Duration::from_secs(30));
    assert!(c.python.sandbox.enabled, "production sandboxes Python workers");
    assert!(!c.extensions.allow_unsigned, "production installs only signed packages");
}

#[test]
fn explicit_settings_override_the_profile() {
    let c = Config::from_json(
        r#"{"PlugHost": {"Profile": "development", "Logging": {"Level": "warn"},
            "Modules": {"Watch": {"Enabled": false, "DebounceMs": 20}}, "Health": {"IntervalMs": 100}}}"#,
    )
    .unwrap();
    assert_eq!(c.profile, Some("development"));
    assert!(!c.modules.watch.enabled);
    assert_eq!(c.modules.watch.debounce, Duration::from_millis(20));
    assert_eq!(c.log_level, 2);
    assert_eq!(c.health.interval, Duration::from_millis(100));
    let c = Config::from_json(
        r#"{"PlugHost": {"Profile": "production", "Modules": {"Watch": {"Enabled": true}},
            "Python": {"Sandbox": {"Enabled": false}}}}"#,
    )
    .unwrap();
    assert!(c.modules.watch.enabled);
    assert!(!c.python.sandbox.enabled);
}

#[test]
fn an_unknown_profile_is_a_configuration_error() {
    let e = Config::from_json(r#"{"PlugHost": {"Profile": "staging"}}"#).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidConfig);
    assert!(
        e.message().contains("$.PlugHost.Profile: expected one of development, production, found \"staging\""),
        "{}",
        e.message()
    );
    let problems = Config::validate(r#"{"PlugHost": {"Profile": 1, "Modules": {"Watch": 2}}}"#).unwrap_err();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(problems[0].path, "$.PlugHost.Profile");
    assert_eq!(problems[1].path, "$.PlugHost.Modules.Watch");
    let problems = Config::validate("{oops").unwrap_err();
    assert_eq!(problems[0].path, "$");
    assert!(problems[0].message.starts_with("configuration is not valid JSON"));
}
