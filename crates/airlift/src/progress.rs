//! Progress bars (indicatif) for the engines' progress traits.

use airlift_core::SafeUrl;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// One byte-counting bar on stderr; hidden when stderr is not a terminal or with --json.
pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    pub fn new(visible: bool) -> Self {
        let bar = ProgressBar::with_draw_target(
            None,
            if visible {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        let style = ProgressStyle::with_template(
            "{msg:>8} {bar:30} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Self { bar }
    }
}

impl airlift_bundle::Progress for Bar {
    fn start(&self, label: &str, total: Option<u64>) {
        self.bar.set_message(label.to_owned());
        self.bar.set_position(0);
        self.bar.set_length(total.unwrap_or(0));
    }

    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl airlift_fetch::FetchProgress for Bar {
    fn started(&self, _url: &SafeUrl, total: Option<u64>) {
        self.bar.set_message("collect");
        if let Some(total) = total {
            self.bar.inc_length(total);
        }
    }

    fn advanced(&self, bytes: u64) {
        self.bar.inc(bytes);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
