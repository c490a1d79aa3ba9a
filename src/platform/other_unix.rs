//! Other Unix systems (macOS, BSD): no image pre-check and no mapping check (macOS never unloads
//! images with thread-local destructors, so a closed library is reported as pinned).

use super::{ProcessFigures, ProcessUsage};
use std::path::Path;

/// Unknown on this platform.
pub fn is_mapped(_path: &Path) -> Option<bool> {
    None
}

/// No pre-check on this platform.
pub fn check_image(_path: &Path) -> Result<(), String> {
    Ok(())
}

/// Not collected on this platform.
pub fn process_figures() -> ProcessFigures {
    ProcessFigures::default()
}

/// Not collected on this platform.
pub fn process_usage(_pid: u32) -> ProcessUsage {
    ProcessUsage::default()
}
