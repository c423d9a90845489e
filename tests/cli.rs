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
