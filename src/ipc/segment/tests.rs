//! Segment tests, and the helpers other IPC tests share: a small geometry and running this test
//! binary as a child process that attaches to a shared segment.

use super::*;
use crate::ipc::layout::{SlotClass, MAGIC};
use crate::ipc::slots::{Descriptor, SlotPool};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;

/// Selects what a child started by [`spawn_child`] does.
pub(crate) const CHILD_ENV: &str = "PLUGHOST_IPC_TEST_CHILD";

/// A geometry small enough for fast tests: 8 x 256 B, 4 x 4 KiB and 2 x 64 KiB slots.
pub(crate) fn small_geometry() -> Geometry {
    Geometry {
        ring_capacity: 4096,
        inline_max: 256,
        classes: vec![
            SlotClass { slot_size: 256, slot_count: 8 },
            SlotClass { slot_size: 4096, slot_count: 4 },
            SlotClass { slot_size: 65536, slot_count: 2 },
        ],
    }
}

/// Run this test binary as a child that executes only `test` (its full path) in `mode`, with
/// `segment` shared through the hand-off and `env` set.
pub(crate) fn spawn_child(test: &str, mode: &str, segment: &Segment, env: &[(&str, String)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    segment.share_with_child(&mut cmd).unwrap();
    cmd.spawn().unwrap()
}

/// Wait for a child from [`spawn_child`]; fails unless its one test ran and passed. Returns its
/// standard output.
pub(crate) fn finish(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed ({}):\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("1 passed"), "the child ran no test:\n{stdout}\n{stderr}");
    stdout
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex16(s: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

fn attach_clone(segment: &Segment, geometry: &Geometry) -> Result<Segment, SegmentError> {
    Segment::attach_fd(segment.try_clone_fd().unwrap(), geometry)
}

/// Entry point of the children this module starts; does nothing in a normal test run.
#[test]
fn child_entry() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    match mode.as_str() {
        "echo" => {
            let segment = Segment::attach_from_env(&small_geometry()).unwrap();
            assert_eq!(segment.role(), Role::Attacher);
            assert_eq!(segment.creator_pid(), std::os::unix::process::parent_id());
            let request = Descriptor::decode(&unhex16(&std::env::var("PLUGHOST_IPC_TEST_DESC").unwrap()));
            let mut payload = SlotPool::new(&segment, 0).unwrap().take(request).unwrap();
            payload.reverse();
            let reply = SlotPool::new(&segment, 1).unwrap().put(&payload).unwrap();
            println!("REPLY={}", hex(&reply.encode()));
            let again = Segment::attach_from_env(&small_geometry());
            assert!(matches!(again, Err(SegmentError::Handoff(_))), "{again:?}");
        }
        "other-geometry" => {
            let mut geometry = small_geometry();
            geometry.inline_max = 128;
            let err = Segment::attach_from_env(&geometry).unwrap_err();
            assert!(matches!(err, SegmentError::GeometryMismatch(_)), "{err}");
        }
        other => panic!("unknown child mode {other}"),
    }
}

#[test]
fn create_then_attach_in_process() {
    let geometry = small_geometry();
    let a = Segment::create(&geometry).unwrap();
    assert_eq!((a.role(), a.kind()), (Role::Creator, SegmentKind::Memfd));
    assert_eq!(a.creator_pid(), std::process::id());
    assert!(!a.peer_attached());
    let b = attach_clone(&a, &geometry).unwrap();
    assert_eq!((b.role(), b.kind()), (Role::Attacher, SegmentKind::Memfd));
    assert_eq!(a.attacher_pid(), std::process::id());
    assert!(a.peer_attached());
    a.region().write(HEADER_END, b"from a").unwrap();
    let mut seen = [0u8; 6];
    b.region().read(HEADER_END, &mut seen).unwrap();
    assert_eq!(&seen, b"from a");
    let third = attach_clone(&a, &geometry).unwrap_err();
    assert!(matches!(third, SegmentError::AlreadyAttached { pid } if pid == std::process::id()), "{third}");
}

/// A spot after the header fields and before the rings, free for test markers.
const HEADER_END: usize = 1024;

#[test]
fn attach_across_processes_through_the_handoff() {
    let segment = Segment::create(&small_geometry()).unwrap();
    let request = SlotPool::new(&segment, 0).unwrap().put(b"hello from the host").unwrap();
    let env = [("PLUGHOST_IPC_TEST_DESC", hex(&request.encode()))];
    let child = spawn_child("ipc::segment::tests::child_entry", "echo", &segment, &env);
    let child_pid = child.id();
    let stdout = finish(child);
    let reply = stdout.split("REPLY=").nth(1).map(|r| &r[..32]).expect("the child printed its reply");
    let reply = Descriptor::decode(&unhex16(reply));
    assert_eq!(SlotPool::new(&segment, 1).unwrap().take(reply).unwrap(), b"tsoh eht morf olleh");
    assert_eq!(segment.attacher_pid(), child_pid);
    assert!(segment.peer_attached());
    assert_eq!(SlotPool::new(&segment, 0).unwrap().free_slots(0), Ok(8), "the child returned the request's slot");
}

#[test]
fn a_child_with_another_geometry_is_refused() {
    let segment = Segment::create(&small_geometry()).unwrap();
    finish(spawn_child("ipc::segment::tests::child_entry", "other-geometry", &segment, &[]));
    assert_eq!(segment.attacher_pid(), 0);
}

#[test]
fn refuses_wrong_magic_version_and_header_size() {
    let geometry = small_geometry();
    type Spoil = fn(&Segment);
    let cases: [(&str, Spoil); 3] = [
        ("magic", |s| s.region().atomic_u64(header::MAGIC_OFFSET).unwrap().store(MAGIC ^ 1, Ordering::Release)),
        ("version", |s| s.region().write(header::VERSION_OFFSET, &1u32.to_le_bytes()).unwrap()),
        ("header size", |s| s.region().write(header::HEADER_SIZE_OFFSET, &8192u32.to_le_bytes()).unwrap()),
    ];
    for (what, spoil) in cases {
        let segment = Segment::create(&geometry).unwrap();
        spoil(&segment);
        let err = attach_clone(&segment, &geometry).unwrap_err();
        let expected = match what {
            "magic" => matches!(err, SegmentError::BadMagic { found } if found == MAGIC ^ 1),
            "version" => matches!(err, SegmentError::WrongVersion { found: 1, expected: 2 }),
            _ => matches!(err, SegmentError::HeaderSize { found: 8192, expected: 4096 }),
        };
        assert!(expected, "{what}: {err}");
        assert_eq!(segment.attacher_pid(), 0, "a refused attach claims nothing");
    }
}

#[test]
fn refuses_a_segment_smaller_than_the_local_layout() {
    let segment = Segment::create(&small_geometry()).unwrap();
    let mut larger = small_geometry();
    larger.ring_capacity = 8192;
    let err = attach_clone(&segment, &larger).unwrap_err();
    let (have, need) = (segment.layout().total as u64, larger.layout().total as u64);
    assert!(matches!(err, SegmentError::TooSmall { found, needed } if found == have && needed == need), "{err}");
}

#[test]
fn refuses_other_total_size_and_geometry() {
    let segment = Segment::create(&small_geometry()).unwrap();
    let mut fewer = small_geometry();
    fewer.classes.pop();
    let err = attach_clone(&segment, &fewer).unwrap_err();
    assert!(matches!(err, SegmentError::TotalSize { .. }), "{err}");
    let mut inline = small_geometry();
    inline.inline_max = 128;
    let err = attach_clone(&segment, &inline).unwrap_err();
    assert!(matches!(&err, SegmentError::GeometryMismatch(m) if m.contains("inline")), "{err}");
    // 3 x 704 B takes the same room as 8 x 256 B (headers included, rounded to 64): same total.
    let mut same_size = small_geometry();
    same_size.classes[0] = SlotClass { slot_size: 704, slot_count: 3 };
    assert_eq!(same_size.layout().total, segment.layout().total);
    let err = attach_clone(&segment, &same_size).unwrap_err();
    assert!(matches!(&err, SegmentError::GeometryMismatch(m) if m.contains("class 0")), "{err}");
    let mut bad = small_geometry();
    bad.ring_capacity = 1000;
    let err = attach_clone(&segment, &bad).unwrap_err();
    assert!(matches!(err, SegmentError::Geometry(_)), "{err}");
}

#[test]
fn refuses_an_unsealed_memfd() {
    let geometry = small_geometry();
    let name = c"plughost-test-unsealed";
    // SAFETY: a NUL-terminated name and valid flags.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    assert!(fd >= 0);
    // SAFETY: a fresh descriptor nothing else owns.
    let file = unsafe { std::fs::File::from_raw_fd(fd) };
    file.set_len(geometry.layout().total as u64).unwrap();
    let err = Segment::attach_fd(file.into(), &geometry).unwrap_err();
    assert!(matches!(err, SegmentError::NotSealed { .. }), "{err}");
}

#[test]
fn sealing_prevents_resizing() {
    let segment = Segment::create(&small_geometry()).unwrap();
    let file = std::fs::File::from(segment.try_clone_fd().unwrap());
    let total = segment.layout().total as u64;
    for size in [total - 4096, 0, total + 4096] {
        let err = file.set_len(size).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPERM), "ftruncate to {size}");
    }
    assert_eq!(file.metadata().unwrap().len(), total);
    // SAFETY: fcntl with an integer argument on our own descriptor.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, libc::F_SEAL_WRITE) };
    assert_eq!(rc, -1, "F_SEAL_SEAL forbids further seals");
}

#[test]
fn fallback_file_is_private_and_unlinked_once_attached() {
    let dir = tempfile::tempdir().unwrap();
    let geometry = small_geometry();
    let a = Segment::create_with(&geometry, &Backing::File(dir.path().to_path_buf())).unwrap();
    assert_eq!(a.kind(), SegmentKind::File);
    let path = a.path().unwrap();
    let name = path.file_name().unwrap().to_str().unwrap().to_owned();
    let random = name.strip_prefix(&format!("plughost-{}-", std::process::id())).unwrap();
    assert!(random.len() == 32 && random.bytes().all(|b| b.is_ascii_hexdigit()), "{name}");
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), a.layout().total as u64);
    let b = attach_clone(&a, &geometry).unwrap();
    assert_eq!(b.kind(), SegmentKind::File);
    assert!(path.exists(), "still named until the creator sees the attacher");
    assert!(a.peer_attached());
    assert!(!path.exists() && a.path().is_none());
    a.region().write(HEADER_END, b"after unlink").unwrap();
    let mut seen = [0u8; 12];
    b.region().read(HEADER_END, &mut seen).unwrap();
    assert_eq!(&seen, b"after unlink");
}

#[test]
fn fallback_file_goes_with_its_creator() {
    let dir = tempfile::tempdir().unwrap();
    let segment = Segment::create_with(&small_geometry(), &Backing::File(dir.path().to_path_buf())).unwrap();
    let path = segment.path().unwrap();
    assert!(path.exists());
    drop(segment);
    assert!(!path.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn sweep_removes_only_files_of_dead_owners() {
    let dir = tempfile::tempdir().unwrap();
    let random = "0123456789abcdef0123456789abcdef";
    let dead = dir.path().join(format!("plughost-999999999-{random}"));
    let mine = dir.path().join(format!("plughost-{}-{random}", std::process::id()));
    let parent = dir.path().join(format!("plughost-{}-{random}", std::os::unix::process::parent_id()));
    let short = dir.path().join("plughost-999999999-abc");
    let other = dir.path().join("unrelated");
    for f in [&dead, &mine, &parent, &short, &other] {
        std::fs::write(f, b"x").unwrap();
    }
    let dead_dir = dir.path().join(format!("plughost-999999998-{random}"));
    std::fs::create_dir(&dead_dir).unwrap();
    assert_eq!(sweep_stale_in(dir.path()), 1);
    assert!(!dead.exists());
    assert!(mine.exists() && parent.exists() && short.exists() && other.exists() && dead_dir.exists());
    assert_eq!(sweep_stale_in(&dir.path().join("missing")), 0);
}

#[test]
fn two_segments_do_not_see_each_others_data() {
    let geometry = small_geometry();
    let (a, b) = (Segment::create(&geometry).unwrap(), Segment::create(&geometry).unwrap());
    let pa = SlotPool::new(&a, 0).unwrap();
    let pb = SlotPool::new(&b, 0).unwrap();
    let da = pa.put(b"secret of session a").unwrap();
    assert_eq!(pb.free_slots(0), Ok(8), "b's pool is untouched");
    let mut seen = vec![0u8; 19];
    let offset = b.layout().pools[0][0].data + da.index as usize * 256;
    b.region().read(offset, &mut seen).unwrap();
    assert!(seen.iter().all(|&x| x == 0), "b's slot memory is its own");
    let err = pb.take(da).unwrap_err();
    assert!(err.is_corruption(), "a's descriptor means nothing in b: {err}");
    let a2 = attach_clone(&a, &geometry).unwrap();
    let b2 = attach_clone(&b, &geometry).unwrap();
    assert_eq!(SlotPool::new(&a2, 0).unwrap().take(da).unwrap(), b"secret of session a");
    assert_eq!(SlotPool::new(&b2, 0).unwrap().free_slots(0), Ok(8));
}

#[test]
fn handoff_tokens_naming_other_objects_are_refused_without_taking_them() {
    let geometry = small_geometry();
    let segment = Segment::create(&geometry).unwrap();
    let fd = segment.try_clone_fd().unwrap();
    let meta = std::fs::File::from(fd.try_clone().unwrap()).metadata().unwrap();
    use std::os::unix::fs::MetadataExt;
    let raw = fd.as_raw_fd();
    for token in [
        format!("fd:{raw}:{}:{}", meta.dev(), meta.ino() + 1),
        format!("fd:{raw}:{}", meta.dev()),
        format!("handle:{raw}"),
        "fd:999999:1:1".to_string(),
    ] {
        // SAFETY: each token is refused before ownership is taken (what this test checks).
        let err = unsafe { Segment::attach_token(&token, &geometry) }.unwrap_err();
        assert!(matches!(err, SegmentError::Handoff(_)), "{token}: {err}");
    }
    // SAFETY: F_GETFD on a number this test owns.
    assert!(unsafe { libc::fcntl(raw, libc::F_GETFD) } >= 0, "the refused token's descriptor is still open");
    let token = format!("fd:{raw}:{}:{}", meta.dev(), meta.ino());
    std::mem::forget(fd);
    // SAFETY: ownership of `raw` was given up just above; the token is used once.
    let attached = unsafe { Segment::attach_token(&token, &geometry) }.unwrap();
    assert_eq!(attached.role(), Role::Attacher);
    // SAFETY: F_GETFD only reads flags.
    let flags = unsafe { libc::fcntl(raw, libc::F_GETFD) };
    assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC, "grandchildren do not inherit it");
}

#[test]
fn the_default_geometry_carries_a_1_mib_payload() {
    let segment = Segment::create(&Geometry::default()).unwrap();
    assert!(segment.layout().total > 40 << 20);
    let pool = SlotPool::new(&segment, 1).unwrap();
    assert_eq!(pool.free_slots(2), Ok(16));
    let big = vec![7u8; 1 << 20];
    let d = pool.put(&big).unwrap();
    assert_eq!(d.class, 2);
    assert_eq!(pool.take(d).unwrap(), big);
}
