//! A writer that does its writing on another thread.
//!
//! The thread that produces data (reading, hashing, framing, compressing)
//! hands full buffers to a writer thread that does the `write` calls and, every
//! so often, a durability checkpoint (`fdatasync`), so that flushing to disk
//! overlaps with hashing instead of following it. Memory stays bounded: at most
//! [`QUEUE`] buffers of [`BUFFER`] bytes are in flight.

use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Bytes per buffer handed to the writer thread.
pub const BUFFER: usize = 1 << 20;
/// Buffers queued at most.
pub const QUEUE: usize = 32;

/// What the writer thread calls every `every` bytes, and at the end.
pub struct Checkpoint<W> {
    /// Bytes between two checkpoints.
    pub every: u64,
    /// The checkpoint itself (for a file: `sync_data`).
    pub run: fn(&mut W) -> io::Result<()>,
}

/// A `Write` whose writes happen on a dedicated thread. Call [`finish`](Self::finish)
/// to get the inner writer back and learn about any write error.
pub struct ThreadedWriter<W: Write + Send + 'static> {
    sender: Option<SyncSender<Vec<u8>>>,
    recycled: Receiver<Vec<u8>>,
    buffer: Vec<u8>,
    handle: Option<JoinHandle<io::Result<W>>>,
}

impl<W: Write + Send + 'static> ThreadedWriter<W> {
    /// Starts the writer thread.
    pub fn new(inner: W, checkpoint: Option<Checkpoint<W>>) -> io::Result<Self> {
        let (sender, receiver) = mpsc::sync_channel::<Vec<u8>>(QUEUE);
        let (give_back, recycled) = mpsc::sync_channel::<Vec<u8>>(QUEUE + 2);
        let handle = std::thread::Builder::new()
            .name("airlift-writer".into())
            .spawn(move || {
                let mut inner = inner;
                let mut since_checkpoint = 0u64;
                for mut buffer in receiver {
                    inner.write_all(&buffer)?;
                    since_checkpoint += buffer.len() as u64;
                    if let Some(checkpoint) = &checkpoint
                        && since_checkpoint >= checkpoint.every
                    {
                        inner.flush()?;
                        (checkpoint.run)(&mut inner)?;
                        since_checkpoint = 0;
                    }
                    buffer.clear();
                    // The producer may have finished; a lost buffer is fine.
                    let _ = give_back.try_send(buffer);
                }
                inner.flush()?;
                if let Some(checkpoint) = &checkpoint {
                    (checkpoint.run)(&mut inner)?;
                }
                Ok(inner)
            })?;
        Ok(Self {
            sender: Some(sender),
            recycled,
            buffer: Vec::with_capacity(BUFFER),
            handle: Some(handle),
        })
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let next = self
            .recycled
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BUFFER));
        let full = std::mem::replace(&mut self.buffer, next);
        let sent = self.sender.as_ref().map(|sender| sender.send(full));
        match sent {
            Some(Ok(())) => Ok(()),
            // The writer thread stopped: its own error says why.
            _ => Err(self.join_error()),
        }
    }

    fn join_error(&mut self) -> io::Error {
        self.sender = None;
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(Err(error))) => error,
            Some(Ok(Ok(_))) | None => io::Error::other("writer thread stopped"),
            Some(Err(_)) => io::Error::other("writer thread panicked"),
        }
    }

    /// Writes what is buffered, waits for the writer thread, runs the final
    /// checkpoint, and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.send()?;
        self.sender = None;
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("writer thread panicked")),
            None => Err(io::Error::other("writer thread already stopped")),
        }
    }
}

impl<W: Write + Send + 'static> Write for ThreadedWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = BUFFER - self.buffer.len();
        let take = room.min(data.len());
        self.buffer.extend_from_slice(&data[..take]);
        if self.buffer.len() == BUFFER {
            self.send()?;
        }
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Durability is the job of `finish` and the checkpoints.
        Ok(())
    }
}

impl<W: Write + Send + 'static> Drop for ThreadedWriter<W> {
    fn drop(&mut self) {
        self.sender = None;
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// The usual checkpoint for files: `fdatasync` every 64 MiB.
pub fn file_checkpoint() -> Checkpoint<std::fs::File> {
    Checkpoint {
        every: 64 << 20,
        run: |file| file.sync_data(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_arrive_in_order_and_errors_surface() {
        let mut writer = ThreadedWriter::new(Vec::new(), None).expect("start");
        let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
        for chunk in data.chunks(7919) {
            writer.write_all(chunk).expect("write");
        }
        assert_eq!(writer.finish().expect("finish"), data);

        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut writer = ThreadedWriter::new(Full, None).expect("start");
        let mut result = Ok(());
        for _ in 0..20 {
            result = writer.write_all(&[0u8; 1 << 20]);
            if result.is_err() {
                break;
            }
        }
        let error = result
            .and_then(|()| writer.finish().map(|_| ()))
            .expect_err("error lost");
        assert_eq!(error.kind(), io::ErrorKind::StorageFull);
    }
}
