//! Serving cost of the shipped models side by side in one process run, so
//! the figures read as ratios: `Session::step` (what an RL loop calls) at
//! batch 1 and 32, each model serving its default masks (refined where the
//! bundle says so). The header line names the CPU's relevant flags.
//!
//!   cargo bench --bench models

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use slotrt::data::{generate_clip, Split, SynthConfig};
use slotrt::runtime::{Frame, FrameResult, ModelOptions, PixelFormat, RuntimeModel, Session, SessionOptions};

const MODELS: [&str; 2] = ["savi-small-64", "savi-world-64"];

fn serving(c: &mut Criterion) {
    let flags: Vec<&str> = ["avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8"]
        .into_iter()
        .filter(|f| slotrt::device::cpu_has_flag(f))
        .collect();
    println!("cpu flags: {}", flags.join(" "));
    let clip = generate_clip(&SynthConfig::default(), Split::Test, 0).unwrap();
    let mut group = c.benchmark_group("model_step");
    group.sample_size(20).measurement_time(Duration::from_secs(6));
    for name in MODELS {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("models/{name}.safetensors"));
        let model = RuntimeModel::load(&path, &ModelOptions::default()).unwrap();
        for batch in [1usize, 32] {
            let session = Session::new(model.clone(), SessionOptions::default()).unwrap();
            let frames: Vec<Frame> =
                (0..batch).map(|i| Frame::packed(clip.frame_rgb(i % 16), 64, 64, PixelFormat::Rgb8)).collect();
            let resets = vec![false; batch];
            let mut results = vec![FrameResult::default(); batch];
            group.bench_with_input(BenchmarkId::new(name, batch), &batch, |b, _| {
                b.iter(|| session.step(&frames, &resets, &mut results).unwrap())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, serving);
criterion_main!(benches);
