//! Training losses of `../shared/MODELS.md` section 5.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// Weights of the loss terms; a zero weight switches a term off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossWeights {
    /// Pixel MSE between the decoder's reconstruction and the frame.
    #[serde(default = "one")]
    pub reconstruction: f64,
    /// DIAS self-distillation: first-iteration attention learns from the
    /// (stop-gradient) last-iteration attention.
    #[serde(default)]
    pub self_distillation: f64,
    /// Steps over which the self-distillation weight ramps up from 0.
    #[serde(default)]
    pub self_distillation_ramp_steps: u64,
    /// CODA contrastive alignment: lambda of the negative term
    /// (loss -= lambda * err(negative), decoder frozen for it); 0 = off.
    #[serde(default)]
    pub contrastive: f64,
    /// Guided masks (cross-entropy of each instance under its Hungarian-matched slot), where
    /// instance masks are given; 0 = off.
    #[serde(default)]
    pub guided: f64,
}

fn one() -> f64 {
    1.0
}

impl Default for LossWeights {
    fn default() -> Self {
        LossWeights {
            reconstruction: 1.0,
            self_distillation: 0.0,
            self_distillation_ramp_steps: 0,
            contrastive: 0.0,
            guided: 0.0,
        }
    }
}

impl LossWeights {
    /// Weights are finite and non-negative, and at least one term is on
    /// (a loss of nothing has no gradient to step on).
    pub fn validate(&self) -> crate::error::Result<()> {
        let all = [self.reconstruction, self.self_distillation, self.contrastive, self.guided];
        if all.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
            return Err(crate::error::Error::invalid(format!(
                "loss weights must be finite and >= 0 (reconstruction, self_distillation, contrastive, guided = {all:?})"
            )));
        }
        if all.iter().all(|&w| w == 0.0) {
            return Err(crate::error::Error::invalid("every loss weight is 0: at least one term must be on"));
        }
        Ok(())
    }

    /// Whether any term is on for a batch with (`guided`) or without
    /// instance masks.
    pub fn apply_to(&self, guided: bool) -> bool {
        self.reconstruction > 0.0
            || self.self_distillation > 0.0
            || self.contrastive > 0.0
            || (guided && self.guided > 0.0)
    }

    /// The self-distillation weight at `step` (linear ramp).
    pub fn self_distillation_at(&self, step: u64) -> f64 {
        if self.self_distillation_ramp_steps == 0 {
            return self.self_distillation;
        }
        self.self_distillation * (step as f64 / self.self_distillation_ramp_steps as f64).min(1.0)
    }
}

/// Cross-entropy over the slot axis between the first iteration's attention
/// (student) and the detached last iteration's (teacher), both [B, K, N]
/// softmaxes over K, averaged over tokens. Zero with a single iteration.
pub fn self_distillation(attention: &[Tensor]) -> Tensor {
    let (Some(first), Some(last)) = (attention.first(), attention.last()) else {
        panic!("self_distillation needs at least one iteration's attention");
    };
    if attention.len() < 2 {
        return Tensor::zeros([], (Kind::Float, first.device()));
    }
    let teacher = last.detach();
    let log_student = first.clamp_min(1e-8).log();
    -(teacher * log_student).sum_dim_intlist(1, false, Kind::Float).mean(Kind::Float)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_distillation_is_the_entropy_when_student_equals_teacher() {
        let a = Tensor::from_slice(&[0.25f32, 0.75, 0.5, 0.5]).view([1, 2, 2]); // [B=1, K=2, N=2]
        let loss = self_distillation(&[a.shallow_clone(), a.shallow_clone()]).double_value(&[]);
        let entropy = -(0.25f64 * 0.25f64.ln() + 0.75 * 0.75f64.ln() + 2.0 * 0.5 * 0.5f64.ln()) / 2.0;
        assert!((loss - entropy).abs() < 1e-6, "{loss} vs {entropy}");
        assert_eq!(self_distillation(&[a]).double_value(&[]), 0.0);
    }

    #[test]
    fn only_the_student_gets_gradients() {
        let student = Tensor::from_slice(&[0.3f32, 0.7]).view([1, 2, 1]).set_requires_grad(true);
        let teacher = Tensor::from_slice(&[0.9f32, 0.1]).view([1, 2, 1]).set_requires_grad(true);
        self_distillation(&[student.shallow_clone(), teacher.shallow_clone()]).backward();
        assert!(student.grad().defined() && student.grad().abs().sum(Kind::Float).double_value(&[]) > 0.0);
        assert!(!teacher.grad().defined());
    }

    #[test]
    fn ramp() {
        let w = LossWeights { self_distillation: 0.5, self_distillation_ramp_steps: 100, ..Default::default() };
        assert_eq!(w.self_distillation_at(0), 0.0);
        assert_eq!(w.self_distillation_at(50), 0.25);
        assert_eq!(w.self_distillation_at(1000), 0.5);
    }
}
