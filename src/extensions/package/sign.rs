//! Publisher keys and package signatures.
//!
//! `SIGNATURE.json` holds the key's name and public key, the SHA-256 of every file of the package
//! by path, and an ed25519 signature over the SHA-256 digest of the canonical listing:
//! `plughost-package-v1\n` followed by one line `<sha256 hex>  <path>\n` per file, sorted by path
//! (byte order). A change, addition or removal of any file, or a replaced signature, is detected.

use super::format::PackedFile;
use crate::error::{Error, ErrorKind, Result};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The first line of the canonical listing (the format's version).
const LISTING_HEADER: &str = "plughost-package-v1\n";

/// A publisher's secret key, with the name packages are signed as.
pub struct SecretKey {
    /// The key's name (as listed in `TrustedKeys`).
    pub name: String,
    key: SigningKey,
}

/// The secret key file: JSON `{"name", "secret_key", "public_key"}` (base64).
#[derive(serde::Serialize, serde::Deserialize)]
struct KeyFile {
    name: String,
    secret_key: String,
    public_key: String,
}

impl SecretKey {
    /// A new random key named `name` (1 to 64 letters, digits, `.`, `_`, `-`).
    pub fn generate(name: &str) -> Result<Self> {
        if !crate::config::valid_plugin_name(name) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("key name {name:?} must be 1 to 64 letters, digits, '.', '_' or '-'"),
            ));
        }
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed)
            .map_err(|e| Error::new(ErrorKind::Io, format!("no randomness from the operating system: {e}")))?;
        Ok(SecretKey { name: name.to_owned(), key: SigningKey::from_bytes(&seed) })
    }

    /// The key as the text of a key file (keep it secret).
    pub fn to_text(&self) -> String {
        let file = KeyFile {
            name: self.name.clone(),
            secret_key: BASE64.encode(self.key.to_bytes()),
            public_key: self.public_key_text(),
        };
        serde_json::to_string_pretty(&file).expect("a key file serialises")
    }

    /// Read a key file's text.
    pub fn from_text(text: &str) -> Result<Self> {
        let bad = |why: String| Error::new(ErrorKind::InvalidArgument, format!("not a plughost key file: {why}"));
        let file: KeyFile = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let seed: [u8; 32] = BASE64
            .decode(file.secret_key.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("secret_key is not 32 bytes of base64".into()))?;
        Ok(SecretKey { name: file.name, key: SigningKey::from_bytes(&seed) })
    }

    /// The public key's 32 bytes.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The public key in base64, as `TrustedKeys[i].PublicKey` takes it.
    pub fn public_key_text(&self) -> String {
        encode_public_key(&self.public_key())
    }
}

/// A public key in base64.
pub fn encode_public_key(key: &[u8; 32]) -> String {
    BASE64.encode(key)
}

/// A base64 public key's 32 bytes, `None` when it is not one.
pub fn decode_public_key(text: &str) -> Option<[u8; 32]> {
    let bytes: [u8; 32] = BASE64.decode(text.trim()).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok().map(|k| k.to_bytes())
}

/// `SIGNATURE.json`.
#[derive(serde::Serialize, serde::Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// The format (1).
    pub format: u32,
    /// The signing key's name.
    pub key: String,
    /// Its public key (base64).
    pub public_key: String,
    /// The SHA-256 (hex) of every file by path.
    pub files: BTreeMap<String, String>,
    /// The ed25519 signature (base64) over the digest of the listing of `files`.
    pub signature: String,
}

/// The SHA-256 of `bytes` in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The digest that is signed: SHA-256 of the canonical listing of `files` (path -> hash).
fn digest(files: &BTreeMap<String, String>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(LISTING_HEADER);
    for (path, hash) in files {
        hasher.update(format!("{hash}  {path}\n"));
    }
    hasher.finalize().into()
}

/// Sign `files` with `key`: the `SIGNATURE.json` bytes.
pub fn sign(files: &BTreeMap<String, PackedFile>, key: &SecretKey) -> Vec<u8> {
    let hashes: BTreeMap<String, String> = files.iter().map(|(p, f)| (p.clone(), sha256_hex(&f.bytes))).collect();
    let signature = key.key.sign(&digest(&hashes));
    let document = Signature {
        format: 1,
        key: key.name.clone(),
        public_key: key.public_key_text(),
        files: hashes,
        signature: BASE64.encode(signature.to_bytes()),
    };
    serde_json::to_vec_pretty(&document).expect("a signature serialises")
}

/// Check `signature` (the bytes of `SIGNATURE.json`) against `files`, adding every problem:
/// files added, removed or changed after signing, and a signature that does not verify.
/// Returns the parsed signature with its public key when it verifies.
pub fn verify(
    signature: &[u8],
    files: &BTreeMap<String, PackedFile>,
    problems: &mut Vec<String>,
) -> Option<(Signature, [u8; 32])> {
    let document: Signature = match serde_json::from_slice(signature) {
        Ok(d) => d,
        Err(e) => {
            problems.push(format!("{}: not a valid signature file: {e}", super::format::SIGNATURE_FILE));
            return None;
        }
    };
    if document.format != 1 {
        problems.push(format!("{}: format {} is not supported (1 is)", super::format::SIGNATURE_FILE, document.format));
        return None;
    }
    for (path, file) in files {
        match document.files.get(path) {
            None => problems.push(format!("{path}: not covered by the signature (added after signing)")),
            Some(hash) if *hash != sha256_hex(&file.bytes) => {
                problems.push(format!("{path}: changed after signing (its SHA-256 differs)"))
            }
            Some(_) => {}
        }
    }
    for path in document.files.keys().filter(|p| !files.contains_key(*p)) {
        problems.push(format!("{path}: signed but missing from the package (removed after signing)"));
    }
    let Some(public) = decode_public_key(&document.public_key) else {
        problems.push(format!("{}: public_key is not an ed25519 key in base64", super::format::SIGNATURE_FILE));
        return None;
    };
    let signature = BASE64
        .decode(document.signature.trim())
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .map(|b| ed25519_dalek::Signature::from_bytes(&b));
    let key = VerifyingKey::from_bytes(&public).expect("checked by decode_public_key");
    match signature {
        Some(s) if key.verify_strict(&digest(&document.files), &s).is_ok() => Some((document, public)),
        _ => {
            problems.push(format!(
                "the signature of key \"{}\" does not verify: the signature or the listing was replaced or damaged",
                document.key
            ));
            None
        }
    }
}
