//! Throughput of the ground-truth tools used in every evaluation: scoring a
//! 16-frame 64x64 clip, and generating one.

use criterion::{criterion_group, criterion_main, Criterion};
use slotrt::data::{generate_clip, Split, SynthConfig};
use slotrt::metrics::score_clip;

fn bench(c: &mut Criterion) {
    let config = SynthConfig::default();
    let clip = generate_clip(&config, Split::Test, 0).unwrap();
    let truth: Vec<i32> = clip.ids.iter().map(|&i| i as i32).collect();
    // A prediction that is right on most pixels and merges two objects.
    let pred: Vec<i32> = truth.iter().enumerate().map(|(i, &t)| if i % 7 == 0 { 0 } else { t.min(2) }).collect();
    let (t, h, w) = (clip.frames as usize, clip.height as usize, clip.width as usize);

    c.bench_function("score_clip_16x64x64", |b| b.iter(|| score_clip(&truth, &pred, t, h, w).unwrap()));
    c.bench_function("generate_clip_16x64x64", |b| b.iter(|| generate_clip(&config, Split::Test, 1).unwrap()));
}

criterion_group!(benches, bench);
criterion_main!(benches);
