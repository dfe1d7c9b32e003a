//! `smartscale-testbed openmetrics`: prints the synthetic backfill for promtool.

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("openmetrics") => print!("{}", smartscale_testbed::backfill::openmetrics()),
        _ => {
            eprintln!("usage: smartscale-testbed openmetrics > backfill.om");
            std::process::exit(2);
        }
    }
}
