//! Every C enum value round-trips through its conversion table.

use super::enums::*;
use super::status::SlotrtStatus;
use crate::data::{ShapeKind, Split};
use crate::model::config::MaskKind;
use crate::model::{Layout, Precision};
use crate::runtime::{MaskRefinement, MaskSource, PixelFormat};
use tch::Device;

/// Every C value, in order from 0 with no gap, maps to a distinct Rust
/// value; the next number is unknown.
macro_rules! check_values {
    ($c:ident) => {{
        for (i, v) in $c::ALL.iter().enumerate() {
            assert_eq!(*v as u32, i as u32, "{} is not dense", stringify!($c));
            assert_eq!($c::from_raw(i as u32), Some(*v));
        }
        let n = $c::ALL.len() as u32;
        assert_eq!($c::from_raw(n), None);
        let err = $c::parse(n, "field").unwrap_err();
        assert_eq!(err.status, SlotrtStatus::UnknownEnum);
        for (i, a) in $c::ALL.iter().enumerate() {
            for b in &$c::ALL[i + 1..] {
                assert_ne!(a.to_rust(), b.to_rust(), "{} maps two values to one", stringify!($c));
            }
        }
    }};
}

/// `check_values`, and C -> Rust -> C gives the value back.
macro_rules! round_trip {
    ($c:ident) => {{
        check_values!($c);
        for v in $c::ALL {
            assert_eq!($c::from_rust(v.to_rust()), *v, "{}::{v:?}", stringify!($c));
            assert_eq!($c::raw(v.to_rust()), *v as u32);
        }
    }};
}

#[test]
fn every_c_enum_value_round_trips() {
    round_trip!(SlotrtPixelFormat);
    round_trip!(SlotrtDeviceType);
    round_trip!(SlotrtInitKind);
    round_trip!(SlotrtPrecision);
    round_trip!(SlotrtLayout);
    round_trip!(SlotrtOverflow);
    round_trip!(SlotrtMaskSource);
    check_values!(SlotrtMaskRefinement);
    round_trip!(SlotrtPart);
    round_trip!(SlotrtShape);
    round_trip!(SlotrtBackground);
    round_trip!(SlotrtMotion);
    round_trip!(SlotrtSplit);
}

#[test]
fn the_abi_numbers_stay() {
    assert_eq!(SlotrtPixelFormat::raw(PixelFormat::F32Chw), 5);
    assert_eq!(SlotrtPrecision::raw(Precision::Auto), 3);
    assert_eq!(SlotrtLayout::raw(Layout::ChannelsLast), 2);
    assert_eq!(SlotrtMaskSource::raw(MaskSource::Model), 2);
    assert_eq!(SlotrtMaskRefinement::parse(2, "f").unwrap(), MaskRefinement::GuidedFilter);
    assert_eq!(SlotrtSplit::raw(Split::Test), 2);
    assert_eq!(SlotrtShape::raw(ShapeKind::Cross), 5);
    assert_eq!(mask_kind_to_c(MaskKind::Attention), SlotrtMaskSource::Attention as u32);
}

#[test]
fn devices_and_bit_sets_convert_both_ways() {
    for device in [Device::Cpu, Device::Cuda(0), Device::Cuda(3)] {
        let (kind, index) = device_to_c(device);
        assert_eq!(device_from_c(kind, index, "d").unwrap(), device);
    }
    assert_eq!(device_from_c(2, 0, "d").unwrap_err().status, SlotrtStatus::UnknownEnum);
    let all = ShapeKind::ALL;
    let bits = values_to_bits(all, SlotrtShape::ALL, SlotrtShape::to_rust);
    assert_eq!(bits, 0b11_1111);
    assert_eq!(bits_to_values(bits, SlotrtShape::ALL, SlotrtShape::to_rust, "f", "t").unwrap(), all);
    let err = bits_to_values(1 << 6, SlotrtShape::ALL, SlotrtShape::to_rust, "f", "t").unwrap_err();
    assert_eq!(err.status, SlotrtStatus::UnknownEnum);
}
