//! The `slotrt` command line: `synth` writes what it says and refuses bad
//! arguments with a clear message and a non-zero exit.

use std::process::Command;

fn slotrt(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_slotrt")).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn synth_writes_frames_masks_and_previews() {
    let dir = std::env::temp_dir().join(format!("slotrt-cli-{}", std::process::id()));
    let dir_s = dir.to_str().unwrap();
    let (ok, stdout, stderr) =
        slotrt(&["synth", "--out", dir_s, "--clips", "2", "--frames", "3", "--split", "val", "--width", "40"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("wrote 2 clip(s)"), "{stdout}");
    for clip in ["val_000000", "val_000001"] {
        for file in ["frame_000.png", "mask_002.png", "ids_001.png", "sheet.png", "clip.gif"] {
            assert!(dir.join(clip).join(file).exists(), "{clip}/{file} missing");
        }
    }
    let frame = image::open(dir.join("val_000000/frame_000.png")).unwrap();
    assert_eq!((frame.width(), frame.height()), (40, 64));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn synth_refuses_bad_arguments() {
    let cases: &[(&[&str], &str)] = &[
        (&["--width", "0"], "width"),
        (&["--frames", "0"], "frames"),
        (&["--clips", "0"], "--clips"),
        (&["--clips", "-3"], "-3"),
        (&["--max-objects", "300"], "max_objects"),
        (&["--min-objects", "4", "--max-objects", "2"], "min_objects"),
        (&["--shapes", "hexagon"], "hexagon"),
        (&["--split", "dev"], "dev"),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["synth", "--out", "/tmp/slotrt-cli-never-written"];
        args.extend_from_slice(extra);
        let (ok, _, stderr) = slotrt(&args);
        assert!(!ok, "{extra:?} was accepted");
        assert!(stderr.contains(needle), "{extra:?}: {stderr}");
    }
    assert!(!std::path::Path::new("/tmp/slotrt-cli-never-written").exists());
}

#[test]
fn info_reports_devices() {
    let (ok, stdout, _) = slotrt(&["info"]);
    assert!(ok);
    assert!(stdout.contains("cuda available:"), "{stdout}");
}

/// A small random-weight bundle for the commands that take a model.
fn small_bundle(dir: &std::path::Path) -> std::path::PathBuf {
    use slotrt::model::config::{DecoderConfig, EncoderConfig};
    let mut c = slotrt::model::ModelConfig::savi_small_64();
    c.description = "cli test model".into();
    let EncoderConfig::Cnn(cnn) = &mut c.encoder else { unreachable!() };
    cnn.channels = vec![8; 4];
    cnn.strides = vec![2, 1, 1, 1];
    let DecoderConfig::SpatialBroadcast(sb) = &mut c.decoder else { unreachable!() };
    sb.channels = vec![8, 8];
    sb.strides = vec![2, 2];
    let model = slotrt::model::SlotModel::new(&c, tch::Device::Cpu).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("model.safetensors");
    slotrt::model::bundle::save(&model, &path).unwrap();
    path
}

#[test]
fn info_describes_a_model() {
    let dir = std::env::temp_dir().join(format!("slotrt-cli-info-{}", std::process::id()));
    let path = small_bundle(&dir);
    let (ok, stdout, stderr) = slotrt(&["info", path.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    for needle in [
        "cli test model",
        "6 slots of 64 dims",
        "attention masks 32x32",
        "grouping",
        "total",
        "MFLOPs",
        "\"spatial_broadcast\"",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in:\n{stdout}");
    }
    let (ok, _, stderr) = slotrt(&["info", "/nonexistent.safetensors"]);
    assert!(!ok && stderr.contains("nonexistent"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn eval_prints_the_table_and_draws_previews() {
    let dir = std::env::temp_dir().join(format!("slotrt-cli-eval-{}", std::process::id()));
    let path = small_bundle(&dir);
    let out = dir.join("eval");
    let args = [
        "eval",
        "--model",
        path.to_str().unwrap(),
        "--clips",
        "3",
        "--frames",
        "3",
        "--batch",
        "2",
        "--ablation",
        "--previews",
        "1",
        "--out",
        out.to_str().unwrap(),
    ];
    let (ok, stdout, stderr) = slotrt(&args);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("| carry-over |") && stdout.contains("| no carry-over |"), "{stdout}");
    assert!(out.join("test_000000/prediction_sheet.png").exists());
    assert!(out.join("test_000000/prediction.gif").exists());
    assert!(!out.join("test_000001").exists(), "only one preview was asked for");
    std::fs::remove_dir_all(dir).unwrap();
}
