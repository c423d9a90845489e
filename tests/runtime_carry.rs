//! Carry-over through the runtime on the shipped model: the runtime's
//! label maps score exactly as `slotrt eval`'s loop on the same clips, and
//! slot ids keep following the same ground-truth objects.

use std::path::Path;
use std::time::Duration;

use slotrt::data::{generate_clip, Clip, Split, SynthConfig};
use slotrt::metrics::score_clip;
use slotrt::runtime::{
    episode_seed, Frame, FrameResult, ModelOptions, PixelFormat, RuntimeModel, Session, SessionOptions,
};
use slotrt::train::batch::stack_clips;
use slotrt::train::evaluate::predict_masks;
use tch::{Device, Kind};

const CLIPS: u64 = 4;
const FRAMES: u32 = 8;

fn shipped() -> std::sync::Arc<RuntimeModel> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/savi-small-64.safetensors");
    RuntimeModel::load(&path, &ModelOptions::default()).expect("the shipped model loads")
}

fn clips() -> Vec<Clip> {
    let config = SynthConfig { frames: FRAMES, ..SynthConfig::default() };
    (0..CLIPS).map(|i| generate_clip(&config, Split::Test, i).unwrap()).collect()
}

/// Label maps [T * H * W] of one clip streamed through the runtime.
fn stream_labels(session: &Session, clip: &Clip) -> (Vec<i32>, u64) {
    let stream = session.open_stream().unwrap();
    let mut labels = Vec::new();
    let mut r = FrameResult::default();
    for t in 0..clip.frames as usize {
        let frame = Frame::packed(clip.frame_rgb(t), clip.width as usize, clip.height as usize, PixelFormat::Rgb8);
        stream.push(&frame).unwrap();
        assert!(stream.poll(Some(Duration::from_secs(60)), &mut r).unwrap());
        labels.extend(r.labels.iter().map(|&l| l as i32));
    }
    (labels, stream.key())
}

#[test]
fn runtime_video_scores_equal_the_eval_loop() {
    let model = shipped();
    let opts = SessionOptions { label_maps: true, deterministic: true, seed: 11, ..SessionOptions::default() };
    let session = Session::new(model.clone(), opts).unwrap();
    let mut identity_hits = 0usize;
    let mut identity_total = 0usize;
    for clip in clips() {
        let (labels, key) = stream_labels(&session, &clip);
        let truth: Vec<i32> = clip.ids.iter().map(|&x| x as i32).collect();
        let (t, h, w) = (clip.frames as usize, clip.height as usize, clip.width as usize);
        let runtime = score_clip(&truth, &labels, t, h, w).unwrap();
        // The eval loop on the same clip, with the stream's first-frame noise.
        let batch = stack_clips(vec![clip.clone()], Device::Cpu);
        let seed = episode_seed(11, key, 0) as i64;
        let pred = predict_masks(model.slot_model(), &batch, true, seed).unwrap();
        let eval_labels: Vec<i32> = Vec::try_from(pred.to_kind(Kind::Int).flatten(0, -1)).unwrap();
        let eval = score_clip(&truth, &eval_labels, t, h, w).unwrap();
        // Same inputs bit for bit (the conversion computes normalise's
        // exact arithmetic, batches are contiguous NCHW in both): the same
        // label for every pixel, hence the same scores.
        let differ = labels.iter().zip(&eval_labels).filter(|(a, b)| a != b).count();
        assert_eq!(differ, 0, "{differ} of {} pixels labelled differently", labels.len());
        assert_eq!(runtime.video_fg_ari, eval.video_fg_ari);
        assert_eq!(runtime.fg_ari, eval.fg_ari);
        // Identity: each object's majority slot per frame vs over the clip.
        for object in 1..=clip.num_objects as u8 {
            let mut per_frame = Vec::new();
            for f in 0..t {
                let mut votes = [0usize; 256];
                for p in 0..h * w {
                    if clip.ids[f * h * w + p] == object {
                        votes[labels[f * h * w + p] as usize] += 1;
                    }
                }
                if votes.iter().sum::<usize>() >= 20 {
                    per_frame.push((0..256).max_by_key(|&s| votes[s]).unwrap());
                }
            }
            let mut counts = [0usize; 256];
            per_frame.iter().for_each(|&s| counts[s] += 1);
            identity_hits += counts.iter().max().copied().unwrap_or(0);
            identity_total += per_frame.len();
        }
    }
    let identity = identity_hits as f64 / identity_total as f64;
    eprintln!("objects keep their slot in {:.1}% of frames", 100.0 * identity);
    assert!(identity > 0.8, "slot ids follow objects: {identity:.3}");
}
