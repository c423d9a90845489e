//! `slotrt finetune`: stream a shifted synthetic domain, or a user's clip
//! files (recordings, simulator renders), through a model with online
//! fine-tuning on, and measure adaptation over time on held-out clips.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use slotrt::data::{generate_clip, list_clip_files, load_clip_file, Clip, Split, SynthConfig};
use slotrt::metrics::ClipScores;
use slotrt::model::refine::{GuidedFilter, RefineConfig};
use slotrt::model::SlotModel;
use slotrt::runtime::{
    FinetuneOptions, Frame, FrameResult, MaskRefinement, ModelOptions, OverflowPolicy, PixelFormat, RuntimeModel,
    Session, SessionOptions, TrainParts,
};
use slotrt::train::batch::stack_clips;
use slotrt::train::evaluate::{predict_masks, score_predictions, score_split, MeanScores};
use slotrt::train::losses::LossWeights;
use slotrt::{Error, Result};

#[derive(Args)]
pub struct FinetuneArgs {
    /// Model bundle (.safetensors) to adapt.
    #[arg(long)]
    model: PathBuf,
    /// The streamed domain: clip files (a folder of .npz clips or PNG clip
    /// folders, with ids for --guided; each clip is one camera episode), or
    /// a SynthConfig as JSON (as `slotrt eval --data`; `scripts/domains/`
    /// has some). Default: `SynthConfig::shifted_domain()`, unseen star and
    /// cross shapes on textured backgrounds.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Held-out clip files of the streamed domain to score before, during
    /// and after (needed with clip files in --data; never streamed).
    #[arg(long)]
    eval_data: Option<PathBuf>,
    /// Wall-clock minutes of streaming.
    #[arg(long, default_value_t = 10.0)]
    minutes: f64,
    /// Streams fed in parallel (one synthetic camera each).
    #[arg(long, default_value_t = 4)]
    streams: usize,
    /// Frames per second each camera delivers (0: as fast as the session
    /// takes them). Real cameras and simulators pace their frames; what the
    /// serving side leaves of the CPU is the trainer's.
    #[arg(long, default_value_t = 30.0)]
    fps: f64,
    /// Push the simulator's instance masks too (guided fine-tuning).
    #[arg(long)]
    guided: bool,
    /// Weight of the reconstruction loss. With --guided on a model that
    /// segments with its attention masks, 0 skips the decoder: several times
    /// the steps in the same time.
    #[arg(long, default_value_t = 1.0)]
    reconstruction: f64,
    /// Serve an exponential moving average of the trained weights with this
    /// decay per step (0: the trained weights as they are).
    #[arg(long, default_value_t = 0.0)]
    ema: f64,
    /// Cosine decay of the learning rate over this many trainer steps
    /// after warm-up (0: constant).
    #[arg(long, default_value_t = 0)]
    decay_steps: u64,
    /// Where the decay ends, as a fraction of --lr.
    #[arg(long, default_value_t = 0.1)]
    min_lr_ratio: f64,
    /// Mask refinement for serving and scoring (the fine-tuning losses
    /// always see the model's own masks).
    #[command(flatten)]
    refine: super::refine::RefineArgs,
    /// Model parts that train, comma-separated: encoder, grouping,
    /// predictor, decoder (a frozen backbone never trains).
    #[arg(long, default_value = "encoder,grouping,predictor,decoder")]
    train: String,
    /// Serve without fine-tuning (the latency baseline).
    #[arg(long)]
    no_finetune: bool,
    /// Held-out clips of the shifted domain scored at each evaluation.
    #[arg(long, default_value_t = 16)]
    eval_clips: usize,
    /// Seconds between evaluations.
    #[arg(long, default_value_t = 120.0)]
    eval_every: f64,
    /// Clips of each domain in the final evaluation.
    #[arg(long, default_value_t = 48)]
    final_clips: usize,
    #[arg(long, default_value_t = 2e-4)]
    lr: f64,
    /// Frames the trainer's replay remembers, all streams together (4
    /// cameras at 30 fps fill the default 2048 in 17 s).
    #[arg(long, default_value_t = 2048)]
    replay_frames: usize,
    /// Clips per optimiser step and frames per clip.
    #[arg(long, default_value_t = 8)]
    batch_clips: usize,
    #[arg(long, default_value_t = 3)]
    clip_frames: usize,
    /// Training device (cpu, cuda, cuda:N).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Where the curve (curve.json) and the adapted bundle go.
    #[arg(long, default_value = "out/finetune")]
    out: PathBuf,
    #[arg(long, default_value_t = 0)]
    threads: i32,
}

/// One point of the adaptation curve.
#[derive(serde::Serialize)]
struct Point {
    seconds: f64,
    steps: u64,
    fg_ari: f64,
    mbo: f64,
    video_fg_ari: f64,
}

/// The streamed domain.
enum Domain {
    Synth(SynthConfig),
    /// Clips streamed (cycled) and held-out clips scored.
    Files {
        stream: Vec<Clip>,
        held_out: Vec<Clip>,
    },
}

impl Domain {
    fn open(data: Option<&PathBuf>, eval_data: Option<&PathBuf>, guided: bool) -> Result<Domain> {
        let load = |dir: &PathBuf, ids: bool| -> Result<Vec<Clip>> {
            list_clip_files(dir)?.iter().map(|p| load_clip_file(p, ids)).collect()
        };
        match data {
            Some(p) if p.is_dir() || p.extension().is_some_and(|e| e == "npz") => {
                let eval = eval_data.ok_or_else(|| {
                    Error::invalid("--data with clip files needs --eval-data: held-out clips of that domain to score")
                })?;
                Ok(Domain::Files { stream: load(p, guided)?, held_out: load(eval, true)? })
            }
            Some(p) => Ok(Domain::Synth(SynthConfig::from_json_file(p)?)),
            None => Ok(Domain::Synth(SynthConfig { frames: 16, ..SynthConfig::shifted_domain() })),
        }
    }

    /// The clip camera episode `index` plays.
    fn clip(&self, index: u64) -> Result<Clip> {
        match self {
            Domain::Synth(c) => generate_clip(c, Split::Train, index),
            Domain::Files { stream, .. } => Ok(stream[index as usize % stream.len()].clone()),
        }
    }

    /// (width, height) of its frames, checked to be one size.
    fn size(&self) -> Result<(usize, usize)> {
        match self {
            Domain::Synth(c) => Ok((c.width as usize, c.height as usize)),
            Domain::Files { stream, held_out } => {
                let first = (stream[0].width, stream[0].height);
                match stream.iter().chain(held_out).find(|c| (c.width, c.height) != first) {
                    Some(c) => Err(Error::invalid(format!(
                        "clip files mix sizes: {}x{} and {}x{}",
                        first.0, first.1, c.width, c.height
                    ))),
                    None => Ok((first.0 as usize, first.1 as usize)),
                }
            }
        }
    }
}

/// Scores `model`'s masks refined by `refine` (what the session serves) on
/// up to `clips` held-out clips of `domain`, 8 frames each.
fn score(model: &RuntimeModel, refine: Option<GuidedFilter>, domain: &Domain, clips: usize) -> Result<ClipScores> {
    let refine = refine.map(RefineConfig::GuidedFilter);
    let scoring;
    let slot_model = if model.config().refine == refine {
        model.slot_model()
    } else {
        let mut config = model.config().clone();
        config.refine = refine;
        let mut m = SlotModel::with_base_dir(&config, model.info().device, model.base_dir())?;
        tch::no_grad(|| m.vs.copy(&model.slot_model().vs))?;
        scoring = m;
        &scoring
    };
    match domain {
        Domain::Synth(data) => {
            score_split(slot_model, &SynthConfig { frames: 8, ..data.clone() }, Split::Test, clips, 8, true)
        }
        Domain::Files { held_out, .. } => {
            let mut means = MeanScores::default();
            for chunk in held_out[..clips.min(held_out.len())].chunks(8) {
                let len = chunk.iter().map(|c| c.frames).min().unwrap_or(1).min(8);
                let batch = stack_clips(chunk.iter().map(|c| c.clone().truncated(len)).collect(), model.info().device);
                score_predictions(&batch, &predict_masks(slot_model, &batch, true, 0)?, &mut means)?;
            }
            Ok(means.mean())
        }
    }
}

fn parse_parts(list: &str) -> Result<TrainParts> {
    let mut parts = TrainParts { encoder: false, grouping: false, predictor: false, decoder: false };
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match name {
            "encoder" => parts.encoder = true,
            "grouping" => parts.grouping = true,
            "predictor" => parts.predictor = true,
            "decoder" => parts.decoder = true,
            other => {
                return Err(Error::invalid(format!(
                    "--train: unknown part `{other}` (encoder, grouping, predictor, decoder)"
                )))
            }
        }
    }
    Ok(parts)
}

pub fn run(args: FinetuneArgs) -> Result<()> {
    if args.threads > 0 {
        tch::set_num_threads(args.threads);
    }
    if args.streams == 0 || args.minutes <= 0.0 || !(args.fps >= 0.0) {
        return Err(Error::invalid("--streams must be >= 1, --minutes > 0 and --fps >= 0"));
    }
    let frame_interval = (args.fps > 0.0).then(|| Duration::from_secs_f64(1.0 / args.fps));
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    let model = RuntimeModel::load(&args.model, &ModelOptions::default())?;
    let refine = args.refine.resolve(model.config())?;
    let shifted = Domain::open(args.data.as_ref(), args.eval_data.as_ref(), args.guided)?;
    let (width, height) = (model.info().input_width, model.info().input_height);
    let (w, h) = shifted.size()?;
    if (w, h) != (width, height) {
        return Err(Error::invalid(format!("--data: frames of {w}x{h} but the model takes {width}x{height}")));
    }
    let original = Domain::Synth(SynthConfig::default());
    println!("scoring the loaded model on {} held-out clips of each domain...", args.final_clips);
    let before =
        (score(&model, refine, &shifted, args.final_clips)?, score(&model, refine, &original, args.final_clips)?);

    let session = Session::new(
        model.clone(),
        SessionOptions {
            max_batch: args.streams,
            queue_depth: 2,
            overflow: OverflowPolicy::Block,
            mask_refinement: refine.map_or(MaskRefinement::Off, MaskRefinement::Custom),
            ..SessionOptions::default()
        },
    )?;
    if !args.no_finetune {
        session.enable_finetune(FinetuneOptions {
            device: slotrt::device::parse_device(&args.device)?,
            lr: args.lr,
            batch_clips: args.batch_clips,
            clip_frames: args.clip_frames,
            replay_capacity: args.replay_frames,
            ema_decay: args.ema,
            decay_steps: args.decay_steps,
            min_lr_ratio: args.min_lr_ratio,
            parts: parse_parts(&args.train)?,
            losses: LossWeights {
                reconstruction: args.reconstruction,
                guided: if args.guided { 1.0 } else { 0.0 },
                ..LossWeights::default()
            },
            ..FinetuneOptions::default()
        })?;
    }
    let streams: Vec<_> = (0..args.streams).map(|_| session.open_stream()).collect::<Result<_>>()?;
    let mut clips: Vec<Clip> = Vec::new();
    let mut next_clip = 0u64;
    for _ in 0..args.streams {
        clips.push(shifted.clip(next_clip)?);
        next_clip += 1;
    }
    let total = Duration::from_secs_f64(args.minutes * 60.0);
    let bar = indicatif::ProgressBar::new(total.as_secs());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len}s [{elapsed}] {msg}").expect("template"),
    );
    let started = Instant::now();
    let mut curve = vec![Point {
        seconds: 0.0,
        steps: 0,
        fg_ari: before.0.fg_ari,
        mbo: before.0.mbo,
        video_fg_ari: before.0.video_fg_ari,
    }];
    let mut next_eval = Duration::from_secs_f64(args.eval_every);
    let mut result = FrameResult::default();
    let mut t = 0usize;
    let mut next_frame = Instant::now();
    while started.elapsed() < total {
        if let Some(interval) = frame_interval {
            // Wait for the cameras' next frame; a late frame is not made up.
            let now = Instant::now();
            if next_frame > now {
                std::thread::sleep(next_frame - now);
            }
            next_frame = next_frame.max(now) + interval;
        }
        for (stream, clip) in streams.iter().zip(&clips) {
            let frame = Frame::packed(clip.frame_rgb(t), width, height, PixelFormat::Rgb8);
            if args.guided {
                stream.push_with_masks(&frame, clip.frame_ids(t))?;
            } else {
                stream.push(&frame)?;
            }
        }
        for stream in &streams {
            stream.poll(None, &mut result)?;
        }
        t += 1;
        // Every camera moves on to a new scene together (a new episode)
        // when the shortest of their clips ends.
        if clips.iter().any(|c| t == c.frames as usize) {
            t = 0;
            for (stream, clip) in streams.iter().zip(clips.iter_mut()) {
                *clip = shifted.clip(next_clip)?;
                next_clip += 1;
                stream.reset()?;
            }
        }
        let steps = session.finetune_stats().map(|s| s.steps).unwrap_or(0);
        if started.elapsed() >= next_eval {
            let s = score(&session.current_model(), refine, &shifted, args.eval_clips)?;
            let seconds = started.elapsed().as_secs_f64();
            // One line per point too: the bar is hidden when the output is a log file.
            bar.suspend(|| {
                println!(
                    "{seconds:6.0} s  {steps:5} steps  streamed-domain FG-ARI {:.3}  mBO {:.3}  video FG-ARI {:.3}",
                    s.fg_ari, s.mbo, s.video_fg_ari
                )
            });
            curve.push(Point { seconds, steps, fg_ari: s.fg_ari, mbo: s.mbo, video_fg_ari: s.video_fg_ari });
            next_eval += Duration::from_secs_f64(args.eval_every);
        }
        bar.set_position(started.elapsed().as_secs().min(total.as_secs()));
        let last = curve.last().expect("non-empty");
        bar.set_message(format!("steps {steps}  shifted FG-ARI {:.3}", last.fg_ari));
    }
    bar.finish_and_clear();
    let stats = session.stats();
    let tuned = if args.no_finetune { None } else { Some(session.stop_finetune()?) };
    let adapted = session.current_model();
    println!("scoring the adapted model...");
    let after =
        (score(&adapted, refine, &shifted, args.final_clips)?, score(&adapted, refine, &original, args.final_clips)?);
    let seconds = started.elapsed().as_secs_f64();
    curve.push(Point {
        seconds,
        steps: tuned.as_ref().map_or(0, |s| s.steps),
        fg_ari: after.0.fg_ari,
        mbo: after.0.mbo,
        video_fg_ari: after.0.video_fg_ari,
    });
    let path = args.out.join("curve.json");
    std::fs::write(&path, serde_json::to_string_pretty(&curve).expect("json")).map_err(|e| Error::io(&path, e))?;
    if !args.no_finetune {
        session.save_model(&args.out.join("finetuned.safetensors"))?;
    }
    let mode = if args.no_finetune {
        "no fine-tuning"
    } else if args.guided {
        "guided"
    } else {
        "unguided"
    };
    let pace = if args.fps > 0.0 { format!("{} fps each", args.fps) } else { "unpaced".into() };
    println!("{mode}, {:.1} min, {} streams ({pace}), {} frames served", args.minutes, args.streams, stats.frames_out);
    if let Some(s) = &tuned {
        println!(
            "trainer: {} steps, {} publishes, {} rollbacks, {} replayed frame samples",
            s.steps, s.publishes, s.rollbacks, s.samples
        );
    }
    println!(
        "frame latency (push to result): p50 {:.1} ms, p99 {:.1} ms",
        stats.total.p50_us as f64 / 1000.0,
        stats.total.p99_us as f64 / 1000.0
    );
    println!("| domain | FG-ARI before | FG-ARI after | change | mBO before | mBO after |");
    println!("|---|---|---|---|---|---|");
    for (name, b, a) in [("streamed (shifted)", &before.0, &after.0), ("original", &before.1, &after.1)] {
        println!(
            "| {name} | {:.3} | {:.3} | {:+.3} | {:.3} | {:.3} |",
            b.fg_ari,
            a.fg_ari,
            a.fg_ari - b.fg_ari,
            b.mbo,
            a.mbo
        );
    }
    println!("curve: {}", path.display());
    Ok(())
}
