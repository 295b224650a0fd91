//! Progress on stderr for the engines' progress traits: an indicatif bar on
//! a terminal, and plain lines every few seconds when stderr is a file or a
//! pipe (CI logs), so a long collect never looks hung.
//!
//! Collect counts items (downloads planned, done) and bytes; the total of
//! bytes is not known up front (each download's size is learned when it
//! starts), so it shows no byte total and no ETA. Pack, verify and import
//! know their total and show an ETA once there is enough to estimate it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use airlift_core::SafeUrl;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// How progress is shown.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A bar (stderr is a terminal).
    Terminal,
    /// Plain lines every [`PLAIN_EVERY`] (stderr is not a terminal).
    Plain,
    /// Nothing.
    Hidden,
}

/// How often a plain progress line is written.
const PLAIN_EVERY: Duration = Duration::from_secs(10);
/// Work shorter than this gets no plain line at all.
const PLAIN_AFTER: Duration = Duration::from_secs(2);

/// What is being done, shared with the plain-line writer.
#[derive(Default)]
struct State {
    phase: Mutex<String>,
    started: Mutex<Option<Instant>>,
    items: AtomicU64,
    items_total: AtomicU64,
    bytes: AtomicU64,
    /// The byte total when the work knows it (pack, import); 0 when not.
    total: AtomicU64,
    stop: AtomicBool,
}

impl State {
    fn line(&self) -> String {
        let phase = self.phase.lock().map(|p| p.clone()).unwrap_or_default();
        let elapsed = self
            .started
            .lock()
            .ok()
            .and_then(|s| *s)
            .map_or(Duration::ZERO, |s| s.elapsed());
        let bytes = self.bytes.load(Ordering::Relaxed);
        let total = self.total.load(Ordering::Relaxed);
        let items = self.items.load(Ordering::Relaxed);
        let items_total = self.items_total.load(Ordering::Relaxed);
        let mut line = format!("{phase}:");
        if items_total > 0 {
            line.push_str(&format!(" {items} of {items_total} items,"));
        }
        if total > 0 {
            line.push_str(&format!(
                " {} of {} ({}%)",
                indicatif::BinaryBytes(bytes),
                indicatif::BinaryBytes(total),
                bytes.saturating_mul(100) / total
            ));
        } else {
            line.push_str(&format!(" {}", indicatif::BinaryBytes(bytes)));
        }
        line.push_str(&format!(", {}s", elapsed.as_secs()));
        if let Some(eta) = eta(elapsed, bytes, total) {
            line.push_str(&format!(", about {}s left", eta.as_secs()));
        }
        line
    }
}

/// An estimate only once it means something: after three seconds and 2 %
/// of a known total (a pack's first second would say "22h").
fn eta(elapsed: Duration, done: u64, total: u64) -> Option<Duration> {
    if total == 0 || done == 0 || elapsed < Duration::from_secs(3) || done * 50 < total {
        return None;
    }
    let rate = done as f64 / elapsed.as_secs_f64();
    Some(Duration::from_secs_f64(
        (total.saturating_sub(done)) as f64 / rate,
    ))
}

/// Progress of one command on stderr.
pub struct Bar {
    bar: ProgressBar,
    state: Arc<State>,
    mode: Mode,
}

fn style(known_total: bool) -> ProgressStyle {
    let template = if known_total {
        "{prefix:>8} {bar:30} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {honest_eta}"
    } else {
        "{prefix:>8} {spinner} {msg} {binary_bytes} {binary_bytes_per_sec} {elapsed}"
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "honest_eta",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let total = state.len().unwrap_or(0);
                match eta(state.elapsed(), state.pos(), total) {
                    Some(eta) => {
                        let _ = write!(w, "{}s left", eta.as_secs());
                    }
                    None => {
                        let _ = write!(w, "estimating");
                    }
                }
            },
        )
}

impl Bar {
    pub fn new(mode: Mode) -> Self {
        let bar = ProgressBar::with_draw_target(
            None,
            if mode == Mode::Terminal {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        bar.set_style(style(false));
        let state = Arc::new(State::default());
        if mode == Mode::Plain {
            let state = state.clone();
            std::thread::spawn(move || plain_lines(&state));
        }
        Self { bar, state, mode }
    }

    /// A new phase ("collect pypi", "pack"): counts start again.
    pub fn phase(&self, name: &str, total: Option<u64>) {
        if let Ok(mut phase) = self.state.phase.lock() {
            *phase = name.to_owned();
        }
        if let Ok(mut started) = self.state.started.lock() {
            *started = Some(Instant::now());
        }
        self.state.items.store(0, Ordering::Relaxed);
        self.state.items_total.store(0, Ordering::Relaxed);
        self.state.bytes.store(0, Ordering::Relaxed);
        self.state
            .total
            .store(total.unwrap_or(0), Ordering::Relaxed);
        tracing::info!(phase = name, total, "started");
        self.bar.reset();
        self.bar.set_style(style(total.is_some()));
        self.bar.set_prefix(name.to_owned());
        self.bar.set_message(String::new());
        self.bar.set_length(total.unwrap_or(0));
        if total.is_none() {
            self.bar.enable_steady_tick(Duration::from_millis(200));
        }
    }

    fn show_items(&self) {
        let items_total = self.state.items_total.load(Ordering::Relaxed);
        if items_total > 0 {
            self.bar.set_message(format!(
                "{} of {items_total} items",
                self.state.items.load(Ordering::Relaxed)
            ));
        }
    }

    fn done(&self) {
        let phase = self
            .state
            .phase
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default();
        if !phase.is_empty() {
            tracing::info!(phase = %phase, bytes = self.state.bytes.load(Ordering::Relaxed), "done");
        }
        if self.mode == Mode::Plain
            && self
                .state
                .started
                .lock()
                .ok()
                .and_then(|s| *s)
                .is_some_and(|s| s.elapsed() >= PLAIN_AFTER)
        {
            progress_line(&format!("{} (done)", self.state.line()));
        }
        self.bar.disable_steady_tick();
    }
}

#[allow(clippy::print_stderr)]
fn progress_line(line: &str) {
    eprintln!("progress: {line}");
}

/// Writes a plain line every [`PLAIN_EVERY`] while a phase runs (none for
/// work shorter than [`PLAIN_AFTER`]).
fn plain_lines(state: &State) {
    let mut last_line = Instant::now();
    let mut announced: Option<Instant> = None;
    while !state.stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(250));
        let Some(started) = state.started.lock().ok().and_then(|s| *s) else {
            continue;
        };
        let fresh = announced != Some(started);
        let due = if fresh {
            started.elapsed() >= PLAIN_AFTER
        } else {
            last_line.elapsed() >= PLAIN_EVERY
        };
        if due {
            progress_line(&state.line());
            last_line = Instant::now();
            announced = Some(started);
        }
    }
}

impl airlift_bundle::Progress for Bar {
    fn start(&self, label: &str, total: Option<u64>) {
        self.phase(label, total);
    }

    fn advance(&self, bytes: u64) {
        self.state.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.bar.inc(bytes);
    }

    fn finish(&self) {
        self.done();
        self.bar.finish_and_clear();
    }
}

impl airlift_fetch::FetchProgress for Bar {
    fn planned(&self, items: u64) {
        self.state.items_total.fetch_add(items, Ordering::Relaxed);
        self.show_items();
    }

    fn started(&self, url: &SafeUrl, total: Option<u64>) {
        tracing::debug!(url = %url, total, "download started");
    }

    fn advanced(&self, bytes: u64) {
        self.state.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.bar.inc(bytes);
    }

    fn finished(&self, _url: &SafeUrl) {
        self.state.items.fetch_add(1, Ordering::Relaxed);
        self.show_items();
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.done();
        self.state.stop.store(true, Ordering::Relaxed);
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_estimate_until_there_is_something_to_go_on() {
        let total = 1000;
        assert_eq!(eta(Duration::from_secs(1), 500, total), None);
        assert_eq!(eta(Duration::from_secs(10), 10, total), None);
        assert_eq!(eta(Duration::from_secs(10), 0, 0), None);
        assert_eq!(
            eta(Duration::from_secs(10), 500, total),
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn a_plain_line_counts_items_and_bytes() {
        let state = State::default();
        *state.phase.lock().unwrap() = "collect pypi".into();
        state.items.store(3, Ordering::Relaxed);
        state.items_total.store(40, Ordering::Relaxed);
        state.bytes.store(2048, Ordering::Relaxed);
        let line = state.line();
        assert!(
            line.starts_with("collect pypi: 3 of 40 items, 2.00 KiB"),
            "{line}"
        );
    }
}
