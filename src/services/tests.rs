use super::*;
use std::sync::atomic::AtomicUsize;

fn echo() -> ServiceHandler {
    Arc::new(|input: &[u8]| Ok(input.to_vec()))
}

#[test]
fn register_call_unregister() {
    let r = ServiceRegistry::new(Duration::from_secs(1));
    r.register("echo", ServiceThreading::AnyThread, echo()).unwrap();
    assert_eq!(r.call("echo", b"hi").unwrap(), b"hi");
    assert_eq!(r.register("echo", ServiceThreading::AnyThread, echo()).unwrap_err().kind(), ErrorKind::ServiceExists);
    assert_eq!(r.register("", ServiceThreading::AnyThread, echo()).unwrap_err().kind(), ErrorKind::InvalidArgument);
    r.unregister("echo").unwrap();
    assert_eq!(r.call("echo", b"").unwrap_err().kind(), ErrorKind::ServiceNotFound);
    assert_eq!(r.unregister("echo").unwrap_err().kind(), ErrorKind::ServiceNotFound);
}

#[test]
fn failures_and_panics_are_service_failed() {
    let r = ServiceRegistry::new(Duration::from_secs(1));
    r.register("fail", ServiceThreading::AnyThread, Arc::new(|_: &[u8]| Err("no wall".to_owned()))).unwrap();
    r.register("boom", ServiceThreading::AnyThread, Arc::new(|_: &[u8]| panic!("boom"))).unwrap();
    let e = r.call("fail", b"").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ServiceFailed);
    assert_eq!(e.message(), "service \"fail\": no wall");
    assert_eq!(r.call("boom", b"").unwrap_err().kind(), ErrorKind::ServiceFailed);
    let stats = r.stats();
    assert_eq!(stats[0].name, "boom");
    assert_eq!((stats[1].calls, stats[1].failures), (1, 1));
}

#[test]
fn main_thread_service_runs_inline_on_main_thread() {
    let r = ServiceRegistry::new(Duration::from_secs(1));
    let main = std::thread::current().id();
    r.register(
        "ui",
        ServiceThreading::MainThread,
        Arc::new(move |_: &[u8]| Ok(vec![(std::thread::current().id() == main) as u8])),
    )
    .unwrap();
    r.main_thread().set_current();
    assert_eq!(r.call("ui", b"").unwrap(), vec![1]);
    assert_eq!(r.main_thread().pending(), 0);
}

#[test]
fn main_thread_service_from_worker_waits_for_pump() {
    let r = Arc::new(ServiceRegistry::new(Duration::from_secs(10)));
    let main = std::thread::current().id();
    r.register(
        "ui",
        ServiceThreading::MainThread,
        Arc::new(move |_: &[u8]| Ok(vec![(std::thread::current().id() == main) as u8])),
    )
    .unwrap();
    r.main_thread().set_current();
    let requested = Arc::new(AtomicUsize::new(0));
    let seen = requested.clone();
    r.main_thread().set_pump_request(Some(Arc::new(move || {
        seen.fetch_add(1, Ordering::SeqCst);
    })));
    let worker = {
        let r = r.clone();
        std::thread::spawn(move || r.call("ui", b""))
    };
    // The pump request comes right after the call is queued, on the worker's thread.
    while r.main_thread().pending() == 0 || requested.load(Ordering::SeqCst) == 0 {
        std::thread::yield_now();
    }
    assert_eq!(requested.load(Ordering::SeqCst), 1);
    assert_eq!(r.main_thread().pump(0).unwrap(), 1);
    assert_eq!(worker.join().unwrap().unwrap(), vec![1], "ran on the main thread");
}

#[test]
fn unpumped_call_times_out_and_is_withdrawn() {
    let r = Arc::new(ServiceRegistry::new(Duration::from_millis(30)));
    r.register("ui", ServiceThreading::MainThread, echo()).unwrap();
    r.main_thread().set_current();
    let r2 = r.clone();
    let e = std::thread::spawn(move || r2.call("ui", b"x")).join().unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert_eq!(r.main_thread().pending(), 0);
}

#[test]
fn pump_off_main_thread_and_no_main_thread_are_wrong_thread() {
    let r = Arc::new(ServiceRegistry::new(Duration::from_millis(30)));
    r.register("ui", ServiceThreading::MainThread, echo()).unwrap();
    assert_eq!(r.call("ui", b"").unwrap_err().kind(), ErrorKind::WrongThread);
    r.main_thread().set_current();
    let r2 = r.clone();
    let e = std::thread::spawn(move || r2.main_thread().pump(0)).join().unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WrongThread);
}

#[test]
fn pending_calls_fail_when_the_host_stops() {
    let r = Arc::new(ServiceRegistry::new(Duration::from_secs(30)));
    r.register("ui", ServiceThreading::MainThread, echo()).unwrap();
    r.main_thread().set_current();
    let r2 = r.clone();
    let worker = std::thread::spawn(move || r2.call("ui", b"x"));
    while r.main_thread().pending() == 0 {
        std::thread::yield_now();
    }
    assert_eq!(r.main_thread().fail_pending(), 1);
    assert_eq!(worker.join().unwrap().unwrap_err().kind(), ErrorKind::HostStopped);
}
