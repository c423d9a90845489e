//! Sequences that once hung the session's worker or poisoned a stream's
//! state: a result callback that pushes to its own full BLOCK queue or polls
//! with no time limit, extreme float pixels, a model whose output overflows,
//! and options out of range. Each must answer with a status and leave the
//! stream as it was.

mod common;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use slotrt::model::SlotModel;
use slotrt::runtime::{
    Frame, FrameResult, ModelOptions, OverflowPolicy, PixelFormat, RuntimeModel, Session, SessionOptions,
};
use slotrt::Error;
use tch::Device;

const SIZE: usize = 32;
/// Generous bound for "returns at all": a hang fails the test instead of
/// stalling the suite.
const WATCHDOG: Duration = Duration::from_secs(60);

fn tiny_model() -> Arc<RuntimeModel> {
    tch::manual_seed(5);
    RuntimeModel::from_model(SlotModel::new(&common::tiny_config(SIZE as i64), Device::Cpu).unwrap()).unwrap()
}

fn options() -> SessionOptions {
    SessionOptions { deterministic: true, warmup: false, ..SessionOptions::default() }
}

fn grey_pixels(value: u8) -> Vec<u8> {
    vec![value; SIZE * SIZE * 3]
}

fn rgb(pixels: &[u8]) -> Frame<'_> {
    Frame::packed(pixels, SIZE, SIZE, PixelFormat::Rgb8)
}

#[test]
fn a_callback_pushing_to_its_own_full_block_queue_gets_queue_full_not_a_hang() {
    let session =
        Session::new(tiny_model(), SessionOptions { queue_depth: 1, overflow: OverflowPolicy::Block, ..options() })
            .unwrap();
    let stream = Arc::new(session.open_stream().unwrap());
    let pixels = Arc::new(grey_pixels(90));
    let (report, outcomes) = mpsc::channel();
    let once = Arc::new(Mutex::new(Some(report)));
    let (own, px) = (Arc::downgrade(&stream), pixels.clone());
    stream
        .set_callback(Some(Arc::new(move |_r: &FrameResult| {
            let Some(report) = once.lock().unwrap().take() else { return };
            let own = own.upgrade().expect("stream alive");
            // The first push fills the one-frame queue, the second finds it
            // full: waiting there would wait for this very thread.
            let first = own.push(&rgb(&px));
            let second = own.push(&rgb(&px));
            report.send((first.is_ok(), second.map_err(|e| e.to_string()))).unwrap();
        })))
        .unwrap();
    stream.push(&rgb(&pixels)).unwrap();
    let (first_ok, second) = outcomes.recv_timeout(WATCHDOG).expect("the callback returned");
    assert!(first_ok);
    let msg = second.expect_err("a push to a full queue from the worker cannot wait");
    assert!(msg.starts_with("queue full:") && msg.contains("result callback"), "{msg}");
    // The worker goes on: the frame the callback queued is stepped.
    let deadline = std::time::Instant::now() + WATCHDOG;
    while stream.stats().unwrap().frames_out < 2 {
        assert!(std::time::Instant::now() < deadline, "worker stalled: {:?}", stream.stats().unwrap());
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(stream.stats().unwrap().frames_in, 2, "the refused frame was not queued");
}

#[test]
fn a_callback_polling_another_stream_never_waits() {
    let session = Session::new(tiny_model(), options()).unwrap();
    let (a, b) = (session.open_stream().unwrap(), Arc::new(session.open_stream().unwrap()));
    let (report, outcomes) = mpsc::channel();
    let once = Arc::new(Mutex::new(Some(report)));
    let other = Arc::downgrade(&b);
    a.set_callback(Some(Arc::new(move |_r: &FrameResult| {
        let Some(report) = once.lock().unwrap().take() else { return };
        let other = other.upgrade().expect("alive");
        let mut out = FrameResult::default();
        let forever = other.poll(None, &mut out).map_err(|e| e.to_string());
        let bounded = other.poll(Some(Duration::from_secs(3600)), &mut out).map_err(|e| e.to_string());
        report.send((forever, bounded)).unwrap();
    })))
    .unwrap();
    a.push(&rgb(&grey_pixels(10))).unwrap();
    let (forever, bounded) = outcomes.recv_timeout(WATCHDOG).expect("the callback returned");
    let msg = forever.expect_err("nothing to take, and no wait possible");
    assert!(msg.starts_with("timed out:") && msg.contains("result callback"), "{msg}");
    assert_eq!(bounded, Ok(false), "a bounded poll returns at once with nothing");
}

#[test]
fn an_extreme_float_pixel_is_refused_and_the_carried_slots_stay() {
    let session = Session::new(tiny_model(), options()).unwrap();
    let stream = session.open_stream().unwrap();
    let (normal, mut out) = (grey_pixels(120), FrameResult::default());
    stream.process(&rgb(&normal), &mut out).unwrap();
    let info = stream.model_info().clone();
    let mut before = vec![0f32; info.num_slots * info.slot_dim];
    stream.state(&mut before).unwrap();
    let mut planes = vec![0.5f32; 3 * SIZE * SIZE];
    planes[7] = 1.0e30; // finite, but squares to infinity inside the model
    let bytes: Vec<u8> = planes.iter().flat_map(|v| v.to_ne_bytes()).collect();
    let huge = Frame::packed(&bytes, SIZE, SIZE, PixelFormat::F32Chw);
    for result in [stream.process(&huge, &mut out), stream.push(&huge)] {
        let msg = result.unwrap_err().to_string();
        assert!(msg.contains("out-of-range values (float pixels must lie within +-10000)"), "{msg}");
    }
    let mut after = vec![0f32; before.len()];
    stream.state(&mut after).unwrap();
    assert_eq!(before, after, "a refused frame leaves the carried slots");
    stream.process(&rgb(&normal), &mut out).unwrap();
    assert!(out.slots.iter().all(|v| v.is_finite()));
}

#[test]
fn a_model_output_that_overflows_is_refused_and_carries_nothing() {
    tch::manual_seed(5);
    let model = SlotModel::new(&common::tiny_config(SIZE as i64), Device::Cpu).unwrap();
    tch::no_grad(|| {
        for (name, mut var) in model.vs.variables() {
            if name.starts_with("encoder.convs") && name.ends_with("weight") {
                let _ = var.fill_(1.0e30);
            }
        }
    });
    let session = Session::new(RuntimeModel::from_model(model).unwrap(), options()).unwrap();
    let stream = session.open_stream().unwrap();
    let mut out = FrameResult::default();
    let err = stream.process(&rgb(&grey_pixels(200)), &mut out).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)) && err.to_string().contains("non-finite slots"), "{err}");
    let mut state = vec![0f32; 4 * 16]; // tiny_config: 4 slots of 16
    let msg = stream.state(&mut state).unwrap_err().to_string();
    assert!(msg.contains("no frame of this stream has been stepped yet"), "nothing was carried: {msg}");
}

#[test]
fn thread_counts_out_of_range_are_refused() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/savi-small-64.safetensors");
    for threads in [257, 4096, 1_000_000] {
        let err = RuntimeModel::load(&path, &ModelOptions { threads, ..ModelOptions::default() }).unwrap_err();
        assert!(err.to_string().contains(&format!("threads is {threads}, must be in 0..=256")), "{err}");
    }
}
