//! Arbitrary bytes into the frame decoder, frame after frame (`plughost::ipc::fuzzing::frame_decode`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    plughost::ipc::fuzzing::frame_decode(data);
});
