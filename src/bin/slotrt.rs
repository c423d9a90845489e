//! The `slotrt` command line. Uses only the public Rust API.

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
    /// Print the library version, ABI and the devices libtorch can use.
    Info,
    /// Train a video slot model on synthetic clips (see models/*.train.json).
    Train(TrainArgs),
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Synth(args) => synth(args),
        Command::Info => {
            info();
            Ok(())
        }
        Command::Train(args) => train(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
