//! What the CLI's test binaries share: running `smartscale` with arguments and optional stdin.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs the built `smartscale` with `args`, `stdin` fed in and closed, and waits for it.
pub fn smartscale(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_smartscale"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run smartscale");
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}
