//! Shared vocabulary of airlift.
//!
//! Everything here is small and has no knowledge of stores, bundles or protocols:
//! the [`Digest`] newtype that names every blob, [`SafeUrl`] which never shows
//! credentials, hashing readers and writers, and the durable-write helper that
//! every crate uses to put a file in place (temp → fsync → rename).

mod digest;
mod durable;
mod hashing;
mod safe_url;
mod threaded;

pub use digest::{Digest, DigestError, Sha256};
pub use durable::{fsync_dir, write_file_durably};
pub use hashing::{HashingReader, HashingWriter, copy_hashing};
pub use safe_url::SafeUrl;
pub use threaded::{Checkpoint, ThreadedWriter, file_checkpoint};

/// Size of the buffers used for streaming copies. Large enough for full-speed
/// SHA-256 and disk I/O, small enough to keep memory flat.
pub const COPY_BUFFER: usize = 256 * 1024;
