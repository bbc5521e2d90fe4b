//! Ratios of each verifier's cost to the floor (a pre-keyed HMAC-SHA256 over the same body),
//! measured interleaved so that a slow stretch of a shared machine hits both sides alike.
//!
//! For each body size and contender: 301 rounds; in each round the floor and the contender each
//! run a batch of about 0.2 ms, in alternating order, and the round's ratio is contender time /
//! floor time. Printed: the median round's ns per verification for both, and the median ratio.
//!
//! Run: `cargo bench --bench ratio --all-features` (about a minute).

mod common;

use std::time::Instant;

use common::{Contender, Fixture, SIZES};

const ROUNDS: usize = 301;

fn batch_ns(fixture: &Fixture, contender: Contender, iterations: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..iterations {
        fixture.run(contender);
    }
    start.elapsed().as_nanos() as f64 / f64::from(iterations)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The ratio each scheme must stay under, by body size.
fn target(size: usize, contender: Contender) -> Option<f64> {
    match (size, contender) {
        (1024, Contender::Github) => Some(1.15),
        (1024, Contender::Stripe | Contender::Standard) => Some(1.30),
        (65536, Contender::Github | Contender::Stripe | Contender::Standard) => Some(1.03),
        (
            1024,
            Contender::Slack
            | Contender::Square
            | Contender::Shopify
            | Contender::Paddle
            | Contender::Linear
            | Contender::Zoom
            | Contender::Declared,
        ) => Some(1.30),
        _ => None,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read.
    println!("| body | floor | github | stripe | standard-webhooks | slack | twilio (JSON) | square | discord (ed25519) | shopify | gitlab (token) | paddle | linear | zoom | declared (stripe.json) | standardwebhooks crate | verihook standard vs crate |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut misses = Vec::new();
    for size in SIZES {
        let fixture = Fixture::new(size);
        let floor_once = batch_ns(&fixture, Contender::Floor, 50).max(1.0);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let iterations = ((200_000.0 / floor_once) as u32).clamp(1, 5_000);
        let mut floor_ns = Vec::new();
        let mut results = Vec::new();
        for contender in Contender::ALL.into_iter().skip(1) {
            let (mut ratios, mut floors, mut times) = (Vec::new(), Vec::new(), Vec::new());
            for round in 0..ROUNDS {
                let (f, c) = if round % 2 == 0 {
                    let f = batch_ns(&fixture, Contender::Floor, iterations);
                    (f, batch_ns(&fixture, contender, iterations))
                } else {
                    let c = batch_ns(&fixture, contender, iterations);
                    (batch_ns(&fixture, Contender::Floor, iterations), c)
                };
                ratios.push(c / f);
                floors.push(f);
                times.push(c);
            }
            floor_ns.push(median(&mut floors));
            results.push((contender, median(&mut times), median(&mut ratios)));
        }
        let find = |who: Contender| {
            results
                .iter()
                .find(|(c, _, _)| *c == who)
                .map_or((0.0, 0.0), |r| (r.1, r.2))
        };
        let mut cells = vec![format!("{size} B"), fmt(median(&mut floor_ns))];
        for contender in [
            Contender::Github,
            Contender::Stripe,
            Contender::Standard,
            Contender::Slack,
            Contender::Twilio,
            Contender::Square,
            Contender::Discord,
            Contender::Shopify,
            Contender::Gitlab,
            Contender::Paddle,
            Contender::Linear,
            Contender::Zoom,
            Contender::Declared,
        ] {
            let (ns, ratio) = find(contender);
            let mark = match target(size, contender) {
                Some(limit) if ratio <= limit => " ✓".to_owned(),
                Some(limit) => {
                    misses.push(format!(
                        "{} at {size} B: {ratio:.3}× > {limit}×",
                        contender.name()
                    ));
                    format!(" ✗ > {limit}×")
                }
                None => String::new(),
            };
            cells.push(format!("{} ({ratio:.3}×){mark}", fmt(ns)));
        }
        let (theirs, _) = find(Contender::StandardwebhooksCrate);
        let (ours, _) = find(Contender::Standard);
        let speedup = theirs / ours;
        if speedup < 4.0 {
            misses.push(format!(
                "only {speedup:.1}× faster than the crate at {size} B"
            ));
        }
        cells.push(fmt(theirs));
        cells.push(format!("{speedup:.1}× faster"));
        println!("| {} |", cells.join(" | "));
    }
    println!();
    let missed = if misses.is_empty() {
        "none".to_owned()
    } else {
        misses.join("; ")
    };
    println!("targets missed: {missed}");
}

fn fmt(ns: f64) -> String {
    if ns >= 1000.0 {
        format!("{:.2} µs", ns / 1000.0)
    } else {
        format!("{ns:.0} ns")
    }
}
