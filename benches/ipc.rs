//! IPC between two processes: round trips of a 32-byte request and a 32-byte answer through
//! [`Session::call`], and one-way throughput of 1 KB and 1 MB messages through
//! [`Session::publish`], against a Unix domain socket pair, a pair of pipes and (for the parked
//! round trip) a bare eventfd ping-pong doing the same work in the same run. A bare spin
//! ping-pong on two words of shared memory shows what the machine itself needs for a busy round
//! trip.
//!
//! The children are this binary run again with `PLUGHOST_BENCH_IPC_CHILD` set: one session child
//! (default settings) and one serving every socket, pipe, eventfd and shared-memory channel on a
//! thread each. Each child exits when the parent goes away (the session's liveness watch, end of
//! file on its channels, and `PR_SET_PDEATHSIG`).
//!
//! Busy peers are back-to-back calls: the default spin (2,000 rounds, some hundreds of
//! microseconds here) catches each request and answer without parking. Parked peers are calls
//! after a pause longer than the spin; the bench prints the child's context switches per call to
//! show which one happened, and the session child's CPU time over a quiet spell (an idle serving
//! thread parks without spinning).
//!
//! Run: `cargo bench --bench ipc` (with `PLUGHOST_BENCH_IPC_BUSY_ONLY=1`: only the busy round
//! trips; with `PLUGHOST_BENCH_IPC_PROFILE_SECS=<s>`: only back-to-back calls, each batch paired
//! with the ring alone and the spin ping-pong, grouped by placement of the CPUs). Targets: busy
//! round trip <= 1 µs p50 and >= 10x faster than the Unix socket; 1 MB throughput >= 2x the Unix
//! socket; parked round trip within 1.5x of the eventfd ping-pong.

mod common;

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("the IPC benchmark runs on Linux only");
}

#[cfg(target_os = "linux")]
mod linux {
    use super::common::{self, find, format_ns, Group, Settings, Summary};
    use plughost::ipc::fuzzing::HeapSegment;
    use plughost::ipc::layout::Geometry;
    use plughost::ipc::ring::{Consumer, Producer};
    use plughost::ipc::session::{IpcError, Session};
    use std::cell::Cell;
    use std::fs::File;
    use std::io::{ErrorKind, Read, Write};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::os::unix::net::UnixStream;
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command, Stdio};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    const CHILD_ENV: &str = "PLUGHOST_BENCH_IPC_CHILD";
    const FDS_ENV: &str = "PLUGHOST_BENCH_IPC_FDS";
    /// Set (to anything) to run only the busy round trips.
    const BUSY_ONLY_ENV: &str = "PLUGHOST_BENCH_IPC_BUSY_ONLY";
    /// Set to a number of seconds to only make back-to-back session calls that long (for a
    /// profiler), each batch of 1,000 paired with the ring alone and the spin ping-pong; then print
    /// the figures by placement of the CPUs and exit.
    const PROFILE_ENV: &str = "PLUGHOST_BENCH_IPC_PROFILE_SECS";
    /// Request and answer size of the round trips.
    const SMALL: usize = 32;
    /// The pause before each timed call of the parked cases, long enough for the peers to park.
    const GAP: Duration = Duration::from_micros(200);
    /// The socket busy-poll child blocks after this long without data (as long as the session's
    /// default spin, about).
    const POLL_IDLE: Duration = Duration::from_micros(200);
    const LONG: Duration = Duration::from_secs(20);
    const KB: usize = 1000;
    const MB: usize = 1_000_000;
    /// The length prefix that asks the stream reader for its byte count.
    const END: u64 = u64::MAX;
    /// The shared-memory ping value that sends the spinning child back to its eventfd.
    const STOP: u64 = u64::MAX;
    /// Offsets of the ping and pong words in the shared page (separate cache lines).
    const PING: usize = 0;
    const PONG: usize = 64;

    pub fn main() {
        if let Ok(mode) = std::env::var(CHILD_ENV) {
            match mode.as_str() {
                "raw" => raw_child(),
                "session" => session_child(),
                other => panic!("unknown child mode {other}"),
            }
            return;
        }
        parent();
    }

    // ---------------------------------------------------------------- children

    /// Peer B: `bench.echo` answers its payload, events count their bytes, `bench.drain` answers
    /// the count (8 bytes, little endian) and resets it. Serves until the parent closes or dies.
    fn session_child() {
        let session = Session::attach_from_env(&Geometry::default()).expect("attach");
        let bytes = Arc::new(AtomicU64::new(0));
        let counted = bytes.clone();
        session.on_event(move |_, payload| {
            counted.fetch_add(payload.len() as u64, Ordering::Relaxed);
        });
        session.register("bench", move |method, payload| match method {
            "echo" => Ok(payload.to_vec()),
            "drain" => Ok(bytes.swap(0, Ordering::Relaxed).to_le_bytes().to_vec()),
            other => Err((2, format!("no method {other}"))),
        });
        loop {
            match session.serve(Instant::now() + Duration::from_secs(1)) {
                Ok(()) => {}
                Err(IpcError::Closed | IpcError::PeerDead(_)) => return,
                Err(e) => panic!("serving: {e}"),
            }
        }
    }

    fn raw_child() {
        let fds: Vec<RawFd> =
            std::env::var(FDS_ENV).expect("descriptors").split(',').map(|s| s.parse().expect("a descriptor")).collect();
        assert_eq!(fds.len(), 11);
        // SAFETY: the parent handed these descriptors over for this process alone.
        let owned: Vec<OwnedFd> = fds.iter().map(|&fd| unsafe { OwnedFd::from_raw_fd(fd) }).collect();
        let mut it = owned.into_iter();
        let mut next = || it.next().expect("eleven descriptors");
        // The order of `spawn_raw`'s list.
        let (uds, uds_poll): (UnixStream, UnixStream) = (next().into(), next().into());
        let (pipe_in, pipe_out): (File, File) = (next().into(), next().into());
        let (ping, pong): (File, File) = (next().into(), next().into());
        let uds_stream: UnixStream = next().into();
        let (pipe_stream, pipe_ack): (File, File) = (next().into(), next().into());
        let (memory, go): (OwnedFd, File) = (next(), next().into());
        let words = Words::map(&memory);
        let spawn = |f: Box<dyn FnOnce() + Send>| std::thread::spawn(f);
        let main_echo = spawn(Box::new(move || echo(&uds, &uds)));
        spawn(Box::new(move || echo_busy_poll(uds_poll)));
        spawn(Box::new(move || echo(&pipe_in, &pipe_out)));
        spawn(Box::new(move || eventfd_echo(&ping, &pong)));
        spawn(Box::new(move || count_stream(&uds_stream, &uds_stream)));
        spawn(Box::new(move || count_stream(&pipe_stream, &pipe_ack)));
        spawn(Box::new(move || spin_echo(&words, &go)));
        // The parent closes the socket at the end (or dies): then this process is done.
        let _ = main_echo.join();
        std::process::exit(0);
    }

    /// Read 32 bytes, write them back, until end of file.
    fn echo(mut input: impl Read, mut output: impl Write) {
        let mut buffer = [0u8; SMALL];
        while input.read_exact(&mut buffer).is_ok() {
            if output.write_all(&buffer).is_err() {
                return;
            }
        }
    }

    /// The echo, spinning on a non-blocking socket; after `POLL_IDLE` without data it blocks in
    /// `poll` until data comes.
    fn echo_busy_poll(socket: UnixStream) {
        let mut socket = &socket;
        socket.set_nonblocking(true).expect("non-blocking");
        let mut buffer = [0u8; SMALL];
        loop {
            let mut filled = 0;
            let mut idle_since = Instant::now();
            let mut spins = 0u32;
            while filled < SMALL {
                match socket.read(&mut buffer[filled..]) {
                    Ok(0) => return,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        spins = spins.wrapping_add(1);
                        if spins % 1024 == 0 && idle_since.elapsed() > POLL_IDLE {
                            let mut fd = libc::pollfd { fd: socket.as_raw_fd(), events: libc::POLLIN, revents: 0 };
                            // SAFETY: one valid pollfd.
                            unsafe { libc::poll(&mut fd, 1, 1000) };
                            idle_since = Instant::now();
                        }
                        std::hint::spin_loop();
                    }
                    Err(_) => return,
                }
            }
            if write_all_spinning(socket, &buffer).is_err() {
                return;
            }
        }
    }

    fn write_all_spinning(mut socket: &UnixStream, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            match socket.write(bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == ErrorKind::WouldBlock => std::hint::spin_loop(),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Read 32 bytes spinning on a non-blocking socket.
    fn read_spinning(mut socket: &UnixStream, buffer: &mut [u8]) {
        let mut filled = 0;
        while filled < buffer.len() {
            match socket.read(&mut buffer[filled..]) {
                Ok(0) => panic!("the echo child went away"),
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => std::hint::spin_loop(),
                Err(e) => panic!("reading: {e}"),
            }
        }
    }

    /// Wait for a ping (an eventfd read blocks until the counter is non-zero), answer a pong.
    fn eventfd_echo(mut ping: &File, mut pong: &File) {
        let mut value = [0u8; 8];
        while ping.read_exact(&mut value).is_ok() {
            if pong.write_all(&1u64.to_ne_bytes()).is_err() {
                return;
            }
        }
    }

    /// Two words in a shared page, mapped from a memfd.
    struct Words {
        page: *mut u8,
    }

    // SAFETY: the page is only accessed through atomics and stays mapped for the process's life.
    unsafe impl Send for Words {}
    // SAFETY: as above.
    unsafe impl Sync for Words {}

    impl Words {
        fn map(fd: &OwnedFd) -> Words {
            // SAFETY: a shared read-write mapping of one page of a memfd that is at least that long.
            let page = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    4096,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    fd.as_raw_fd(),
                    0,
                )
            };
            assert_ne!(page, libc::MAP_FAILED, "mmap: {}", std::io::Error::last_os_error());
            Words { page: page.cast() }
        }

        fn word(&self, offset: usize) -> &AtomicU64 {
            // SAFETY: the offset is 0 or 64 of a mapped, page-aligned page; the mapping is never
            // removed.
            unsafe { &*self.page.add(offset).cast::<AtomicU64>() }
        }
    }

    /// Block on the `go` eventfd; then answer each new ping value with the same pong value,
    /// spinning, until the ping is `STOP` (answered with `STOP`).
    fn spin_echo(words: &Words, mut go: &File) {
        let (ping, pong) = (words.word(PING), words.word(PONG));
        let mut value = [0u8; 8];
        // The page starts zeroed and pings count from 1: a first ping sent before this thread
        // started is still seen as new.
        let mut last = 0;
        while go.read_exact(&mut value).is_ok() {
            loop {
                let now = ping.load(Ordering::Acquire);
                if now == last {
                    std::hint::spin_loop();
                    continue;
                }
                last = now;
                pong.store(now, Ordering::Release);
                if now == STOP {
                    break;
                }
            }
        }
    }

    /// Length-prefixed messages: read each one whole and count its bytes; the `END` prefix asks
    /// for the count (8 bytes), which resets it.
    fn count_stream(mut input: impl Read, mut ack: impl Write) {
        let mut buffer = vec![0u8; MB];
        let mut count = 0u64;
        let mut prefix = [0u8; 8];
        while input.read_exact(&mut prefix).is_ok() {
            let len = u64::from_le_bytes(prefix);
            if len == END {
                if ack.write_all(&count.to_le_bytes()).is_err() {
                    return;
                }
                count = 0;
                continue;
            }
            let len = len as usize;
            if buffer.len() < len {
                buffer.resize(len, 0);
            }
            if input.read_exact(&mut buffer[..len]).is_err() {
                return;
            }
            count += len as u64;
        }
    }

    // ---------------------------------------------------------------- parent side

    fn pipe() -> (File, File) {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: `fds` has room for the two descriptors.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
        assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
        // SAFETY: both descriptors were just created and are owned here.
        unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) }
    }

    fn eventfd() -> File {
        // SAFETY: plain syscall.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        assert!(fd >= 0, "eventfd: {}", std::io::Error::last_os_error());
        // SAFETY: the descriptor was just created and is owned here.
        unsafe { File::from_raw_fd(fd) }
    }

    /// Have the child killed when the spawning thread (here the main thread) exits, and let it
    /// inherit `inherit`.
    fn die_with_parent(cmd: &mut Command, inherit: Vec<RawFd>) {
        plughost::ipc::session::kill_with_parent(cmd);
        let hook = move || {
            for &fd in &inherit {
                // SAFETY: fcntl is async-signal-safe; the descriptors are open in the child.
                if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        };
        // SAFETY: the hook runs between fork and exec and only calls fcntl.
        unsafe { cmd.pre_exec(hook) };
    }

    fn child_command(mode: &str) -> Command {
        let mut cmd = Command::new(std::env::current_exe().expect("this binary"));
        cmd.env(CHILD_ENV, mode).stdin(Stdio::null());
        cmd
    }

    /// A session with a child peer (default settings on both sides).
    fn spawn_session() -> (Session, Child) {
        let (session, handoff) = Session::create(&Geometry::default()).expect("session");
        let child = handoff.die_with_parent(true).spawn(&mut child_command("session")).expect("spawn");
        (session, child)
    }

    /// The parent's ends of the raw channels.
    struct Raw {
        child: Child,
        uds: UnixStream,
        uds_poll: UnixStream,
        pipe_out: File,
        pipe_in: File,
        ping: File,
        pong: File,
        uds_stream: UnixStream,
        pipe_stream: File,
        pipe_ack: File,
        words: Words,
        go: File,
        /// The last ping value sent.
        seq: Cell<u64>,
    }

    fn spawn_raw() -> Raw {
        let (uds, uds_child) = UnixStream::pair().expect("socket pair");
        let (uds_poll, uds_poll_child) = UnixStream::pair().expect("socket pair");
        let (child_in, pipe_out) = pipe();
        let (pipe_in, child_out) = pipe();
        let (ping, pong) = (eventfd(), eventfd());
        let (uds_stream, uds_stream_child) = UnixStream::pair().expect("socket pair");
        let (child_stream, pipe_stream) = pipe();
        let (pipe_ack, child_ack) = pipe();
        // SAFETY: plain syscalls on a fresh descriptor.
        let memory = unsafe {
            let fd = libc::memfd_create(c"plughost-bench-spin".as_ptr(), libc::MFD_CLOEXEC);
            assert!(fd >= 0, "memfd_create: {}", std::io::Error::last_os_error());
            assert_eq!(libc::ftruncate(fd, 4096), 0);
            OwnedFd::from_raw_fd(fd)
        };
        let words = Words::map(&memory);
        let go = eventfd();
        let handed: Vec<RawFd> = vec![
            uds_child.as_raw_fd(),
            uds_poll_child.as_raw_fd(),
            child_in.as_raw_fd(),
            child_out.as_raw_fd(),
            ping.as_raw_fd(),
            pong.as_raw_fd(),
            uds_stream_child.as_raw_fd(),
            child_stream.as_raw_fd(),
            child_ack.as_raw_fd(),
            memory.as_raw_fd(),
            go.as_raw_fd(),
        ];
        let list = handed.iter().map(RawFd::to_string).collect::<Vec<_>>().join(",");
        let mut cmd = child_command("raw");
        cmd.env(FDS_ENV, list);
        die_with_parent(&mut cmd, handed);
        let child = cmd.spawn().expect("spawn the raw child");
        // The child's ends are closed here, so that the child sees end of file when this process
        // closes its own.
        drop((uds_child, uds_poll_child, child_in, child_out, uds_stream_child, child_stream, child_ack, memory));
        uds_poll.set_nonblocking(true).expect("non-blocking");
        Raw {
            child,
            uds,
            uds_poll,
            pipe_out,
            pipe_in,
            ping,
            pong,
            uds_stream,
            pipe_stream,
            pipe_ack,
            words,
            go,
            seq: Cell::new(0),
        }
    }

    /// The two rings of a segment laid out by the default geometry, with an echo thread that
    /// parks between runs: the ring alone, with no session around it (threads on two CPUs move
    /// the same cache lines as processes do). The segment lives as long as the bench, so its pages
    /// are mapped and its lines warm, as a session's are.
    struct RingEcho {
        to_echo: Producer,
        from_echo: Consumer,
        /// The number of round trips for the echo thread to serve next (0 ends it).
        runs: std::sync::mpsc::Sender<u64>,
        thread: Option<std::thread::JoinHandle<()>>,
        answer: Vec<u8>,
        _segment: HeapSegment,
    }

    fn pass(producer: &mut Producer, message: &[u8]) {
        while producer.try_send_inline(message).is_err() {
            std::hint::spin_loop();
        }
    }

    fn take(consumer: &mut Consumer, out: &mut Vec<u8>) {
        while consumer.try_recv(out).expect("an intact ring").is_none() {
            std::hint::spin_loop();
        }
    }

    impl RingEcho {
        fn start() -> Self {
            let geometry = Geometry::default();
            let segment = HeapSegment::for_geometry(&geometry);
            let half = |direction| {
                let region = segment.region().clone();
                (
                    Producer::new(region.clone(), &geometry, direction).expect("producer"),
                    Consumer::new(region, &geometry, direction).expect("consumer"),
                )
            };
            let ((to_echo, mut from_me), (mut to_me, from_echo)) = (half(0), half(1));
            let (runs, wanted) = std::sync::mpsc::channel::<u64>();
            let thread = std::thread::spawn(move || {
                let mut out = Vec::new();
                while let Ok(n @ 1..) = wanted.recv() {
                    for _ in 0..n {
                        take(&mut from_me, &mut out);
                        pass(&mut to_me, &out);
                    }
                }
            });
            let mut echo =
                RingEcho { to_echo, from_echo, runs, thread: Some(thread), answer: Vec::new(), _segment: segment };
            // A lap of each ring before anything is timed: every page mapped, every line seen.
            let lap = (geometry.ring_capacity / 64) as u64;
            echo.round_trips(lap);
            echo
        }

        /// Wake the echo, make one untimed round trip, and time `n` more of a 32-byte message.
        fn round_trips(&mut self, n: u64) -> Duration {
            self.runs.send(n + 1).expect("the ring echo runs");
            let request = [7u8; SMALL];
            pass(&mut self.to_echo, &request);
            take(&mut self.from_echo, &mut self.answer);
            let started = Instant::now();
            for _ in 0..n {
                pass(&mut self.to_echo, &request);
                take(&mut self.from_echo, &mut self.answer);
            }
            started.elapsed()
        }
    }

    impl Drop for RingEcho {
        fn drop(&mut self) {
            let _ = self.runs.send(0);
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }

    impl Raw {
        /// Wake the spinning echo, make one untimed round trip, time `n` more, and send it back to
        /// its eventfd.
        fn spin_round_trips(&self, n: u64) -> Duration {
            let (ping, pong) = (self.words.word(PING), self.words.word(PONG));
            let mut go = &self.go;
            go.write_all(&1u64.to_ne_bytes()).expect("go");
            let one = |seq: u64| {
                ping.store(seq, Ordering::Release);
                while pong.load(Ordering::Acquire) != seq {
                    std::hint::spin_loop();
                }
            };
            let mut seq = self.seq.get() + 1;
            one(seq);
            let started = Instant::now();
            for _ in 0..n {
                seq += 1;
                one(seq);
            }
            self.seq.set(seq);
            let took = started.elapsed();
            one(STOP);
            took
        }
    }

    fn round_trip(mut output: impl Write, mut input: impl Read, request: &[u8; SMALL]) {
        output.write_all(request).expect("write");
        let mut answer = [0u8; SMALL];
        input.read_exact(&mut answer).expect("read");
        assert_eq!(&answer, request);
    }

    fn eventfd_round_trip(mut ping: &File, mut pong: &File) {
        ping.write_all(&1u64.to_ne_bytes()).expect("ping");
        let mut value = [0u8; 8];
        pong.read_exact(&mut value).expect("pong");
    }

    fn session_call(session: &Session, request: &[u8; SMALL]) {
        let answer = session.call("bench", "echo", request, LONG).expect("call");
        assert_eq!(answer.as_slice(), request);
    }

    /// `n` operations, each after a `GAP` pause; only the operations are timed.
    fn spaced(n: u64, mut op: impl FnMut()) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..n {
            std::thread::sleep(GAP);
            let started = Instant::now();
            op();
            total += started.elapsed();
        }
        total
    }

    /// `n` messages of `payload` written length-prefixed, then the count asked and checked.
    fn stream(n: u64, mut output: impl Write, mut ack: impl Read, payload: &[u8]) -> Duration {
        let started = Instant::now();
        let prefix = (payload.len() as u64).to_le_bytes();
        for _ in 0..n {
            output.write_all(&prefix).expect("write");
            output.write_all(payload).expect("write");
        }
        output.write_all(&END.to_le_bytes()).expect("write");
        let mut count = [0u8; 8];
        ack.read_exact(&mut count).expect("read the count");
        let took = started.elapsed();
        assert_eq!(u64::from_le_bytes(count), n * payload.len() as u64);
        took
    }

    fn publish_all(n: u64, session: &Session, payload: &[u8]) -> Duration {
        let started = Instant::now();
        for _ in 0..n {
            session.publish("bytes", payload).expect("publish");
        }
        let count = session.call("bench", "drain", &[], LONG).expect("drain");
        let took = started.elapsed();
        assert_eq!(count, (n * payload.len() as u64).to_le_bytes());
        took
    }

    /// Voluntary context switches of all threads of `pid` (each park or blocking wait is one).
    fn voluntary_switches(pid: u32) -> u64 {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return 0;
        };
        tasks
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
            .flat_map(|s| {
                s.lines()
                    .filter_map(|l| {
                        l.strip_prefix("voluntary_ctxt_switches:").map(|v| v.trim().parse::<u64>().unwrap_or(0))
                    })
                    .collect::<Vec<_>>()
            })
            .sum()
    }

    /// User and system CPU time of all threads of `pid`, in clock ticks (`/proc/<pid>/stat`).
    fn cpu_ticks(pid: u32) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The fields after the command name (which may hold spaces) start with the state.
        let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        fields.get(11..13).map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum())
    }

    /// Per call, the child's voluntary context switches over `calls` calls made by `op`.
    fn switches_per_call(pid: u32, calls: u64, mut op: impl FnMut()) -> f64 {
        let before = voluntary_switches(pid);
        for _ in 0..calls {
            op();
        }
        (voluntary_switches(pid) - before) as f64 / calls as f64
    }

    fn verdict(what: &str, measured: String, limit: &str, met: bool) {
        let verdict = if met { "met" } else { "MISSED" };
        println!("target: {what} = {measured} (limit {limit}): {verdict}");
    }

    fn throughput(bytes: usize, summary: &Summary) -> String {
        let per_second = bytes as f64 / (summary.median * 1e-9);
        if per_second >= 1e9 {
            format!("{:.2} GB/s", per_second / 1e9)
        } else {
            format!("{:.0} MB/s", per_second / 1e6)
        }
    }

    fn parent() {
        common::print_machine();
        let measuring = common::measuring();
        let (session, session_child) = spawn_session();
        let raw = spawn_raw();
        let request = [7u8; SMALL];
        // The session answers before anything is timed.
        session_call(&session, &request);
        if let Some(secs) = std::env::var(PROFILE_ENV).ok().and_then(|s| s.parse::<f64>().ok()) {
            profile(&session, &raw, Duration::from_secs_f64(secs));
            shut_down(session, session_child, raw);
            return;
        }

        let mut ring = RingEcho::start();
        let busy = {
            let settings = Settings::new(Duration::from_millis(300), Duration::from_millis(5), 60);
            let mut group = Group::new("round trip, 32 + 32 bytes, back to back (busy peers)", settings);
            let peer = Some("unix socket");
            let r = &raw;
            let poll = &r.uds_poll;
            group
                .case("session call", peer, || session_call(&session, &request))
                .case("unix socket", None, || round_trip(&r.uds, &r.uds, &request))
                .case("unix socket, busy-poll", peer, || {
                    write_all_spinning(poll, &request).expect("write");
                    let mut answer = [0u8; SMALL];
                    read_spinning(poll, &mut answer);
                    assert_eq!(answer, request);
                })
                .case("pipes", peer, || round_trip(&r.pipe_out, &r.pipe_in, &request))
                .case("eventfd ping-pong", peer, || eventfd_round_trip(&r.ping, &r.pong))
                .timed("ring ping-pong, two threads", peer, |n| ring.round_trips(n))
                .timed("shared-memory spin ping-pong", peer, |n| r.spin_round_trips(n));
            group.run()
        };

        if std::env::var_os(BUSY_ONLY_ENV).is_some() {
            if measuring {
                println!();
                busy_verdicts(&busy);
            }
            shut_down(session, session_child, raw);
            return;
        }

        let parked = {
            let settings = Settings::new(Duration::from_millis(200), Duration::from_millis(1), 40);
            let title =
                format!("round trip, 32 + 32 bytes, each after a {GAP:?} pause (parked peers; only the call timed)");
            let mut group = Group::new(&title, settings);
            let peer = Some("eventfd ping-pong");
            let r = &raw;
            group
                .timed("session call", peer, |n| spaced(n, || session_call(&session, &request)))
                .timed("unix socket", peer, |n| spaced(n, || round_trip(&r.uds, &r.uds, &request)))
                .timed("pipes", peer, |n| spaced(n, || round_trip(&r.pipe_out, &r.pipe_in, &request)))
                .timed("eventfd ping-pong", None, |n| spaced(n, || eventfd_round_trip(&r.ping, &r.pong)));
            group.run()
        };

        let mut one_way = Vec::new();
        for (size, label, sample) in [(KB, "1 KB", 5), (MB, "1 MB", 20)] {
            let payload: Vec<u8> = (0..size).map(|k| (k * 31) as u8).collect();
            let settings = Settings::new(Duration::from_millis(300), Duration::from_millis(sample), 40);
            let title = format!("one way, {label} messages ({size} bytes), then an acknowledgement; per message");
            let mut group = Group::new(&title, settings);
            let peer = Some("unix socket");
            let r = &raw;
            group
                .timed("session publish", peer, |n| publish_all(n, &session, &payload))
                .timed("unix socket", None, |n| stream(n, &r.uds_stream, &r.uds_stream, &payload))
                .timed("pipes", peer, |n| stream(n, &r.pipe_stream, &r.pipe_ack, &payload));
            let summaries = group.run();
            for s in &summaries {
                println!("  {:<16} {}", s.name, throughput(size, s));
            }
            one_way.push(summaries);
        }

        // Whether the peers did what the group names say: a parked child pays a context switch
        // per call, a busy one none.
        let calls = if measuring { 200 } else { 2 };
        let pid = session_child.id();
        let spaced_switches = switches_per_call(pid, calls, || {
            std::thread::sleep(GAP);
            session_call(&session, &request)
        });
        let busy_switches = switches_per_call(pid, calls * 50, || session_call(&session, &request));
        println!();
        println!(
            "session child's voluntary context switches per call: {busy_switches:.3} back to back, \
             {spaced_switches:.2} after {GAP:?} pauses"
        );
        // An idle session costs its serving thread's spinning (and the liveness monitor).
        let idle = if measuring { Duration::from_secs(2) } else { Duration::from_millis(20) };
        std::thread::sleep(Duration::from_millis(50));
        let before = cpu_ticks(pid);
        std::thread::sleep(idle);
        let ticks = cpu_ticks(pid) - before;
        // SAFETY: sysconf only reads a constant.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        println!(
            "session child's CPU while idle: {:.1} ms per second ({ticks} ticks over {idle:?})",
            ticks as f64 / hz * 1000.0 / idle.as_secs_f64()
        );

        if measuring {
            println!();
            busy_verdicts(&busy);
            let mb = &one_way[1];
            let (session_mb, uds_mb) = (find(mb, "session publish"), find(mb, "unix socket"));
            let gain = uds_mb.median / session_mb.median;
            verdict(
                "1 MB throughput vs unix socket",
                format!("{gain:.2}x ({} vs {})", throughput(MB, session_mb), throughput(MB, uds_mb)),
                ">= 2x",
                gain >= 2.0,
            );
            let (call, floor) = (find(&parked, "session call"), find(&parked, "eventfd ping-pong"));
            let ratio = call.median / floor.median;
            verdict(
                "parked round trip vs eventfd ping-pong",
                format!("{ratio:.2}x ({} vs {})", format_ns(call.median), format_ns(floor.median)),
                "<= 1.5x",
                ratio <= 1.5,
            );
        }

        shut_down(session, session_child, raw);
    }

    /// A spin ping-pong faster than this means the host has put the two CPUs on one core's
    /// hyperthreads (about 50 ns here); two separate cores take 250 ns and more.
    const ONE_CORE_FLOOR_NS: f64 = 150.0;

    /// Back-to-back calls only, for `secs`, for a profiler to watch (`perf record -a`), in
    /// batches of 1,000, each followed by 1,000 round trips of the ring alone (two threads) and
    /// 1,000 of the spin ping-pong (the machine's floor at that moment). The batches are grouped
    /// by where the host put the two CPUs at that moment (the floor tells); for each group it
    /// prints the medians of the three and what the session adds to the ring and the ring to the
    /// floor (medians of the pairs' differences), to compare builds.
    fn profile(session: &Session, raw: &Raw, secs: Duration) {
        let mut ring = RingEcho::start();
        let request = [7u8; SMALL];
        let end = Instant::now() + secs;
        let mut batches = Vec::new();
        while Instant::now() < end {
            let started = Instant::now();
            for _ in 0..1000 {
                session_call(session, &request);
            }
            let call = started.elapsed().as_nanos() as f64 / 1000.0;
            let ring = ring.round_trips(1000).as_nanos() as f64 / 1000.0;
            let floor = raw.spin_round_trips(1000).as_nanos() as f64 / 1000.0;
            batches.push([call, ring, floor]);
        }
        for (placement, one_core) in [("one core's hyperthreads", true), ("two cores", false)] {
            let group: Vec<[f64; 3]> =
                batches.iter().copied().filter(|b| (b[2] < ONE_CORE_FLOOR_NS) == one_core).collect();
            if group.is_empty() {
                println!("{placement}: no batch");
                continue;
            }
            let at = |q: f64, f: &dyn Fn(&[f64; 3]) -> f64| {
                common::quantile(&common::sorted(&group.iter().map(f).collect::<Vec<_>>()), q)
            };
            let median = |f: &dyn Fn(&[f64; 3]) -> f64| at(0.5, f);
            println!(
                "{placement}, {} batches of 1,000: session call {} (p10 {}, p90 {}), ring {}, spin floor {}; \
                 session over ring {}, ring over floor {}, session over floor {}",
                group.len(),
                format_ns(median(&|b| b[0])),
                format_ns(at(0.1, &|b| b[0])),
                format_ns(at(0.9, &|b| b[0])),
                format_ns(median(&|b| b[1])),
                format_ns(median(&|b| b[2])),
                format_ns(median(&|b| b[0] - b[1])),
                format_ns(median(&|b| b[1] - b[2])),
                format_ns(median(&|b| b[0] - b[2])),
            );
        }
    }

    fn busy_verdicts(busy: &[Summary]) {
        let (call, uds) = (find(busy, "session call"), find(busy, "unix socket"));
        verdict("busy round trip p50", format_ns(call.median), "1.0 µs", call.median <= 1000.0);
        let faster = uds.median / call.median;
        verdict(
            "busy round trip vs unix socket",
            format!("{faster:.1}x faster ({} vs {})", format_ns(call.median), format_ns(uds.median)),
            ">= 10x",
            faster >= 10.0,
        );
    }

    /// Close the session (its child exits) and end the raw child.
    fn shut_down(session: Session, session_child: Child, raw: Raw) {
        drop(session);
        finish(session_child);
        let Raw { mut child, uds, .. } = raw;
        drop(uds);
        let _ = child.kill();
        let _ = child.wait();
    }

    fn finish(mut child: Child) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                assert!(status.success(), "a session child failed: {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("a session child did not exit after the session closed");
    }
}
