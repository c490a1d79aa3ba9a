//! What every Unix shares: mapping a segment through its descriptor (memmap2, raw: no Rust
//! reference to the bytes), the fallback file created exclusively with mode 0600, the sweep of
//! stale fallback files, and handing the descriptor to a child.

use super::{Backing, SegmentError, SegmentKind, HANDOFF_ENV};
use memmap2::{MmapOptions, MmapRaw};
use parking_lot::Mutex;
use std::fs::{File, OpenOptions, Permissions};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Name prefix of fallback segment files.
const FILE_PREFIX: &str = "plughost-";

/// The mapped memory object, and the fallback file's name while it exists.
pub(super) struct OsSegment {
    map: MmapRaw,
    file: File,
    kind: SegmentKind,
    name: Mutex<Option<PathBuf>>,
}

impl OsSegment {
    pub(super) fn ptr(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    pub(super) fn kind(&self) -> SegmentKind {
        self.kind
    }

    pub(super) fn path(&self) -> Option<PathBuf> {
        self.name.lock().clone()
    }

    /// Remove the fallback file's name, once; the memory stays mapped on both sides.
    pub(super) fn unlink_name(&self) {
        if let Some(path) = self.name.lock().take() {
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), error = %e, "cannot unlink the segment file");
            }
        }
    }

    pub(super) fn try_clone_fd(&self) -> Result<OwnedFd, SegmentError> {
        dup_at_least(self.file.as_raw_fd(), 0)
    }

    pub(super) fn share_with_child(&self, cmd: &mut Command) -> Result<(), SegmentError> {
        let meta = self.file.metadata().map_err(|e| SegmentError::io("fstat the segment", e))?;
        // At least 3, so that the child's standard streams, set up before `pre_exec`, cannot land
        // on it.
        let dup = dup_at_least(self.file.as_raw_fd(), 3)?;
        let fd = dup.as_raw_fd();
        cmd.env(HANDOFF_ENV, format!("fd:{fd}:{}:{}", meta.dev(), meta.ino()));
        let hook = move || {
            let fd = dup.as_raw_fd();
            // SAFETY: fcntl on a descriptor the child inherited open (the closure owns it in the
            // parent); both calls are async-signal-safe and nothing is allocated.
            unsafe {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        };
        // SAFETY: the hook runs in the child between fork and exec and only calls fcntl (see above).
        unsafe { cmd.pre_exec(hook) };
        Ok(())
    }
}

impl Drop for OsSegment {
    fn drop(&mut self) {
        self.unlink_name();
    }
}

fn dup_at_least(fd: RawFd, min: RawFd) -> Result<OwnedFd, SegmentError> {
    // SAFETY: F_DUPFD_CLOEXEC on an open descriptor returns a new one (close-on-exec) or -1.
    let raw = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) };
    if raw < 0 {
        return Err(SegmentError::last_os("duplicate the segment descriptor"));
    }
    // SAFETY: `raw` is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// 128 random bits as 32 hex digits.
pub(super) fn random_hex() -> Result<String, SegmentError> {
    let mut bytes = [0u8; 16];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| SegmentError::io("read /dev/urandom", e))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The fallback folder: `/dev/shm` where it exists, else the temporary folder.
pub(super) fn default_dir() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// Create the memory object for a new segment of `total` bytes and map it.
pub(super) fn create(total: usize, backing: &Backing) -> Result<OsSegment, SegmentError> {
    match backing {
        Backing::Auto => {
            #[cfg(target_os = "linux")]
            match super::linux::create_memfd(total) {
                Ok(file) => return map(file, total, SegmentKind::Memfd, None),
                Err(e) => tracing::warn!(error = %e, "memfd unavailable; the segment is an unsealed file"),
            }
            create_file(&default_dir(), total)
        }
        Backing::File(dir) => create_file(dir, total),
    }
}

fn create_file(dir: &Path, total: usize) -> Result<OsSegment, SegmentError> {
    for _ in 0..4 {
        let path = dir.join(format!("{FILE_PREFIX}{}-{}", std::process::id(), random_hex()?));
        let file = match OpenOptions::new().read(true).write(true).create_new(true).mode(0o600).open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(SegmentError::io("create the segment file", e)),
        };
        // The mode again, explicitly: a umask can only remove bits, but this states the intent.
        let sized = file.set_permissions(Permissions::from_mode(0o600)).and_then(|()| file.set_len(total as u64));
        if let Err(e) = sized {
            let _ = std::fs::remove_file(&path);
            return Err(SegmentError::io("size the segment file", e));
        }
        return map(file, total, SegmentKind::File, Some(path));
    }
    Err(SegmentError::io("create the segment file", std::io::ErrorKind::AlreadyExists.into()))
}

/// Attach to the object behind `fd`: its size must hold `total` bytes; a memfd must be sealed.
pub(super) fn attach_fd(fd: OwnedFd, total: usize) -> Result<OsSegment, SegmentError> {
    let file = File::from(fd);
    let size = file.metadata().map_err(|e| SegmentError::io("fstat the segment", e))?.len();
    if size < total as u64 {
        return Err(SegmentError::TooSmall { found: size, needed: total as u64 });
    }
    #[cfg(target_os = "linux")]
    let kind = if super::linux::check_seals(&file)? { SegmentKind::Memfd } else { SegmentKind::File };
    #[cfg(not(target_os = "linux"))]
    let kind = SegmentKind::File;
    if kind == SegmentKind::File {
        tracing::warn!("attached to an unsealed segment file: the peer could truncate it");
    }
    map(file, total, kind, None)
}

/// The token for [`attach_token`]: on Unix, the environment variable's value itself.
pub(super) fn handoff_token(env: &str) -> Result<String, SegmentError> {
    Ok(env.to_owned())
}

/// Attach from a token `fd:<n>:<dev>:<ino>`.
///
/// # Safety
/// Nothing else in this process may own descriptor `n`, and the token must be used once.
pub(super) unsafe fn attach_token(token: &str, total: usize) -> Result<OsSegment, SegmentError> {
    let bad = || SegmentError::Handoff(format!("malformed token {token:?}, expected fd:<n>:<dev>:<ino>"));
    let mut parts = token.strip_prefix("fd:").ok_or_else(bad)?.split(':');
    let mut next = || parts.next().and_then(|p| p.parse::<u64>().ok()).ok_or_else(bad);
    let (fd, dev, ino) = (next()?, next()?, next()?);
    let fd = RawFd::try_from(fd).map_err(|_| bad())?;
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes the struct or fails (EBADF for a closed number); nothing is owned yet.
    if unsafe { libc::fstat(fd, stat.as_mut_ptr()) } != 0 {
        return Err(SegmentError::Handoff(format!("descriptor {fd} is not open")));
    }
    // SAFETY: fstat succeeded and filled the struct.
    let stat = unsafe { stat.assume_init() };
    // The field types differ across Unix systems (u64 on Linux).
    #[allow(clippy::unnecessary_cast)]
    let same = stat.st_dev as u64 == dev && stat.st_ino as u64 == ino;
    if !same {
        return Err(SegmentError::Handoff(format!("descriptor {fd} is not the object the creator shared")));
    }
    // SAFETY: the descriptor is open and is the shared object; the caller guarantees that nothing
    // else owns it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: fcntl on the descriptor just taken; close-on-exec keeps it from grandchildren.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
        return Err(SegmentError::last_os("set close-on-exec on the segment"));
    }
    attach_fd(owned, total)
}

fn map(file: File, total: usize, kind: SegmentKind, name: Option<PathBuf>) -> Result<OsSegment, SegmentError> {
    match MmapOptions::new().len(total).map_raw(&file) {
        Ok(map) => Ok(OsSegment { map, file, kind, name: Mutex::new(name) }),
        Err(e) => {
            if let Some(path) = name {
                let _ = std::fs::remove_file(path);
            }
            Err(SegmentError::io("map the segment", e))
        }
    }
}

/// The owner's pid of a fallback file name `plughost-<pid>-<32 hex digits>`.
fn owner_of(name: &str) -> Option<u32> {
    let (pid, random) = name.strip_prefix(FILE_PREFIX)?.split_once('-')?;
    let random_ok = random.len() == 32 && random.bytes().all(|b| b.is_ascii_hexdigit());
    random_ok.then(|| pid.parse().ok()).flatten()
}

/// Remove fallback files in `dir` whose owner no longer runs; returns how many went.
pub(super) fn sweep_stale_in(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(owner_of) else {
            continue;
        };
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file
            && pid != std::process::id()
            && !crate::platform::pid_alive(pid)
            && std::fs::remove_file(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(dir = %dir.display(), removed, "removed stale IPC segment files");
    }
    removed
}
