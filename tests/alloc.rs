//! Heap allocations on the hot path, counted by a global allocator: how
//! many Rust-side allocations one frame costs once a stream is warm, in
//! `Stream::process` and in `Session::step`. libtorch's own tensor
//! allocations go through its C++ allocator and are not counted here.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use slotrt::data::{generate_clip, Split, SynthConfig};
use slotrt::runtime::{
    Frame, FrameResult, MaskRefinement, ModelOptions, PixelFormat, RuntimeModel, Session, SessionOptions,
};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const FRAMES: usize = 200;

fn count(mut f: impl FnMut()) -> u64 {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    f();
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

/// Allocations of one bare model call (carried frame + decoder masks) at
/// batch `b`: what tch and the model code allocate (tch's `size()` returns
/// a Vec, tensor-list ops build pointer arrays, Slot Attention keeps each
/// iteration's attention), a few hundred bytes in all.
fn bare_model_call(model: &RuntimeModel, b: i64) -> u64 {
    let m = model.slot_model();
    let images = tch::Tensor::zeros([b, 3, 64, 64], (tch::Kind::Float, tch::Device::Cpu));
    let init = tch::Tensor::zeros([b, 6, 64], (tch::Kind::Float, tch::Device::Cpu));
    let _no_grad = tch::no_grad_guard();
    let call = || {
        let out = m.step(&images, &init, false).unwrap();
        let _ = m.decode(&out.slots);
    };
    call();
    count(call)
}

// One test only: the counter is global, and tests in this binary would
// otherwise run in parallel and count each other.
#[test]
fn the_runtime_adds_no_allocations_to_the_model_call() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/savi-small-64.safetensors");
    let model = RuntimeModel::load(&path, &ModelOptions::default()).unwrap();
    let clip = generate_clip(&SynthConfig { frames: 8, ..SynthConfig::default() }, Split::Test, 0).unwrap();
    let frame = |t: usize| Frame::packed(clip.frame_rgb(t % 8), 64, 64, PixelFormat::Rgb8);
    // Unrefined masks, like the bare call; the refined path is priced below.
    let options = SessionOptions { warmup: true, mask_refinement: MaskRefinement::Off, ..SessionOptions::default() };
    let session = Session::new(model.clone(), options.clone()).unwrap();

    // Stream::process, one camera.
    let stream = session.open_stream().unwrap();
    let mut result = FrameResult::default();
    for t in 0..8 {
        stream.process(&frame(t), &mut result).unwrap();
    }
    let process = count(|| {
        for t in 0..FRAMES {
            stream.process(&frame(t), &mut result).unwrap();
        }
    }) as f64
        / FRAMES as f64;

    // Session::step, four environments, no resets.
    let frames: Vec<Frame> = (0..4).map(frame).collect();
    let mut results: Vec<FrameResult> = (0..4).map(|_| FrameResult::default()).collect();
    let (start, go) = ([true; 4], [false; 4]);
    session.step(&frames, &start, &mut results).unwrap();
    for _ in 0..4 {
        session.step(&frames, &go, &mut results).unwrap();
    }
    let calls = FRAMES / 4;
    let step = count(|| {
        for _ in 0..calls {
            session.step(&frames, &go, &mut results).unwrap();
        }
    }) as f64
        / calls as f64;

    let (bare1, bare4) =
        (bare_model_call(session.current_model().as_ref(), 1), bare_model_call(session.current_model().as_ref(), 4));
    println!("Rust heap allocations per call: bare model {bare1} (batch 1) / {bare4} (batch 4); Stream::process {process:.2}; Session::step (4 envs) {step:.2}");
    // Constant per call (no growth with frames) and nothing on top of the model.
    assert!(process <= bare1 as f64, "process allocates {process} per frame, the bare model call {bare1}");
    assert!(step <= bare4 as f64, "step allocates {step} per call, the bare model call {bare4}");

    // The guided filter (the shipped bundle's default) adds a fixed few
    // (tch's argument lists), the same on every frame.
    let refined = Session::new(model, SessionOptions { mask_refinement: MaskRefinement::Model, ..options }).unwrap();
    let stream = refined.open_stream().unwrap();
    for t in 0..8 {
        stream.process(&frame(t), &mut result).unwrap();
    }
    let mut per_frame = |n: usize| {
        count(|| {
            for t in 0..n {
                stream.process(&frame(t), &mut result).unwrap();
            }
        })
    };
    let (few, many) = (per_frame(FRAMES), per_frame(2 * FRAMES));
    println!("refined Stream::process: {:.2} per frame", few as f64 / FRAMES as f64);
    assert_eq!(many, 2 * few, "refinement allocates the same on every frame");
    assert!(few as f64 / FRAMES as f64 <= process + 8.0, "refinement allocates {few} over {FRAMES} frames");
}
