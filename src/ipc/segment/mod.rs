//! One shared-memory segment per session: created and initialised by peer A (the host), attached
//! by peer B (the plugin or worker process).
//!
//! **Creating** (peer A), from the local [`Geometry`]:
//! - Linux: `memfd_create(MFD_CLOEXEC | MFD_ALLOW_SEALING)` under an unpredictable name,
//!   `ftruncate` to the layout's total size, sealed with `F_SEAL_SHRINK | F_SEAL_GROW |
//!   F_SEAL_SEAL` so that neither peer can resize it under the other's mapping. Nothing to name,
//!   squat or clean up.
//! - Fallback where memfd is unavailable (kernels before 3.17, seccomp filters, other Unix
//!   systems), or on request ([`Backing::File`]): a file `plughost-<pid>-<128-bit random hex>`
//!   under `/dev/shm` (else the temporary folder) created with `O_CREAT | O_EXCL`, mode 0600. Its
//!   name is unlinked once the peer has attached ([`Segment::peer_attached`]) or when the creator
//!   drops the segment; [`sweep_stale`] removes the files of owners that died before that.
//! - Windows: an unnamed pagefile-backed section (`CreateFileMappingW(INVALID_HANDLE_VALUE)`)
//!   and four unnamed semaphores for the wake-ups, none inheritable. Written against windows-sys
//!   0.61, not built or tested here: verified only by reading.
//!
//! The creator writes the header ([`header`]) and formats both directions' slot pools, then
//! publishes the magic last with Release.
//!
//! **Handing over** (Unix): [`Segment::share_with_child`] prepares a `Command`: a duplicate of the
//! descriptor (`F_DUPFD_CLOEXEC`, so no other child spawned meanwhile inherits it) has its
//! close-on-exec flag cleared in the child only, between fork and exec; the environment variable
//! [`HANDOFF_ENV`] carries `fd:<number>:<device>:<inode>`. The child calls
//! [`Segment::attach_from_env`], which checks that the descriptor is the very object the creator
//! shared (device and inode) before taking ownership of it, once per process, and sets
//! close-on-exec again so that grandchildren do not inherit it. Windows: the environment variable
//! says `stdin:<creator pid>` and the child's standard input becomes a pipe; once the child runs,
//! [`Segment::complete_handoff`] duplicates the section and the semaphores into it with
//! `DuplicateHandle` and writes their values there (`handle:<s>;wake:<h0>,<h1>,<h2>,<h3>`, see
//! `token.rs`) as one line to that pipe, which [`Segment::attach_from_env`] reads.
//!
//! **Attaching** (peer B), from its own geometry: the object's size (`fstat`) must be at least the
//! local layout's total; a memfd must carry the seals; then, once, the magic (Acquire), version,
//! header size, total size and the geometry copy are compared with the local values. Each refusal
//! is its own [`SegmentError`] variant. Only the first attacher may claim the segment.

mod error;
pub mod header;
#[cfg(target_os = "linux")]
mod linux;
#[cfg(all(test, target_os = "linux"))]
pub(crate) mod tests;
#[cfg(any(windows, test))]
pub(crate) mod token;
#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

#[cfg(unix)]
use unix as sys;
#[cfg(windows)]
use windows as sys;

pub use error::SegmentError;

use crate::ipc::layout::{Geometry, Layout};
use crate::ipc::raw::SharedRegion;
use crate::ipc::slots::SlotPool;
#[cfg(unix)]
use std::os::fd::OwnedFd;
use std::path::PathBuf;

/// The environment variable that carries the hand-off token to a child process.
pub const HANDOFF_ENV: &str = "PLUGHOST_IPC_SEGMENT";

/// Which side of the segment this process is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Created and initialised the segment (peer A).
    Creator,
    /// Attached to a segment created by the peer (peer B).
    Attacher,
}

/// What kind of memory object backs the segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentKind {
    /// A sealed memfd (Linux).
    Memfd,
    /// A named file created exclusively with mode 0600 (the Unix fallback); not sealed.
    File,
    /// An unnamed section (Windows).
    Section,
}

/// Where a new segment's memory comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Backing {
    /// A sealed memfd on Linux, else a file in `/dev/shm` or the temporary folder (other Unix
    /// systems), an unnamed section on Windows.
    #[default]
    Auto,
    /// A file created exclusively in this folder (the fallback, chosen explicitly).
    #[cfg(unix)]
    File(PathBuf),
}

/// A mapped segment with its layout, computed from the local geometry alone.
pub struct Segment {
    region: SharedRegion,
    layout: Layout,
    geometry: Geometry,
    role: Role,
    // Declared last: the mapping outlives the view above (fields drop in declaration order).
    os: sys::OsSegment,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment")
            .field("role", &self.role)
            .field("kind", &self.os.kind())
            .field("total", &self.layout.total)
            .finish_non_exhaustive()
    }
}

impl Segment {
    /// Create and initialise a segment for `geometry` ([`Backing::Auto`]).
    pub fn create(geometry: &Geometry) -> Result<Self, SegmentError> {
        Self::create_with(geometry, &Backing::Auto)
    }

    /// Create and initialise a segment for `geometry` from the given backing.
    pub fn create_with(geometry: &Geometry, backing: &Backing) -> Result<Self, SegmentError> {
        geometry.validate().map_err(SegmentError::Geometry)?;
        let layout = geometry.layout();
        let os = sys::create(layout.total, backing)?;
        let segment = Self::assemble(os, geometry, layout, Role::Creator);
        header::write(&segment.region, geometry, &segment.layout, std::process::id())?;
        for direction in 0..2 {
            let formatted = SlotPool::new(&segment, direction).and_then(|pool| pool.reclaim_all());
            formatted.map_err(|e| SegmentError::Layout(format!("formatting slot pool {direction}: {e}")))?;
        }
        header::publish(&segment.region)?;
        Ok(segment)
    }

    /// Attach to the segment behind `fd`, checking it against the local `geometry`.
    #[cfg(unix)]
    pub fn attach_fd(fd: OwnedFd, geometry: &Geometry) -> Result<Self, SegmentError> {
        geometry.validate().map_err(SegmentError::Geometry)?;
        let layout = geometry.layout();
        let os = sys::attach_fd(fd, layout.total)?;
        Self::check_and_claim(os, geometry, layout)
    }

    /// Attach to the segment the parent shared through [`HANDOFF_ENV`] (see
    /// [`Segment::share_with_child`]). Takes the inherited descriptor (Windows: the handles named
    /// by the line on standard input) at most once per process; a second call fails.
    #[cfg(any(unix, windows))]
    pub fn attach_from_env(geometry: &Geometry) -> Result<Self, SegmentError> {
        use std::sync::atomic::{AtomicBool, Ordering};
        static TAKEN: AtomicBool = AtomicBool::new(false);
        let env = std::env::var(HANDOFF_ENV)
            .map_err(|_| SegmentError::Handoff(format!("{HANDOFF_ENV} is not set or not text")))?;
        if TAKEN.swap(true, Ordering::AcqRel) {
            return Err(SegmentError::Handoff("the inherited segment was taken already".into()));
        }
        let token = sys::handoff_token(&env)?;
        // SAFETY: the token comes from the parent for this process (Unix: the device and inode
        // check makes sure the descriptor is the object it shared; Windows: the parent duplicated
        // the handles into this process for it), and TAKEN makes this the only owner.
        unsafe { Self::attach_token(&token, geometry) }
    }

    /// Attach to the segment a hand-off token names (`fd:<n>:<dev>:<ino>` on Unix,
    /// `handle:<s>;wake:<h0>,<h1>,<h2>,<h3>` on Windows), taking ownership of that descriptor or
    /// those handles.
    ///
    /// # Safety
    /// Nothing else in this process may own the descriptor or handle the token names, and the same
    /// token must not be attached twice: the segment closes it when dropped. (On Unix a token that
    /// names another object is refused before ownership is taken.)
    pub unsafe fn attach_token(token: &str, geometry: &Geometry) -> Result<Self, SegmentError> {
        geometry.validate().map_err(SegmentError::Geometry)?;
        let layout = geometry.layout();
        // SAFETY: the caller's contract is the callee's.
        let os = unsafe { sys::attach_token(token, layout.total) }?;
        Self::check_and_claim(os, geometry, layout)
    }

    fn check_and_claim(os: sys::OsSegment, geometry: &Geometry, layout: Layout) -> Result<Self, SegmentError> {
        let segment = Self::assemble(os, geometry, layout, Role::Attacher);
        header::check(&segment.region, geometry, &segment.layout)?;
        header::claim_attacher(&segment.region, std::process::id())?;
        Ok(segment)
    }

    fn assemble(os: sys::OsSegment, geometry: &Geometry, layout: Layout, role: Role) -> Self {
        // SAFETY: `os` maps at least `layout.total` bytes (the platform code checked the object's
        // size, or sized it itself) at a page-aligned address, and stays mapped for as long as
        // `region`, which is dropped first. The memory cannot shrink: a memfd is sealed, a section
        // cannot be resized; the unsealed fallback file is the documented exception.
        let region = unsafe { SharedRegion::new(os.ptr(), layout.total) };
        Segment { region, layout, geometry: geometry.clone(), role, os }
    }

    /// Prepare `cmd` so that the child it spawns can attach with [`Segment::attach_from_env`]:
    /// on Unix it inherits the segment and finds the token in [`HANDOFF_ENV`] (use the command for
    /// one child only; its duplicate descriptor is closed in this process when the command is
    /// dropped); on Windows [`HANDOFF_ENV`] names this process and the child's standard input
    /// becomes the pipe that [`Segment::complete_handoff`] writes the token into.
    #[cfg(any(unix, windows))]
    pub fn share_with_child(&self, cmd: &mut std::process::Command) -> Result<(), SegmentError> {
        self.os.share_with_child(cmd)
    }

    /// After spawning the command [`Segment::share_with_child`] prepared: nothing on Unix; on
    /// Windows, duplicate the handles into `child` and write the token to its standard input.
    #[cfg(any(unix, windows))]
    pub fn complete_handoff(&self, child: &std::process::Child) -> Result<(), SegmentError> {
        #[cfg(unix)]
        let _ = child;
        #[cfg(windows)]
        self.os.complete_handoff(child)?;
        Ok(())
    }

    /// Duplicate the section and the semaphores into a started child; returns the token for
    /// [`Segment::attach_token`], which the child must receive by another channel
    /// ([`Segment::complete_handoff`] uses its standard input).
    #[cfg(windows)]
    pub fn share_with_process(&self, child: &std::process::Child) -> Result<String, SegmentError> {
        use std::os::windows::io::AsRawHandle;
        self.os.share_into(child.as_raw_handle())
    }

    /// A second mapping of the same segment in this process, attached as peer B and checked
    /// against `geometry` (both sides of a session in one process, for tests and benchmarks).
    #[cfg(any(unix, windows))]
    pub fn attach_again(&self, geometry: &Geometry) -> Result<Self, SegmentError> {
        #[cfg(unix)]
        return Self::attach_fd(self.try_clone_fd()?, geometry);
        #[cfg(windows)]
        {
            // SAFETY: the pseudo handle of this process, valid for the call.
            let token = self.os.share_into(unsafe { windows_sys::Win32::System::Threading::GetCurrentProcess() })?;
            // SAFETY: the handles were just duplicated into this process for this attach alone.
            unsafe { Self::attach_token(&token, geometry) }
        }
    }

    /// The semaphore of wake-up object `index` (`2 * direction + event`; null when out of range).
    #[cfg(windows)]
    pub(crate) fn wake_object(&self, index: usize) -> windows_sys::Win32::Foundation::HANDLE {
        self.os.wake_object(index)
    }

    /// A new descriptor (close-on-exec) for the same memory object.
    #[cfg(unix)]
    pub fn try_clone_fd(&self) -> Result<OwnedFd, SegmentError> {
        self.os.try_clone_fd()
    }

    /// The bounds-checked view of the whole segment.
    pub fn region(&self) -> &SharedRegion {
        &self.region
    }

    /// The layout computed from the local geometry.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The local geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// Whether this process created or attached.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The kind of memory object.
    pub fn kind(&self) -> SegmentKind {
        self.os.kind()
    }

    /// The fallback file's path while its name exists (the creator only).
    pub fn path(&self) -> Option<PathBuf> {
        self.os.path()
    }

    /// The creator's process id as recorded in the header (peer-written: for diagnostics only).
    pub fn creator_pid(&self) -> u32 {
        header::creator_pid(&self.region)
    }

    /// The attacher's process id as recorded in the header, 0 while nobody has attached
    /// (peer-written: for diagnostics only).
    pub fn attacher_pid(&self) -> u32 {
        header::attacher_pid(&self.region)
    }

    /// Whether both peers are attached. The creator unlinks the fallback file's name the first
    /// time this sees the attacher.
    pub fn peer_attached(&self) -> bool {
        if self.role == Role::Attacher {
            return true;
        }
        let attached = self.attacher_pid() != 0;
        if attached {
            self.os.unlink_name();
        }
        attached
    }
}

/// Remove fallback segment files of owners that no longer run from the default folder; returns how
/// many went. Memfds and Windows sections leave nothing behind.
pub fn sweep_stale() -> usize {
    #[cfg(unix)]
    return unix::sweep_stale_in(&unix::default_dir());
    #[cfg(not(unix))]
    return 0;
}

/// Remove fallback segment files (`plughost-<pid>-<32 hex digits>`) of owners that no longer run
/// from `dir`; returns how many went.
#[cfg(unix)]
pub fn sweep_stale_in(dir: &std::path::Path) -> usize {
    unix::sweep_stale_in(dir)
}
