//! Packages (`.plpkg`): one zip file holding an extension's manifest, its files and a signature.
//!
//! - `format.rs`: reading (every entry checked) and writing the zip.
//! - `sign.rs`: publisher keys, the signed digest, `SIGNATURE.json`.
//! - `validate.rs`: every problem of a package at once.
//! - `pack.rs`: a folder into a package; (re)signing a package.
//! - `install.rs`: validate, then extract into the store atomically.

mod format;
mod install;
mod pack;
mod sign;
mod validate;

pub use format::{FILE_EXTENSION, SIGNATURE_FILE};
pub use install::{install, Installed};
pub use pack::{pack, sign_package};
pub use sign::{decode_public_key, encode_public_key, SecretKey};
pub use validate::{validate, Report};

/// A new publisher key named `name`.
pub fn generate_key(name: &str) -> crate::Result<SecretKey> {
    SecretKey::generate(name)
}
