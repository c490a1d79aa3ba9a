//! Host start with an empty configuration: create + start (`Host::from_json("")`) timed alone,
//! stop + drop timed alone, and the whole cycle, against spawning and joining one thread (the
//! host starts one, its health monitor) measured in the same run.
//!
//! Run: `cargo bench --bench host_start`. Target: create + start <= 20 ms (median).

mod common;

use common::{find, format_ns, Group, Settings};
use plughost::Host;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn main() {
    common::print_machine();
    let settings = Settings::new(Duration::from_millis(500), Duration::from_millis(5), 200);
    let summaries = {
        let mut group = Group::new("host start, empty configuration", settings);
        let peer = Some("thread spawn + join");
        group
            .timed("create + start", peer, |n| {
                let mut total = Duration::ZERO;
                for _ in 0..n {
                    let started = Instant::now();
                    let host = Host::from_json("").expect("host");
                    total += started.elapsed();
                    drop(host);
                }
                total
            })
            .timed("stop + drop", peer, |n| {
                let mut total = Duration::ZERO;
                for _ in 0..n {
                    let host = Host::from_json("").expect("host");
                    let started = Instant::now();
                    host.stop();
                    drop(host);
                    total += started.elapsed();
                }
                total
            })
            .case("create + start + stop + drop", peer, || {
                let host = Host::from_json("").expect("host");
                host.stop();
                drop(black_box(host));
            })
            .case("thread spawn + join", None, || std::thread::spawn(|| black_box(1)).join().map(drop).expect("join"));
        group.run()
    };
    let start = find(&summaries, "create + start");
    println!();
    println!(
        "create + start median {} ({:.1}x a thread spawn + join); whole cycle {}",
        format_ns(start.median),
        start.ratio.unwrap_or(f64::NAN),
        format_ns(find(&summaries, "create + start + stop + drop").median)
    );
    if common::measuring() {
        common::target("host create + start, p50", start.median, 20e6);
    }
}
