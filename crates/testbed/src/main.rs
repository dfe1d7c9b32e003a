//! `smartscale-testbed openmetrics`: prints the synthetic backfill for promtool;
//! `smartscale-testbed cluster-history DAYS`: the patterned cluster history `backtest` is tested on.

fn main() {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next().map(|d| d.parse::<i64>())) {
        (Some("openmetrics"), None) => print!("{}", smartscale_testbed::backfill::openmetrics()),
        (Some("cluster-history"), Some(Ok(days))) if days > 0 => {
            let history = smartscale_testbed::cluster_history::ClusterHistory { days, without: Vec::new() };
            print!("{}", history.openmetrics())
        }
        _ => {
            eprintln!("usage: smartscale-testbed openmetrics > backfill.om");
            eprintln!("       smartscale-testbed cluster-history DAYS > history.om");
            std::process::exit(2);
        }
    }
}
