//! Systems other than Linux: no operating-system layer yet. Windows job objects (beyond the
//! memory limit the pool sets) and AppContainer are not implemented, nor macOS's sandbox; there the
//! audit hook is the only, non-boundary, layer, and the report says so.

use super::{SandboxError, SandboxPolicy, SandboxReport};

/// See [`super::apply`]: nothing is enforced; the report says so.
pub(super) fn apply(_policy: &SandboxPolicy) -> Result<SandboxReport, SandboxError> {
    Ok(SandboxReport::without_os_layers("no operating-system sandbox on this platform"))
}
