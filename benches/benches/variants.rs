//! Three support-level variants in one call vs one image (the largest).
//!
//! Acceptance: three variants take at most 1.5x the time of one. Prints the
//! ratio and this process's peak RSS after criterion's measurements.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use dart_benches::{bench_fixture, peak_rss_kib, BASE_BYTES, PAYLOAD_BYTES};
use dart_core::image::{build_variants, ImageRecipe, ImageVariant};
use dart_core::model::tools::SupportLevels;
use dart_core::progress::Control;

fn variants(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let fx = bench_fixture(dir.path());
    let recipe = ImageRecipe::new(&fx.base_wim, &fx.payloads);
    let levels = SupportLevels::builtin();
    let three: Vec<ImageVariant> = ["remote", "end-user", "full"]
        .iter()
        .map(|l| {
            ImageVariant::new(
                levels.get(l).expect("built-in level"),
                dir.path().join(format!("{l}.wim")),
            )
        })
        .collect();
    let one = vec![ImageVariant::new(
        levels.get("full").expect("built-in level"),
        dir.path().join("one.wim"),
    )];
    let run = |v: &[ImageVariant]| build_variants(&recipe, v, &Control::default()).expect("build");

    let mut group = c.benchmark_group("build");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("one image (full)", |b| b.iter(|| run(&one)));
    group.bench_function("three levels in one call", |b| b.iter(|| run(&three)));
    group.finish();

    // The same comparison, interleaved, for a ratio in one line.
    let rounds = 5;
    let (mut t1, mut t3) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..rounds {
        let s = Instant::now();
        run(&one);
        t1 += s.elapsed();
        let s = Instant::now();
        run(&three);
        t3 += s.elapsed();
    }
    println!(
        "workload: base {} MiB + 15 payloads x {} MiB, LZX | one image {:.3}s | three variants {:.3}s | ratio {:.2}x (target <= 1.5x) | peak RSS {} MiB",
        BASE_BYTES >> 20,
        PAYLOAD_BYTES >> 20,
        t1.as_secs_f64() / rounds as f64,
        t3.as_secs_f64() / rounds as f64,
        t3.as_secs_f64() / t1.as_secs_f64(),
        peak_rss_kib() / 1024
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = variants
}
criterion_main!(benches);
