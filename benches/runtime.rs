//! The runtime's cost on the shipped model, always next to the bare model
//! call doing the same work in the same process run, so the figures read as
//! ratios: per-frame latency at batch 1 (bare `SlotModel` loop, Rust
//! `Stream::process`, C `slotrt_stream_process`), and throughput of 1, 4,
//! 16 and 64 streams batched by the session's worker. The latency group
//! serves the model's own masks unrefined, and refined by the shipped
//! bundle's guided filter (its default), each next to the bare loop doing
//! the same.
//!
//!   cargo bench --bench runtime

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use slotrt::capi::enums::SlotrtMaskRefinement;
use slotrt::capi::frames::{slotrt_frame_init, slotrt_result_init, SlotrtFrame, SlotrtResult};
use slotrt::capi::model::{slotrt_model_free, slotrt_model_load, SlotrtModel};
use slotrt::capi::session::{
    slotrt_session_create, slotrt_session_free, slotrt_session_options_init, SlotrtSession, SlotrtSessionOptions,
};
use slotrt::capi::stream::{slotrt_stream_free, slotrt_stream_open, slotrt_stream_process, SlotrtStream};
use slotrt::capi::SlotrtStatus;
use slotrt::data::{generate_clip, Clip, Split, SynthConfig};
use slotrt::model::config::MaskKind;
use slotrt::model::grouping::InitInput;
use slotrt::runtime::{
    Frame, FrameResult, MaskRefinement, ModelOptions, PixelFormat, RuntimeModel, Session, SessionOptions,
};
use tch::{Kind, Tensor};

const MODEL: &str = "models/savi-small-64.safetensors";

fn model_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(MODEL)
}

fn frames() -> Clip {
    generate_clip(&SynthConfig::default(), Split::Test, 0).unwrap()
}

fn frame(clip: &Clip, t: usize) -> Frame<'_> {
    Frame::packed(clip.frame_rgb(t % clip.frames as usize), 64, 64, PixelFormat::Rgb8)
}

fn latency(c: &mut Criterion) {
    let model = RuntimeModel::load(&model_path(), &ModelOptions::default()).unwrap();
    let clip = frames();
    let mut group = c.benchmark_group("frame_latency_batch1");
    group.sample_size(30).measurement_time(Duration::from_secs(8));

    // The bare model: what a hand-written libtorch loop would do, serving
    // the model's own masks (the shipped bundle's: attention masks), plain
    // or refined by its guided filter.
    let m = model.slot_model();
    for (name, filter) in [("bare_model_step", None), ("bare_model_step_refined", m.refine_filter())] {
        let mut init = m.init_slots(1, InitInput::Seed(1)).unwrap();
        let mut t = 0usize;
        group.bench_function(name, |b| {
            b.iter(|| {
                tch::no_grad(|| {
                    let images = Tensor::from_slice(clip.frame_rgb(t % 16))
                        .view([1, 64, 64, 3])
                        .permute([0, 3, 1, 2])
                        .to_kind(Kind::Float)
                        / 255.0;
                    let images = m.normalize(&images);
                    let out = m.step(&images, &init, t == 0).unwrap();
                    let masks = match m.config.masks {
                        MaskKind::Decoder => m.decode(&out.slots).masks,
                        MaskKind::Attention => out.attention_masks,
                    };
                    let masks = match &filter {
                        Some(f) => m.masks_at_input(&masks, &images, Some(f)).unwrap(),
                        None => masks,
                    };
                    let masks = Vec::<f32>::try_from(masks.flatten(0, -1)).unwrap();
                    let slots = Vec::<f32>::try_from(out.slots.flatten(0, -1)).unwrap();
                    init = out.next_init;
                    t += 1;
                    (masks, slots)
                })
            })
        });
    }

    for (name, refinement) in
        [("rust_stream_process", MaskRefinement::Off), ("rust_stream_process_refined", MaskRefinement::Model)]
    {
        let options = SessionOptions { mask_refinement: refinement, ..SessionOptions::default() };
        let session = Session::new(model.clone(), options).unwrap();
        let stream = session.open_stream().unwrap();
        let mut result = FrameResult::default();
        let mut t = 0usize;
        group.bench_function(name, |b| {
            b.iter(|| {
                stream.process(&frame(&clip, t), &mut result).unwrap();
                t += 1;
            })
        });
    }

    // The same through the C ABI, as a C or C++ engine calls it.
    let path = std::ffi::CString::new(model_path().to_str().unwrap()).unwrap();
    unsafe {
        let mut cmodel: *mut SlotrtModel = std::ptr::null_mut();
        assert_eq!(slotrt_model_load(path.as_ptr(), std::ptr::null(), &mut cmodel), SlotrtStatus::Ok);
        let mut csession: *mut SlotrtSession = std::ptr::null_mut();
        let mut options: SlotrtSessionOptions = std::mem::zeroed();
        slotrt_session_options_init(&mut options);
        options.mask_refinement = SlotrtMaskRefinement::Off as u32;
        assert_eq!(slotrt_session_create(cmodel, &options, &mut csession), SlotrtStatus::Ok);
        let mut cstream: *mut SlotrtStream = std::ptr::null_mut();
        assert_eq!(slotrt_stream_open(csession, &mut cstream), SlotrtStatus::Ok);
        let info = model.info();
        let mut slots = vec![0f32; info.num_slots * info.slot_dim];
        let mut masks = vec![0f32; info.num_slots * info.mask_height * info.mask_width];
        let mut out: SlotrtResult = std::mem::zeroed();
        slotrt_result_init(&mut out);
        out.slots = slots.as_mut_ptr();
        out.slots_capacity = slots.len();
        out.masks = masks.as_mut_ptr();
        out.masks_capacity = masks.len();
        let mut cframe: SlotrtFrame = std::mem::zeroed();
        let mut t = 0usize;
        group.bench_function("c_api_stream_process", |b| {
            b.iter(|| {
                let rgb = clip.frame_rgb(t % 16);
                slotrt_frame_init(&mut cframe, rgb.as_ptr().cast(), 64, 64, 0);
                assert_eq!(slotrt_stream_process(cstream, &cframe, &mut out), SlotrtStatus::Ok);
                t += 1;
            })
        });
        slotrt_stream_free(cstream);
        slotrt_session_free(csession);
        slotrt_model_free(cmodel);
    }
    group.finish();
}

fn throughput(c: &mut Criterion) {
    let model: Arc<RuntimeModel> = RuntimeModel::load(&model_path(), &ModelOptions::default()).unwrap();
    let clip = frames();
    let mut group = c.benchmark_group("streams_throughput");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    for streams in [1usize, 4, 16, 64] {
        let options = SessionOptions {
            max_batch: streams,
            max_wait: Duration::from_millis(20),
            queue_depth: 2,
            ..SessionOptions::default()
        };
        let session = Session::new(model.clone(), options).unwrap();
        let handles: Vec<_> = (0..streams).map(|_| session.open_stream().unwrap()).collect();
        let mut results: Vec<FrameResult> = (0..streams).map(|_| FrameResult::default()).collect();
        let mut t = 0usize;
        group.throughput(Throughput::Elements(streams as u64));
        group.bench_with_input(BenchmarkId::from_parameter(streams), &streams, |b, _| {
            b.iter(|| {
                for s in &handles {
                    s.push(&frame(&clip, t)).unwrap();
                }
                for (s, r) in handles.iter().zip(results.iter_mut()) {
                    assert!(s.poll(Some(Duration::from_secs(60)), r).unwrap());
                }
                t += 1;
            })
        });
        eprintln!("{streams} streams: {:?}", session.stats().mean_batch);
    }
    group.finish();
}

criterion_group!(benches, latency, throughput);
criterion_main!(benches);
