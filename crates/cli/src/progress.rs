//! A progress bar on standard error, drawn only when it is a terminal.

use std::io::{IsTerminal, Write};

pub struct Progress {
    enabled: bool,
    drawn: i64,
}

impl Progress {
    pub fn new() -> Progress {
        Progress { enabled: std::io::stderr().is_terminal(), drawn: -1 }
    }

    pub fn update(&mut self, share: f64) {
        if !self.enabled {
            return;
        }
        let percent = (share.clamp(0.0, 1.0) * 100.0).round() as i64;
        if percent == self.drawn {
            return;
        }
        self.drawn = percent;
        let filled = (percent / 5) as usize;
        let mut err = std::io::stderr();
        let _ = write!(err, "\r[{}{}] {percent:>3} %", "#".repeat(filled), " ".repeat(20 - filled));
        if percent == 100 {
            let _ = write!(err, "\r{}\r", " ".repeat(28));
        }
        let _ = err.flush();
    }
}
