//! The `slotrt` command line. Uses only the public Rust API.

#[path = "slotrt/finetune.rs"]
mod finetune;
#[path = "slotrt/refine.rs"]
mod refine;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use slotrt::data::{self, BackgroundKind, MotionKind, ShapeKind, Split, SynthConfig};

#[derive(Parser)]
#[command(name = "slotrt", version, about = "Object-centric slot models: data, models, runtime")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write synthetic multi-object clips (frames, colour masks, raw ids, GIF).
    Synth(SynthArgs),
    /// Print the library version, ABI and devices; with a model, its
    /// config, parameters per component and FLOPs per frame.
    Info {
        /// A model bundle (.safetensors).
        model: Option<PathBuf>,
    },
    /// Train a video slot model on synthetic clips (see models/*.train.json).
    Train(TrainArgs),
    /// Score a model on held-out synthetic clips and draw its masks.
    Eval(EvalArgs),
    /// Stream a shifted synthetic domain through a model with online
    /// fine-tuning on; report adaptation (FG-ARI before/after, curve).
    Finetune(finetune::FinetuneArgs),
    /// Write a bundle's serving settings (mask refinement) into a copy of
    /// it; the weights are kept bit for bit.
    Configure(refine::ConfigureArgs),
}

#[derive(Args)]
struct EvalArgs {
    /// Model bundle (.safetensors).
    #[arg(long)]
    model: PathBuf,
    /// train, val or test.
    #[arg(long, default_value = "test")]
    split: Split,
    /// Number of clips.
    #[arg(long, default_value_t = 200)]
    clips: u32,
    /// Frames per clip.
    #[arg(long, default_value_t = 16)]
    frames: u32,
    /// Clips per forward batch.
    #[arg(long, default_value_t = 8)]
    batch: u32,
    /// Also score with carry-over switched off (fresh slots every frame).
    #[arg(long)]
    ablation: bool,
    /// Where to write overlay sheets and GIFs of the first clips.
    #[arg(long, default_value = "out/eval")]
    out: PathBuf,
    /// How many clips to draw.
    #[arg(long, default_value_t = 2)]
    previews: u32,
    /// Clip files to score (a folder of .npz clips or PNG clip folders, or
    /// one; ids required), or synthetic data options as JSON (a
    /// SynthConfig); default: the generator's defaults at the model's size.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Override the model's Slot Attention iterations on frames after the
    /// first (carried slots need fewer; measures what that costs).
    #[arg(long)]
    iters_later: Option<i64>,
    /// Override the model's Slot Attention iterations on a clip's first
    /// frame (fresh slots).
    #[arg(long)]
    iters_first: Option<i64>,
    /// Precision of the encoder convolutions: fp32, bf16, fp16 (CUDA) or
    /// auto (bf16 where it is faster: CUDA, or a CPU with AMX-BF16).
    #[arg(long, default_value = "fp32")]
    precision: String,
    /// Memory layout of the encoder convolutions: auto (channels-last on
    /// CPUs with AVX-512, as sessions load by default), nchw or channels_last.
    #[arg(long, default_value = "auto")]
    layout: String,
    #[command(flatten)]
    refine: refine::RefineArgs,
    #[arg(long, default_value_t = 0)]
    threads: i32,
}

/// Clip files as one batch: each cut to at most `frames` frames; all must
/// have the model's input size and the same length.
fn file_batch(
    paths: &[PathBuf],
    model: &slotrt::model::SlotModel,
    frames: u32,
) -> slotrt::Result<slotrt::train::batch::ClipBatch> {
    let (h, w) = (model.config.preprocess.height as u32, model.config.preprocess.width as u32);
    let mut clips = Vec::with_capacity(paths.len());
    for path in paths {
        let clip = data::load_clip_file(path, true)?.truncated(frames);
        if (clip.width, clip.height) != (w, h) {
            return Err(slotrt::Error::invalid(format!(
                "{}: clip is {}x{}, the model takes {w}x{h}: render or record at the model's input size",
                path.display(),
                clip.width,
                clip.height
            )));
        }
        clips.push(clip);
    }
    let len = clips.iter().map(|c| c.frames).min().unwrap_or(0);
    let clips = clips.into_iter().map(|c| c.truncated(len)).collect();
    Ok(slotrt::train::batch::stack_clips(clips, model.device()))
}

fn eval(args: EvalArgs) -> slotrt::Result<()> {
    use slotrt::train::{batch::clip_batch, evaluate};
    if args.threads > 0 {
        tch::set_num_threads(args.threads);
    }
    if args.clips == 0 || args.batch == 0 || args.frames == 0 {
        return Err(slotrt::Error::invalid("--clips, --batch and --frames must be at least 1"));
    }
    let mut model = slotrt::model::bundle::load(&args.model, tch::Device::Cpu)?;
    if let Some(iters) = args.iters_later {
        if !(1..=10).contains(&iters) {
            return Err(slotrt::Error::invalid("--iters-later must be in 1..=10"));
        }
        model.config.grouping.iters_later = iters;
    }
    if let Some(iters) = args.iters_first {
        if !(1..=20).contains(&iters) {
            return Err(slotrt::Error::invalid("--iters-first must be in 1..=20"));
        }
        model.config.grouping.iters_first = iters;
    }
    model.set_precision(slotrt::model::Precision::parse(&args.precision)?)?;
    println!("precision: {} (requested {})", model.precision().name(), args.precision);
    model.set_layout(slotrt::model::Layout::parse(&args.layout)?)?;
    println!("layout: {} (requested {})", model.layout().name(), args.layout);
    args.refine.apply(&mut model)?;
    // --data is either clip files (a folder of .npz / PNG clips, or one) or
    // a generator config (JSON).
    let files = match &args.data {
        Some(p) if p.is_dir() || p.extension().is_some_and(|e| e == "npz") => Some(data::list_clip_files(p)?),
        _ => None,
    };
    let mut synth = match (&args.data, &files) {
        (Some(path), None) => SynthConfig::from_json_file(path)?,
        _ => SynthConfig {
            width: model.config.preprocess.width as u32,
            height: model.config.preprocess.height as u32,
            ..SynthConfig::default()
        },
    };
    synth.frames = args.frames;
    synth.validate()?;
    let total = files.as_ref().map_or(args.clips, |f| args.clips.min(f.len() as u32));
    let source = files.as_ref().map_or(format!("{} split", args.split.as_str()), |_| {
        format!("clip files in {}", args.data.as_ref().expect("files").display())
    });
    let modes: &[(&str, bool)] =
        if args.ablation { &[("carry-over", true), ("no carry-over", false)] } else { &[("carry-over", true)] };
    let bar = indicatif::ProgressBar::new((total as usize * modes.len()) as u64);
    let mut results = Vec::new();
    for &(name, carry) in modes {
        let mut means = evaluate::MeanScores::default();
        let mut first = 0u32;
        while first < total {
            let n = args.batch.min(total - first);
            let batch = match &files {
                Some(files) => file_batch(&files[first as usize..(first + n) as usize], &model, args.frames)?,
                None => clip_batch(&synth, args.split, first as u64, n as usize, model.device())?,
            };
            let pred = evaluate::predict_masks(&model, &batch, carry, 0)?;
            evaluate::score_predictions(&batch, &pred, &mut means)?;
            if carry {
                for i in 0..(n.min(args.previews.saturating_sub(first))) {
                    let labels: Vec<u8> = Vec::<i64>::try_from(pred.select(1, i as i64).flatten(0, -1))?
                        .into_iter()
                        .map(|slot| (slot + 1) as u8)
                        .collect();
                    let clip = &batch.clips[i as usize];
                    let dir = args.out.join(format!("{}_{:06}", args.split.as_str(), first + i));
                    slotrt::data::preview::write_prediction_preview(clip, &labels, &dir)?;
                }
            }
            first += n;
            bar.inc(n as u64);
        }
        results.push((name, means.mean()));
    }
    bar.finish_and_clear();
    println!("{source}: {total} clips of up to {} frames:", args.frames);
    println!("| mode | FG-ARI | mBO | mIoU | ARI | video FG-ARI | video mBO |");
    println!("|---|---|---|---|---|---|---|");
    for (name, s) in results {
        println!(
            "| {name} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            s.fg_ari, s.mbo, s.miou, s.ari, s.video_fg_ari, s.video_mbo
        );
    }
    println!("previews: {}", args.out.display());
    Ok(())
}

#[derive(Args)]
struct TrainArgs {
    /// Training config (JSON: model, data, schedule).
    #[arg(long)]
    config: PathBuf,
    /// Output directory: checkpoint, log, final model.safetensors.
    #[arg(long)]
    out: PathBuf,
    /// Continue from OUT/checkpoint.safetensors.
    #[arg(long)]
    resume: bool,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// libtorch intra-op threads (0 = libtorch's default).
    #[arg(long, default_value_t = 0)]
    threads: i32,
}

fn train(args: TrainArgs) -> slotrt::Result<()> {
    let device = slotrt::device::parse_device(&args.device)?;
    if args.threads > 0 {
        tch::set_num_threads(args.threads);
    }
    let config = slotrt::train::TrainConfig::from_file(&args.config)?;
    let mut trainer = slotrt::train::Trainer::new(config, &args.out, args.resume, device)?;
    trainer.run()?;
    println!("wrote {}", args.out.join("model.safetensors").display());
    Ok(())
}

#[derive(Args)]
struct SynthArgs {
    /// Output directory; each clip goes to DIR/<split>_<index>/.
    #[arg(long, default_value = "out/synth")]
    out: PathBuf,
    /// Number of clips.
    #[arg(long, default_value_t = 1)]
    clips: u32,
    /// Index of the first clip within the split.
    #[arg(long, default_value_t = 0)]
    start_index: u64,
    /// train, val or test (disjoint seed ranges).
    #[arg(long, default_value = "train")]
    split: Split,
    #[arg(long, default_value_t = 64)]
    width: u32,
    #[arg(long, default_value_t = 64)]
    height: u32,
    #[arg(long, default_value_t = 16)]
    frames: u32,
    #[arg(long, default_value_t = 2)]
    min_objects: u32,
    #[arg(long, default_value_t = 5)]
    max_objects: u32,
    /// Comma-separated shapes (disc,square,triangle,ellipse,star,cross).
    #[arg(long, value_delimiter = ',')]
    shapes: Option<Vec<ShapeKind>>,
    /// Comma-separated backgrounds (plain,gradient,textured).
    #[arg(long, value_delimiter = ',')]
    backgrounds: Option<Vec<BackgroundKind>>,
    /// Comma-separated motions (static,bounce,crossing).
    #[arg(long, value_delimiter = ',')]
    motions: Option<Vec<MotionKind>>,
}

fn synth(args: SynthArgs) -> slotrt::Result<()> {
    let defaults = SynthConfig::default();
    let config = SynthConfig {
        width: args.width,
        height: args.height,
        frames: args.frames,
        min_objects: args.min_objects,
        max_objects: args.max_objects,
        shapes: args.shapes.unwrap_or(defaults.shapes.clone()),
        backgrounds: args.backgrounds.unwrap_or(defaults.backgrounds.clone()),
        motions: args.motions.unwrap_or(defaults.motions.clone()),
        ..defaults
    };
    config.validate()?;
    if args.clips == 0 {
        return Err(slotrt::Error::invalid("--clips must be at least 1"));
    }
    let bar = indicatif::ProgressBar::new(args.clips as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} clips {elapsed} eta {eta}")
            .expect("valid template"),
    );
    let mut first_dir = None;
    for i in 0..args.clips as u64 {
        let index = args.start_index + i;
        let clip = data::generate_clip(&config, args.split, index)?;
        let dir = args.out.join(format!("{}_{index:06}", args.split.as_str()));
        data::write_clip_pngs(&clip, &dir)?;
        first_dir.get_or_insert(dir);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let first = first_dir.expect("at least one clip");
    println!(
        "wrote {} clip(s) of {} frames {}x{} to {}",
        args.clips,
        config.frames,
        config.width,
        config.height,
        args.out.display()
    );
    println!("  look at: {}", first.join("clip.gif").display());
    println!("  frames:  {}/frame_*.png, masks: mask_*.png, raw ids: ids_*.png", first.display());
    Ok(())
}

fn info() {
    println!("slotrt {} (C ABI {})", slotrt::VERSION, slotrt::capi::version::SLOTRT_ABI_VERSION);
    println!("built with libtorch_cuda: {}", slotrt::device::built_with_cuda());
    println!("cuda available: {}", slotrt::device::cuda_available());
    println!("cuda devices: {}", slotrt::device::cuda_device_count());
}

fn model_info(path: &std::path::Path) -> slotrt::Result<()> {
    use slotrt::model::cost;
    let model = slotrt::model::bundle::load(path, tch::Device::Cpu)?;
    println!("\nmodel {}", path.display());
    if !model.config.description.is_empty() {
        println!("  {}", model.config.description);
    }
    let c = &model.config;
    let (h, w) = model.mask_grid();
    println!(
        "  input {}x{}, {} slots of {} dims, attention masks {}x{}, iterations {} first / {} later",
        c.preprocess.width,
        c.preprocess.height,
        c.grouping.num_slots,
        c.grouping.slot_dim,
        w,
        h,
        c.grouping.iters_first,
        c.grouping.iters_later
    );
    println!("  parameters:");
    let counts = cost::parameter_counts(&model);
    for (component, n) in &counts {
        println!("    {component:<10} {n:>10}");
    }
    println!("    {:<10} {:>10}", "total", counts.values().sum::<i64>());
    let f = cost::frame_flops(c);
    let mflops = |x: f64| x / 1e6;
    println!("  MFLOPs per frame (multiply-add = 2):");
    if !f.backbone_counted {
        println!("    (the TorchScript backbone is opaque: encoder counts only its projection)");
    }
    println!(
        "    encoder {:.1}, grouping {:.1} first / {:.1} later, predictor {:.2}, decoder {:.1}",
        mflops(f.encoder),
        mflops(f.grouping_first),
        mflops(f.grouping_later),
        mflops(f.predictor),
        mflops(f.decoder)
    );
    println!(
        "    inference without decoder: {:.1} (later frames); with decoder: {:.1}",
        mflops(f.encoder + f.grouping_later + f.predictor),
        mflops(f.encoder + f.grouping_later + f.predictor + f.decoder)
    );
    println!("  config:\n{}", c.to_json());
    Ok(())
}

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`slotrt info | head`), like other CLI tools.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Synth(args) => synth(args),
        Command::Info { model } => {
            info();
            match model {
                Some(path) => model_info(&path),
                None => Ok(()),
            }
        }
        Command::Train(args) => train(args),
        Command::Eval(args) => eval(args),
        Command::Finetune(args) => finetune::run(args),
        Command::Configure(args) => refine::configure(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
