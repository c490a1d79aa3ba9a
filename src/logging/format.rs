//! Formats a `tracing` event as one line: the message, then `key=value` for every other field.

use std::fmt::{self, Write};
use tracing::field::{Field, Visit};
use tracing::Event;

struct LineVisitor {
    message: String,
    fields: String,
}

impl Visit for LineVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }
}

/// The event's message followed by its other fields.
pub(super) fn format_event(event: &Event<'_>) -> String {
    let mut visitor = LineVisitor { message: String::new(), fields: String::new() };
    event.record(&mut visitor);
    visitor.message.push_str(&visitor.fields);
    visitor.message
}
