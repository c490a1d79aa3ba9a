//! Execute overhead: the counter module's `noop` command through the C ABI
//! (`plughost_module_execute` + `plughost_buffer_free`) and through `Host::execute`, against a
//! direct call of the same module's `execute` entry through its function pointer (the module file
//! opened here with dlopen, initialised with a minimal host table). Then the same with 8 threads
//! calling at once.
//!
//! Run: `cargo bench --bench execute`. Target: C ABI overhead (C ABI median - direct median)
//! <= 100 ns.

#[path = "../tests/support/mod.rs"]
mod support;

mod common;

use common::{find, format_ns, Group, Settings};
use plughost::ffi::buffer::{plughost_buffer, plughost_buffer_free};
use plughost::ffi::host::{plughost_host, plughost_host_free, plughost_host_new};
use plughost::ffi::module::{plughost_module_execute, plughost_module_id, plughost_module_load};
use plughost::ffi::module_abi::*;
use plughost::modules::ModuleId;
use plughost::Host;
use std::ffi::c_void;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use support::Sandbox;

const NOOP: &[u8] = b"noop";
const THREADS: usize = 8;

/// The output sink of the direct path: what the host's own sink holds.
#[derive(Default)]
struct Sink {
    data: Vec<u8>,
    error: Option<String>,
}

unsafe extern "C" fn no_log(_: *mut c_void, _: u32, _: *const u8, _: usize) {}

unsafe extern "C" fn no_storage_get(_: *mut c_void, _: *const u8, _: usize, _: ByteSinkFn, _: *mut c_void) -> i32 {
    plughost::status::PLUGHOST_ERR_KEY_NOT_FOUND
}

unsafe extern "C" fn no_storage_set(_: *mut c_void, _: *const u8, _: usize, _: *const u8, _: usize) -> i32 {
    plughost::status::PLUGHOST_ERR_INVALID_ARGUMENT
}

unsafe extern "C" fn no_service(
    _: *mut c_void,
    _: *const u8,
    _: usize,
    _: *const u8,
    _: usize,
    _: ByteSinkFn,
    _: *mut c_void,
) -> i32 {
    plughost::status::PLUGHOST_ERR_INVALID_ARGUMENT
}

unsafe extern "C" fn no_publish(_: *mut c_void, _: *const u8, _: usize, _: *const u8, _: usize) -> i32 {
    plughost::status::PLUGHOST_ERR_INVALID_ARGUMENT
}

unsafe extern "C" fn sink_write(out: *mut ModuleOutput, data: *const u8, len: usize) {
    // SAFETY: `out` is the `Sink` passed to the call; `data` is valid for `len` bytes.
    let (sink, bytes) = unsafe { (&mut *out.cast::<Sink>(), std::slice::from_raw_parts(data, len)) };
    sink.data.extend_from_slice(bytes);
}

unsafe extern "C" fn sink_set_error(out: *mut ModuleOutput, msg: *const u8, len: usize) {
    // SAFETY: as in `sink_write`.
    let (sink, bytes) = unsafe { (&mut *out.cast::<Sink>(), std::slice::from_raw_parts(msg, len)) };
    sink.error = Some(String::from_utf8_lossy(bytes).into_owned());
}

/// A host table with no services: enough for the counter's init and `noop`.
fn minimal_host() -> Box<HostApiV1> {
    Box::new(HostApiV1 {
        abi_version: PLUGHOST_MODULE_ABI_VERSION,
        struct_size: std::mem::size_of::<HostApiV1>() as u32,
        ctx: std::ptr::null_mut(),
        log: no_log,
        storage_get: no_storage_get,
        storage_set: no_storage_set,
        call_service: no_service,
        publish_event: no_publish,
        output_write: sink_write,
        output_set_error: sink_set_error,
    })
}

/// The module opened directly: its library, instance and execute entry.
struct Direct {
    _library: libloading::os::unix::Library,
    _host: Box<HostApiV1>,
    instance: *mut c_void,
    execute: ExecuteFn,
    shutdown: ShutdownFn,
}

// SAFETY: the module ABI requires instances to be usable from any thread.
unsafe impl Send for Direct {}
// SAFETY: as above; execute runs concurrently by contract.
unsafe impl Sync for Direct {}

impl Direct {
    fn open(path: &std::path::Path) -> Direct {
        // SAFETY: loading the counter example module built by this repository.
        let library = unsafe { libloading::os::unix::Library::open(Some(path), libc::RTLD_NOW | libc::RTLD_LOCAL) }
            .expect("dlopen the counter module");
        // SAFETY: the symbol's type is fixed by the module ABI.
        let entry: EntryFn = unsafe { *library.get::<EntryFn>(MODULE_ENTRY_SYMBOL).expect("entry symbol") };
        // SAFETY: the entry returns a pointer to the module's static table.
        let table = unsafe { &*entry() };
        assert_eq!(table.abi_version, PLUGHOST_MODULE_ABI_VERSION);
        let host = minimal_host();
        let mut instance = std::ptr::null_mut();
        let mut sink = Sink::default();
        // SAFETY: init per the module ABI; the static table outlives the instance.
        let code = unsafe { (table.init.expect("init"))(&*host, &mut instance, (&mut sink as *mut Sink).cast()) };
        assert_eq!(code, PLUGHOST_MODULE_OK, "init failed: {:?}", sink.error);
        Direct {
            _library: library,
            _host: host,
            instance,
            execute: table.execute.expect("execute"),
            shutdown: table.shutdown.expect("shutdown"),
        }
    }

    /// One `noop` call, the way the host makes it: a fresh sink, the call, the bytes taken.
    #[inline]
    fn noop(&self) -> Vec<u8> {
        let mut sink = Sink::default();
        let input: &[u8] = b"";
        // SAFETY: the instance is alive; the pointer/length pairs describe live slices.
        let code = unsafe {
            (self.execute)(
                self.instance,
                NOOP.as_ptr(),
                NOOP.len(),
                input.as_ptr(),
                input.len(),
                (&mut sink as *mut Sink).cast(),
            )
        };
        assert_eq!(code, PLUGHOST_MODULE_OK);
        sink.data
    }
}

impl Drop for Direct {
    fn drop(&mut self) {
        // SAFETY: no call is in flight; shutdown runs once.
        unsafe { (self.shutdown)(self.instance) };
    }
}

/// A C ABI host handle with the counter loaded.
struct CHost {
    handle: *mut plughost_host,
    module: plughost_module_id,
}

// SAFETY: every plughost_* function taking a host may be called from any thread.
unsafe impl Send for CHost {}
// SAFETY: as above.
unsafe impl Sync for CHost {}

impl CHost {
    fn new(config: &str, module: &std::path::Path) -> CHost {
        let mut handle = std::ptr::null_mut();
        // SAFETY: valid config bytes and out-pointer.
        let rc = unsafe { plughost_host_new(config.as_ptr(), config.len(), &mut handle) };
        assert_eq!(rc, 0, "plughost_host_new");
        let path = module.to_str().expect("UTF-8 path");
        let mut id = 0;
        // SAFETY: live host, valid path bytes and out-pointer.
        let rc = unsafe { plughost_module_load(handle, path.as_ptr(), path.len(), &mut id) };
        assert_eq!(rc, 0, "plughost_module_load");
        CHost { handle, module: id }
    }

    /// `noop` through the C ABI, then free the output buffer.
    #[inline]
    fn noop(&self) {
        let mut out: plughost_buffer = 0;
        // SAFETY: live host; command valid for its length; NULL input with length 0; valid out-pointer.
        let rc = unsafe {
            plughost_module_execute(self.handle, self.module, NOOP.as_ptr(), NOOP.len(), std::ptr::null(), 0, &mut out)
        };
        debug_assert_eq!(rc, 0);
        let rc = plughost_buffer_free(black_box(out));
        debug_assert_eq!(rc, 0);
        black_box(rc);
    }
}

impl Drop for CHost {
    fn drop(&mut self) {
        // SAFETY: a handle from plughost_host_new, freed once.
        unsafe { plughost_host_free(self.handle) };
    }
}

/// Eight threads that run batches of one path together; the caller times the whole batch.
struct Crowd {
    start: Arc<Barrier>,
    done: Arc<Barrier>,
    what: Arc<AtomicU8>,
    count: Arc<AtomicU64>,
    quit: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

const DIRECT: u8 = 0;
const C_ABI: u8 = 1;
const RUST_API: u8 = 2;

impl Crowd {
    fn new(direct: Arc<Direct>, c: Arc<CHost>, rust: Arc<(Arc<Host>, ModuleId)>) -> Crowd {
        let start = Arc::new(Barrier::new(THREADS + 1));
        let done = Arc::new(Barrier::new(THREADS + 1));
        let what = Arc::new(AtomicU8::new(DIRECT));
        let count = Arc::new(AtomicU64::new(0));
        let quit = Arc::new(AtomicBool::new(false));
        let threads = (0..THREADS)
            .map(|_| {
                let (start, done, what, count, quit) =
                    (start.clone(), done.clone(), what.clone(), count.clone(), quit.clone());
                let (direct, c, rust) = (direct.clone(), c.clone(), rust.clone());
                std::thread::spawn(move || loop {
                    start.wait();
                    if quit.load(Ordering::SeqCst) {
                        break;
                    }
                    let n = count.load(Ordering::SeqCst);
                    match what.load(Ordering::SeqCst) {
                        DIRECT => (0..n).for_each(|_| drop(black_box(direct.noop()))),
                        C_ABI => (0..n).for_each(|_| c.noop()),
                        _ => (0..n).for_each(|_| drop(black_box(rust.0.execute(rust.1, "noop", b"").unwrap()))),
                    }
                    done.wait();
                })
            })
            .collect();
        Crowd { start, done, what, count, quit, threads }
    }

    /// Every thread makes `n` calls of `what`; returns the wall time divided by the thread count,
    /// so that "per operation" below is wall-clock time per call across all threads.
    fn run(&self, what: u8, n: u64) -> Duration {
        let per_thread = n.div_ceil(THREADS as u64).max(1);
        self.what.store(what, Ordering::SeqCst);
        self.count.store(per_thread, Ordering::SeqCst);
        let started = Instant::now();
        self.start.wait();
        self.done.wait();
        started.elapsed().mul_f64(n as f64 / (per_thread * THREADS as u64) as f64)
    }
}

impl Drop for Crowd {
    fn drop(&mut self) {
        self.quit.store(true, Ordering::SeqCst);
        self.start.wait();
        for t in self.threads.drain(..) {
            t.join().expect("worker");
        }
    }
}

fn main() {
    common::print_machine();
    let modules = support::rust_modules();
    let sandbox = Sandbox::new();
    let module = sandbox.install(&modules.counter, "counter");
    let config = format!(
        r#"{{"PlugHost": {{"Modules": {{"TrustedRoots": [{:?}], "ShadowDirectory": {:?}}}}}}}"#,
        sandbox.root().display().to_string(),
        sandbox.shadow().display().to_string()
    );
    println!("module: {} ({} bytes)", module.display(), std::fs::metadata(&module).map(|m| m.len()).unwrap_or(0));

    let direct = Arc::new(Direct::open(&module));
    let c = Arc::new(CHost::new(&config, &module));
    let host = Host::from_json(&config).expect("host");
    let id = host.load_module(&module).expect("load");
    let rust = Arc::new((host, id));

    let settings = Settings::new(Duration::from_millis(300), Duration::from_millis(2), 300);
    let single = {
        let mut group = Group::new("execute `noop`, one thread", settings);
        let (d, ch, r) = (direct.clone(), c.clone(), rust.clone());
        group
            .case("direct fn-pointer call", None, move || drop(black_box(d.noop())))
            .case("C ABI execute + buffer_free", Some("direct fn-pointer call"), move || ch.noop())
            .case("Rust Host::execute", Some("direct fn-pointer call"), move || {
                drop(black_box(r.0.execute(r.1, "noop", b"").unwrap()))
            });
        group.run()
    };

    let crowd = Crowd::new(direct.clone(), c.clone(), rust.clone());
    let contended = {
        let settings = Settings::new(Duration::from_millis(300), Duration::from_millis(5), 150);
        let mut group =
            Group::new(&format!("execute `noop`, {THREADS} threads at once (wall time per call)"), settings);
        let peer = Some("direct ×8");
        group
            .timed("direct ×8", None, |n| crowd.run(DIRECT, n))
            .timed("C ABI ×8", peer, |n| crowd.run(C_ABI, n))
            .timed("Rust API ×8", peer, |n| crowd.run(RUST_API, n));
        group.run()
    };
    drop(crowd);

    // What the paths above are made of, on this machine: the overhead is mostly a count of these.
    {
        let counter = AtomicU64::new(0);
        let lock = parking_lot::Mutex::new(0u64);
        let swap = arc_swap::ArcSwap::from_pointee(0u64);
        let settings = Settings::new(Duration::from_millis(200), Duration::from_millis(2), 100);
        let mut group = Group::new("building blocks of the execute path", settings);
        group
            .case("atomic fetch_add (SeqCst)", None, || {
                black_box(counter.fetch_add(1, Ordering::SeqCst));
            })
            .case("parking_lot Mutex lock + unlock", None, || *lock.lock() += 1)
            .case("ArcSwap load + guard drop", None, || {
                black_box(**swap.load());
            })
            .case("Instant::now", None, || {
                black_box(Instant::now());
            })
            .case("plughost_buffer_free(0)", None, || {
                black_box(plughost_buffer_free(black_box(0)));
            })
            .case("plughost_module_execute, unknown id", None, {
                let c = c.clone();
                move || {
                    let mut out: plughost_buffer = 0;
                    // SAFETY: live host; valid pointers; the id is never issued, so the call fails early.
                    black_box(unsafe {
                        plughost_module_execute(c.handle, 7, NOOP.as_ptr(), NOOP.len(), std::ptr::null(), 0, &mut out)
                    });
                }
            });
        group.run();
    }

    println!();
    let direct_median = find(&single, "direct fn-pointer call").median;
    let c_abi = find(&single, "C ABI execute + buffer_free");
    let rust_api = find(&single, "Rust Host::execute");
    let overhead = c_abi.median - direct_median;
    println!(
        "C ABI overhead: {} (medians), {} (median of paired rounds); Rust API overhead: {}",
        format_ns(overhead),
        format_ns(c_abi.paired_difference.unwrap_or(f64::NAN)),
        format_ns(rust_api.median - direct_median)
    );
    let c8 = find(&contended, "C ABI ×8");
    println!(
        "contended C ABI overhead: {} per call of wall time ({} CPUs, {THREADS} threads)",
        format_ns(c8.median - find(&contended, "direct ×8").median),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    if common::measuring() {
        common::target("C ABI execute overhead, p50", overhead, 100.0);
    }
}
