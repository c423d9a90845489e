//! Versions on both sides of the ABI: macros in the header, functions at
//! run time, and a check that the two are compatible.

use std::ffi::c_char;

use super::boundary::{guard, guard_value, CallError};
use super::status::SlotrtStatus;

/// Library version, major part (semantic versioning).
pub const SLOTRT_VERSION_MAJOR: u32 = 0;
/// Library version, minor part.
pub const SLOTRT_VERSION_MINOR: u32 = 1;
/// Library version, patch part.
pub const SLOTRT_VERSION_PATCH: u32 = 0;
/// C ABI number: bumped on any change that breaks binaries built against an
/// older header (a changed struct layout, a removed function). Adding
/// functions, statuses or enum values does not bump it.
pub const SLOTRT_ABI_VERSION: u32 = 7;

static VERSION_C: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library version as "MAJOR.MINOR.PATCH". Static storage; never free it.
#[no_mangle]
pub extern "C" fn slotrt_version() -> *const c_char {
    guard_value("slotrt_version", VERSION_C.as_ptr() as *const c_char, || VERSION_C.as_ptr() as *const c_char)
}

/// The ABI number the library was built with (`SLOTRT_ABI_VERSION` of its
/// own header).
#[no_mangle]
pub extern "C" fn slotrt_abi_version() -> u32 {
    guard_value("slotrt_abi_version", SLOTRT_ABI_VERSION, || SLOTRT_ABI_VERSION)
}

/// Checks that the header a program was compiled with matches the loaded
/// library. Call it once at start-up as `slotrt_check_abi(SLOTRT_ABI_VERSION)`.
/// Returns `SLOTRT_STATUS_ABI_MISMATCH` (with a message) when they differ.
#[no_mangle]
pub extern "C" fn slotrt_check_abi(header_abi_version: u32) -> SlotrtStatus {
    guard("slotrt_check_abi", || {
        if header_abi_version == SLOTRT_ABI_VERSION {
            Ok(())
        } else {
            Err(CallError::new(
                SlotrtStatus::AbiMismatch,
                format!(
                    "program was compiled against slotrt ABI {header_abi_version}, \
                     the loaded library {} has ABI {SLOTRT_ABI_VERSION}",
                    env!("CARGO_PKG_VERSION")
                ),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_version_macros_match_cargo() {
        let cargo = [env!("CARGO_PKG_VERSION_MAJOR"), env!("CARGO_PKG_VERSION_MINOR"), env!("CARGO_PKG_VERSION_PATCH")]
            .map(|p| p.parse::<u32>().unwrap());
        assert_eq!(cargo, [SLOTRT_VERSION_MAJOR, SLOTRT_VERSION_MINOR, SLOTRT_VERSION_PATCH]);
        let s = unsafe { std::ffi::CStr::from_ptr(slotrt_version()) };
        assert_eq!(s.to_str().unwrap(), crate::VERSION);
    }

    #[test]
    fn abi_check() {
        assert_eq!(slotrt_check_abi(SLOTRT_ABI_VERSION), SlotrtStatus::Ok);
        assert_eq!(slotrt_check_abi(SLOTRT_ABI_VERSION + 1), SlotrtStatus::AbiMismatch);
    }
}
