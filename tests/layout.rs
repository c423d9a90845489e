//! Channels-last convolutions on the shipped model: the same results as
//! NCHW to float rounding and the same held-out scores, bit-identical
//! between deterministic runs, reported, and kept by fine-tuning's publish.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use slotrt::data::{generate_clip, Split, SynthConfig};
use slotrt::model::{bundle, Layout};
use slotrt::runtime::{Frame, FrameResult, ModelOptions, PixelFormat, RuntimeModel, Session, SessionOptions};
use slotrt::train::evaluate::score_split;
use tch::Device;

fn shipped_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/savi-small-64.safetensors")
}

fn load(layout: Layout) -> Arc<RuntimeModel> {
    RuntimeModel::load(&shipped_path(), &ModelOptions { layout, ..ModelOptions::default() }).unwrap()
}

/// Served results of 6 frames of one clip, deterministic.
fn serve(model: &Arc<RuntimeModel>) -> Vec<FrameResult> {
    let clip = generate_clip(&SynthConfig::default(), Split::Test, 4).unwrap();
    let session =
        Session::new(model.clone(), SessionOptions { deterministic: true, seed: 9, ..Default::default() }).unwrap();
    let stream = session.open_stream().unwrap();
    (0..6)
        .map(|t| {
            let mut r = FrameResult::default();
            stream.process(&Frame::packed(clip.frame_rgb(t), 64, 64, PixelFormat::Rgb8), &mut r).unwrap();
            r
        })
        .collect()
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn channels_last_serves_what_nchw_does_and_deterministic_runs_repeat_bit_for_bit() {
    let (nchw, cl) = (load(Layout::Nchw), load(Layout::ChannelsLast));
    assert_eq!((nchw.info().layout, cl.info().layout), (Layout::Nchw, Layout::ChannelsLast));
    // The weights really moved: channels innermost (stride 1 on dim 1).
    let stride = |m: &RuntimeModel| m.slot_model().vs.variables()["encoder.convs.1.weight"].stride();
    assert_eq!(stride(&nchw), [800, 25, 5, 1]);
    assert_eq!(stride(&cl), [800, 1, 160, 32]);
    let (a, b) = (serve(&nchw), serve(&cl));
    for (t, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(max_abs(&x.slots, &y.slots) < 1e-4, "frame {t}: slots differ by {}", max_abs(&x.slots, &y.slots));
        assert!(max_abs(&x.masks, &y.masks) < 1e-4, "frame {t}: masks differ by {}", max_abs(&x.masks, &y.masks));
        assert_eq!(x.slot_ids, y.slot_ids, "frame {t}: identities");
    }
    let again = serve(&load(Layout::ChannelsLast));
    for (x, y) in b.iter().zip(&again) {
        assert_eq!(x.slots, y.slots);
        assert_eq!(x.masks, y.masks);
    }
}

#[test]
fn channels_last_keeps_held_out_scores() {
    let mut plain = bundle::load(&shipped_path(), Device::Cpu).unwrap();
    let data = SynthConfig { frames: 8, ..SynthConfig::default() };
    let a = score_split(&plain, &data, Split::Test, 6, 6, true).unwrap();
    plain.set_layout(Layout::ChannelsLast).unwrap();
    assert_eq!(plain.layout(), Layout::ChannelsLast);
    let b = score_split(&plain, &data, Split::Test, 6, 6, true).unwrap();
    assert!((a.fg_ari - b.fg_ari).abs() < 0.005, "FG-ARI nchw {} channels-last {}", a.fg_ari, b.fg_ari);
    assert!((a.video_fg_ari - b.video_fg_ari).abs() < 0.005, "video FG-ARI {} vs {}", a.video_fg_ari, b.video_fg_ari);
}

#[test]
fn auto_resolves_by_the_cpu_and_a_published_copy_keeps_the_layout() {
    let auto = load(Layout::Auto);
    assert_eq!(auto.info().layout, Layout::Auto.resolve(Device::Cpu));
    assert_ne!(auto.info().layout, Layout::Auto);
    let cl = load(Layout::ChannelsLast);
    let weights = bundle::load(&shipped_path(), Device::Cpu).unwrap();
    let published = RuntimeModel::copy_of(&weights, &cl).unwrap();
    assert_eq!(published.info().layout, Layout::ChannelsLast);
    let (x, y) = (serve(&cl), serve(&published));
    assert_eq!(x[5].masks, y[5].masks, "the copy serves exactly what its source does");
}
