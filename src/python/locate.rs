//! Finding the worker program and asking it whether Python can start, so that a machine without
//! a usable Python gets one clear `PLUGHOST_ERR_PYTHON_UNAVAILABLE` instead of crash-looping
//! workers.

use super::protocol::{EXIT_PYTHON_UNAVAILABLE, WORKER_PROGRAM};
use crate::error::{Error, ErrorKind, Result};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn unavailable(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::PythonUnavailable, format!("Python unavailable: {}", message.into()))
}

/// The worker program: `configured` when given, else `plughost-python-worker` next to the
/// plughost library, else next to the running executable.
pub fn worker_program(configured: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = configured {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(unavailable(format!(
                "the worker program {} (PlugHost.Python.WorkerPath) does not exist",
                path.display()
            )))
        };
    }
    let name = format!("{WORKER_PROGRAM}{}", std::env::consts::EXE_SUFFIX);
    let folders = [crate::platform::own_image_path(), std::env::current_exe().ok()];
    let candidates: Vec<PathBuf> =
        folders.iter().flatten().filter_map(|image| image.parent().map(|folder| folder.join(&name))).collect();
    candidates.iter().find(|c| c.is_file()).cloned().ok_or_else(|| {
        let looked: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
        unavailable(format!("no {name} found (looked at {}); set PlugHost.Python.WorkerPath", looked.join(", ")))
    })
}

/// Run `program --check`: the Python version it starts (`Python 3.11.7`), or why it cannot.
pub fn check(program: &Path, timeout: Duration) -> Result<String> {
    let mut child = Command::new(program)
        .arg("--check")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| unavailable(format!("cannot start {}: {e}", program.display())))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| unavailable(e.to_string()))? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(unavailable(format!("{} --check did not answer within {timeout:?}", program.display())));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let text = |stream: Option<&mut dyn Read>| {
        let mut text = String::new();
        if let Some(stream) = stream {
            let _ = stream.read_to_string(&mut text);
        }
        text.trim().to_owned()
    };
    let stdout = text(child.stdout.as_mut().map(|s| s as &mut dyn Read));
    let stderr = text(child.stderr.as_mut().map(|s| s as &mut dyn Read));
    match status.code() {
        Some(0) => Ok(stdout),
        Some(EXIT_PYTHON_UNAVAILABLE) => Err(unavailable(stderr)),
        _ => Err(unavailable(format!("{} --check failed ({status}): {stderr}", program.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_configured_program_is_named() {
        let e = worker_program(Some(Path::new("/no/such/worker"))).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PythonUnavailable);
        assert!(e.message().contains("/no/such/worker"), "{}", e.message());
    }

    #[cfg(unix)]
    #[test]
    fn a_program_that_cannot_start_python_is_unavailable_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("worker");
        std::fs::write(
            &fake,
            "#!/bin/sh\necho 'error while loading shared libraries: libpython3.11.so.1.0' >&2\nexit 127\n",
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let e = check(&fake, Duration::from_secs(5)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PythonUnavailable);
        assert!(e.message().contains("libpython3.11.so.1.0"), "{}", e.message());
    }
}
