//! `plughost_buffer`: bytes plughost returns (command output, health JSON, service results), held
//! until the caller frees them.
//!
//! A buffer is a generation-checked 64-bit id, not a pointer, so a double free or a stale id is
//! reported as `PLUGHOST_ERR_INVALID_HANDLE` instead of corrupting memory. Ids live in sharded
//! tables; a thread keeps to one shard, so threads rarely contend. Empty results are the id 0,
//! which holds no bytes and needs no free, so a command without output costs no table entry.

use super::args;
use super::boundary::status;
use crate::error::{Error, ErrorKind, Result};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A buffer id. 0 is the empty buffer: plughost returns it for empty results; reading it gives
/// length 0, and freeing it does nothing.
pub type plughost_buffer = u64;

const SHARDS: usize = 16;
const INDEX_BITS: u32 = 24;

#[derive(Default)]
struct Slot {
    generation: u32,
    data: Option<Vec<u8>>,
}

#[derive(Default)]
struct Shard {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

static TABLE: [Mutex<Shard>; SHARDS] = [const { Mutex::new(Shard { slots: Vec::new(), free: Vec::new() }) }; SHARDS];
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static MY_SHARD: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
}

fn encode(shard: usize, index: u32, generation: u32) -> u64 {
    (u64::from(generation) << 32) | ((shard as u64) << INDEX_BITS) | (u64::from(index) + 1)
}

fn decode(id: u64) -> Option<(usize, usize, u32)> {
    let low = (id & 0xffff_ffff) as u32;
    let shard = (low >> INDEX_BITS) as usize;
    let index = (low & ((1 << INDEX_BITS) - 1)).checked_sub(1)? as usize;
    (shard < SHARDS).then_some((shard, index, (id >> 32) as u32))
}

fn stale(id: u64) -> Error {
    Error::new(ErrorKind::InvalidHandle, format!("buffer {id:#x} is freed or was never issued"))
}

/// Keep `data` and return its id (0 for empty data).
pub(crate) fn store(data: Vec<u8>) -> Result<plughost_buffer> {
    if data.is_empty() {
        return Ok(0);
    }
    let shard_index = MY_SHARD.with(|s| *s);
    let mut shard = TABLE[shard_index].lock();
    let index = match shard.free.pop() {
        Some(i) => i,
        None => {
            let i = shard.slots.len() as u32;
            if i + 1 >= 1 << INDEX_BITS {
                return Err(Error::new(ErrorKind::LimitReached, "too many live buffers; free some"));
            }
            shard.slots.push(Slot::default());
            i
        }
    };
    let slot = &mut shard.slots[index as usize];
    slot.generation = slot.generation.wrapping_add(1).max(1);
    slot.data = Some(data);
    Ok(encode(shard_index, index, slot.generation))
}

/// Store `data` and write its id through `out`.
///
/// # Safety
/// `out` came from `args::out`.
pub(crate) unsafe fn store_into(out: *mut plughost_buffer, data: Vec<u8>) -> Result<()> {
    let id = store(data)?;
    // SAFETY: the caller's contract.
    unsafe { args::write(out, id) };
    Ok(())
}

/// Get a buffer's bytes: the pointer stays valid until the buffer is freed.
///
/// Writes the address of the first byte to `out_data` and the length to `out_len`. The empty
/// buffer 0 gives a non-NULL pointer and length 0.
///
/// Returns `PLUGHOST_ERR_INVALID_HANDLE` for a freed or unknown id, `PLUGHOST_ERR_NULL_ARGUMENT`
/// for a NULL out-pointer.
///
/// # Safety
/// The out-pointers must be valid for writes.
///
/// Threads: any; a buffer may be read from several threads at once, but must not be freed while
/// another thread reads it.
#[no_mangle]
pub unsafe extern "C" fn plughost_buffer_data(
    buffer: plughost_buffer,
    out_data: *mut *const u8,
    out_len: *mut usize,
) -> i32 {
    status(|| {
        let out_data = args::out(out_data, "out_data")?;
        let out_len = args::out(out_len, "out_len")?;
        if buffer == 0 {
            // SAFETY: both out-pointers were checked and are valid for writes.
            unsafe {
                args::write(out_data, std::ptr::NonNull::<u8>::dangling().as_ptr() as *const u8);
                args::write(out_len, 0);
            }
            return Ok(());
        }
        let (shard, index, generation) = decode(buffer).ok_or_else(|| stale(buffer))?;
        let table = TABLE[shard].lock();
        let data = table
            .slots
            .get(index)
            .filter(|s| s.generation == generation)
            .and_then(|s| s.data.as_ref())
            .ok_or_else(|| stale(buffer))?;
        let pointer = data.as_ptr();
        // SAFETY: both out-pointers were checked and are valid for writes.
        unsafe {
            args::write(out_data, pointer);
            args::write(out_len, data.len());
        }
        Ok(())
    })
}

/// Free a buffer. 0 (the empty buffer) is a no-op returning `PLUGHOST_OK`; a freed or unknown id returns
/// `PLUGHOST_ERR_INVALID_HANDLE` and changes nothing.
///
/// Threads: any.
#[no_mangle]
pub extern "C" fn plughost_buffer_free(buffer: plughost_buffer) -> i32 {
    status(|| {
        if buffer == 0 {
            return Ok(());
        }
        let (shard, index, generation) = decode(buffer).ok_or_else(|| stale(buffer))?;
        let data = {
            let mut table = TABLE[shard].lock();
            let slot =
                table.slots.get_mut(index).filter(|s| s.generation == generation).ok_or_else(|| stale(buffer))?;
            let data = slot.data.take().ok_or_else(|| stale(buffer))?;
            table.free.push(index as u32);
            data
        };
        drop(data);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::*;

    #[test]
    fn store_read_free_and_detect_double_free() {
        let id = store(b"abc".to_vec()).unwrap();
        let (mut ptr, mut len) = (std::ptr::null(), 0usize);
        // SAFETY: valid out-pointers.
        assert_eq!(unsafe { plughost_buffer_data(id, &mut ptr, &mut len) }, PLUGHOST_OK);
        // SAFETY: the buffer is live and holds `len` bytes.
        assert_eq!(unsafe { std::slice::from_raw_parts(ptr, len) }, b"abc");
        assert_eq!(plughost_buffer_free(id), PLUGHOST_OK);
        assert_eq!(plughost_buffer_free(id), PLUGHOST_ERR_INVALID_HANDLE);
        // SAFETY: valid out-pointers.
        assert_eq!(unsafe { plughost_buffer_data(id, &mut ptr, &mut len) }, PLUGHOST_ERR_INVALID_HANDLE);
        let reused = store(b"x".to_vec()).unwrap();
        assert_ne!(reused, id, "a reused slot gets a new generation");
        assert_eq!(store(Vec::new()).unwrap(), 0, "empty results are the empty buffer");
        // SAFETY: valid out-pointers.
        assert_eq!(unsafe { plughost_buffer_data(0, &mut ptr, &mut len) }, PLUGHOST_OK);
        assert!(!ptr.is_null());
        assert_eq!(len, 0);
        assert_eq!(plughost_buffer_free(0), PLUGHOST_OK);
        assert_eq!(plughost_buffer_free(u64::MAX), PLUGHOST_ERR_INVALID_HANDLE);
        // SAFETY: NULL out-pointer is reported, not written.
        assert_eq!(unsafe { plughost_buffer_data(reused, std::ptr::null_mut(), &mut len) }, PLUGHOST_ERR_NULL_ARGUMENT);
        assert_eq!(plughost_buffer_free(reused), PLUGHOST_OK);
    }
}
