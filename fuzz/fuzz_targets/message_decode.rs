//! Arbitrary bytes into the message decoder, whole and by its head (`plughost::ipc::fuzzing::message_decode`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    plughost::ipc::fuzzing::message_decode(data);
});
