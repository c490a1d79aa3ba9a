//! The text of the Windows hand-off, kept apart from the Windows calls so that its parser is
//! plain code, tested on every platform.
//!
//! - The environment variable [`HANDOFF_ENV`](super::HANDOFF_ENV) holds `stdin:<creator pid>`:
//!   the token follows on the child's standard input, once the parent has duplicated the handles
//!   into the started child.
//! - The token, one line: `handle:<section>;wake:<h0>,<h1>,<h2>,<h3>`, the handle values in the
//!   child of the section and of the four wake-up semaphores (index `2 * direction + event`, see
//!   [`wake`](crate::ipc::wake)). Every value is a non-zero decimal; anything else is refused.

/// The handle values a Windows token names (as integers: they are only meaningful in the process
/// they were duplicated into).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HandleToken {
    /// The section.
    pub section: usize,
    /// The wake-up semaphores, index `2 * direction + event`.
    pub wake: [usize; 4],
}

/// The prefix of the environment variable's value on Windows.
const STDIN_PREFIX: &str = "stdin:";

impl HandleToken {
    /// The token's text.
    pub fn format(&self) -> String {
        let [a, b, c, d] = self.wake;
        format!("handle:{};wake:{a},{b},{c},{d}", self.section)
    }

    /// Parse a token; `None` unless it has exactly the form above.
    pub fn parse(token: &str) -> Option<Self> {
        let (section, wake) = token.strip_prefix("handle:")?.split_once(";wake:")?;
        let mut values = wake.split(',').map(handle_value);
        let wake = [values.next()??, values.next()??, values.next()??, values.next()??];
        if values.next().is_some() {
            return None;
        }
        Some(HandleToken { section: handle_value(section)?, wake })
    }
}

/// A handle value: decimal digits only (no sign, no blank), not zero.
fn handle_value(text: &str) -> Option<usize> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|&v| v != 0)
}

/// The environment variable's value: the token comes on standard input; `creator` started us.
pub(crate) fn stdin_env(creator: u32) -> String {
    format!("{STDIN_PREFIX}{creator}")
}

/// The creator's process id from the environment variable's value, `None` unless it is
/// `stdin:<pid>` with a non-zero pid.
pub(crate) fn parse_stdin_env(value: &str) -> Option<u32> {
    let pid = value.strip_prefix(STDIN_PREFIX)?;
    u32::try_from(handle_value(pid)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_survives_its_text() {
        let token = HandleToken { section: 0x1c4, wake: [8, 12, 16, usize::MAX] };
        let text = token.format();
        assert_eq!(text, format!("handle:452;wake:8,12,16,{}", usize::MAX));
        assert_eq!(HandleToken::parse(&text), Some(token));
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for bad in [
            "",
            "handle:",
            "handle:4",
            "handle:4;wake:",
            "handle:4;wake:1,2,3",
            "handle:4;wake:1,2,3,4,5",
            "handle:4;wake:1,2,,4",
            "handle:0;wake:1,2,3,4",
            "handle:4;wake:1,2,3,0",
            "handle:-4;wake:1,2,3,4",
            "handle:+4;wake:1,2,3,4",
            "handle: 4;wake:1,2,3,4",
            "handle:4;wake:1,2,3,4 ",
            "handle:4;wake:1,2,3,4\n",
            "handle:0x4;wake:1,2,3,4",
            "handle:4;wake:1,2,3,99999999999999999999999",
            "HANDLE:4;wake:1,2,3,4",
            "fd:3:1:2",
            "handle:4;wake:1,2,3,4;wake:1,2,3,4",
        ] {
            assert_eq!(HandleToken::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_environment_names_the_creator() {
        assert_eq!(parse_stdin_env(&stdin_env(4242)), Some(4242));
        for bad in ["", "stdin:", "stdin:0", "stdin:-1", "stdin:4294967296", "stdin:12a", "fd:3:1:2", "handle:4"] {
            assert_eq!(parse_stdin_env(bad), None, "{bad:?}");
        }
    }
}
