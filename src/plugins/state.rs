//! A plugin's states, as the C ABI and health show them.

/// Where a plugin is in its life. The numbers are the C ABI's `PLUGHOST_PLUGIN_*` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum PluginState {
    /// Not running: never started (on demand), stopped on request, stopped after its idle time
    /// (started again by the next call), or ended cleanly on its own.
    Stopped = 0,
    /// Its process is being started and attached.
    Starting = 1,
    /// Its `initialize` runs.
    Initializing = 2,
    /// It serves calls.
    Running = 3,
    /// It was asked to stop and is shutting down.
    ShuttingDown = 4,
    /// It ended unexpectedly and will not be restarted (policy `never`, or the restart limit was
    /// reached); the reason is in health and in the state event.
    Crashed = 5,
    /// It ended unexpectedly and will be started again after its backoff.
    Restarting = 6,
}

impl PluginState {
    /// Every state, by number.
    pub const ALL: [PluginState; 7] = [
        PluginState::Stopped,
        PluginState::Starting,
        PluginState::Initializing,
        PluginState::Running,
        PluginState::ShuttingDown,
        PluginState::Crashed,
        PluginState::Restarting,
    ];

    /// The name used in health, logs and events.
    pub fn name(self) -> &'static str {
        match self {
            PluginState::Stopped => "stopped",
            PluginState::Starting => "starting",
            PluginState::Initializing => "initializing",
            PluginState::Running => "running",
            PluginState::ShuttingDown => "shutting_down",
            PluginState::Crashed => "crashed",
            PluginState::Restarting => "restarting",
        }
    }

    /// Whether a process exists (or is being made) in this state.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            PluginState::Starting | PluginState::Initializing | PluginState::Running | PluginState::ShuttingDown
        )
    }
}

impl std::fmt::Display for PluginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_the_list() {
        for (i, state) in PluginState::ALL.iter().enumerate() {
            assert_eq!(*state as u32, i as u32, "{state}");
        }
    }
}
