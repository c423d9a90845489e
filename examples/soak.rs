//! Soak test: streams many frames through `Session::step` and reports
//! resident memory (RSS) along the way, to show it stays flat.
//!
//!     cargo run --release --example soak -- [FRAMES] [ENVS] [MODEL]
//!
//! Defaults: 100000 frames, 32 environments, the shipped model. Every
//! environment resets every 16 frames (new episodes keep the first-frame
//! path in the loop too). RSS is sampled at every tenth of the run; growth
//! is measured from the first sample (after warm-up) to the last, and as
//! the peak of the second half against the peak of the first.

use std::path::PathBuf;
use std::time::Instant;

use slotrt::data::{generate_clip, Split, SynthConfig};
use slotrt::runtime::{Frame, FrameResult, ModelOptions, PixelFormat, RuntimeModel, Session, SessionOptions};

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() -> slotrt::Result<()> {
    let mut args = std::env::args().skip(1);
    let frames: usize = args.next().map_or(100_000, |a| a.parse().expect("FRAMES: a number"));
    let envs: usize = args.next().map_or(32, |a| a.parse().expect("ENVS: a number"));
    let model_path = args.next().map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/savi-small-64.safetensors"),
        PathBuf::from,
    );
    let model = RuntimeModel::load(&model_path, &ModelOptions::default())?;
    let session = Session::new(model, SessionOptions { max_batch: envs, ..SessionOptions::default() })?;
    let clips: Vec<_> = (0..envs as u64)
        .map(|i| generate_clip(&SynthConfig { frames: 16, ..SynthConfig::default() }, Split::Test, i))
        .collect::<slotrt::Result<_>>()?;
    let mut results: Vec<FrameResult> = (0..envs).map(|_| FrameResult::default()).collect();
    let calls = frames.div_ceil(envs);
    let mut samples = Vec::new();
    let started = Instant::now();
    for call in 0..calls {
        let t = call % 16;
        let batch: Vec<Frame> =
            clips.iter().map(|c| Frame::packed(c.frame_rgb(t), 64, 64, PixelFormat::Rgb8)).collect();
        let reset = vec![t == 0; envs];
        session.step(&batch, &reset, &mut results)?;
        if (call + 1) % (calls / 10).max(1) == 0 {
            samples.push(((call + 1) * envs, rss_kib()));
            println!(
                "{:>8} frames  RSS {:>8} KiB  {:.0} s",
                (call + 1) * envs,
                rss_kib(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    let (first, last) = (samples[0].1 as f64, samples[samples.len() - 1].1 as f64);
    println!(
        "{} frames in {:.0} s; RSS {:.0} -> {:.0} KiB after the first tenth: {:+.2}%",
        calls * envs,
        started.elapsed().as_secs_f64(),
        first,
        last,
        (last / first - 1.0) * 100.0
    );
    // glibc's heap makes RSS swing by a few percent with libtorch's large
    // tensors (freed and reused in a different order each call), so one
    // sample against another depends on the phase; a leak shows as a peak
    // that keeps rising.
    let half = samples.len() / 2;
    let peak = |s: &[(usize, u64)]| s.iter().map(|x| x.1).max().unwrap_or(0) as f64;
    let (early, late) = (peak(&samples[..half]), peak(&samples[half..]));
    println!(
        "peak RSS {:.0} KiB in the first half, {:.0} KiB in the second: {:+.2}%",
        early,
        late,
        (late / early - 1.0) * 100.0
    );
    Ok(())
}
