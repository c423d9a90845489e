//! Reading the outcome of the last call on this thread.

use std::ffi::c_char;

use super::boundary::{guard_value, last_error_message_ptr, last_error_status};
use super::status::SlotrtStatus;

/// Message of the last failed slotrt call on the calling thread, or "" when
/// the last call succeeded. Never NULL. The pointer stays valid for the life
/// of the thread; its text is valid until the next slotrt call on this
/// thread. Thread-local: calls on other threads do not change it. Do not free.
#[no_mangle]
pub extern "C" fn slotrt_last_error_message() -> *const c_char {
    guard_value("slotrt_last_error_message", c"".as_ptr(), last_error_message_ptr)
}

/// Status of the last status-returning slotrt call on the calling thread.
#[no_mangle]
pub extern "C" fn slotrt_last_error_status() -> SlotrtStatus {
    guard_value("slotrt_last_error_status", SlotrtStatus::Internal, last_error_status)
}

/// Name of a status value, e.g. "SLOTRT_STATUS_TIMEOUT", or
/// "SLOTRT_STATUS_UNKNOWN" for a number this library does not define.
/// Static storage; never NULL; do not free.
#[no_mangle]
pub extern "C" fn slotrt_status_name(status: i32) -> *const c_char {
    guard_value("slotrt_status_name", c"SLOTRT_STATUS_UNKNOWN".as_ptr(), || match SlotrtStatus::from_raw(status) {
        Some(s) => s.c_name().as_ptr(),
        None => c"SLOTRT_STATUS_UNKNOWN".as_ptr(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn status_names_match_rust_names() {
        for s in SlotrtStatus::ALL {
            let c = unsafe { CStr::from_ptr(slotrt_status_name(s as i32)) };
            assert_eq!(c.to_str().unwrap(), s.name());
        }
        let unknown = unsafe { CStr::from_ptr(slotrt_status_name(1000)) };
        assert_eq!(unknown.to_str().unwrap(), "SLOTRT_STATUS_UNKNOWN");
    }
}
