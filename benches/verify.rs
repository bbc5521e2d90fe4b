//! Verification cost per scheme (criterion), beside the floor and the `standardwebhooks` crate.
//!
//! `cargo bench --bench verify --all-features` gives absolute times and throughput;
//! `cargo bench --bench ratio --all-features` measures the ratios to the floor, interleaved.

mod common;

use common::{Contender, Fixture, SIZES};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    for size in SIZES {
        // Signed at the start of each group so the 5-minute tolerance holds throughout.
        let fixture = Fixture::new(size);
        let mut group = c.benchmark_group(format!("verify/{size}"));
        group.throughput(Throughput::Bytes(size as u64));
        for contender in Contender::ALL {
            group.bench_function(BenchmarkId::from_parameter(contender.name()), |b| {
                b.iter(|| fixture.run(contender));
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
