//! Out-of-process plugins: processes the host starts, calls over an IPC session, supervises and
//! restarts. `protocol.rs` is what both sides say; the plugin side's SDK is `crate::plugin`.

pub mod protocol;
