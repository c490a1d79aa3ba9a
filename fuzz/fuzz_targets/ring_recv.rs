//! Arbitrary bytes laid over a ring's control block and data, then a hostile producer's script
//! around the consumer's receive calls (`plughost::ipc::fuzzing::ring_recv`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    plughost::ipc::fuzzing::ring_recv(data);
});
