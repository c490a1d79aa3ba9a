//! The exported `extern "C"` functions, called from Rust exactly as C calls them: raw pointers and
//! lengths, out-pointers, status codes, the thread's last error, callbacks with user data and
//! destroy callbacks, and buffers. Every exported function is called at least once with success
//! and once with a failure.
//!
//! Tests in this file run in parallel, and plughost's log hub is process-wide, so a log callback
//! here also sees the events of other tests' hosts: assertions look for their own events only.

mod support;

use plughost::ffi::buffer::{plughost_buffer, plughost_buffer_data, plughost_buffer_free};
use plughost::ffi::event::{plughost_event_publish, plughost_event_subscribe, plughost_event_unsubscribe};
use plughost::ffi::host::{
    plughost_host, plughost_host_free, plughost_host_health, plughost_host_new, plughost_host_pump,
    plughost_host_set_log_callback, plughost_host_set_log_level, plughost_host_set_main_thread,
    plughost_host_set_pump_callback,
};
use plughost::ffi::last_error::{plughost_last_error_message, plughost_last_error_status};
use plughost::ffi::module::{
    plughost_module_execute, plughost_module_load, plughost_module_reload, plughost_module_unload,
};
use plughost::ffi::service::{
    plughost_output_set_error, plughost_output_write, plughost_service_call, plughost_service_register,
    plughost_service_unregister, PLUGHOST_SERVICE_MAIN_THREAD,
};
use plughost::ffi::storage::{plughost_storage_get, plughost_storage_set};
use plughost::ffi::version::{plughost_abi_version, plughost_status_name, plughost_version};
use plughost::status::*;
use plughost::ErrorKind;
use std::ffi::{c_void, CStr};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;
use std::thread::ThreadId;
use std::time::{Duration, Instant};
use support::{fixtures, Sandbox};

/// A `&str` as the (pointer, length) pair of the C API.
fn s(text: &str) -> (*const u8, usize) {
    (text.as_ptr(), text.len())
}

const NOT_UTF8: &[u8] = b"a\xff\x80z";

/// The calling thread's last error message, read the way C reads it: length first, then the text.
fn last_error() -> String {
    // SAFETY: NULL with length 0 asks for the length; then a buffer of length + 1 bytes.
    unsafe {
        let len = plughost_last_error_message(null_mut(), 0);
        let mut buf = vec![0xAAu8; len + 1];
        assert_eq!(plughost_last_error_message(buf.as_mut_ptr(), buf.len()), len);
        assert_eq!(buf[len], 0, "NUL-terminated");
        String::from_utf8(buf[..len].to_vec()).unwrap()
    }
}

/// Assert a status; for a failure also that the last error records it and contains `needle`.
#[track_caller]
fn expect(status: i32, expected: i32, needle: &str) {
    // SAFETY: static strings from plughost_status_name.
    let name = |code| unsafe { CStr::from_ptr(plughost_status_name(code)) }.to_str().unwrap().to_owned();
    assert_eq!(name(status), name(expected), "last error: {}", last_error());
    if expected != PLUGHOST_OK {
        assert_eq!(plughost_last_error_status(), expected);
        let message = last_error();
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }
}

/// Copy a buffer's bytes and free it.
fn take(buffer: plughost_buffer) -> Vec<u8> {
    let (mut data, mut len) = (null(), 0usize);
    // SAFETY: valid out-pointers; the bytes are read before the buffer is freed.
    unsafe {
        expect(plughost_buffer_data(buffer, &mut data, &mut len), PLUGHOST_OK, "");
        let bytes = std::slice::from_raw_parts(data, len).to_vec();
        expect(plughost_buffer_free(buffer), PLUGHOST_OK, "");
        bytes
    }
}

fn take_text(buffer: plughost_buffer) -> String {
    String::from_utf8(take(buffer)).unwrap()
}

fn new_host(config: &str) -> *mut plughost_host {
    let mut host = null_mut();
    let (config, config_len) = s(config);
    // SAFETY: the config is valid for its length; `host` is a valid out-pointer.
    expect(unsafe { plughost_host_new(config, config_len, &mut host) }, PLUGHOST_OK, "");
    assert!(!host.is_null());
    host
}

fn load(host: *const plughost_host, path: &std::path::Path) -> u64 {
    let path = path.to_str().unwrap();
    let mut id = 0;
    // SAFETY: live host, valid string and out-pointer.
    expect(unsafe { plughost_module_load(host, path.as_ptr(), path.len(), &mut id) }, PLUGHOST_OK, "");
    id
}

fn execute(host: *const plughost_host, id: u64, command: &str, input: &str) -> Result<String, i32> {
    let mut out = 0;
    // SAFETY: live host, valid strings and out-pointer.
    let status = unsafe {
        plughost_module_execute(host, id, command.as_ptr(), command.len(), input.as_ptr(), input.len(), &mut out)
    };
    if status == PLUGHOST_OK {
        Ok(take_text(out))
    } else {
        Err(status)
    }
}

/// Wait up to two seconds for `counter` to reach `want` (destroy callbacks run once the last
/// delivery that uses the user data ends, which may be on another thread).
#[track_caller]
fn wait_for(counter: &AtomicUsize, want: usize) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while counter.load(SeqCst) < want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(counter.load(SeqCst), want);
}

/// User data shared by the callbacks below: counts calls and destroys. A callback must not panic
/// (it is `extern "C"`: a panic would abort the process), so it counts what it did not expect in
/// `unexpected` for the test to assert on.
#[derive(Default)]
struct Probe {
    calls: AtomicUsize,
    destroyed: AtomicUsize,
    unexpected: AtomicUsize,
    seen: Mutex<Vec<(ThreadId, String)>>,
}

impl Probe {
    fn as_user_data(&self) -> *mut c_void {
        self as *const Probe as *mut c_void
    }

    fn check(&self, ok: bool) {
        if !ok {
            self.unexpected.fetch_add(1, SeqCst);
        }
    }
}

/// # Safety
/// `user` points at a live [`Probe`].
unsafe fn probe<'a>(user: *mut c_void) -> &'a Probe {
    // SAFETY: the caller's contract.
    unsafe { &*(user as *const Probe) }
}

unsafe extern "C" fn destroy(user: *mut c_void) {
    // SAFETY: registered with a live Probe that outlives the host.
    unsafe { probe(user) }.destroyed.fetch_add(1, SeqCst);
}

unsafe extern "C" fn log_callback(
    user: *mut c_void,
    level: u32,
    target: *const u8,
    target_len: usize,
    message: *const u8,
    message_len: usize,
) {
    // SAFETY: plughost passes valid slices for the duration of the call; a live Probe.
    let (p, target, message) = unsafe {
        (probe(user), std::slice::from_raw_parts(target, target_len), std::slice::from_raw_parts(message, message_len))
    };
    p.check((1..=5).contains(&level) && std::str::from_utf8(message).is_ok());
    p.calls.fetch_add(1, SeqCst);
    let target = String::from_utf8_lossy(target).into_owned();
    p.seen.lock().unwrap().push((std::thread::current().id(), target));
}

unsafe extern "C" fn pump_requested(user: *mut c_void) {
    // SAFETY: a live Probe.
    unsafe { probe(user) }.calls.fetch_add(1, SeqCst);
}

unsafe extern "C" fn on_event(
    user: *mut c_void,
    topic: *const u8,
    topic_len: usize,
    source: *const u8,
    source_len: usize,
    payload: *const u8,
    payload_len: usize,
    sequence: u64,
) {
    // SAFETY: plughost passes valid slices for the duration of the call; a live Probe.
    let (p, topic, source, payload) = unsafe {
        (
            probe(user),
            std::slice::from_raw_parts(topic, topic_len),
            std::slice::from_raw_parts(source, source_len),
            std::slice::from_raw_parts(payload, payload_len),
        )
    };
    p.check(sequence > 0);
    p.calls.fetch_add(1, SeqCst);
    let line = format!(
        "{} {} {}",
        String::from_utf8_lossy(topic),
        String::from_utf8_lossy(source),
        String::from_utf8_lossy(payload)
    );
    p.seen.lock().unwrap().push((std::thread::current().id(), line));
}

/// A service that writes "echo:" and its input. Generic over the output type, which the C API
/// names `plughost_output` and Rust code outside plughost cannot name: the type is inferred from
/// the callback type `plughost_service_register` takes.
unsafe extern "C" fn echo_service<O>(user: *mut c_void, input: *const u8, input_len: usize, output: *mut O) -> i32 {
    // SAFETY: a live Probe; `output` is valid during the call; the input is valid for its length.
    unsafe {
        let p = probe(user);
        p.calls.fetch_add(1, SeqCst);
        p.seen.lock().unwrap().push((std::thread::current().id(), String::new()));
        p.check(plughost_output_write(output.cast(), null(), 4) == PLUGHOST_ERR_NULL_ARGUMENT);
        p.check(plughost_output_write(output.cast(), b"echo:".as_ptr(), 5) == PLUGHOST_OK);
        p.check(plughost_output_write(output.cast(), input, input_len) == PLUGHOST_OK);
    }
    PLUGHOST_OK
}

/// A service that fails with a message.
unsafe extern "C" fn failing_service<O>(user: *mut c_void, _: *const u8, _: usize, output: *mut O) -> i32 {
    // SAFETY: a live Probe; `output` is valid during the call.
    unsafe {
        let p = probe(user);
        p.calls.fetch_add(1, SeqCst);
        p.check(plughost_output_set_error(output.cast(), null(), 2) == PLUGHOST_ERR_NULL_ARGUMENT);
        // Invalid UTF-8 in the message is replaced, not refused.
        p.check(plughost_output_set_error(output.cast(), b"disk \xff full".as_ptr(), 11) == PLUGHOST_OK);
    }
    7
}

#[test]
fn versions_and_status_names() {
    assert_eq!(plughost_abi_version(), plughost::PLUGHOST_ABI_VERSION);
    // SAFETY: static NUL-terminated strings.
    unsafe {
        assert_eq!(CStr::from_ptr(plughost_version()).to_str().unwrap(), env!("CARGO_PKG_VERSION"));
        assert_eq!(CStr::from_ptr(plughost_status_name(PLUGHOST_OK)).to_str().unwrap(), "PLUGHOST_OK");
        for kind in ErrorKind::ALL {
            assert_eq!(CStr::from_ptr(plughost_status_name(kind.code())).to_str().unwrap(), kind.name());
        }
        for unknown in [-1, 12, 112, 9999, i32::MIN] {
            assert_eq!(CStr::from_ptr(plughost_status_name(unknown)).to_str().unwrap(), "PLUGHOST_ERR_UNKNOWN");
        }
    }
}

#[test]
fn last_error_is_per_thread_truncates_and_survives_successes() {
    std::thread::spawn(|| {
        assert_eq!(plughost_last_error_status(), PLUGHOST_OK);
        // SAFETY: NULL with length 0.
        assert_eq!(unsafe { plughost_last_error_message(null_mut(), 0) }, 0);
        expect(plughost_buffer_free(0xdead_0000_0000_0001), PLUGHOST_ERR_INVALID_HANDLE, "was never issued");
        let full = last_error();
        let mut small = [0xAAu8; 6];
        // SAFETY: the buffer is valid for its length.
        assert_eq!(unsafe { plughost_last_error_message(small.as_mut_ptr(), small.len()) }, full.len());
        assert_eq!(&small[..5], &full.as_bytes()[..5]);
        assert_eq!(small[5], 0, "truncated and still NUL-terminated");
        // Successful calls keep the last error.
        expect(plughost_buffer_free(0), PLUGHOST_OK, "");
        assert_eq!(plughost_last_error_status(), PLUGHOST_ERR_INVALID_HANDLE);
        assert_eq!(last_error(), full);
        // Another thread does not see it.
        std::thread::spawn(|| assert_eq!(plughost_last_error_status(), PLUGHOST_OK)).join().unwrap();
    })
    .join()
    .unwrap();
}

#[test]
fn host_new_free_and_the_freed_handle() {
    let mut host = null_mut();
    let bad = r#"{"PlugHost": {"Modules": {"MaxModuls": 2}}}"#;
    // SAFETY: valid strings and out-pointers throughout; the freed handle stays a valid tombstone.
    unsafe {
        expect(
            plughost_host_new(bad.as_ptr(), bad.len(), &mut host),
            PLUGHOST_ERR_INVALID_CONFIG,
            "$.PlugHost.Modules.MaxModuls: unknown key; did you mean \"MaxModules\"?",
        );
        assert!(host.is_null(), "written only on success");
        expect(plughost_host_new(b"{".as_ptr(), 1, &mut host), PLUGHOST_ERR_INVALID_CONFIG, "not valid JSON");
        expect(plughost_host_new(NOT_UTF8.as_ptr(), NOT_UTF8.len(), &mut host), PLUGHOST_ERR_INVALID_UTF8, "UTF-8");
        expect(plughost_host_new(null(), 3, &mut host), PLUGHOST_ERR_NULL_ARGUMENT, "config is NULL");
        expect(plughost_host_new(null(), 0, null_mut()), PLUGHOST_ERR_NULL_ARGUMENT, "out_host is NULL");

        expect(plughost_host_new(null(), 0, &mut host), PLUGHOST_OK, "");
        expect(plughost_host_set_log_level(host, 2), PLUGHOST_OK, "");
        plughost_host_free(host);
        expect(plughost_host_set_log_level(host, 2), PLUGHOST_ERR_INVALID_HANDLE, "host is freed");
        let mut json = 5;
        expect(plughost_host_health(host, &mut json), PLUGHOST_ERR_INVALID_HANDLE, "host is freed");
        assert_eq!(json, 5);
        plughost_host_free(host); // double free: no-op
        plughost_host_free(null_mut()); // NULL: no-op
        expect(plughost_host_set_log_level(null(), 2), PLUGHOST_ERR_NULL_ARGUMENT, "host is NULL");
    }
}

#[test]
fn health_json_and_buffer_lifetime() {
    let host = new_host("");
    let (mut json, mut data, mut len) = (0, null(), 0usize);
    // SAFETY: valid out-pointers; the buffer is read only while it is live.
    unsafe {
        expect(plughost_host_health(host, null_mut()), PLUGHOST_ERR_NULL_ARGUMENT, "out_json is NULL");
        expect(plughost_host_health(host, &mut json), PLUGHOST_OK, "");
        expect(plughost_buffer_data(json, &mut data, &mut len), PLUGHOST_OK, "");
        // The buffer belongs to the caller: it outlives the host and its pointer stays put.
        plughost_host_free(host);
        let (mut again, mut again_len) = (null(), 0usize);
        expect(plughost_buffer_data(json, &mut again, &mut again_len), PLUGHOST_OK, "");
        assert_eq!((again, again_len), (data, len));
        let value: serde_json::Value = serde_json::from_slice(std::slice::from_raw_parts(data, len)).unwrap();
        assert_eq!(value["status"], "healthy");
        expect(plughost_buffer_data(json, null_mut(), &mut len), PLUGHOST_ERR_NULL_ARGUMENT, "out_data is NULL");
        expect(plughost_buffer_data(json, &mut data, null_mut()), PLUGHOST_ERR_NULL_ARGUMENT, "out_len is NULL");
        expect(plughost_buffer_free(json), PLUGHOST_OK, "");
        expect(plughost_buffer_free(json), PLUGHOST_ERR_INVALID_HANDLE, "freed or was never issued");
        expect(plughost_buffer_data(json, &mut data, &mut len), PLUGHOST_ERR_INVALID_HANDLE, "freed");
        // 0 is the empty buffer: readable (length 0, a non-NULL pointer) and free to free.
        expect(plughost_buffer_data(0, &mut data, &mut len), PLUGHOST_OK, "");
        assert!(!data.is_null());
        assert_eq!(len, 0);
        expect(plughost_buffer_free(0), PLUGHOST_OK, "");
    }
}

#[test]
fn log_callback_user_data_is_destroyed_when_replaced_and_at_free() {
    let f = fixtures();
    let sb = Sandbox::new();
    let (first, second) = (Probe::default(), Probe::default());
    let host = new_host(&sb.config(""));
    let host_addr = host as usize;
    // SAFETY: live host; the probes outlive it.
    unsafe {
        expect(plughost_host_set_log_level(host, 6), PLUGHOST_ERR_INVALID_ARGUMENT, "log level 6");
        expect(plughost_host_set_log_level(host, 3), PLUGHOST_OK, "");
        expect(
            plughost_host_set_log_callback(host, Some(log_callback), first.as_user_data(), Some(destroy)),
            PLUGHOST_OK,
            "",
        );
        expect(
            plughost_host_set_log_callback(host, Some(log_callback), second.as_user_data(), Some(destroy)),
            PLUGHOST_OK,
            "",
        );
    }
    wait_for(&first.destroyed, 1);

    // The module's init logs on the loading thread, under the module's name.
    let counter = sb.install(&f.counter, "counter");
    let loader = std::thread::spawn(move || {
        load(host_addr as *const plughost_host, &counter);
        std::thread::current().id()
    });
    let loader_id = loader.join().unwrap();
    assert!(second.seen.lock().unwrap().iter().any(|(t, target)| *t == loader_id && target == "counter"));

    // SAFETY: live host; then freed once.
    unsafe {
        // A failed call releases the user data it was given.
        let third = Probe::default();
        expect(
            plughost_host_set_log_callback(null(), Some(log_callback), third.as_user_data(), Some(destroy)),
            PLUGHOST_ERR_NULL_ARGUMENT,
            "host is NULL",
        );
        assert_eq!(third.destroyed.load(SeqCst), 1);
        assert_eq!(second.destroyed.load(SeqCst), 0);
        plughost_host_free(host);
    }
    // Once a delivery under way on another test's thread (the log hub is process-wide) ends.
    wait_for(&second.destroyed, 1);
    assert_eq!(second.unexpected.load(SeqCst), 0);
    assert_eq!(first.destroyed.load(SeqCst), 1, "and never twice");
}

#[test]
fn main_thread_services_pump_and_pump_callback() {
    let host = new_host(r#"{"PlugHost": {"Services": {"MainThreadCallTimeoutMs": 5000}}}"#);
    let host_addr = host as usize;
    let (service, pump) = (Probe::default(), Probe::default());
    let (name, name_len) = s("app.ui");
    // SAFETY: live host; the probes outlive it.
    unsafe {
        expect(
            plughost_service_register(
                host,
                name,
                name_len,
                PLUGHOST_SERVICE_MAIN_THREAD,
                Some(echo_service),
                service.as_user_data(),
                Some(destroy),
            ),
            PLUGHOST_OK,
            "",
        );
        expect(
            plughost_host_set_pump_callback(host, Some(pump_requested), pump.as_user_data(), Some(destroy)),
            PLUGHOST_OK,
            "",
        );
    }
    let caller = std::thread::spawn(move || {
        let host = host_addr as *const plughost_host;
        let mut out = 0;
        let (name, name_len) = s("app.ui");
        // SAFETY: live host (freed only after this thread is joined).
        let status = unsafe { plughost_service_call(host, name, name_len, b"q".as_ptr(), 1, &mut out) };
        expect(status, PLUGHOST_OK, "");
        let mut ran = 9;
        // SAFETY: as above.
        expect(unsafe { plughost_host_pump(host, 0, &mut ran) }, PLUGHOST_ERR_WRONG_THREAD, "main thread");
        assert_eq!(ran, 9);
        take_text(out)
    });
    let mut ran_total = 0;
    while !caller.is_finished() {
        let mut ran = 0;
        // SAFETY: live host, called on its main thread (the one that created it).
        expect(unsafe { plughost_host_pump(host, 0, &mut ran) }, PLUGHOST_OK, "");
        ran_total += ran;
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(caller.join().unwrap(), "echo:q");
    assert_eq!(ran_total, 1);
    assert_eq!(pump.calls.load(SeqCst), 1);
    assert_eq!(service.seen.lock().unwrap()[0].0, std::thread::current().id(), "ran on the main thread");

    // Another thread takes the main-thread role.
    std::thread::spawn(move || {
        // SAFETY: live host.
        unsafe {
            expect(plughost_host_set_main_thread(host_addr as *const plughost_host), PLUGHOST_OK, "");
            expect(plughost_host_pump(host_addr as *const plughost_host, 0, null_mut()), PLUGHOST_OK, "");
        }
    })
    .join()
    .unwrap();
    // SAFETY: live host; then freed.
    unsafe {
        expect(plughost_host_pump(host, 0, null_mut()), PLUGHOST_ERR_WRONG_THREAD, "main thread");
        expect(plughost_host_set_main_thread(null()), PLUGHOST_ERR_NULL_ARGUMENT, "host is NULL");
        expect(plughost_host_set_pump_callback(null(), None, null_mut(), None), PLUGHOST_ERR_NULL_ARGUMENT, "host");
        expect(plughost_host_set_pump_callback(host, None, null_mut(), None), PLUGHOST_OK, "");
        wait_for(&pump.destroyed, 1);
        plughost_host_free(host);
    }
    assert_eq!(service.destroyed.load(SeqCst), 1);
    assert_eq!(service.unexpected.load(SeqCst), 0);
}

#[test]
fn modules_load_execute_reload_unload() {
    let f = fixtures();
    let sb = Sandbox::new();
    let host = new_host(&sb.config(""));
    let counter = sb.install(&f.counter, "counter");
    let v2 = sb.install(&f.counter_v2, "counter_v2");
    let id = load(host, &counter);
    assert_eq!(execute(host, id, "increment", "20"), Ok("20".into()));
    assert_eq!(execute(host, id, "nope", ""), Err(PLUGHOST_ERR_MODULE_UNKNOWN_COMMAND));
    assert_eq!(execute(host, id, "fail", ""), Err(PLUGHOST_ERR_MODULE_FAILED));
    assert_eq!(last_error(), "failure requested by the caller");
    let mut generation = 0;
    let mut out = 3;
    let (v2, v2_len) = s(v2.to_str().unwrap());
    // SAFETY: live host, valid strings and out-pointers.
    unsafe {
        let mut none = 0;
        expect(plughost_module_load(host, NOT_UTF8.as_ptr(), NOT_UTF8.len(), &mut none), PLUGHOST_ERR_INVALID_UTF8, "");
        expect(plughost_module_load(host, v2, v2_len, null_mut()), PLUGHOST_ERR_NULL_ARGUMENT, "out_module is NULL");
        assert_eq!(none, 0);
        expect(
            plughost_module_execute(host, id, b"get".as_ptr(), 3, null(), 1, &mut out),
            PLUGHOST_ERR_NULL_ARGUMENT,
            "input is NULL but its length is 1",
        );
        assert_eq!(out, 3);
        expect(plughost_module_reload(host, id, v2, v2_len, &mut generation), PLUGHOST_OK, "");
        assert_eq!(generation, 2);
        assert_eq!(execute(host, id, "get", ""), Ok("20".into()), "state handed over");
        assert_eq!(execute(host, id, "version", ""), Ok("2.0.0".into()));
        expect(plughost_module_reload(host, id, null(), 0, null_mut()), PLUGHOST_OK, "");
        expect(
            plughost_module_reload(host, id, NOT_UTF8.as_ptr(), NOT_UTF8.len(), &mut generation),
            PLUGHOST_ERR_INVALID_UTF8,
            "path is not valid UTF-8",
        );
        assert_eq!(generation, 2);
        expect(plughost_module_unload(host, id), PLUGHOST_OK, "");
        expect(plughost_module_unload(host, id), PLUGHOST_ERR_INVALID_HANDLE, "stale");
        expect(plughost_module_reload(host, id, null(), 0, null_mut()), PLUGHOST_ERR_INVALID_HANDLE, "stale");
        assert_eq!(execute(host, id, "get", ""), Err(PLUGHOST_ERR_INVALID_HANDLE));
        plughost_host_free(host);
    }
    assert_eq!(sb.shadow_folders(), 0);
}

#[test]
fn services_register_call_unregister_with_destroy() {
    let f = fixtures();
    let sb = Sandbox::new();
    let host = new_host(&sb.config(""));
    let (echo, failing, refused) = (Probe::default(), Probe::default(), Probe::default());
    let (name, name_len) = s("app.echo");
    let (fail, fail_len) = s("app.fail");
    let mut out = 0;
    // SAFETY: live host; the probes outlive it; valid strings and out-pointers.
    unsafe {
        let register = |name: *const u8, len: usize, flags: u32, probe: &Probe| {
            plughost_service_register(host, name, len, flags, Some(echo_service), probe.as_user_data(), Some(destroy))
        };
        expect(register(name, name_len, 0, &echo), PLUGHOST_OK, "");
        expect(
            plughost_service_register(
                host,
                fail,
                fail_len,
                0,
                Some(failing_service),
                failing.as_user_data(),
                Some(destroy),
            ),
            PLUGHOST_OK,
            "",
        );
        // Refused registrations release their user data at once.
        expect(register(name, name_len, 0, &refused), PLUGHOST_ERR_SERVICE_EXISTS, "already registered");
        expect(register(b"x".as_ptr(), 1, 2, &refused), PLUGHOST_ERR_INVALID_ARGUMENT, "unknown service flags 0x2");
        assert_eq!(refused.destroyed.load(SeqCst), 2);
        assert_eq!(refused.calls.load(SeqCst), 0);

        expect(plughost_service_call(host, name, name_len, b"hi".as_ptr(), 2, &mut out), PLUGHOST_OK, "");
        assert_eq!(take_text(out), "echo:hi");
        expect(
            plughost_service_call(host, fail, fail_len, null(), 0, &mut out),
            PLUGHOST_ERR_SERVICE_FAILED,
            "service \"app.fail\": disk \u{fffd} full",
        );
        expect(
            plughost_service_call(host, b"app.none".as_ptr(), 8, null(), 0, &mut out),
            PLUGHOST_ERR_SERVICE_NOT_FOUND,
            "no service named \"app.none\"",
        );
        // A module calls the service through its host table.
        let id = load(host, &sb.install(&f.greeter, "greeter"));
        assert_eq!(execute(host, id, "service", "app.echo"), Ok("echo:from C".into()));
        assert_eq!(echo.calls.load(SeqCst), 2);

        expect(plughost_output_write(null_mut(), b"x".as_ptr(), 1), PLUGHOST_ERR_NULL_ARGUMENT, "output is NULL");
        expect(plughost_output_set_error(null_mut(), b"x".as_ptr(), 1), PLUGHOST_ERR_NULL_ARGUMENT, "output is NULL");

        expect(plughost_service_unregister(host, name, name_len), PLUGHOST_OK, "");
        assert_eq!(echo.destroyed.load(SeqCst), 1);
        expect(plughost_service_unregister(host, name, name_len), PLUGHOST_ERR_SERVICE_NOT_FOUND, "app.echo");
        plughost_host_free(host);
    }
    assert_eq!(failing.destroyed.load(SeqCst), 1);
    assert_eq!(echo.destroyed.load(SeqCst), 1);
    assert_eq!(echo.unexpected.load(SeqCst) + failing.unexpected.load(SeqCst), 0);
}

#[test]
fn storage_set_get() {
    let host = new_host("");
    let (key, key_len) = s("app.key");
    let mut out = 0;
    // SAFETY: live host, valid strings and out-pointers.
    unsafe {
        expect(plughost_storage_set(host, key, key_len, b"\x00\x01".as_ptr(), 2), PLUGHOST_OK, "");
        expect(plughost_storage_get(host, key, key_len, &mut out), PLUGHOST_OK, "");
        assert_eq!(take(out), b"\x00\x01");
        expect(plughost_storage_set(host, key, key_len, null(), 3), PLUGHOST_ERR_NULL_ARGUMENT, "value is NULL");
        expect(
            plughost_storage_get(host, b"app.none".as_ptr(), 8, &mut out),
            PLUGHOST_ERR_KEY_NOT_FOUND,
            "no storage key \"app.none\"",
        );
        plughost_host_free(host);
    }
}

#[test]
fn events_subscribe_publish_unsubscribe_with_destroy() {
    let f = fixtures();
    let sb = Sandbox::new();
    let host = new_host(&sb.config(""));
    let (all, changed) = (Probe::default(), Probe::default());
    let (mut sub_all, mut sub_changed) = (0u64, 0u64);
    // SAFETY: live host; the probes outlive it; valid strings and out-pointers.
    unsafe {
        expect(
            plughost_event_subscribe(
                host,
                b"*".as_ptr(),
                1,
                Some(on_event),
                all.as_user_data(),
                Some(destroy),
                &mut sub_all,
            ),
            PLUGHOST_OK,
            "",
        );
        let (topic, topic_len) = s("counter.changed");
        expect(
            plughost_event_subscribe(
                host,
                topic,
                topic_len,
                Some(on_event),
                changed.as_user_data(),
                Some(destroy),
                &mut sub_changed,
            ),
            PLUGHOST_OK,
            "",
        );
        let refused = Probe::default();
        expect(
            plughost_event_subscribe(host, b"t".as_ptr(), 1, None, refused.as_user_data(), Some(destroy), &mut 0),
            PLUGHOST_ERR_NULL_ARGUMENT,
            "callback is NULL",
        );
        assert_eq!(refused.destroyed.load(SeqCst), 1);

        expect(plughost_event_publish(host, b"app.saved".as_ptr(), 9, b"doc".as_ptr(), 3), PLUGHOST_OK, "");
        expect(
            plughost_event_publish(host, b"".as_ptr(), 0, null(), 0),
            PLUGHOST_ERR_INVALID_ARGUMENT,
            "topic is empty",
        );
        let id = load(host, &sb.install(&f.counter, "counter"));
        assert_eq!(execute(host, id, "publish", "42"), Ok(String::new()));
        let seen: Vec<String> = all.seen.lock().unwrap().iter().map(|(_, line)| line.clone()).collect();
        assert_eq!(seen, ["app.saved host doc", "counter.changed counter 42"]);
        assert_eq!(changed.calls.load(SeqCst), 1);

        expect(plughost_event_unsubscribe(host, sub_changed), PLUGHOST_OK, "");
        wait_for(&changed.destroyed, 1);
        expect(plughost_event_unsubscribe(host, sub_changed), PLUGHOST_ERR_INVALID_HANDLE, "no subscription");
        assert_eq!(all.destroyed.load(SeqCst), 0);
        plughost_host_free(host);
    }
    assert_eq!(all.destroyed.load(SeqCst), 1);
    assert_eq!(changed.destroyed.load(SeqCst), 1);
    assert_eq!(all.unexpected.load(SeqCst), 0);
}

#[test]
fn extensions_json_rescan_install_and_package_validate() {
    use plughost::ffi::extension::{
        plughost_host_extensions_json, plughost_host_install_package, plughost_host_rescan_extensions,
        plughost_package_validate,
    };
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    std::fs::create_dir(&source).unwrap();
    std::fs::write(
        source.join("extension.toml"),
        "[extension]\nname = \"geo\"\nversion = \"1.0.0\"\nkind = \"python\"\nentry = \"main.py\"\n",
    )
    .unwrap();
    std::fs::write(source.join("main.py"), "print(1)\n").unwrap();
    let key = plughost::extensions::package::generate_key("acme").unwrap();
    let package = dir.path().join("geo.plpkg");
    plughost::extensions::package::pack(&source, &package, Some(&key), &mut |_| {}).unwrap();
    let package = package.to_str().unwrap();
    let trusted = serde_json::json!({"TrustedKeys": [{"Name": "acme", "PublicKey": key.public_key_text()}],
        "AllowUnsigned": false});

    // Validation without a host: valid with the key trusted, invalid (status OK) without it.
    let validate = |path: &str, options: &str| -> Result<serde_json::Value, i32> {
        let mut out = 0;
        // SAFETY: valid strings and out-pointer.
        let status =
            unsafe { plughost_package_validate(path.as_ptr(), path.len(), options.as_ptr(), options.len(), &mut out) };
        if status == PLUGHOST_OK {
            Ok(serde_json::from_slice(&take(out)).unwrap())
        } else {
            Err(status)
        }
    };
    let report = validate(package, &trusted.to_string()).unwrap();
    assert_eq!((report["valid"].as_bool(), report["signer"].as_str()), (Some(true), Some("acme")));
    let report = validate(package, r#"{"AllowUnsigned": false}"#).unwrap();
    assert_eq!(report["valid"], false);
    assert!(report["problems"][0].as_str().unwrap().contains("not a trusted key"), "{report}");
    let missing = validate("/no/such.plpkg", "").unwrap();
    assert!(missing["problems"][0].as_str().unwrap().contains("cannot open the package"), "{missing}");
    expect(validate(package, r#"{"TrustedKey": []}"#).unwrap_err(), PLUGHOST_ERR_INVALID_CONFIG, "TrustedKeys");
    let mut out = 0;
    // SAFETY: NULL path and NULL out-pointer are refused before use.
    unsafe {
        expect(plughost_package_validate(null(), 0, null(), 0, &mut out), PLUGHOST_ERR_NULL_ARGUMENT, "path");
        let (p, n) = s(package);
        expect(plughost_package_validate(p, n, null(), 0, null_mut()), PLUGHOST_ERR_NULL_ARGUMENT, "out_json");
    }

    // A host with a store: install, then the extension is listed.
    let store = dir.path().join("store");
    let config = serde_json::json!({"PlugHost": {"Extensions": {"StoreDirectory": store,
        "TrustedKeys": trusted["TrustedKeys"], "AllowUnsigned": false}}});
    let host = new_host(&config.to_string());
    let extensions = |host: *const plughost_host| -> serde_json::Value {
        let mut out = 0;
        // SAFETY: live host and valid out-pointer.
        expect(unsafe { plughost_host_extensions_json(host, &mut out) }, PLUGHOST_OK, "");
        serde_json::from_slice(&take(out)).unwrap()
    };
    assert_eq!(extensions(host)["extensions"].as_array().unwrap().len(), 0);
    let (p, n) = s(package);
    // SAFETY: live host and valid strings.
    unsafe {
        expect(plughost_host_install_package(host, p, n), PLUGHOST_OK, "");
        let listed = extensions(host);
        assert_eq!(listed["order"], serde_json::json!(["geo"]));
        assert_eq!(listed["extensions"][0]["state"], "ready");
        std::fs::remove_dir_all(store.join("geo")).unwrap();
        expect(plughost_host_rescan_extensions(host), PLUGHOST_OK, "");
        assert_eq!(extensions(host)["order"], serde_json::json!([]));
        let (bad, bad_len) = s("/no/such.plpkg");
        expect(plughost_host_install_package(host, bad, bad_len), PLUGHOST_ERR_INVALID_ARGUMENT, "cannot open");
        expect(plughost_host_install_package(host, null(), 0), PLUGHOST_ERR_NULL_ARGUMENT, "path");
        expect(plughost_host_extensions_json(host, null_mut()), PLUGHOST_ERR_NULL_ARGUMENT, "out_json");
        plughost_host_free(host);
        expect(plughost_host_rescan_extensions(host), PLUGHOST_ERR_INVALID_HANDLE, "freed");
        expect(plughost_host_install_package(host, p, n), PLUGHOST_ERR_INVALID_HANDLE, "freed");
    }
    // Without a store there is nothing to install into.
    let host = new_host("");
    // SAFETY: live host and valid strings.
    unsafe {
        expect(plughost_host_install_package(host, p, n), PLUGHOST_ERR_INVALID_CONFIG, "StoreDirectory");
        plughost_host_free(host);
    }
}
