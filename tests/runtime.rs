//! The streaming runtime against the plain `SlotModel::step` loop: every
//! driving mode, batching, resets, carried-state hand-over, overload
//! policies and bad input.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use slotrt::data::{generate_clip, Clip, Split, SynthConfig};
use slotrt::model::config::MaskKind;
use slotrt::model::grouping::InitInput;
use slotrt::model::SlotModel;
use slotrt::runtime::{
    episode_seed, Frame, FrameResult, MaskSource, OverflowPolicy, PixelFormat, RuntimeModel, Session, SessionOptions,
    STEP_LANE_KEY,
};
use slotrt::Error;
use tch::{Device, Kind, Tensor};

const SIZE: u32 = 32;
const FRAMES: u32 = 6;
const SEED: u64 = 7;

fn tiny_model() -> Arc<RuntimeModel> {
    tch::manual_seed(3);
    RuntimeModel::from_model(SlotModel::new(&common::tiny_config(SIZE as i64), Device::Cpu).unwrap()).unwrap()
}

fn clip(index: u64) -> Clip {
    let config = SynthConfig { width: SIZE, height: SIZE, frames: FRAMES, ..SynthConfig::default() };
    generate_clip(&config, Split::Test, index).unwrap()
}

fn frame(clip: &Clip, t: usize) -> Frame<'_> {
    let mut f = Frame::packed(clip.frame_rgb(t), SIZE as usize, SIZE as usize, PixelFormat::Rgb8);
    f.timestamp_ns = 1000 * t as i64;
    f.tag = t as u64;
    f
}

fn options() -> SessionOptions {
    SessionOptions { deterministic: true, seed: SEED, warmup: false, ..SessionOptions::default() }
}

/// (slots, masks) per frame from the plain model loop, starting an
/// episode with the noise of `noise_seed`.
fn reference(
    model: &RuntimeModel,
    clip: &Clip,
    frames: std::ops::Range<usize>,
    init: Tensor,
) -> Vec<(Vec<f32>, Vec<f32>)> {
    let m = model.slot_model();
    tch::no_grad(|| {
        let mut init = init;
        let first = frames.start;
        frames
            .map(|t| {
                let images = Tensor::from_slice(clip.frame_rgb(t))
                    .view([1, SIZE as i64, SIZE as i64, 3])
                    .permute([0, 3, 1, 2])
                    .to_kind(Kind::Float)
                    / 255.0;
                let out = m.step(&m.normalize(&images), &init, t == first).unwrap();
                let masks = m.decode(&out.slots).masks;
                init = out.next_init;
                (Vec::try_from(out.slots.flatten(0, -1)).unwrap(), Vec::try_from(masks.flatten(0, -1)).unwrap())
            })
            .collect()
    })
}

fn fresh_init(model: &RuntimeModel, key: u64, episode: u64) -> Tensor {
    model.slot_model().init_slots(1, InitInput::Seed(episode_seed(SEED, key, episode))).unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn assert_close(got: &FrameResult, want: &(Vec<f32>, Vec<f32>), what: &str) {
    let (ds, dm) = (max_diff(&got.slots, &want.0), max_diff(&got.masks, &want.1));
    assert!(ds < 1e-5 && dm < 1e-5, "{what}: slots differ by {ds}, masks by {dm}");
}

#[test]
fn push_and_poll_across_batched_streams_equals_the_model_loop() {
    let model = tiny_model();
    // Batching on: four streams interleaved share forward passes.
    let opts = SessionOptions { deterministic: false, max_batch: 4, max_wait: Duration::from_millis(20), ..options() };
    let session = Session::new(model.clone(), opts).unwrap();
    let clips: Vec<Clip> = (0..4).map(clip).collect();
    let streams: Vec<_> = (0..4).map(|_| session.open_stream().unwrap()).collect();
    let mut got: Vec<Vec<FrameResult>> = vec![Vec::new(); 4];
    for t in 0..FRAMES as usize {
        for (s, c) in streams.iter().zip(&clips) {
            s.push(&frame(c, t)).unwrap();
        }
        for (i, s) in streams.iter().enumerate() {
            let mut r = FrameResult::default();
            assert!(s.poll(Some(Duration::from_secs(30)), &mut r).unwrap());
            assert_eq!((r.frame_index, r.tag, r.timestamp_ns), (t as u64, t as u64, 1000 * t as i64));
            got[i].push(r);
        }
    }
    let stats = session.stats();
    assert!(stats.largest_batch > 1, "streams were batched together: {stats:?}");
    assert_eq!(stats.frames_out, 4 * FRAMES as u64);
    for (i, c) in clips.iter().enumerate() {
        assert!(got[i][0].starts_episode);
        assert!(got[i][1..].iter().all(|r| !r.starts_episode && r.slot_ids == got[i][0].slot_ids));
        let init = model
            .slot_model()
            .init_slots(1, InitInput::Seed(episode_seed(session.seed(), streams[i].key(), 0)))
            .unwrap();
        let want = reference(&model, c, 0..FRAMES as usize, init);
        for (t, w) in want.iter().enumerate() {
            assert_close(&got[i][t], w, &format!("stream {i} frame {t}"));
        }
    }
}

#[test]
fn deterministic_streams_match_the_model_loop_exactly_from_frame_zero() {
    let model = tiny_model();
    let session = Session::new(model.clone(), options()).unwrap();
    let c = clip(11);
    let a = session.open_stream().unwrap();
    let b = session.open_stream().unwrap();
    // Interleave two streams on different clips: no shared state.
    let other = clip(12);
    let mut got_a = Vec::new();
    for t in 0..FRAMES as usize {
        a.push(&frame(&c, t)).unwrap();
        b.push(&frame(&other, t)).unwrap();
        let mut r = FrameResult::default();
        a.poll(None, &mut r).unwrap();
        got_a.push(r);
        let mut r = FrameResult::default();
        b.poll(None, &mut r).unwrap();
    }
    let want = reference(&model, &c, 0..FRAMES as usize, fresh_init(&model, a.key(), 0));
    for (t, (g, w)) in got_a.iter().zip(&want).enumerate() {
        assert_close(g, w, &format!("frame {t}"));
    }
    // Bit-identical on a second run of a new session.
    let again = Session::new(model.clone(), options()).unwrap();
    let a2 = again.open_stream().unwrap();
    for t in 0..FRAMES as usize {
        let mut r = FrameResult::default();
        a2.process(&frame(&c, t), &mut r).unwrap();
        if t == 0 || t == FRAMES as usize - 1 {
            assert_close(&r, &want[t], "process()");
        }
        assert_eq!(r.slots, got_a[t].slots, "process() repeats push/poll bit for bit at frame {t}");
    }
}

#[test]
fn batched_step_with_resets_matches_per_lane_loops() {
    let model = tiny_model();
    let session = Session::new(model.clone(), options()).unwrap();
    let clips: Vec<Clip> = (20..23).map(clip).collect();
    let mut results = vec![FrameResult::default(); 3];
    let reset_at = 3;
    let mut per_lane: Vec<Vec<FrameResult>> = vec![Vec::new(); 3];
    for t in 0..FRAMES as usize {
        let frames: Vec<Frame> = clips.iter().map(|c| frame(c, t)).collect();
        // Lane 1 starts a new episode at frame `reset_at` (autoreset).
        let reset = [t == 0, t == 0 || t == reset_at, t == 0];
        session.step(&frames, &reset, &mut results).unwrap();
        for (lane, r) in results.iter().enumerate() {
            per_lane[lane].push(r.clone());
        }
    }
    for lane in [0usize, 2] {
        let want =
            reference(&model, &clips[lane], 0..FRAMES as usize, fresh_init(&model, STEP_LANE_KEY + lane as u64, 0));
        for t in 0..FRAMES as usize {
            assert_close(&per_lane[lane][t], &want[t], &format!("lane {lane} frame {t}"));
        }
    }
    let key = STEP_LANE_KEY + 1;
    let before = reference(&model, &clips[1], 0..reset_at, fresh_init(&model, key, 0));
    let after = reference(&model, &clips[1], reset_at..FRAMES as usize, fresh_init(&model, key, 1));
    for (t, w) in before.iter().chain(&after).enumerate() {
        assert_close(&per_lane[1][t], w, &format!("lane 1 frame {t}"));
    }
    let r = &per_lane[1][reset_at];
    assert!(r.starts_episode && r.episode == 1);
    assert!(r.slot_ids.iter().all(|id| !per_lane[1][0].slot_ids.contains(id)), "new episode, new ids");
    // Mismatched lengths are an error and change nothing.
    let frames: Vec<Frame> = clips.iter().map(|c| frame(c, 0)).collect();
    assert!(matches!(session.step(&frames, &[false, false], &mut results), Err(Error::InvalidArgument(_))));
}

#[test]
fn reset_and_carried_state_hand_over() {
    let model = tiny_model();
    let session = Session::new(model.clone(), options()).unwrap();
    let c = clip(30);
    let a = session.open_stream().unwrap();
    let mut r = FrameResult::default();
    for t in 0..3 {
        a.process(&frame(&c, t), &mut r).unwrap();
    }
    let mut state = vec![0f32; 4 * 16];
    a.state(&mut state).unwrap();
    a.process(&frame(&c, 3), &mut r).unwrap();
    let continued = r.clone();
    // Another stream continues from A's state: same result as A.
    let b = session.open_stream().unwrap();
    b.process(&frame(&c, 0), &mut r).unwrap();
    b.set_state(&state).unwrap();
    b.process(&frame(&c, 3), &mut r).unwrap();
    assert_eq!(r.slots, continued.slots);
    assert!(!r.starts_episode);
    // Reset: the next frame starts episode 1 from that episode's noise.
    a.reset().unwrap();
    a.process(&frame(&c, 4), &mut r).unwrap();
    let want = reference(&model, &c, 4..5, fresh_init(&model, a.key(), 1));
    assert_close(&r, &want[0], "after reset");
    assert!(r.starts_episode && r.episode == 1);
    // Seeding with explicit slots starts an episode from them.
    a.seed_slots(&state).unwrap();
    a.process(&frame(&c, 5), &mut r).unwrap();
    let want = reference(&model, &c, 5..6, Tensor::from_slice(&state).view([1, 4, 16]));
    assert_close(&r, &want[0], "seeded slots");
    // Bad state sizes and values.
    assert!(matches!(a.set_state(&state[1..]), Err(Error::InvalidArgument(_))));
    let mut nan = state.clone();
    nan[0] = f32::NAN;
    assert!(matches!(a.seed_slots(&nan), Err(Error::InvalidArgument(_))));
    assert!(matches!(a.seed_boxes(&[0.0; 16]), Err(Error::Unsupported(_))));
}

#[test]
fn keep_latest_drops_and_never_blocks_while_block_never_drops() {
    let model = tiny_model();
    let c = clip(40);
    for policy in [OverflowPolicy::KeepLatest, OverflowPolicy::Block] {
        let opts = SessionOptions { queue_depth: 2, overflow: policy, ..options() };
        let session = Session::new(model.clone(), opts).unwrap();
        let stream = Arc::new(session.open_stream().unwrap());
        // A slow consumer on the worker thread. Under keep-latest it is held
        // shut until every push returned: pushes that waited for it would
        // never return (checked with a generous timeout, not a stopwatch).
        let gate = Arc::new((Mutex::new(policy == OverflowPolicy::Block), std::sync::Condvar::new()));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (seen_cb, gate_cb) = (seen.clone(), gate.clone());
        stream
            .set_callback(Some(Arc::new(move |r: &FrameResult| {
                let (open, wake) = &*gate_cb;
                drop(wake.wait_while(open.lock().unwrap(), |open| !*open).unwrap());
                std::thread::sleep(Duration::from_millis(30));
                seen_cb.lock().unwrap().push(r.tag);
            })))
            .unwrap();
        let pushes = 12u64;
        let (done, pushed) = std::sync::mpsc::channel();
        let producer = {
            let (stream, c) = (stream.clone(), c.clone());
            std::thread::spawn(move || {
                for i in 0..pushes {
                    let mut f = frame(&c, (i % FRAMES as u64) as usize);
                    f.tag = i;
                    stream.push(&f).unwrap();
                }
                done.send(()).unwrap();
            })
        };
        let producer_finished = pushed.recv_timeout(Duration::from_secs(120)).is_ok();
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        producer.join().unwrap();
        // Let the worker finish: every push is stepped or dropped, and every
        // stepped frame has reached the callback.
        let settled = |s: slotrt::runtime::StreamStats, seen: usize| {
            s.frames_out + s.frames_dropped == pushes && seen as u64 == s.frames_out
        };
        let waiting = std::time::Instant::now();
        while !settled(stream.stats().unwrap(), seen.lock().unwrap().len())
            && waiting.elapsed() < Duration::from_secs(120)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let stats = stream.stats().unwrap();
        let tags = seen.lock().unwrap().clone();
        assert_eq!(stats.frames_in, pushes);
        assert_eq!(stats.frames_out + stats.frames_dropped, pushes, "{policy:?}: {stats:?}");
        assert!(tags.windows(2).all(|w| w[0] < w[1]), "results stay in push order: {tags:?}");
        match policy {
            OverflowPolicy::KeepLatest => {
                assert!(stats.frames_dropped > 0, "{stats:?}");
                assert!(producer_finished, "the producer never waits for the consumer");
                assert_eq!(*tags.last().unwrap(), pushes - 1, "the latest frame is kept: {tags:?} {stats:?}");
            }
            OverflowPolicy::Block => {
                assert!(producer_finished);
                assert_eq!(stats.frames_dropped, 0);
                assert_eq!(tags, (0..pushes).collect::<Vec<_>>());
            }
        }
    }
}

#[test]
fn callback_results_equal_the_model_loop() {
    let model = tiny_model();
    // Block: every frame is stepped (keep-latest could drop some).
    let session = Session::new(model.clone(), SessionOptions { overflow: OverflowPolicy::Block, ..options() }).unwrap();
    let c = clip(51);
    let stream = session.open_stream().unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    stream.set_callback(Some(Arc::new(move |r: &FrameResult| sink.lock().unwrap().push(r.clone())))).unwrap();
    for t in 0..FRAMES as usize {
        stream.push(&frame(&c, t)).unwrap();
    }
    let started = std::time::Instant::now();
    while got.lock().unwrap().len() < FRAMES as usize {
        assert!(started.elapsed() < Duration::from_secs(60), "callbacks stopped arriving");
        std::thread::sleep(Duration::from_millis(5));
    }
    let want = reference(&model, &c, 0..FRAMES as usize, fresh_init(&model, stream.key(), 0));
    for (t, (g, w)) in got.lock().unwrap().iter().zip(&want).enumerate() {
        assert_close(g, w, &format!("callback frame {t}"));
    }
}

#[test]
fn callbacks_get_every_result_and_poll_sees_none() {
    let model = tiny_model();
    let session = Session::new(model.clone(), options()).unwrap();
    let c = clip(50);
    let stream = session.open_stream().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    stream
        .set_callback(Some(Arc::new(move |_r: &FrameResult| {
            counter.fetch_add(1, Ordering::SeqCst);
        })))
        .unwrap();
    for t in 0..4 {
        stream.push(&frame(&c, t)).unwrap();
    }
    while count.load(Ordering::SeqCst) < 4 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut r = FrameResult::default();
    assert!(!stream.poll(Some(Duration::from_millis(20)), &mut r).unwrap());
    // Back to polling.
    stream.set_callback(None).unwrap();
    stream.push(&frame(&c, 4)).unwrap();
    assert!(stream.poll(Some(Duration::from_secs(30)), &mut r).unwrap());
    assert_eq!(r.frame_index, 4);
}

#[test]
fn label_maps_at_the_frames_own_resolution() {
    let model = tiny_model();
    let opts = SessionOptions { label_maps: true, ..options() };
    let session = Session::new(model.clone(), opts).unwrap();
    let stream = session.open_stream().unwrap();
    // A 3x larger frame, resized to the model's 32x32 on the way in.
    let c = clip(60);
    let big: Vec<u8> = {
        let src = c.frame_rgb(0);
        let n = SIZE as usize;
        let mut out = vec![0u8; 9 * n * n * 3];
        for y in 0..3 * n {
            for x in 0..3 * n {
                out[(y * 3 * n + x) * 3..][..3].copy_from_slice(&src[((y / 3) * n + x / 3) * 3..][..3]);
            }
        }
        out
    };
    let mut r = FrameResult::default();
    stream.process(&Frame::packed(&big, 96, 96, PixelFormat::Rgb8), &mut r).unwrap();
    assert_eq!((r.label_height, r.label_width, r.labels.len()), (96, 96, 96 * 96));
    let masks = Tensor::from_slice(&r.masks).view([1, 4, r.mask_height as i64, r.mask_width as i64]);
    let want: Vec<u8> = Vec::try_from(
        masks.upsample_bilinear2d([96, 96], false, None, None).argmax(1, false).to_kind(Kind::Uint8).flatten(0, -1),
    )
    .unwrap();
    assert_eq!(r.labels, want);
    let sums = masks.sum_dim_intlist([1].as_slice(), false, Kind::Float);
    assert!((sums - 1.0).abs().max().double_value(&[]) < 1e-5, "soft masks sum to 1");
    // Attention masks come at the token grid instead.
    let att = Session::new(model.clone(), SessionOptions { mask_source: MaskSource::Attention, ..options() }).unwrap();
    let s = att.open_stream().unwrap();
    s.process(&frame(&c, 0), &mut r).unwrap();
    assert_eq!((r.mask_height, r.mask_width), (model.info().attention_height, model.info().attention_width));
    // A model that segments with its attention serves it by default, and
    // its decoder's masks on request.
    let mut config = common::tiny_config(SIZE as i64);
    config.masks = MaskKind::Attention;
    let own = RuntimeModel::from_model(SlotModel::new(&config, Device::Cpu).unwrap()).unwrap();
    assert_eq!(own.info().masks, MaskKind::Attention);
    let grid = (own.info().attention_height, own.info().attention_width);
    assert_ne!(grid, (own.info().mask_height, own.info().mask_width), "the test needs sizes that differ");
    let by_default = Session::new(own.clone(), options()).unwrap();
    by_default.open_stream().unwrap().process(&frame(&c, 0), &mut r).unwrap();
    assert_eq!((r.mask_height, r.mask_width), grid);
    let decoder = Session::new(own.clone(), SessionOptions { mask_source: MaskSource::Decoder, ..options() }).unwrap();
    decoder.open_stream().unwrap().process(&frame(&c, 0), &mut r).unwrap();
    assert_eq!((r.mask_height, r.mask_width), (own.info().mask_height, own.info().mask_width));
}

#[test]
fn bad_input_and_closed_handles_give_specific_errors() {
    let model = tiny_model();
    let session = Session::new(model.clone(), options()).unwrap();
    let stream = session.open_stream().unwrap();
    let c = clip(70);
    let mut r = FrameResult::default();
    // Short buffer, zero size, narrow stride, NaN.
    let short = Frame::packed(&c.rgb[..100], 32, 32, PixelFormat::Rgb8);
    assert!(matches!(stream.push(&short), Err(Error::InvalidArgument(_))));
    let zero = Frame { width: 0, ..frame(&c, 0) };
    assert!(matches!(stream.process(&zero, &mut r), Err(Error::InvalidArgument(_))));
    let narrow = Frame { stride: 10, ..frame(&c, 0) };
    assert!(matches!(stream.push(&narrow), Err(Error::InvalidArgument(_))));
    let nan_plane = vec![0xffu8; 3 * 32 * 32 * 4];
    let nan = Frame::packed(&nan_plane, 32, 32, PixelFormat::F32Chw);
    assert!(matches!(stream.push(&nan), Err(Error::InvalidArgument(_))));
    // None of that cost the stream anything.
    stream.process(&frame(&c, 0), &mut r).unwrap();
    assert_eq!((r.frame_index, r.starts_episode), (0, true));
    // process() refuses while the worker has this stream's frames.
    let opts = SessionOptions { queue_depth: 8, ..options() };
    let busy_session = Session::new(model.clone(), opts).unwrap();
    let busy = busy_session.open_stream().unwrap();
    busy.set_callback(Some(Arc::new(|_r: &FrameResult| std::thread::sleep(Duration::from_millis(50))))).unwrap();
    for t in 0..3 {
        busy.push(&frame(&c, t)).unwrap();
    }
    assert!(matches!(busy.process(&frame(&c, 3), &mut r), Err(Error::InvalidArgument(_))));
    // Closed stream, then closed session.
    stream.close();
    assert!(matches!(stream.push(&frame(&c, 1)), Err(Error::Closed(_))));
    assert!(matches!(stream.poll(Some(Duration::ZERO), &mut r), Err(Error::Closed(_))));
    let other = session.open_stream().unwrap();
    session.close();
    assert!(matches!(other.process(&frame(&c, 1), &mut r), Err(Error::Closed(_))));
    assert!(matches!(session.open_stream(), Err(Error::Closed(_))));
    assert!(matches!(session.step(&[frame(&c, 0)], &[true], &mut [FrameResult::default()]), Err(Error::Closed(_))));
}

#[test]
fn many_streams_from_many_threads() {
    let model = tiny_model();
    let opts = SessionOptions { max_batch: 8, deterministic: false, ..options() };
    let session = Arc::new(Session::new(model, opts).unwrap());
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let session = session.clone();
            std::thread::spawn(move || {
                let c = clip(80 + i);
                let s = session.open_stream().unwrap();
                let mut r = FrameResult::default();
                for t in 0..FRAMES as usize {
                    s.push(&frame(&c, t)).unwrap();
                    assert!(s.poll(Some(Duration::from_secs(60)), &mut r).unwrap());
                    assert_eq!(r.frame_index, t as u64);
                }
                s.stats().unwrap()
            })
        })
        .collect();
    for h in handles {
        let stats = h.join().unwrap();
        assert_eq!((stats.frames_in, stats.frames_out, stats.frames_dropped), (FRAMES as u64, FRAMES as u64, 0));
    }
    assert_eq!(session.stats().frames_out, 6 * FRAMES as u64);
}

#[test]
fn conditional_models_start_episodes_from_boxes() {
    let mut c = tiny_model().config().clone();
    c.init = slotrt::model::config::SlotInitConfig::Conditional { hidden: 32 };
    let model = RuntimeModel::from_model(SlotModel::new(&c, Device::Cpu).unwrap()).unwrap();
    let session = Session::new(model.clone(), options()).unwrap();
    let stream = session.open_stream().unwrap();
    let clip = clip(90);
    let mut r = FrameResult::default();
    // No boxes: a clear error, nothing consumed.
    assert!(matches!(stream.process(&frame(&clip, 0), &mut r), Err(Error::InvalidArgument(m)) if m.contains("boxes")));
    assert!(matches!(stream.push(&frame(&clip, 0)), Err(Error::InvalidArgument(_))));
    assert!(matches!(stream.seed_boxes(&[0.5; 15]), Err(Error::InvalidArgument(_))));
    let boxes: Vec<f32> = (0..4).flat_map(|k| [0.1 * k as f32, 0.1, 0.1 * k as f32 + 0.3, 0.5]).collect();
    stream.seed_boxes(&boxes).unwrap();
    stream.process(&frame(&clip, 0), &mut r).unwrap();
    let init = model.slot_model().init_slots(1, InitInput::Boxes(&Tensor::from_slice(&boxes).view([1, 4, 4]))).unwrap();
    let want = reference(&model, &clip, 0..2, init);
    assert_close(&r, &want[0], "boxes frame 0");
    // Later frames carry on without boxes.
    stream.process(&frame(&clip, 1), &mut r).unwrap();
    assert_close(&r, &want[1], "boxes frame 1");
    // A reset needs boxes again.
    stream.reset().unwrap();
    assert!(matches!(stream.process(&frame(&clip, 2), &mut r), Err(Error::InvalidArgument(_))));
    assert!(matches!(
        session.step(&[frame(&clip, 0)], &[true], &mut [FrameResult::default()]),
        Err(Error::Unsupported(_))
    ));
}
