//! DIAS redundancy reduction: which slots stay active after grouping.

use tch::{Kind, Tensor};

use super::config::DiasConfig;

/// Active slots [B, K] (bool) from slots [B, K, D] and their last attention
/// [B, K, N]: a slot is dropped when its attention area (mean over tokens)
/// is below `area_threshold`, or when its cosine similarity to an earlier
/// (lower-index) active slot exceeds `duplicate_threshold`. At least one
/// slot, the largest, always stays active.
pub fn active_slots(slots: &Tensor, attention: &Tensor, config: &DiasConfig) -> Tensor {
    let area = attention.mean_dim(-1, false, Kind::Float); // [B, K]
    let large = area.ge(config.area_threshold);
    let unit = slots / slots.norm_scalaropt_dim(2.0, -1, true).clamp_min(1e-8);
    let similarity = unit.matmul(&unit.transpose(1, 2)); // [B, K, K]
    let k = slots.size()[1];
    // Sequential over j so that a dropped slot cannot drop others.
    let mut columns = vec![large.select(1, 0)];
    for j in 1..k {
        let earlier = Tensor::stack(&columns, 1); // [B, j]
        let close = similarity.select(2, j).narrow(1, 0, j).gt(config.duplicate_threshold);
        let duplicate = earlier.logical_and(&close).any_dim(1, false); // [B]
        columns.push(large.select(1, j).logical_and(&duplicate.logical_not()));
    }
    let active = Tensor::stack(&columns, 1);
    // Never drop every slot: keep the largest.
    let none = active.any_dim(1, true).logical_not(); // [B, 1]
    let largest = area.argmax(1, true); // [B, 1]
    let keep = Tensor::zeros_like(&active).scatter_value(1, &largest, 1).logical_and(&none);
    active.logical_or(&keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_small_and_duplicate_slots_but_never_all() {
        // B=1, K=3, D=2, N=4. Slot 1 duplicates slot 0; slot 2 is tiny.
        let slots = Tensor::from_slice(&[1.0f32, 0.0, 0.99, 0.01, 0.0, 1.0]).view([1, 3, 2]);
        let attn = Tensor::from_slice(&[0.5f32, 0.5, 0.5, 0.5, 0.45, 0.45, 0.45, 0.45, 0.05, 0.05, 0.05, 0.05])
            .view([1, 3, 4]);
        let config = DiasConfig { area_threshold: 0.1, duplicate_threshold: 0.9 };
        let active = Vec::<bool>::try_from(active_slots(&slots, &attn, &config).flatten(0, -1)).unwrap();
        assert_eq!(active, vec![true, false, false]);
        let strict = DiasConfig { area_threshold: 0.9, duplicate_threshold: 0.9 };
        let active = Vec::<bool>::try_from(active_slots(&slots, &attn, &strict).flatten(0, -1)).unwrap();
        assert_eq!(active, vec![true, false, false], "the largest slot stays");
    }
}
