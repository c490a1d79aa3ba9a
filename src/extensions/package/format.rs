//! The package file: a zip (stored or deflated entries) holding `extension.toml`, the extension's
//! files and `SIGNATURE.json`, all below one root. Reading checks every entry (paths that leave
//! the package, symlinks, sizes, counts) and records every problem instead of stopping at the
//! first; writing is shared by `pack` and `sign`.

use crate::error::{Error, ErrorKind, Result};
use crate::extensions::manifest::is_inside;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

/// The signature's file name at the package's root.
pub const SIGNATURE_FILE: &str = "SIGNATURE.json";

/// The usual file name extension of a package.
pub const FILE_EXTENSION: &str = "plpkg";

/// One file of a package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackedFile {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its Unix permission bits (0o644 when the package does not say).
    pub mode: u32,
}

/// The files of a package by `/`-separated path (without the signature), and the signature's bytes.
#[derive(Debug, Default)]
pub struct Contents {
    /// The files, sorted by path.
    pub files: BTreeMap<String, PackedFile>,
    /// `SIGNATURE.json`, when present.
    pub signature: Option<Vec<u8>>,
}

/// What a package may hold at most.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Total uncompressed bytes.
    pub max_bytes: u64,
    /// Entries.
    pub max_files: usize,
}

const SYMLINK: u32 = 0o120_000;
const FILE_TYPE: u32 = 0o170_000;

/// Read the package at `path`, adding every problem to `problems`. `None` when it cannot be read
/// as a zip at all.
pub fn read(path: &Path, limits: Limits, problems: &mut Vec<String>) -> Option<Contents> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) => {
            problems.push(format!("cannot open the package: {e}"));
            return None;
        }
    };
    let mut archive = match zip::ZipArchive::new(std::io::BufReader::new(file)) {
        Ok(archive) => archive,
        Err(e) => {
            problems.push(format!("not a valid zip file: {e}"));
            return None;
        }
    };
    if let Some(declared) = declared_entries(path).filter(|n| *n != archive.len()) {
        problems.push(format!(
            "the zip directory lists {declared} entries but only {} distinct names: some names are present twice",
            archive.len()
        ));
    }
    if archive.len() > limits.max_files {
        problems.push(format!("holds {} entries; at most {} are allowed", archive.len(), limits.max_files));
        return None;
    }
    let mut contents = Contents::default();
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let mut entry = match archive.by_index(index) {
            Ok(entry) => entry,
            Err(e) => {
                problems.push(format!("entry {index} cannot be read: {e}"));
                continue;
            }
        };
        let name = entry.name().trim_end_matches('/').to_owned();
        if !is_inside(&name) || entry.enclosed_name().is_none() {
            problems.push(format!("{:?}: an absolute path or one that leaves the package", entry.name()));
            continue;
        }
        if !is_canonical(&name) {
            problems.push(format!("{name:?}: not a plain relative path (empty or '.' parts, control characters)"));
            continue;
        }
        let mode = entry.unix_mode().unwrap_or(0o644);
        if entry.is_symlink() || mode & FILE_TYPE == SYMLINK {
            problems.push(format!("{name}: symbolic links are not allowed"));
            continue;
        }
        if entry.is_dir() {
            continue;
        }
        if !matches!(entry.compression(), CompressionMethod::Stored | CompressionMethod::Deflated) {
            problems.push(format!(
                "{name}: compression {} is not supported (stored or deflated only)",
                entry.compression()
            ));
            continue;
        }
        let allowance = limits.max_bytes.saturating_sub(total);
        if entry.size() > allowance {
            problems.push(format!(
                "{name}: {} bytes would exceed the package limit of {} bytes",
                entry.size(),
                limits.max_bytes
            ));
            return Some(contents);
        }
        // The declared size may lie: read at most what is left plus one byte.
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        if let Err(e) = (&mut entry).take(allowance + 1).read_to_end(&mut bytes) {
            problems.push(format!("{name}: cannot be read: {e}"));
            continue;
        }
        if bytes.len() as u64 > allowance {
            problems.push(format!("{name}: expands beyond the package limit of {} bytes", limits.max_bytes));
            return Some(contents);
        }
        total += bytes.len() as u64;
        if name == SIGNATURE_FILE {
            contents.signature = Some(bytes);
        } else if contents.files.insert(name.clone(), PackedFile { bytes, mode: mode & 0o777 }).is_some() {
            problems.push(format!("{name}: present twice"));
        }
    }
    Some(contents)
}

/// The entry count the end-of-central-directory record of the zip at `path` declares (`None` when
/// it cannot be read, or is a ZIP64 marker). The zip reader keys entries by name, so a second entry
/// of a name would otherwise go unseen.
fn declared_entries(path: &Path) -> Option<usize> {
    use std::io::{Seek, SeekFrom};
    let mut file = std::fs::File::open(path).ok()?;
    let length = file.metadata().ok()?.len();
    // The record is 22 bytes plus a comment of up to 65535 bytes, at the end of the file.
    let tail = length.min(22 + 65_535);
    file.seek(SeekFrom::Start(length - tail)).ok()?;
    let mut bytes = Vec::with_capacity(tail as usize);
    file.read_to_end(&mut bytes).ok()?;
    let at = (0..=bytes.len().checked_sub(22)?).rev().find(|&i| bytes[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])?;
    let total = u16::from_le_bytes([bytes[at + 10], bytes[at + 11]]);
    (total != u16::MAX).then_some(usize::from(total))
}

/// Whether `path` (already known to stay inside) is written one way only: no empty or `.` parts,
/// no control characters (a newline would make the signed listing ambiguous).
fn is_canonical(path: &str) -> bool {
    path.split('/').all(|part| !part.is_empty() && part != ".") && !path.chars().any(char::is_control)
}

/// Write a package of `files` and `signature` (JSON) to `out`: into a temporary file next to it,
/// then renamed over it, so `out` is never half-written.
pub fn write(out: &Path, files: &BTreeMap<String, PackedFile>, signature: Option<&[u8]>) -> Result<()> {
    let io =
        |what: &str, e: &dyn std::fmt::Display| Error::new(ErrorKind::Io, format!("{}: {what}: {e}", out.display()));
    let temp = out.with_extension(format!("tmp-{}", std::process::id()));
    let result = (|| {
        let file = std::fs::File::create(&temp).map_err(|e| io("cannot create", &e))?;
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
        let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        for (name, file) in files {
            zip.start_file(name.as_str(), options.unix_permissions(file.mode)).map_err(|e| io(name, &e))?;
            zip.write_all(&file.bytes).map_err(|e| io(name, &e))?;
        }
        if let Some(signature) = signature {
            zip.start_file(SIGNATURE_FILE, options.unix_permissions(0o644)).map_err(|e| io(SIGNATURE_FILE, &e))?;
            zip.write_all(signature).map_err(|e| io(SIGNATURE_FILE, &e))?;
        }
        let mut writer = zip.finish().map_err(|e| io("cannot finish", &e))?;
        writer.flush().map_err(|e| io("cannot write", &e))?;
        drop(writer);
        std::fs::rename(&temp, out).map_err(|e| io("cannot rename the finished package into place", &e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
