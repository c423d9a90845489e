//! One forward pass over frames from any number of streams: the shared
//! core of the worker, `process` and `step`.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use tch::{Device, Kind, Tensor};

use super::carry::{episode_seed, Carry, EpisodeSeed, FrameInit};
use super::model::{InitKind, RuntimeModel};
use super::result::FrameResult;
use crate::error::{Error, Result};
use crate::model::config::MaskKind;
use crate::model::grouping::InitInput;
use crate::model::refine::GuidedFilter;

/// One frame of one stream, ready to step.
pub(crate) struct Job<'a> {
    /// Normalised input [3, H, W] at the model's size.
    pub input: &'a [f32],
    pub init: FrameInit,
    pub carry: &'a mut Carry,
    pub result: &'a mut FrameResult,
    /// The frame's own (height, width), when a label map is wanted.
    pub label_size: Option<(usize, usize)>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct EngineConfig {
    pub session_seed: u64,
    /// Resolved from the session's `MaskSource`.
    pub masks: MaskKind,
    /// Resolved from the session's `MaskRefinement`.
    pub refine: Option<GuidedFilter>,
}

impl EngineConfig {
    pub fn mask_size(&self, model: &RuntimeModel) -> (usize, usize) {
        let info = model.info();
        if self.refine.is_some() {
            return (info.input_height, info.input_width);
        }
        match self.masks {
            MaskKind::Decoder => (info.mask_height, info.mask_width),
            MaskKind::Attention => (info.attention_height, info.attention_width),
        }
    }
}

/// Empties a job list and gives its allocation back for jobs of another
/// lifetime: collecting a `map` over an empty `Vec` of a same-layout type
/// reuses the buffer in place, so a caller can keep one list across calls
/// without allocating per call (tests/alloc.rs checks it).
pub(crate) fn recycle<'b>(mut jobs: Vec<Job<'_>>) -> Vec<Job<'b>> {
    jobs.clear();
    jobs.into_iter().map(|_| unreachable!("cleared")).collect()
}

/// Steps every job; frames that start an episode and frames that continue
/// one run as two passes (they use different iteration counts). Returns the
/// time spent. On error no carry or result has been changed. A panic in
/// the step (tch panics on some libtorch exceptions) is caught here, so
/// every caller (worker, `process`, `step`) reports the same error for it.
pub(crate) fn run(model: &RuntimeModel, config: &EngineConfig, jobs: &mut [Job]) -> Result<Duration> {
    catch_unwind(AssertUnwindSafe(|| run_jobs(model, config, jobs)))
        .unwrap_or_else(|panic| Err(Error::from_step_panic(panic.as_ref())))
}

fn run_jobs(model: &RuntimeModel, config: &EngineConfig, jobs: &mut [Job]) -> Result<Duration> {
    let started = Instant::now();
    for job in jobs.iter_mut() {
        if !job.carry.started {
            // A stream's first frame always starts an episode.
            job.init = match std::mem::replace(&mut job.init, FrameInit::Continue) {
                FrameInit::Continue => FrameInit::Start(EpisodeSeed::Default),
                FrameInit::ContinueFrom(slots) => FrameInit::Start(EpisodeSeed::Slots(slots)),
                start => start,
            };
        }
    }
    // A group is the jobs whose `starts_episode()` equals its flag, in job
    // order: filtered on the fly, so the hot path allocates nothing here.
    let outputs = tch::no_grad(|| -> Result<[Option<Outputs>; 2]> {
        let mut outputs = [None, None];
        for (slot, is_first) in outputs.iter_mut().zip([true, false]) {
            if jobs.iter().any(|j| j.init.starts_episode() == is_first) {
                *slot = Some(forward(model, config, jobs, is_first)?);
            }
        }
        Ok(outputs)
    })?;
    let elapsed = started.elapsed();
    // Non-finite slots would be carried into every later frame of the
    // stream: refuse them before any carry or result changes.
    for out in outputs.iter().flatten() {
        // One reduction and one read-back per pass.
        let finite = out.slots.isfinite().all().logical_and(&out.next_init.isfinite().all()).int64_value(&[]) != 0;
        if !finite {
            return Err(Error::invalid(
                "the frame produced non-finite slots (extreme input values?): nothing was carried over, \
                 the stream's slots are as before this frame",
            ));
        }
    }
    let (mask_h, mask_w) = config.mask_size(model);
    let info = model.info();
    let (k, d) = (info.num_slots, info.slot_dim);
    for (out, is_first) in outputs.into_iter().zip([true, false]) {
        let Some(out) = out else { continue };
        let group = jobs.iter_mut().filter(|j| j.init.starts_episode() == is_first);
        for (row, job) in group.enumerate() {
            let r = &mut *job.result;
            r.reshape(k, d, mask_h, mask_w);
            let row = row as i64;
            out.slots.get(row).f_copy_data(&mut r.slots, k * d)?;
            out.masks.get(row).f_copy_data(&mut r.masks, k * mask_h * mask_w)?;
            out.active.get(row).f_copy_data(&mut r.active, k)?;
            out.next_init.get(row).f_copy_data(&mut job.carry.next_init, k * d)?;
            r.set_label_size(job.label_size);
            if let Some((h, w)) = job.label_size {
                label_map(&out.masks.get(row), h, w)?.f_copy_data(&mut r.labels, h * w)?;
            }
            let starts = job.init.starts_episode();
            r.starts_episode = starts;
            r.frame_index = job.carry.frames;
            job.carry.record_frame(starts, &r.active);
            r.episode = job.carry.episodes - 1;
            r.slot_ids.copy_from_slice(&job.carry.slot_ids);
            r.latency.model_us = elapsed.as_micros() as u64;
        }
    }
    Ok(elapsed)
}

/// CPU copies of one pass's outputs, rows in group order.
struct Outputs {
    slots: Tensor,
    masks: Tensor,
    active: Tensor,
    next_init: Tensor,
}

fn forward(model: &RuntimeModel, config: &EngineConfig, jobs: &[Job], first: bool) -> Result<Outputs> {
    let group = || jobs.iter().filter(move |j| j.init.starts_episode() == first);
    let rows = group().count();
    let m = model.slot_model();
    let info = model.info();
    let (h, w, k, d) = (info.input_height as i64, info.input_width as i64, info.num_slots as i64, info.slot_dim as i64);
    let device = m.device();
    let len = (3 * h * w) as usize;
    let images = if rows == 1 {
        let input = group().next().expect("one row").input;
        // SAFETY: the tensor borrows the stream's converted input, which
        // outlives this function; the tensor does not (outputs are
        // computed tensors, never views of the input). No copy at batch 1.
        unsafe { Tensor::f_from_blob(input.as_ptr().cast(), &[1, 3, h, w], &[], Kind::Float, Device::Cpu)? }
    } else {
        // Gathering rows into the batch is the only copy after conversion.
        staged_rows(Staging::Images, &[rows as i64, 3, h, w], len, group().map(|j| j.input))?
    }
    .to_device(device);
    let init = if first {
        let mut inits = Vec::with_capacity(rows);
        for job in group() {
            let FrameInit::Start(seed) = &job.init else { unreachable!("first-frame group") };
            inits.push(match seed {
                EpisodeSeed::Default => match info.init {
                    InitKind::Gaussian => {
                        let seed = episode_seed(config.session_seed, job.carry.stream_key, job.carry.next_episode());
                        m.init_slots(1, InitInput::Seed(seed))?
                    }
                    InitKind::LearnedQueries => m.init_slots(1, InitInput::None)?,
                    InitKind::Conditional => {
                        return Err(Error::invalid("a conditional model needs first-frame boxes (seed_boxes)"))
                    }
                },
                EpisodeSeed::Boxes(boxes) => {
                    let boxes = Tensor::f_from_slice(boxes)?.view([1, k, 4]).to_device(device);
                    m.init_slots(1, InitInput::Boxes(&boxes))?
                }
                EpisodeSeed::Slots(slots) => Tensor::f_from_slice(slots)?.view([1, k, d]).to_device(device),
            });
        }
        Tensor::f_cat(&inits, 0)?
    } else {
        let carried = group().map(|j| match &j.init {
            FrameInit::ContinueFrom(slots) => slots.as_slice(),
            _ => j.carry.next_init.as_slice(),
        });
        staged_rows(Staging::Slots, &[rows as i64, k, d], (k * d) as usize, carried)?.to_device(device)
    };
    let out = m.step(&images, &init, first)?;
    let masks = match config.masks {
        MaskKind::Decoder => m.decode(&out.slots).masks,
        MaskKind::Attention => out.attention_masks,
    };
    let masks = match &config.refine {
        Some(filter) => m.masks_at_input(&masks, &images, Some(filter))?,
        None => masks,
    };
    let cpu = |t: &Tensor, kind: Kind| t.to_kind(kind).to_device(Device::Cpu).contiguous();
    Ok(Outputs {
        slots: cpu(&out.slots, Kind::Float),
        masks: cpu(&masks, Kind::Float),
        active: cpu(&out.active, Kind::Uint8),
        next_init: cpu(&out.next_init, Kind::Float),
    })
}

/// The two staging tensors a batch is gathered into.
#[derive(Clone, Copy)]
enum Staging {
    Images = 0,
    Slots = 1,
}

thread_local! {
    /// Per thread that steps models (a session's worker, a caller of
    /// `process` or `step`): the CPU tensors batches are gathered into,
    /// grown (doubling) to the largest batch seen and reused from then on,
    /// so a warm hot path allocates no input tensor. Reuse is safe: a pass's outputs are computed tensors,
    /// never views of its input, and a thread runs one pass at a time.
    static STAGING: RefCell<[Option<Staged>; 2]> = const { RefCell::new([None, None]) };
}

/// A staging tensor [rows, ...] of rows of `row_len` floats.
struct Staged {
    tensor: Tensor,
    rows: i64,
    row_len: usize,
}

/// A CPU f32 tensor of `shape` (rows first) whose rows (`row_len` floats
/// each) are copied from `rows`: a view of this thread's staging tensor,
/// which is only reallocated when a batch outgrows it.
fn staged_rows<'a>(
    which: Staging,
    shape: &[i64],
    row_len: usize,
    rows: impl Iterator<Item = &'a [f32]>,
) -> Result<Tensor> {
    let count = shape[0];
    STAGING.with(|cell| -> Result<Tensor> {
        let mut staging = cell.borrow_mut();
        let slot = &mut staging[which as usize];
        // Sizes kept beside the tensor: `size()` would allocate per call.
        let fits = slot.as_ref().is_some_and(|s| s.rows >= count && s.row_len == row_len);
        if !fits {
            // Doubling: a worker whose batches grow to N reallocates log2(N) times.
            let rows = slot.as_ref().filter(|s| s.row_len == row_len).map_or(count, |s| count.max(2 * s.rows));
            let tensor = Tensor::f_empty([rows, row_len as i64], (Kind::Float, Device::Cpu))?;
            *slot = Some(Staged { tensor, rows, row_len });
        }
        // The view takes `shape` itself: another model may share the row
        // length with other dimensions.
        let t = slot.as_ref().expect("just ensured").tensor.f_narrow(0, 0, count)?.f_view(shape)?;
        let total = count as usize * row_len;
        // SAFETY: the first `count` rows of a contiguous f32 tensor, written
        // only here, on this thread, between passes.
        let dst = unsafe { std::slice::from_raw_parts_mut(t.data_ptr() as *mut f32, total) };
        for (row, src) in rows.enumerate() {
            dst[row * row_len..(row + 1) * row_len].copy_from_slice(src);
        }
        Ok(t)
    })
}

/// Argmax slot per pixel of soft masks [K, h, w] upsampled (bilinear, as
/// `slotrt eval` scores) to the frame's own size.
fn label_map(masks: &Tensor, height: usize, width: usize) -> Result<Tensor> {
    let (_, mh, mw) = masks.size3()?;
    let masks = masks.unsqueeze(0);
    let masks = if (mh, mw) == (height as i64, width as i64) {
        masks
    } else {
        masks.f_upsample_bilinear2d([height as i64, width as i64], false, None, None)?
    };
    Ok(masks.f_argmax(1, false)?.to_kind(Kind::Uint8).contiguous())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_gathered_into_one_reused_staging_tensor() {
        let rows: Vec<Vec<f32>> = (0..4).map(|r| (0..6).map(|i| (10 * r + i) as f32).collect()).collect();
        let four = staged_rows(Staging::Slots, &[4, 2, 3], 6, rows.iter().map(Vec::as_slice)).unwrap();
        let first = four.data_ptr();
        assert_eq!(Vec::<f32>::try_from(four.flatten(0, -1)).unwrap(), rows.concat());
        drop(four);
        let two = staged_rows(Staging::Slots, &[2, 3, 2], 6, rows[2..].iter().map(Vec::as_slice)).unwrap();
        assert_eq!(two.size(), [2, 3, 2]);
        assert_eq!(two.data_ptr(), first, "a smaller batch reuses the staging memory");
        assert_eq!(Vec::<f32>::try_from(two.flatten(0, -1)).unwrap(), rows[2..].concat());
        let five =
            staged_rows(Staging::Slots, &[5, 2, 3], 6, rows.iter().chain(&rows[..1]).map(Vec::as_slice)).unwrap();
        assert_eq!(five.size(), [5, 2, 3], "a larger batch grows it");
        let grown = five.data_ptr();
        drop(five);
        let eight = staged_rows(Staging::Slots, &[8, 6], 6, rows.iter().chain(&rows).map(Vec::as_slice)).unwrap();
        assert_eq!(eight.data_ptr(), grown, "grown to twice the old size, 8 rows fit");
    }
}
