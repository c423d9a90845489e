//! Mask refinement cost: the guided filter as fused CPU loops (what the CPU
//! runtime serves) against the same filter as libtorch tensor ops (what it
//! ran before, and what CUDA runs), on the shipped model's shapes: 6 slot
//! masks at 32x32 refined to 64x64, batch 1, 8 and 32.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use slotrt::model::refine::GuidedFilter;
use tch::{Device, Kind, Tensor};

fn bench(c: &mut Criterion) {
    tch::set_num_threads(2);
    let filter = GuidedFilter { radius: 4, eps: 1e-3 };
    let mut group = c.benchmark_group("guided_filter_6x32x32_to_64x64");
    for batch in [1i64, 8, 32] {
        let guide = Tensor::rand([batch, 3, 64, 64], (Kind::Float, Device::Cpu));
        let masks = Tensor::rand([batch, 6, 32, 32], (Kind::Float, Device::Cpu)).softmax(1, Kind::Float);
        group.bench_with_input(BenchmarkId::new("cpu_loops", batch), &batch, |b, _| {
            b.iter(|| filter.apply(&guide, &masks).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("tensor_ops", batch), &batch, |b, _| {
            b.iter(|| filter.apply_tensor(&guide, &masks).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
