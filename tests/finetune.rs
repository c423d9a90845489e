//! Online fine-tuning on a small model: the trainer steps and publishes
//! while the session serves, rolls back on explosions, takes guided masks,
//! saves with provenance, reverts, and refuses misuse with clear errors.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use slotrt::data::{generate_clip, Clip, Split, SynthConfig};
use slotrt::model::SlotModel;
use slotrt::runtime::{
    FinetuneOptions, Frame, FrameResult, ModelOptions, PixelFormat, RuntimeModel, Session, SessionOptions,
};
use slotrt::train::losses::LossWeights;
use slotrt::Error;
use tch::Device;

fn tiny_model() -> Arc<RuntimeModel> {
    tch::manual_seed(5);
    RuntimeModel::from_model(SlotModel::new(&common::tiny_config(32), Device::Cpu).unwrap()).unwrap()
}

fn clips(n: u64) -> Vec<Clip> {
    let config = SynthConfig { width: 32, height: 32, frames: 8, max_objects: 3, ..SynthConfig::default() };
    (0..n).map(|i| generate_clip(&config, Split::Train, i).unwrap()).collect()
}

fn frame(c: &Clip, t: usize) -> Frame<'_> {
    Frame::packed(c.frame_rgb(t), 32, 32, PixelFormat::Rgb8)
}

fn quick() -> FinetuneOptions {
    FinetuneOptions { batch_clips: 2, clip_frames: 2, publish_every: 2, lr: 1e-3, ..FinetuneOptions::default() }
}

/// Streams `clips` through `session` (one stream per clip) until the
/// trainer has taken `steps` steps or `limit` passed.
fn stream_until(session: &Session, clips: &[Clip], steps: u64, guided: bool, limit: Duration) {
    let streams: Vec<_> = clips.iter().map(|_| session.open_stream().unwrap()).collect();
    let started = Instant::now();
    let mut r = FrameResult::default();
    'outer: loop {
        for t in 0..8 {
            for (s, c) in streams.iter().zip(clips) {
                if guided {
                    s.push_with_masks(&frame(c, t), c.frame_ids(t)).unwrap();
                } else {
                    s.push(&frame(c, t)).unwrap();
                }
                s.poll(Some(Duration::from_secs(30)), &mut r).unwrap();
            }
            let stats = session.finetune_stats().unwrap();
            if stats.steps >= steps || started.elapsed() > limit {
                break 'outer;
            }
        }
        for s in &streams {
            s.reset().unwrap();
        }
    }
}

#[test]
fn trains_publishes_saves_and_reverts_while_serving() {
    let model = tiny_model();
    let session =
        Session::new(model.clone(), SessionOptions { deterministic: true, ..SessionOptions::default() }).unwrap();
    let data = clips(3);
    let probe = session.open_stream().unwrap();
    let mut before = FrameResult::default();
    probe.process(&frame(&data[0], 0), &mut before).unwrap();

    session.enable_finetune(quick()).unwrap();
    assert!(matches!(session.enable_finetune(quick()), Err(Error::InvalidArgument(m)) if m.contains("already")));
    stream_until(&session, &data, 6, false, Duration::from_secs(60));
    let stats = session.finetune_stats().unwrap();
    assert!(stats.running && stats.steps >= 6 && stats.publishes >= 3, "{stats:?}");
    assert!(stats.loss.is_finite() && stats.terms[0] > 0.0 && stats.samples >= 24);

    // Published weights serve: the same first frame now gives other slots.
    let fresh = session.open_stream().unwrap();
    let mut after = FrameResult::default();
    fresh.process(&frame(&data[0], 0), &mut after).unwrap();
    assert_ne!(before.slots, after.slots);

    // Save with provenance, and the bundle loads.
    let dir = std::env::temp_dir().join(format!("slotrt-ft-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tuned.safetensors");
    session.save_model(&path).unwrap();
    let reloaded = RuntimeModel::load(&path, &ModelOptions::default()).unwrap();
    assert!(reloaded.info().description.contains("fine-tuned online"), "{}", reloaded.info().description);

    // Pause: no more steps while paused.
    session.pause_finetune().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let paused = session.finetune_stats().unwrap();
    stream_until(&session, &data[..1], u64::MAX, false, Duration::from_millis(500));
    assert_eq!(session.finetune_stats().unwrap().steps, paused.steps);
    session.resume_finetune().unwrap();

    let last = session.stop_finetune().unwrap();
    assert!(!last.running && last.steps >= paused.steps);
    assert!(matches!(session.finetune_stats(), Err(Error::InvalidArgument(_))));

    // Revert: back to the loaded weights, bit for bit. `probe` was the
    // session's first stream (key 0); after a reset it runs episode 1, as
    // does the first stream of a fresh session on the loaded model.
    session.revert_finetune();
    let mut got = FrameResult::default();
    probe.reset().unwrap();
    probe.process(&frame(&data[0], 0), &mut got).unwrap();
    let reference = Session::new(model, SessionOptions { deterministic: true, ..SessionOptions::default() }).unwrap();
    let first = reference.open_stream().unwrap();
    let mut want = FrameResult::default();
    first.process(&frame(&data[0], 0), &mut want).unwrap();
    first.reset().unwrap();
    first.process(&frame(&data[0], 0), &mut want).unwrap();
    assert_eq!(got.slots, want.slots);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn explosions_roll_back_and_guided_masks_train() {
    let model = tiny_model();
    let session = Session::new(model, SessionOptions::default()).unwrap();
    // A learning rate far too high and no warm-up: Adam's first full step
    // moves every weight by ~lr, the (unbounded) reconstruction error blows
    // up and must roll back. The guided term rides along at a small weight:
    // it is bounded, so it must not dominate the total or nothing explodes.
    let options = FinetuneOptions {
        lr: 0.9,
        warmup_steps: 1,
        grad_clip: 1e9,
        explode_factor: 2.0,
        losses: LossWeights { guided: 0.01, ..LossWeights::default() },
        ..quick()
    };
    session.enable_finetune(options).unwrap();
    let started = Instant::now();
    while session.finetune_stats().unwrap().rollbacks == 0 && started.elapsed() < Duration::from_secs(60) {
        stream_until(&session, &clips(2), u64::MAX, true, Duration::from_secs(2));
    }
    let stats = session.finetune_stats().unwrap();
    assert!(stats.rollbacks > 0, "{stats:?}");
    assert!(stats.last_rollback.as_deref().is_some_and(|m| m.contains("rolled back")));
    assert!(stats.terms[3] > 0.0, "the guided term is on: {stats:?}");
    session.stop_finetune().unwrap();
}

#[test]
fn guided_only_fine_tuning_skips_the_decoder_and_waits_for_masks() {
    // A model that segments with its attention masks, guided with
    // reconstruction off: the decoder is never run, and frames pushed
    // without masks give the trainer nothing to step on (no crash, no step).
    let mut config = common::tiny_config(32);
    config.masks = slotrt::model::config::MaskKind::Attention;
    tch::manual_seed(5);
    let model = RuntimeModel::from_model(SlotModel::new(&config, Device::Cpu).unwrap()).unwrap();
    let session = Session::new(model, SessionOptions::default()).unwrap();
    let losses = LossWeights { reconstruction: 0.0, guided: 1.0, ..LossWeights::default() };
    session.enable_finetune(FinetuneOptions { losses, ..quick() }).unwrap();
    stream_until(&session, &clips(2), u64::MAX, false, Duration::from_secs(2));
    let idle = session.finetune_stats().unwrap();
    assert_eq!(idle.steps, 0, "{idle:?}");
    assert!(idle.running && idle.frames_seen > 0, "{idle:?}");
    stream_until(&session, &clips(2), 3, true, Duration::from_secs(60));
    let stats = session.finetune_stats().unwrap();
    assert!(stats.steps >= 3, "{stats:?}");
    assert_eq!(stats.terms[0], 0.0, "no reconstruction was computed: {stats:?}");
    assert!(stats.terms[3] > 0.0 && stats.loss.is_finite(), "{stats:?}");
    session.stop_finetune().unwrap();
}

/// Largest weight change between what `session` serves now and `loaded`.
fn served_drift(session: &Session, loaded: &RuntimeModel) -> f64 {
    let before = loaded.slot_model().vs.variables();
    let now = session.current_model().slot_model().vs.variables();
    before.iter().map(|(name, w)| (&now[name] - w).abs().max().double_value(&[])).fold(0.0, f64::max)
}

#[test]
fn a_moving_average_serves_smoothed_weights() {
    // Same steps, same seed: served as trained, the weights move by a full
    // step's worth; as a 0.99 moving average, by about a hundredth of it.
    let drift = |ema_decay: f64| {
        let model = tiny_model();
        let session = Session::new(model.clone(), SessionOptions::default()).unwrap();
        let options = FinetuneOptions { ema_decay, publish_every: 1, seed: 3, ..quick() };
        session.enable_finetune(options).unwrap();
        stream_until(&session, &clips(2), 4, false, Duration::from_secs(60));
        session.stop_finetune().unwrap();
        served_drift(&session, &model)
    };
    let (plain, averaged) = (drift(0.0), drift(0.99));
    assert!(plain > 1e-4, "training moved the weights: {plain}");
    assert!(averaged > 0.0 && averaged < 0.2 * plain, "averaged {averaged} vs plain {plain}");
}

/// Real scenes hold more bodies than a model has slots: such frames are
/// taken, and the guided loss trains on the instances slots match.
#[test]
fn frames_with_more_instances_than_slots_are_accepted_and_train() {
    let model = tiny_model(); // 4 slots
    let session = Session::new(model, SessionOptions::default()).unwrap();
    let losses = LossWeights { reconstruction: 0.0, guided: 1.0, ..LossWeights::default() };
    session.enable_finetune(FinetuneOptions { losses, ..quick() }).unwrap();
    let c = &clips(1)[0];
    // Nine instances (background included) in vertical bands.
    let many: Vec<u8> = (0..32 * 32).map(|i| ((i % 32) / 4 + (i / 32) % 2) as u8).collect();
    assert!(many.iter().collect::<std::collections::BTreeSet<_>>().len() > 4);
    let stream = session.open_stream().unwrap();
    let (started, mut r) = (Instant::now(), FrameResult::default());
    while session.finetune_stats().unwrap().steps < 3 && started.elapsed() < Duration::from_secs(60) {
        for t in 0..8 {
            stream.push_with_masks(&frame(c, t), &many).unwrap();
            stream.poll(Some(Duration::from_secs(30)), &mut r).unwrap();
        }
        stream.reset().unwrap();
    }
    let stats = session.finetune_stats().unwrap();
    assert!(stats.steps >= 3 && stats.terms[3] > 0.0 && stats.loss.is_finite(), "{stats:?}");
    session.stop_finetune().unwrap();
}

#[test]
fn the_learning_rate_warms_up_then_decays_when_asked() {
    let constant = FinetuneOptions { lr: 1e-3, warmup_steps: 10, ..FinetuneOptions::default() };
    assert!((constant.lr_at(0) - 1e-4).abs() < 1e-12);
    assert!([9, 100, 100_000].iter().all(|&t| (constant.lr_at(t) - 1e-3).abs() < 1e-12));
    let decaying = FinetuneOptions { decay_steps: 100, min_lr_ratio: 0.1, ..constant };
    assert!((decaying.lr_at(9) - 1e-3).abs() < 1e-12);
    assert!((decaying.lr_at(60) - 0.55e-3).abs() < 1e-12, "half way down the cosine");
    assert!((decaying.lr_at(110) - 1e-4).abs() < 1e-12 && (decaying.lr_at(5000) - 1e-4).abs() < 1e-12);
    assert!((10..110).all(|t| decaying.lr_at(t + 1) <= decaying.lr_at(t)));
}

#[test]
fn bad_masks_and_options_are_refused() {
    let model = tiny_model();
    let session = Session::new(model, SessionOptions::default()).unwrap();
    let c = &clips(1)[0];
    let stream = session.open_stream().unwrap();
    assert!(
        matches!(stream.push_with_masks(&frame(c, 0), &c.frame_ids(0)[1..]), Err(Error::InvalidArgument(m)) if m.contains("ids"))
    );
    assert!(matches!(session.pause_finetune(), Err(Error::InvalidArgument(_))));
    assert!(matches!(session.stop_finetune(), Err(Error::InvalidArgument(_))));
    let bad = FinetuneOptions { lr: 0.0, ..FinetuneOptions::default() };
    assert!(matches!(session.enable_finetune(bad), Err(Error::InvalidArgument(_))));
    let nothing = LossWeights { reconstruction: 0.0, ..LossWeights::default() };
    let no_loss = FinetuneOptions { losses: nothing, ..FinetuneOptions::default() };
    assert!(
        matches!(session.enable_finetune(no_loss), Err(Error::InvalidArgument(m)) if m.contains("at least one term"))
    );
    let floor = FinetuneOptions { decay_steps: 100, min_lr_ratio: 1.5, ..quick() };
    assert!(matches!(session.enable_finetune(floor), Err(Error::InvalidArgument(m)) if m.contains("min_lr_ratio")));
    let negative = FinetuneOptions { losses: LossWeights { guided: -1.0, ..LossWeights::default() }, ..quick() };
    assert!(matches!(session.enable_finetune(negative), Err(Error::InvalidArgument(_))));
    let frozen = FinetuneOptions {
        parts: slotrt::runtime::TrainParts { encoder: false, grouping: false, predictor: false, decoder: false },
        ..FinetuneOptions::default()
    };
    assert!(matches!(session.enable_finetune(frozen), Err(Error::Unsupported(_))));
    let gpu = FinetuneOptions { device: Device::Cuda(7), ..FinetuneOptions::default() };
    assert!(matches!(session.enable_finetune(gpu), Err(Error::DeviceUnavailable(_))));
    session.close();
    assert!(matches!(session.enable_finetune(quick()), Err(Error::Closed(_))));
}

#[test]
fn stopping_while_publishes_are_in_flight_keeps_serving() {
    // Publish after every step while a second thread keeps streaming: each
    // stop lands at an arbitrary point of the train/publish cycle.
    let session = Arc::new(Session::new(tiny_model(), SessionOptions::default()).unwrap());
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let feeder = {
        let (session, done) = (session.clone(), done.clone());
        std::thread::spawn(move || {
            let data = clips(1);
            let stream = session.open_stream().unwrap();
            let mut r = FrameResult::default();
            for t in (0..8).cycle() {
                if done.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                stream.push(&frame(&data[0], t)).unwrap();
                stream.poll(Some(Duration::from_secs(30)), &mut r).unwrap();
                assert!(r.slots.iter().all(|v| v.is_finite()));
            }
        })
    };
    let mut r = FrameResult::default();
    let probe = session.open_stream().unwrap();
    let data = clips(1);
    for round in 0..3 {
        session.enable_finetune(FinetuneOptions { publish_every: 1, ..quick() }).unwrap();
        let started = Instant::now();
        while session.finetune_stats().unwrap().publishes < 2 && started.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let stats = session.stop_finetune().unwrap();
        assert!(!stats.running && stats.publishes >= 2, "round {round}: {stats:?}");
        probe.process(&frame(&data[0], round), &mut r).unwrap();
        assert!(r.slots.iter().all(|v| v.is_finite()));
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    feeder.join().unwrap();
}
