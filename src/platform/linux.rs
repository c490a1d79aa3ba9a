//! Linux: the ELF pre-check before dlopen, `/proc/self/maps` for mapping checks and process figures.

use super::{ProcessFigures, ProcessUsage};
use std::path::Path;

/// Check an ELF file before `dlopen` maps it: the loader maps segments by the offsets in the
/// program headers, and touching a segment that lies beyond the end of a truncated (half-written)
/// file raises SIGBUS in the whole process. Returns a reason when the file cannot be loaded safely.
pub fn check_image(path: &Path) -> Result<(), String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let mut header = [0u8; 64];
    file.read_exact(&mut header).map_err(|_| format!("{len} bytes is too short for an ELF header"))?;
    if &header[..4] != b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    if header[4] != 2 || header[5] != 1 {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let u16_at = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"));
    let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"));
    let phoff = u64_at(&header, 32);
    let phentsize = u64::from(u16_at(&header, 54));
    let phnum = u64::from(u16_at(&header, 56));
    if phentsize < 56 || phnum == 0 || phnum > 4096 {
        return Err("bad program header table".into());
    }
    let table_end = phentsize.checked_mul(phnum).and_then(|n| n.checked_add(phoff));
    if table_end.is_none_or(|end| end > len) {
        return Err(format!("program headers lie beyond the end of the file ({len} bytes): truncated?"));
    }
    let mut table = vec![0u8; (phentsize * phnum) as usize];
    file.seek(SeekFrom::Start(phoff)).map_err(|e| e.to_string())?;
    file.read_exact(&mut table).map_err(|e| e.to_string())?;
    const PT_LOAD: u32 = 1;
    for entry in table.chunks_exact(phentsize as usize) {
        if u32_at(entry, 0) != PT_LOAD {
            continue;
        }
        let (offset, filesz) = (u64_at(entry, 8), u64_at(entry, 32));
        if offset.checked_add(filesz).is_none_or(|end| end > len) {
            return Err(format!(
                "a loadable segment lies beyond the end of the file ({len} bytes): truncated or still being written"
            ));
        }
    }
    Ok(())
}

/// Whether `path` is mapped into this process. `None` when it cannot be told.
pub fn is_mapped(path: &Path) -> Option<bool> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let needle = path.to_str()?;
    Some(maps.lines().any(|line| line.ends_with(needle) || line.contains(&format!("{needle} "))))
}

/// RSS, threads, open fds and mappings from `/proc/self`.
pub fn process_figures() -> ProcessFigures {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
    };
    ProcessFigures {
        rss_bytes: field("VmRSS:").map(|kb| kb * 1024),
        threads: field("Threads:"),
        open_fds: std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count() as u64),
        mappings: std::fs::read_to_string("/proc/self/maps").ok().map(|m| m.lines().count() as u64),
    }
}

/// CPU time (`/proc/<pid>/stat` utime + stime) and RSS (`/proc/<pid>/statm`) of process `pid`.
pub fn process_usage(pid: u32) -> ProcessUsage {
    // SAFETY: sysconf has no preconditions.
    let (ticks, page) = unsafe { (libc::sysconf(libc::_SC_CLK_TCK), libc::sysconf(libc::_SC_PAGESIZE)) };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let field = |n: usize| after_name.split_whitespace().nth(n).and_then(|v| v.parse::<u64>().ok());
    // utime and stime are fields 14 and 15 of the line, 11 and 12 after the name.
    let cpu_ms = match (field(11), field(12), u64::try_from(ticks).ok().filter(|t| *t > 0)) {
        (Some(user), Some(system), Some(ticks)) => Some((user + system) * 1000 / ticks),
        _ => None,
    };
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap_or_default();
    let resident = statm.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok());
    let rss_bytes = resident.zip(u64::try_from(page).ok()).map(|(pages, size)| pages * size);
    ProcessUsage { cpu_ms, rss_bytes }
}
