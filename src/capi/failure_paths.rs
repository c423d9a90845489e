//! One libtorch failure, three ways to step a frame (a push answered by a
//! poll on the worker path, slotrt_stream_process, slotrt_session_step):
//! each must report SLOTRT_STATUS_BACKEND with the same libtorch message,
//! and the Rust API the same error kind.

use std::ffi::CStr;
use std::sync::Arc;

use tch::{Device, Kind, Tensor};

use super::errors::slotrt_last_error_message;
use super::frames::{slotrt_frame_init, slotrt_result_init, SlotrtFrame, SlotrtResult};
use super::model::SlotrtModel;
use super::session::{
    slotrt_session_create, slotrt_session_free, slotrt_session_options_init, slotrt_session_step, SlotrtSession,
    SlotrtSessionOptions,
};
use super::status::SlotrtStatus;
use super::stream::{
    slotrt_stream_free, slotrt_stream_open, slotrt_stream_poll, slotrt_stream_process, slotrt_stream_push,
};
use crate::error::Error;
use crate::model::{ModelConfig, SlotModel};
use crate::runtime::{Frame, FrameResult, PixelFormat, RuntimeModel, Session, SessionOptions};

const SIZE: usize = 64;

/// The small SAVi model with one encoder convolution's weight replaced by
/// a 1-D tensor: every forward pass fails inside libtorch.
fn broken_model() -> Arc<RuntimeModel> {
    let model = SlotModel::new(&ModelConfig::savi_small_64(), Device::Cpu).unwrap();
    let (name, mut weight) = model
        .vs
        .variables()
        .into_iter()
        .find(|(name, v)| name.starts_with("encoder") && v.dim() == 4)
        .expect("a CNN encoder");
    tch::no_grad(|| weight.set_data(&Tensor::zeros([3], (Kind::Float, Device::Cpu))));
    assert_eq!(weight.dim(), 1, "{name}");
    RuntimeModel::from_model(model).unwrap()
}

fn last_message() -> String {
    unsafe { CStr::from_ptr(slotrt_last_error_message()) }.to_string_lossy().into_owned()
}

/// The libtorch part of the last error message (after "function: ").
fn libtorch_reason() -> String {
    let message = last_message();
    let at = message.find("libtorch:").unwrap_or_else(|| panic!("not a libtorch error: {message}"));
    message[at..].to_owned()
}

#[test]
fn a_backend_failure_gives_the_same_status_on_every_path() {
    let pixels = vec![90u8; SIZE * SIZE * 3];
    let model = SlotrtModel::from_runtime(broken_model());
    let mut options: SlotrtSessionOptions = unsafe { std::mem::zeroed() };
    let mut frame: SlotrtFrame = unsafe { std::mem::zeroed() };
    let mut result: SlotrtResult = unsafe { std::mem::zeroed() };
    let mut session: *mut SlotrtSession = std::ptr::null_mut();
    let mut stream = std::ptr::null_mut();
    unsafe {
        assert_eq!(slotrt_session_options_init(&mut options), SlotrtStatus::Ok);
        options.warmup = false; // warm-up would fail at creation
        options.deterministic = true;
        assert_eq!(slotrt_session_create(&model, &options, &mut session), SlotrtStatus::Ok);
        assert_eq!(slotrt_stream_open(session, &mut stream), SlotrtStatus::Ok);
        assert_eq!(
            slotrt_frame_init(&mut frame, pixels.as_ptr().cast(), SIZE as u32, SIZE as u32, 0),
            SlotrtStatus::Ok
        );
        assert_eq!(slotrt_result_init(&mut result), SlotrtStatus::Ok);

        // Worker path: the push is accepted, the failure comes with the poll.
        assert_eq!(slotrt_stream_push(stream, &frame), SlotrtStatus::Ok);
        assert_eq!(slotrt_stream_poll(stream, 60_000, &mut result), SlotrtStatus::Backend, "{}", last_message());
        let worker = libtorch_reason();
        // Synchronous path.
        assert_eq!(slotrt_stream_process(stream, &frame, &mut result), SlotrtStatus::Backend, "{}", last_message());
        assert_eq!(libtorch_reason(), worker);
        // Vectorised path.
        let reset = [1u8];
        assert_eq!(slotrt_session_step(session, 1, &frame, reset.as_ptr(), &mut result), SlotrtStatus::Backend);
        assert_eq!(libtorch_reason(), worker);
        assert!(!worker.contains("Exception raised from"), "{worker}");

        slotrt_stream_free(stream);
        slotrt_session_free(session);
    }
}

#[test]
fn a_backend_failure_is_a_libtorch_error_on_every_rust_path() {
    let pixels = vec![90u8; SIZE * SIZE * 3];
    let frame = Frame::packed(&pixels, SIZE, SIZE, PixelFormat::Rgb8);
    let options = SessionOptions { warmup: false, deterministic: true, ..SessionOptions::default() };
    let session = Session::new(broken_model(), options).unwrap();
    let stream = session.open_stream().unwrap();
    let mut out = FrameResult::default();
    stream.push(&frame).unwrap();
    let worker = stream.poll(Some(std::time::Duration::from_secs(60)), &mut out).unwrap_err();
    let process = stream.process(&frame, &mut out).unwrap_err();
    let step = session.step(&[frame], &[true], std::slice::from_mut(&mut out)).unwrap_err();
    // The same reason; libtorch's backtrace after it differs by thread.
    let reason = |err: &Error| err.to_string().split("Exception raised from").next().unwrap().to_owned();
    for err in [&worker, &process, &step] {
        assert!(matches!(err, Error::Torch(_)), "{err:?}");
        assert_eq!(reason(err), reason(&worker));
    }
    assert!(reason(&worker).contains("weight"), "{worker}");
    // The stream is not stuck: its carry came back after each failure.
    let info = stream.model_info();
    let mut state = vec![0f32; info.num_slots * info.slot_dim];
    assert!(stream.state(&mut state).unwrap_err().to_string().contains("no frame of this stream has been stepped"));
}
