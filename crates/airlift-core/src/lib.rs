//! Shared vocabulary of airlift.
//!
//! Everything here is small and has no knowledge of stores, bundles or protocols:
//! the [`Digest`] newtype that names every blob, [`SafeUrl`] which never shows
//! credentials, hashing readers and writers, and the durable-write helper that
//! every crate uses to put a file in place (temp → fsync → rename).

mod digest;
mod dsse;
mod durable;
mod hashing;
mod integrity;
mod safe_url;
mod threaded;

pub use digest::{Digest, DigestError, Sha256};
pub use dsse::dsse_pae;
pub use durable::{fsync_dir, write_file_durably};
pub use hashing::{HashingReader, HashingWriter, copy_hashing};
pub use integrity::{Integrity, IntegrityHasher};
pub use safe_url::SafeUrl;
pub use threaded::{Checkpoint, ThreadedWriter, file_checkpoint};

/// ` (needed by: a ← b ← c)`, or nothing for an empty chain: how error
/// messages say which requirement pulled a package in.
pub fn needed_by(chain: &[String]) -> String {
    if chain.is_empty() {
        String::new()
    } else {
        format!(" (needed by: {})", chain.join(" ← "))
    }
}

/// `bytes` random bytes from the system generator, as lowercase hex
/// (identifiers such as upload sessions).
pub fn random_hex(bytes: usize) -> std::io::Result<String> {
    let mut buffer = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut buffer)
        .map_err(|_| std::io::Error::other("the system random generator failed"))?;
    Ok(hex::encode(buffer))
}

/// Size of the buffers used for streaming copies. Large enough for full-speed
/// SHA-256 and disk I/O, small enough to keep memory flat.
pub const COPY_BUFFER: usize = 256 * 1024;
